import { cjsExports } from '../../core/cjs-interop.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import type { InstanceContext } from '../contract.js';

/** The built-in superuser of a secured (x-pack) instance. */
export const ADMIN_USER = 'elastic';

/**
 * What initialisation decided about the instance, kept beside its config (no secret in it):
 * whether x-pack security (users, TLS on HTTP) is on, and which JDK runs the server.
 */
export interface EsInstanceState {
  security: boolean;
  java_home?: string;
  /** The distribution's directory (ES_HOME), the parent of bin/. */
  es_home: string;
}

export function stateFile(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'elasticsearch-instance.json');
}

export function readState(ctx: Pick<InstanceContext, 'paths' | 'engine' | 'name'>): EsInstanceState {
  try {
    return JSON.parse(readFileSync(stateFile(ctx), 'utf8')) as EsInstanceState;
  } catch {
    throw new DbError(`elasticsearch/${ctx.name} has no ${stateFile(ctx)}; the instance was not initialised by this version of portunix-db.`, 'INVALID_CONFIG', 'Re-install the instance (`portunix-db uninstall elasticsearch` then `install`).');
  }
}

export function confDir(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'config');
}

/** The HTTP certificate of a secured instance (its own CA), pinned by the tool's client. */
export function httpCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(confDir(ctx), 'tls', 'server.crt');
}

/** The slice of the @elastic/elasticsearch client this engine uses: one typed request function. */
export interface EsConn {
  /** `GET /_cluster/health`-style call; answers the parsed body. */
  req<T = any>(method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'HEAD', path: string, options?: { body?: unknown; query?: Record<string, string | number | boolean | undefined>; timeoutMs?: number }): Promise<T>;
}

/**
 * Calls that wait for the work itself (snapshot and restore with wait_for_completion, a force
 * merge, a health wait): their time grows with the index and a busy node, so the 30 s meant for
 * ordinary answers would abandon work that is going fine.
 */
export const LONG_OPERATION_MS = 30 * 60_000;

interface RawClient {
  transport: { request(params: { method: string; path: string; body?: unknown; querystring?: Record<string, unknown> }, options?: Record<string, unknown>): Promise<unknown> };
  close(): Promise<void>;
}
type ClientCtor = new (options: Record<string, unknown>) => RawClient;
let driver: Promise<ClientCtor> | undefined;
function loadDriver(): Promise<ClientCtor> {
  driver ??= import('@elastic/elasticsearch').then((m) => cjsExports(m).Client as unknown as ClientCtor);
  return driver;
}

