import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { publicCertPath, SERVER_CERT } from '../../core/tls.js';
import type { InstanceContext } from '../contract.js';

/** The admin user portunix-db creates on every 1.x instance (the operator user on 2.x). */
export const ADMIN_USER = 'admin';

/** Where initialisation puts the certificate and key: beside the data, owned by the service user. */
export function serverCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_CERT);
}

/** The instance's certificate (pinned by the tool's clients), or undefined for an instance without TLS. */
export async function instanceCertificate(ctx: Pick<InstanceContext, 'paths'>): Promise<string | undefined> {
  for (const path of [serverCertPath(ctx), publicCertPath(ctx)]) {
    const pem = await readFile(path, 'utf8').catch(() => undefined);
    if (pem !== undefined) return pem;
  }
  return undefined;
}

/** How to reach a server: TCP on loopback (TLS pinned to `ca` when given) or a Unix socket. */
export type Endpoint = { port: number; ca?: string } | { socketPath: string };

export interface HttpReply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One HTTP exchange with a bounded time; TLS verification is always on (pinned CA, 127.0.0.1 in the SAN). */
export function httpExchange(endpoint: Endpoint, method: string, path: string, options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const base: RequestOptions = { method, path, headers: { ...(options.headers ?? {}), ...(options.body !== undefined ? { 'content-length': String(Buffer.byteLength(options.body)) } : {}) } };
    const tls = 'port' in endpoint && endpoint.ca !== undefined;
    const req = 'socketPath' in endpoint
      ? httpRequest({ ...base, socketPath: endpoint.socketPath })
      : tls
        ? httpsRequest({ ...base, host: '127.0.0.1', port: endpoint.port, ca: endpoint.ca, servername: '' })
        : httpRequest({ ...base, host: '127.0.0.1', port: endpoint.port });
    const timer = setTimeout(() => req.destroy(new Error(`timed out after ${options.timeoutMs ?? 30_000} ms`)), options.timeoutMs ?? 30_000);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(options.body);
  });
}

export async function endpointOf(ctx: InstanceContext): Promise<Endpoint> {
  const ca = await instanceCertificate(ctx);
  return { port: ctx.config.port ?? 8086, ...(ca ? { ca } : {}) };
}

function startHint(ctx: InstanceContext): string {
  return `Start it with \`portunix-db start influxdb${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

/** Driver, transport and server errors mapped to codes with next steps; never a stack trace. */
export function mapInfluxError(err: unknown, ctx: InstanceContext): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; message?: string; statusCode?: number; body?: string };
  const msg = e?.message ?? String(err);
  const code = e?.code;
  if ((code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|EPROTO/.test(code)) || /wrong version number|certificate/i.test(msg)) {
    return new DbError(`TLS to influxdb/${ctx.name} on 127.0.0.1:${ctx.config.port} failed: ${msg}`, 'CONNECTION_FAILED', `The server must serve HTTPS with the certificate in ${serverCertPath(ctx)}; another server may be listening on this port.`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOENT' || /ECONNREFUSED|socket hang up|ECONNRESET/.test(msg)) {
    return new DbError(`Instance influxdb/${ctx.name} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', startHint(ctx));
  }
  if (e?.statusCode === 401 || /authorization failed|unauthorized|authentication failed/i.test(msg)) {
    return new DbError(`Authentication failed on influxdb/${ctx.name}: ${msg}`, 'AUTH_FAILED', 'The stored admin credentials no longer match the server; re-install the instance.');
  }
  if (e?.statusCode === 403 || /forbidden|not authorized|requires admin privilege/i.test(msg)) return new DbError(`Permission denied on influxdb/${ctx.name}: ${msg}`, 'PERMISSION_DENIED');
  if (/database not found/i.test(msg)) return new DbError(msg, 'NOT_FOUND', 'List databases with `portunix-db list --type influxdb`.');
  if (/user not found/i.test(msg)) return new DbError(msg, 'NOT_FOUND', 'List users with `portunix-db user list --type influxdb`.');
  if (/timed out|timeout/i.test(msg)) return new DbError(`influxdb/${ctx.name} did not answer in time: ${msg}`, 'TIMEOUT');
  return new DbError(msg, 'QUERY_FAILED');
}

// ---------- 1.x: InfluxQL over /query ----------

export interface Series {
  name?: string;
  tags?: Record<string, string>;
  columns: string[];
  values?: unknown[][];
}

/** Rows of one series as objects keyed by column. */
export function rows(series: Series | undefined): Record<string, unknown>[] {
  if (!series?.values) return [];
  return series.values.map((v) => Object.fromEntries(series.columns.map((c, i) => [c, v[i]])));
}

export interface InfluxQl {
  /** One statement; returns its series. `write` sends it as POST (statements that change things). */
  query(q: string, options?: { db?: string; write?: boolean; epoch?: string }): Promise<Series[]>;
  /** Line protocol into db (and a retention policy). */
  write(db: string, lines: string, rp?: string): Promise<void>;
}

