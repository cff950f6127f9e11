/**
 * A read-only loopback HTTP listener (the monitor's /metrics, the dashboard) under the same
 * rules as HTTP MCP (core/http-guard.ts): loopback only, Host/Origin checked, a bearer token
 * on every data request. GET and HEAD only; errors are JSON without stack traces.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DbError, toDbError } from '../errors.js';
import { ensureTokenFile, readTokenFile, requestGuard, type RequestGuard } from '../http-guard.js';
import { homePaths } from '../home.js';

export interface Route {
  /** false: served without the bearer token (a page shell or asset holding no data). */
  bearer: boolean;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> | void;
}

export interface ListenerHandle {
  url: string;
  port: number;
  tokenFile: string;
  tokenCreated: boolean;
  close(): Promise<void>;
}

export const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
};

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

function refuse(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { status, message } }, headers);
}

/** The token of a listener: the given file (read under the usual rules), else the monitor's own, made on first use. */
export async function listenerToken(tokenFile: string | undefined): Promise<{ token: string; file: string; created: boolean }> {
  if (tokenFile) return { token: await readTokenFile(tokenFile), file: tokenFile, created: false };
  const file = homePaths.monitorToken();
  const { token, created } = await ensureTokenFile(file);
  return { token, file, created };
}

export async function serveRoutes(options: { host: string; port: number; tokenFile?: string; what: string; routes: Record<string, Route>; log?: (m: string) => void }): Promise<ListenerHandle> {
  const { token, file, created } = await listenerToken(options.tokenFile);
  const guard: RequestGuard = requestGuard({ host: options.host, token, what: options.what, ...(options.log ? { log: options.log } : {}) });
  const http = createServer((req, res) => {
    const run = async () => {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://localhost');
      } catch {
        return refuse(res, 400, 'Bad request URL.');
      }
      const route = Object.prototype.hasOwnProperty.call(options.routes, url.pathname) ? options.routes[url.pathname] : undefined;
      // the Host/Origin check comes first, for every path: a rebinding page learns nothing, not even a 404
      const hostRefusal = guard(req, { bearer: false });
      if (hostRefusal) return refuse(res, hostRefusal.status, hostRefusal.message, hostRefusal.headers);
      if (!route) return refuse(res, 404, `Not found: ${url.pathname.slice(0, 100)}`);
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'Method not allowed: this listener is read-only.', { allow: 'GET, HEAD' });
      if (route.bearer) {
        const r = guard(req);
        if (r) return refuse(res, r.status, r.message, r.headers);
      }
      await route.handle(req, res, url);
    };
    run().catch((err) => {
      const e = toDbError(err);
      const status = e.code === 'USAGE' || e.code === 'INVALID_IDENTIFIER' || e.code === 'UNKNOWN_ENGINE' ? 400 : e.code === 'NOT_FOUND' || e.code === 'NOT_INSTALLED' ? 404 : 500;
      if (status === 500) options.log?.(`${options.what}: request failed: ${e.message}`);
      if (!res.headersSent) refuse(res, status, status === 500 ? 'Internal error; see the log.' : e.message);
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new DbError(`Port ${options.port} on ${options.host} is already in use.`, 'PORT_IN_USE', `Choose another with --listen ${options.host.includes(':') ? `[${options.host}]` : options.host}:PORT (PORT 0 picks a free one).`));
      else reject(err);
    });
    http.listen(options.port, options.host, () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const shown = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shown}:${port}`,
    port,
    tokenFile: file,
    tokenCreated: created,
    async close() {
      http.closeAllConnections?.();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
