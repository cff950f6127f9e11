/**
 * mongodb-mcp-server: find, aggregate, count, list... for MongoDB. One child per instance, with
 * the connection string of the instance's `read`-role account in its environment, its own
 * read-only mode on, and its per-query limits (documents and bytes) set from ours.
 * Wiring only until the MongoDB engine provides `upstreamConnection` (`MDB_MCP_CONNECTION_STRING`).
 */
import type { UpstreamDef } from '../upstream.js';

export const mongodb: UpstreamDef = {
  id: 'mongodb',
  title: 'mongodb-mcp-server',
  package: 'mongodb-mcp-server',
  version: '3.0.4',
  prefix: 'mongo',
  perSource: true,
  async configure(sources, _dir, limits) {
    const s = sources[0]!;
    return {
      args: [],
      env: {
        ...s.settings,
        MDB_MCP_READ_ONLY: limits.readWrite ? 'false' : 'true',
        MDB_MCP_MAX_DOCUMENTS_PER_QUERY: String(limits.maxRows),
        MDB_MCP_MAX_BYTES_PER_QUERY: String(limits.maxBytes),
        MDB_MCP_TELEMETRY: 'disabled',
        DO_NOT_TRACK: '1',
        MDB_MCP_LOGGERS: 'stderr',
      },
    };
  },
  queryOf(tool, args) {
    return `${tool} ${JSON.stringify(args)}`;
  },
  // Atlas tools manage cloud accounts, not the local instance
  writeTool: (tool) => tool.startsWith('atlas'),
};