function startHint(ctx: InstanceContext): string {
  return `Start it with \`portunix-db start elasticsearch${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

/** The server's error type and reason from a ResponseError, when there is one. */
export function esReason(err: unknown): { type?: string; reason?: string; status?: number } {
  const e = err as { meta?: { statusCode?: number; body?: { error?: { type?: string; reason?: string; root_cause?: { type?: string; reason?: string }[] } | string } } };
  const body = e?.meta?.body;
  const status = e?.meta?.statusCode;
  if (body && typeof body === 'object' && body.error && typeof body.error === 'object') {
    const root = body.error.root_cause?.[0];
    return { ...(status !== undefined ? { status } : {}), type: body.error.type ?? root?.type, reason: body.error.reason ?? root?.reason };
  }
  if (body && typeof body === 'object' && typeof body.error === 'string') return { ...(status !== undefined ? { status } : {}), reason: body.error };
  return status !== undefined ? { status } : {};
}

/** Maps client and server errors to codes with next steps; never a stack trace. */
export function mapEsError(err: unknown, ctx: Pick<InstanceContext, 'name' | 'config'>): DbError {
  if (err instanceof DbError) return err;
  const e = err as { name?: string; message?: string; code?: string };
  const msg = e?.message ?? String(err);
  const id = `elasticsearch/${ctx.name}`;
  if (e?.name === 'ProductNotSupportedError') {
    return new DbError(`The server on 127.0.0.1:${ctx.config.port} is not Elasticsearch (the client's product check failed).`, 'CONNECTION_FAILED', 'Another program may hold the port; check `portunix-db status elasticsearch`.');
  }
  if (e?.name === 'ConnectionError' || /ECONNREFUSED|ECONNRESET|socket hang up/.test(msg)) {
    return new DbError(`Instance ${id} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', `${startHint(ctx as InstanceContext)}`);
  }
  if (e?.name === 'TimeoutError') return new DbError(`${id} did not answer in time.`, 'TIMEOUT', 'The node may be busy (JVM garbage collection, merges); retry, and look at `portunix-db health elasticsearch`.');
  const { type, reason, status } = esReason(err);
  const text = reason ? `${reason}${type ? ` (${type})` : ''}` : msg;
  if (status === 401) return new DbError(`Authentication failed on ${id}: ${text}`, 'AUTH_FAILED', 'The stored password of the elastic user no longer matches; reset it with `bin/elasticsearch-reset-password -u elastic`.');
  if (status === 403) return new DbError(`Permission denied on ${id}: ${text}`, 'PERMISSION_DENIED');
  if (type === 'index_not_found_exception' || (status === 404 && /no such index/.test(text))) return new DbError(`${text}`, 'NOT_FOUND', 'List indices with `portunix-db list --type elasticsearch`.');
  if (type === 'resource_already_exists_exception') return new DbError(text, 'ALREADY_EXISTS');
  if (type === 'illegal_argument_exception' || type === 'invalid_index_name_exception' || type === 'settings_exception' || type === 'mapper_parsing_exception') return new DbError(text, 'USAGE');
  return new DbError(`${id}: ${text}`, 'QUERY_FAILED');
}

export interface ConnectOptions {
  timeoutMs?: number;
  /** Answer the raw error instead of mapping it (readiness probes). */
  raw?: boolean;
  /** Log in as this account (the read-only one) instead of elastic; ignored when security is off (there are no accounts). */
  as?: { user: string; password: string };
}

/**
 * A short-lived client for 127.0.0.1 on the instance's port, no retries, no sniffing. A secured
 * instance is reached over HTTPS pinned to its own certificate, as `elastic` with the stored
 * password; an unsecured one (the Maven integ-test distribution) over plain HTTP on loopback.
 * The client's product check runs on the first answer.
 */
export async function withEs<T>(ctx: InstanceContext, fn: (conn: EsConn) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const Client = await loadDriver();
  const state = readState(ctx);
  const tls = state.security && existsSync(httpCertPath(ctx));
  const client = new Client({
    node: `${tls ? 'https' : 'http'}://127.0.0.1:${ctx.config.port}`,
    maxRetries: 0,
    requestTimeout: options.timeoutMs ?? 30_000,
    sniffOnStart: false,
    ...(state.security ? { auth: options.as ? { username: options.as.user, password: options.as.password } : { username: ADMIN_USER, password: await ctx.adminPassword() } } : {}),
    ...(tls ? { tls: { ca: readFileSync(httpCertPath(ctx), 'utf8'), rejectUnauthorized: true } } : {}),
  });
  const conn: EsConn = {
    async req(method, path, opts = {}) {
      const querystring: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) querystring[k] = v;
      return (await client.transport.request({ method, path, ...(opts.body !== undefined ? { body: opts.body } : {}), querystring }, { requestTimeout: opts.timeoutMs ?? options.timeoutMs ?? 30_000 })) as never;
    },
  };
  try {
    return await fn(conn);
  } catch (err) {
    if (options.raw) throw err;
    throw mapEsError(err, ctx);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/**
 * The node's version from `_nodes/_local` (`GET /` is the rest-root module, which the Maven
 * integ-test distribution lacks: there it answers 405).
 */
export async function nodeVersion(c: EsConn): Promise<string> {
  const r = await c.req<{ nodes: Record<string, { version?: string }> }>('GET', '/_nodes/_local', { query: { filter_path: 'nodes.*.version' } });
  return Object.values(r.nodes ?? {})[0]?.version ?? 'unknown';
}

/** Numbers from `_cat` answers, which come as strings. */
export function num(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}
