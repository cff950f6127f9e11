/**
 * Upstream MCP servers (`mcp serve --with ...`) as test servers: installed by the product's own
 * installer (npm install --prefix, plus a pinned Node.js when the package needs a newer one) into
 * the test cache; tests point PORTUNIX_DB_UPSTREAM_CACHE at `extra.upstreamCache`.
 */
import { cacheRoot, type ProvisionedServer, type TestServerModule } from './cache.js';
import { installUpstream, type UpstreamDef } from '../../src/mcp/upstream.js';

export function upstreamServer(name: string, def: UpstreamDef): TestServerModule {
  return {
    name,
    async provision(): Promise<ProvisionedServer> {
      const root = cacheRoot();
      const previous = process.env['PORTUNIX_DB_UPSTREAM_CACHE'];
      process.env['PORTUNIX_DB_UPSTREAM_CACHE'] = root;
      try {
        const r = await installUpstream(def, (m) => process.stderr.write(`[test-servers] ${name}: ${m}\n`));
        return { name, engine: 'mcp-upstream', version: r.version, extra: { upstreamCache: root, dir: r.dir, node: r.node } };
      } finally {
        if (previous === undefined) delete process.env['PORTUNIX_DB_UPSTREAM_CACHE'];
        else process.env['PORTUNIX_DB_UPSTREAM_CACHE'] = previous;
      }
    },
  };
}
