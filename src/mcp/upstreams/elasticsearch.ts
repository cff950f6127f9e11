/**
 * @elastic/mcp-server-elasticsearch: list_indices, get_mappings, search, esql, get_shards. One
 * child per instance, with the read-only role's credentials and the instance's CA in its
 * environment (ES_URL, ES_USERNAME/ES_PASSWORD or ES_API_KEY, ES_CA_CERT).
 * Wiring only until the Elasticsearch engine provides `upstreamConnection`.
 */
import type { UpstreamDef } from '../upstream.js';

export const elasticsearch: UpstreamDef = {
  id: 'elasticsearch',
  title: 'Elasticsearch MCP server',
  package: '@elastic/mcp-server-elasticsearch',
  version: '0.3.1',
  prefix: 'es',
  perSource: true,
  async configure(sources) {
    return { args: [], env: { ...sources[0]!.settings } };
  },
  queryOf(tool, args) {
    return `${tool} ${JSON.stringify(args)}`;
  },
};