/** The statements' results of a /query reply; the top-level error and the first statement error (among the first `upto`) become exceptions. */
function queryResults(status: number, body: string, upto?: number): { error?: string; series?: Series[] }[] {
  let parsed: { error?: string; results?: { error?: string; series?: Series[] }[] };
  try {
    parsed = JSON.parse(body) as typeof parsed;
  } catch {
    throw Object.assign(new Error(`InfluxDB answered HTTP ${status}: ${body.slice(0, 200)}`), { statusCode: status });
  }
  if (parsed.error) throw Object.assign(new Error(parsed.error), { statusCode: status });
  const failed = (parsed.results ?? []).slice(0, upto).find((r) => r.error);
  if (failed?.error) throw Object.assign(new Error(failed.error), { statusCode: status });
  if (status >= 400) throw Object.assign(new Error(`InfluxDB answered HTTP ${status}`), { statusCode: status });
  return parsed.results ?? [];
}

/** Parses a /query reply: top-level and per-statement errors become exceptions. Pure, for tests. */
export function parseQueryReply(status: number, body: string): Series[] {
  return queryResults(status, body, 1)[0]?.series ?? [];
}

/** Every statement's series in a /query reply; any statement's error is thrown. Pure, for tests. */
export function allSeries(status: number, body: string): Series[] {
  return queryResults(status, body).flatMap((r) => r.series ?? []);
}

/** An InfluxQL session as `user` (Basic auth; the password travels only in the header). */
export function influxQl(endpoint: Endpoint, user: string | undefined, password: string | undefined, timeoutMs = 60_000): InfluxQl {
  const auth: Record<string, string> = user !== undefined ? { authorization: `Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}` } : {};
  return {
    async query(q, options = {}) {
      const form = new URLSearchParams({ q, ...(options.db ? { db: options.db } : {}), ...(options.epoch ? { epoch: options.epoch } : {}) });
      const r = await httpExchange(endpoint, 'POST', '/query', { headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), timeoutMs });
      return parseQueryReply(r.status, r.body);
    },
    async write(db, lines, rp) {
      const qs = new URLSearchParams({ db, precision: 'ns', ...(rp ? { rp } : {}) });
      const r = await httpExchange(endpoint, 'POST', `/write?${qs}`, { headers: { ...auth, 'content-type': 'text/plain' }, body: lines, timeoutMs });
      if (r.status !== 204) {
        let msg = r.body;
        try {
          msg = (JSON.parse(r.body) as { error?: string }).error ?? r.body;
        } catch {
          /* plain text */
        }
        throw Object.assign(new Error(`write to ${db} failed (HTTP ${r.status}): ${msg}`), { statusCode: r.status });
      }
    },
  };
}

/** Runs fn with the instance's admin session; errors are mapped. */
export async function withInfluxQl<T>(ctx: InstanceContext, fn: (c: InfluxQl) => Promise<T>, options: { timeoutMs?: number } = {}): Promise<T> {
  try {
    const c = influxQl(await endpointOf(ctx), ADMIN_USER, await ctx.adminPassword(), options.timeoutMs);
    return await fn(c);
  } catch (err) {
    throw mapInfluxError(err, ctx);
  }
}

// ---------- 2.x: the official client ----------

type InfluxModule = typeof import('@influxdata/influxdb-client');
type ApisModule = typeof import('@influxdata/influxdb-client-apis');
let clientModules: Promise<{ client: InfluxModule; apis: ApisModule }> | undefined;

/** @influxdata/influxdb-client and -apis, loaded on first use. */
export function loadV2(): Promise<{ client: InfluxModule; apis: ApisModule }> {
  clientModules ??= Promise.all([import('@influxdata/influxdb-client'), import('@influxdata/influxdb-client-apis')]).then(([client, apis]) => ({ client, apis }));
  return clientModules;
}

/** The secret-store key of a 2.x instance's operator token (the admin secret is the operator user's password). */
export const TOKEN_SECRET = 'operator-token';
export const V2_ORG = 'portunix';
export const V2_BUCKET = 'default';

/** A 2.x session: the official client with the operator token, TLS pinned to the instance certificate. */
export interface V2Session {
  influx: InstanceType<InfluxModule['InfluxDB']>;
  apis: ApisModule;
  client: InfluxModule;
  orgID: string;
  url: string;
}

export async function withV2<T>(ctx: InstanceContext, token: string, fn: (s: V2Session) => Promise<T>): Promise<T> {
  try {
    const { client, apis } = await loadV2();
    const ca = await instanceCertificate(ctx);
    const url = `${ca ? 'https' : 'http'}://127.0.0.1:${ctx.config.port ?? 8086}`;
    const influx = new client.InfluxDB({ url, token, timeout: 60_000, ...(ca ? { transportOptions: { ca, servername: '' } } : {}) });
    const orgs = await new apis.OrgsAPI(influx).getOrgs({ org: V2_ORG });
    const orgID = orgs.orgs?.[0]?.id;
    if (!orgID) throw new DbError(`influxdb/${ctx.name} has no organisation ${V2_ORG}.`, 'NOT_FOUND', 'The instance was set up outside portunix-db; re-install it.');
    return await fn({ influx, apis, client, orgID, url });
  } catch (err) {
    throw mapInfluxError(err, ctx);
  }
}
