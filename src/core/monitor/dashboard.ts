/**
 * `portunix-db dashboard`: a read-only local page over the monitor's sample store. Its own
 * command rather than an agent service: it only reads the store (opened read-only), so it can
 * run, stop and restart without touching the agent or its lock, and with no agent it still
 * shows the last samples (marked stale).
 *
 * Auth: the page shell and its bundled assets hold no data and are served without the token
 * (the Host/Origin check still applies); every /api request needs the bearer token. The URL
 * carries the token in its #fragment, which browsers never send to a server, and the page
 * moves it into sessionStorage and out of the address bar.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DbError } from '../errors.js';
import { SECURITY_HEADERS, sendJson, serveRoutes, type ListenerHandle, type Route } from './http.js';
import { storeReader } from './prometheus.js';
import { parseSeriesQuery } from './query.js';

export { DEFAULT_DASHBOARD_PORT } from './defaults.js';

const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>portunix-db dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
</head>
<body>
<header><h1>portunix-db</h1><span id="monitor" class="muted">loading…</span></header>
<main>
<section id="problem" hidden></section>
<section><h2>Alerts</h2><div id="alerts" class="muted">none</div></section>
<section><h2>Instances</h2><table id="instances"><thead><tr><th>Instance</th><th>State</th><th>Version</th><th>Port</th><th>Size</th><th>Connections</th><th>Health</th></tr></thead><tbody></tbody></table></section>
<section><h2>Backups</h2><table id="backups"><thead><tr><th>Instance</th><th>Database</th><th>Last good backup</th><th>Size</th><th>Verification</th></tr></thead><tbody></tbody></table></section>
<section><h2>Over time</h2>
<div class="controls"><label>Instance <select id="pick"></select></label>
<span id="ranges" role="group" aria-label="time range"><button data-range="15m">15m</button><button data-range="1h">1h</button><button data-range="6h">6h</button><button data-range="24h">24h</button><button data-range="7d">7d</button><button data-range="30d">30d</button></span></div>
<div id="plots"></div>
</section>
</main>
<script type="module" src="/app.js"></script>
</body>
</html>
`;

/** Where the bundled front end (scripts/bundle-dashboard.mjs) is: beside the bundle, or in dist/bundle when run from tsc output. */
export function assetsDir(): string | undefined {
  const candidates = ['./dashboard/', '../dashboard/', '../../../bundle/dashboard/'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  return candidates.find((d) => existsSync(`${d}app.js`));
}

function asset(file: string, type: string, dir: () => string): Route {
  return {
    bearer: false,
    async handle(_req, res) {
      const body = await readFile(`${dir()}${file}`);
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(body.length), 'content-security-policy': CSP });
      res.end(body);
    },
  };
}

export async function serveDashboard(options: { host: string; port: number; tokenFile?: string; storeFile?: string; log?: (m: string) => void }): Promise<ListenerHandle> {
  const dir = assetsDir();
  if (!dir) throw new DbError('The dashboard front end is not built (dashboard/app.js is missing).', 'NOT_FOUND', 'Run `npm run build` (it bundles the front end with esbuild).');
  const reader = storeReader(options.storeFile);
  const handle = await serveRoutes({
    host: options.host,
    port: options.port,
    what: 'the dashboard',
    ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
    ...(options.log ? { log: options.log } : {}),
    routes: {
      '/': {
        bearer: false,
        handle(_req, res) {
          res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CSP });
          res.end(PAGE);
        },
      },
      '/app.js': asset('app.js', 'text/javascript; charset=utf-8', () => dir),
      '/app.css': asset('app.css', 'text/css; charset=utf-8', () => dir),
      '/api/overview': {
        bearer: true,
        async handle(req, res, url) {
          if ([...url.searchParams.keys()].length) throw new DbError('/api/overview takes no parameters.', 'USAGE');
          const store = await reader.get();
          const view = store?.latest() ?? { instances: [] };
          sendJson(res, 200, { now: new Date().toISOString(), ...view, alerts: store?.alerts({ limit: 30 }) ?? [], sampled: !!store });
        },
      },
      '/api/series': {
        bearer: true,
        async handle(_req, res, url) {
          const q = parseSeriesQuery(url.searchParams);
          const store = await reader.get();
          sendJson(res, 200, { metric: q.metric, from: q.from, to: q.to, ...(store ? store.series(q) : { points: [], step_ms: 0, source: 'raw' }) });
        },
      },
    },
  });
  return {
    ...handle,
    async close() {
      await handle.close();
      reader.close();
    },
  };
}
