/**
 * Transports: stdio (stdout carries only protocol; every log line goes to stderr) and
 * streamable HTTP at /mcp with loopback binding by default, a bearer token, and Host/Origin
 * checks against DNS rebinding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { DbError } from '../core/errors.js';
import { requestGuard } from '../core/http-guard.js';

export type Log = (message: string) => void;

export const stderrLog: Log = (m) => process.stderr.write(`[portunix-db mcp] ${m}\n`);

/**
 * The server's heap grows like a long-running process's, not a command's. On a machine with a few
 * GB of memory V8 lets the old generation grow to about four times what is live before it
 * collects (its growing factor for large heap limits), so a server holding some 25 MB after each
 * collection sat at 150-170 MB RSS after 1,000 calls (bench/mcp-memory.ts). With optimize-for-size
 * V8 grows the heap by its conservative factor: about 95-110 MB after the same calls, for some
 * extra collection work per call (calls wait on the database, not the CPU). V8 reads this flag
 * when it decides, so setting it at run time (we cannot pass node flags to every launcher) works.
 */
export function leanHeap(): void {
  setFlagsFromString('--optimize-for-size');
}

export async function serveStdio(server: McpServer, log: Log = stderrLog): Promise<void> {
  leanHeap();
  const transport = new StdioServerTransport();
  await new Promise<void>((resolve, reject) => {
    transport.onclose = () => resolve();
    process.stdin.on('end', () => resolve());
    server.connect(transport).then(() => log('serving MCP over stdio'), reject);
  });
  await server.close().catch(() => undefined);
}

export { isLoopback, readTokenFile, ensureTokenFile, hostnameOf } from '../core/http-guard.js';

export interface HttpOptions {
  host?: string;
  port?: number;
  token?: string;
  /** Extra Host names accepted (for a server reached under a name, e.g. behind a tunnel). */
  allowedHosts?: string[];
  /** Creates one server per session (an McpServer connects to one transport). */
  createServer: () => McpServer;
  log?: Log;
  maxSessions?: number;
}

export interface HttpHandle {
  url: string;
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 4 * 1024 * 1024;

function reject(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message }, id: null }));
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new DbError('Request body too large.', 'USAGE');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export async function serveHttp(options: HttpOptions): Promise<HttpHandle> {
  leanHeap();
  const log = options.log ?? stderrLog;
  const host = options.host ?? '127.0.0.1';
  const guard = requestGuard({ host, token: options.token, what: 'MCP', ...(options.allowedHosts ? { allowedHosts: options.allowedHosts } : {}), log });
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const maxSessions = options.maxSessions ?? 64;

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') return reject(res, 404, 'Not found: the MCP endpoint is /mcp.');
    const refused = guard(req);
    if (refused) return reject(res, refused.status, refused.message, refused.headers);
    const sessionId = req.headers['mcp-session-id'];
    const existing = typeof sessionId === 'string' ? sessions.get(sessionId) : undefined;
    if (req.method === 'POST') {
      let body: unknown;
      try {
        body = await readBody(req);
      } catch (err) {
        return reject(res, 400, `Invalid request body: ${(err as Error).message}`);
      }
      if (existing) return existing.transport.handleRequest(req, res, body);
      if (typeof sessionId === 'string') return reject(res, 404, 'Unknown session; initialize a new one.');
      if (!isInitializeRequest(body)) return reject(res, 400, 'No session: the first request must be "initialize".');
      if (sessions.size >= maxSessions) {
        const oldest = sessions.keys().next().value as string;
        await sessions.get(oldest)?.transport.close().catch(() => undefined);
        sessions.delete(oldest);
      }
      const server = options.createServer();
      const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, { transport, server });
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
        server.close().catch(() => undefined);
      };
      await server.connect(transport);
      return transport.handleRequest(req, res, body);
    }
    if (req.method === 'GET' || req.method === 'DELETE') {
      if (!existing) return reject(res, typeof sessionId === 'string' ? 404 : 400, 'Unknown or missing Mcp-Session-Id.');
      return existing.transport.handleRequest(req, res);
    }
    return reject(res, 405, 'Method not allowed.', { allow: 'GET, POST, DELETE' });
  };

  const http = createServer((req, res) => {
    handler(req, res).catch((err) => {
      log(`HTTP request failed: ${(err as Error).message}`);
      if (!res.headersSent) reject(res, 500, 'Internal server error.');
      else res.end();
    });
  });
  await new Promise<void>((resolve, rejectListen) => {
    http.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') rejectListen(new DbError(`Port ${options.port} on ${host} is already in use.`, 'PORT_IN_USE', 'Choose another with --port, or --port 0 for a free one.'));
      else rejectListen(err);
    });
    http.listen(options.port ?? 0, host.replace(/^\[|\]$/g, ''), () => resolve());
  });
  const port = (http.address() as AddressInfo).port;
  const shownHost = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}/mcp`;
  return {
    url,
    port,
    async close() {
      for (const { transport } of sessions.values()) await transport.close().catch(() => undefined);
      sessions.clear();
      http.closeAllConnections?.();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
