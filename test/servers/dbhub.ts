/**
 * DBHub (@bytebase/dbhub 1.4.0), the upstream MCP server `mcp serve --with dbhub` wraps, plus the
 * Node.js it needs (>= 22.5, from the npm registry's node-<os>-<arch> package) when the running
 * node is older. Installed by the product's own installer (npm install --prefix) into the test
 * cache; tests point PORTUNIX_DB_UPSTREAM_CACHE at `extra.upstreamCache`.
 */
import { cacheRoot, type ProvisionedServer, type TestServerModule } from './cache.js';
import { installUpstream } from '../../src/mcp/upstream.js';
import { dbhub } from '../../src/mcp/upstreams/dbhub.js';

export const server: TestServerModule = {
  name: 'dbhub',
  async provision(): Promise<ProvisionedServer> {
    const root = cacheRoot();
    const previous = process.env['PORTUNIX_DB_UPSTREAM_CACHE'];
    process.env['PORTUNIX_DB_UPSTREAM_CACHE'] = root;
    try {
      const r = await installUpstream(dbhub, (m) => process.stderr.write(`[test-servers] dbhub: ${m}\n`));
      return { name: 'dbhub', engine: 'mcp-upstream', version: r.version, extra: { upstreamCache: root, dir: r.dir, node: r.node } };
    } finally {
      if (previous === undefined) delete process.env['PORTUNIX_DB_UPSTREAM_CACHE'];
      else process.env['PORTUNIX_DB_UPSTREAM_CACHE'] = previous;
    }
  },
};
