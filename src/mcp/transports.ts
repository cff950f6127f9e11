/**
 * Transports: stdio (stdout carries only protocol; every log line goes to stderr) and
 * streamable HTTP at /mcp with loopback binding by default, a bearer token, and Host/Origin
 * checks against DNS rebinding.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { randomUUID, createHash, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { DbError, UsageError } from '../core/errors.js';

export type Log = (message: string) => void;

export const stderrLog: Log = (m) => process.stderr.write(`[portunix-db mcp] ${m}\n`);

export async function serveStdio(server: McpServer, log: Log = stderrLog): Promise<void> {
  const transport = new StdioServerTransport();
  await new Promise<void>((resolve, reject) => {
    transport.onclose = () => resolve();
    process.stdin.on('end', () => resolve());
    server.connect(transport).then(() => log('serving MCP over stdio'), reject);
  });
  await server.close().catch(() => undefined);
}

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Reads a bearer token file: non-empty, at least 16 characters, not readable by others. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DbError(`Cannot read the token file ${file}: ${(err as Error).message}`, 'NOT_FOUND', 'Create it with a random token, e.g. `openssl rand -hex 32 > token && chmod 600 token`.');
  }
  const token = text.trim();
  if (token.length < 16) throw new UsageError(`The token in ${file} is shorter than 16 characters.`, 'USAGE', 'Use a long random token, e.g. `openssl rand -hex 32`.');
  if (process.platform !== 'win32') {
    const mode = (await stat(file)).mode & 0o077;
    if (mode !== 0) throw new UsageError(`The token file ${file} is readable by other users.`, 'PERMISSION_DENIED', `Run \`chmod 600 ${file}\`.`);
  }
  return token;
}

/**
 * The token file HTTP serving uses when none is given: made on first use (0600, random 32
 * bytes as hex, created exclusively so two servers agree), then read like any token file.
 */
export async function ensureTokenFile(file: string): Promise<{ token: string; created: boolean }> {
  let created = false;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DbError(`Cannot create the MCP token file ${file}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Pass --token-file FILE.');
  }
  return { token: await readTokenFile(file), created };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Hostname of a Host header or an Origin URL, without the port; IPv6 keeps its brackets. */
export function hostnameOf(value: string): string | undefined {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

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
  const log = options.log ?? stderrLog;
  const host = options.host ?? '127.0.0.1';
  const loopback = isLoopback(host);
  if (!options.token) {
    // loopback is not private: every local user (and any local process) can connect to it
    throw new UsageError(
      `Refusing to serve MCP on ${host} without a bearer token: ${loopback ? 'every local user' : 'anyone on the network'} could reach your databases.`,
      'USAGE',
      'Pass --token-file FILE (a file with a long random token, mode 600); `portunix-db mcp serve --transport http` makes one under PORTUNIX_HOME when none is given.',
    );
  }
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  const allowed = new Set<string>([...LOOPBACK_NAMES, ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()));
  if (!wildcard) allowed.add(hostnameOf(host) ?? host);
  const checkHost = !wildcard || (options.allowedHosts?.length ?? 0) > 0;
  if (!checkHost) log(`bound to ${host}: Host header check is off (pass --allowed-host NAME to turn it on); the bearer token protects every request`);
  const expected = options.token ? digest(options.token) : undefined;
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; server: McpServer }>();
  const maxSessions = options.maxSessions ?? 64;

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/mcp') return reject(res, 404, 'Not found: the MCP endpoint is /mcp.');
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host/Origin evil.example.
    const hostHeader = hostnameOf(req.headers.host ?? '');
    if (checkHost && (!hostHeader || !allowed.has(hostHeader))) return reject(res, 403, `Forbidden Host header "${req.headers.host ?? ''}".`);
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const o = hostnameOf(origin);
      if (!o || (!allowed.has(o) && (checkHost || o !== hostHeader))) return reject(res, 403, `Forbidden Origin "${origin}".`);
    }
    if (expected) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(auth);
      if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) {
        return reject(res, 401, 'Missing or wrong bearer token.', { 'www-authenticate': 'Bearer realm="portunix-db"' });
      }
    }
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
