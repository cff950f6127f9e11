import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceContext } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { publicCertPath, SERVER_CERT } from '../../core/tls.js';
import { RespConnection, RespProtocolError } from './resp.js';

/** The ACL user portunix-db manages every Redis instance as. */
export const ADMIN_USER = 'default';

/** What the engine's code sends commands through (raw commands over RESP2). */
export interface RedisConn {
  send(args: string[]): Promise<unknown>;
}

function startHint(ctx: InstanceContext): string {
  return `Start it with \`portunix-db start redis${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

/** Maps socket and server errors to codes with next steps; never leaks a stack trace. */
export function mapRedisError(err: unknown, ctx: InstanceContext): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; message?: string; errors?: { code?: string }[] };
  const msg = e?.message ?? String(err);
  const code = e?.code ?? e?.errors?.[0]?.code;
  if ((code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) || /wrong version number|packet length too long/i.test(msg)) {
    return new DbError(
      `TLS to redis/${ctx.name} on 127.0.0.1:${ctx.config.port} failed: ${msg}`,
      'CONNECTION_FAILED',
      `The server must listen with TLS (tls-port ${ctx.config.port}) and present the certificate in ${serverCertPath(ctx)}; another server may be listening on this port.`,
    );
  }
  if (err instanceof RespProtocolError) {
    return new DbError(`What answers on 127.0.0.1:${ctx.config.port} for redis/${ctx.name} does not speak Redis: ${msg}`, 'CONNECTION_FAILED', 'Another program may be listening on this port; `portunix-db status` and `portunix-db doctor` show what runs where.');
  }
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(msg)) {
    return new DbError(`Instance redis/${ctx.name} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', startHint(ctx));
  }
  if (/^WRONGPASS|^NOAUTH|invalid username-password/i.test(msg)) {
    return new DbError(`Authentication failed on redis/${ctx.name}: ${msg}`, 'AUTH_FAILED', 'The stored password no longer matches the ACL default user; re-install the instance or reset the password in its ACL file.');
  }
  if (/^NOPERM/.test(msg)) return new DbError(`Permission denied on redis/${ctx.name}: ${msg}`, 'PERMISSION_DENIED');
  if (/^LOADING/.test(msg)) return new DbError(`redis/${ctx.name} is still loading its dataset.`, 'NOT_RUNNING', 'Wait a moment and retry.');
  if (/^MISCONF/.test(msg)) return new DbError(`redis/${ctx.name} cannot save its RDB snapshot: ${msg}`, 'COMMAND_FAILED', `Look at \`portunix-db logs redis --instance ${ctx.name}\`; the disk may be full or the data directory not writable.`);
  if (/timeout|timed out/i.test(msg)) return new DbError(`redis/${ctx.name} did not answer in time: ${msg}`, 'TIMEOUT');
  return new DbError(msg, 'QUERY_FAILED');
}

/** Where initialisation puts the instance's certificate and key (owned by the service user, next to dump.rdb). */
export function serverCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_CERT);
}

/**
 * The instance's self-signed certificate, which the tool's clients pin (read from the data dir,
 * or from the public copy when the data dir is not readable), or undefined for an instance
 * made without TLS (before TLS was the default, or without openssl): only then does the
 * tool talk to it over plain TCP.
 */
export async function instanceCertificate(ctx: Pick<InstanceContext, 'paths'>): Promise<{ path: string; pem: string } | undefined> {
  const path = serverCertPath(ctx);
  try {
    return { path, pem: await readFile(path, 'utf8') };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    const copy = publicCertPath(ctx);
    const pem = await readFile(copy, 'utf8').catch(() => undefined);
    if (pem !== undefined) return { path: copy, pem };
    throw new DbError(`Cannot read the server certificate ${path}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Run portunix-db as the user that installed the instance (or root).');
  }
}

export interface ConnectOptions {
  port?: number;
  /** A Unix socket instead of TCP (the scratch server of backup checks): no TLS there. */
  path?: string;
  database?: number;
  user?: string;
  password?: string;
  timeoutMs?: number;
}

/** Rejects when `promise` has not settled in `ms` (the handshake of a peer that never answers). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what}: timeout after ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A short-lived authenticated connection to 127.0.0.1 (AUTH as the ACL user, SELECT when a
 * keyspace is given), RESP2, no reconnects. Over TLS verified against the instance's own
 * certificate (its chain, and the 127.0.0.1 IP subjectAltName: node's tls.connect checks the
 * identity against `host` when no servername is given), unless the instance has no certificate
 * or `path` names a Unix socket.
 */
export async function withRedis<T>(ctx: InstanceContext, fn: (conn: RespConnection) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const timeout = options.timeoutMs ?? 5000;
  const cert = options.path === undefined ? await instanceCertificate(ctx) : undefined;
  const password = options.password ?? (await ctx.adminPassword());
  let conn: RespConnection | undefined;
  try {
    // (6379, Redis's own default, as the driver used, for a registration without a port)
    conn = await RespConnection.open(options.path !== undefined ? { path: options.path, connectTimeoutMs: timeout } : { port: options.port ?? ctx.config.port ?? 6379, ...(cert ? { ca: cert.pem } : {}), connectTimeoutMs: timeout });
    const c = conn;
    await within(
      (async () => {
        await c.send(['AUTH', options.user ?? ADMIN_USER, password]);
        if (options.database !== undefined) await c.send(['SELECT', String(options.database)]);
      })(),
      timeout,
      `redis/${ctx.name} did not answer AUTH`,
    );
  } catch (err) {
    conn?.close();
    throw mapRedisError(err, ctx);
  }
  try {
    return await fn(conn);
  } catch (err) {
    throw mapRedisError(err, ctx);
  } finally {
    conn.close();
  }
}

/** Parses INFO output into a flat map (sections merged). */
export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function info(conn: RedisConn, section?: string): Promise<Record<string, string>> {
  return parseInfo(String(await conn.send(section ? ['INFO', section] : ['INFO'])));
}

export interface KeyspaceStat {
  db: number;
  keys: number;
  expires: number;
}

/** `db0:keys=3,expires=0,avg_ttl=0` lines of INFO keyspace. */
export function parseKeyspace(infoMap: Record<string, string>): KeyspaceStat[] {
  const out: KeyspaceStat[] = [];
  for (const [k, v] of Object.entries(infoMap)) {
    const m = /^db(\d+)$/.exec(k);
    if (!m) continue;
    const fields = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
    out.push({ db: Number(m[1]), keys: Number(fields['keys'] ?? 0), expires: Number(fields['expires'] ?? 0) });
  }
  return out.sort((a, b) => a.db - b.db);
}

export function num(value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/** `CONFIG GET` answers a flat [name, value, name, value...] array. */
export function pairs(reply: unknown): [string, string][] {
  const arr = Array.isArray(reply) ? reply.map(String) : [];
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < arr.length; i += 2) out.push([arr[i]!, arr[i + 1]!]);
  return out;
}
