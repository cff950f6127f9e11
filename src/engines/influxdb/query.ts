/**
 * Read-only access for assistants, per generation.
 *  - 1.x: a non-admin user with READ on each database (REVOKE ALL first), so InfluxDB refuses
 *    DROP, DELETE, SELECT ... INTO, CREATE, writes ("not authorized ... requires WRITE/admin").
 *    db_query sends InfluxQL as that user (POST /query).
 *  - 2.x: a read token: an authorization with `read` on the org's buckets (and on the org, so a
 *    query can name it). The server makes the token; the core keeps it as the account's secret.
 *    db_query sends Flux with it (POST /api/v2/query).
 */
import { DbError, UsageError } from '../../core/errors.js';
import type { InstanceContext, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec } from '../contract.js';
import { allSeries, endpointOf, httpExchange, mapInfluxError, rows, withInfluxQl, withV2, type Series } from './client.js';
import { v2 } from './admin.js';
import { quoteIdent, quoteString, validateIdentifier } from './identifiers.js';

// ---------- 1.x ----------

/** The statements that make (or refresh) the 1.x read-only user. Pure, for tests. */
export function readonlyStatementsV1(user: string, password: string, exists: boolean, databases: string[]): string[] {
  const u = quoteIdent(user);
  return [
    exists ? `SET PASSWORD FOR ${u} = ${quoteString(password)}` : `CREATE USER ${u} WITH PASSWORD ${quoteString(password)}`,
    `REVOKE ALL PRIVILEGES FROM ${u}`,
    ...databases.filter((d) => d !== '_internal').flatMap((d) => [`REVOKE ALL ON ${quoteIdent(d)} FROM ${u}`, `GRANT READ ON ${quoteIdent(d)} TO ${u}`]),
  ];
}

export async function readonlyAccountV1(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  validateIdentifier('user', spec.user);
  return withInfluxQl(ctx, async (c) => {
    const exists = rows((await c.query('SHOW USERS'))[0]).some((r) => r['user'] === spec.user);
    const databases = rows((await c.query('SHOW DATABASES'))[0]).map((r) => String(r['name']));
    for (const s of readonlyStatementsV1(spec.user, spec.password, exists, databases)) await c.query(s, { write: true });
    const dbs = databases.filter((d) => d !== '_internal');
    return { user: spec.user, created: !exists, enforcement: [`not admin; READ on ${dbs.length ? dbs.join(', ') : 'no database yet (run `user readonly influxdb` again after creating one)'}`, 'no WRITE: DROP, DELETE, SELECT INTO, CREATE and writes are refused'] };
  });
}

/** Series as one table: a lone series keeps its columns; several get `series` (name and tags) first. Pure, for tests. */
export function seriesTable(series: Series[]): { columns: string[]; rows: unknown[][] } {
  if (series.length === 1 && !series[0]!.tags) return { columns: series[0]!.columns, rows: series[0]!.values ?? [] };
  const columns = [...new Set(series.flatMap((s) => s.columns))];
  const out: unknown[][] = [];
  for (const s of series) {
    const label = `${s.name ?? ''}${s.tags ? ` ${Object.entries(s.tags).map(([k, v]) => `${k}=${v}`).join(',')}` : ''}`.trim();
    for (const v of s.values ?? []) out.push([label, ...columns.map((c) => { const i = s.columns.indexOf(c); return i < 0 ? null : v[i]; })]);
  }
  return { columns: ['series', ...columns], rows: out };
}

function refusal(err: unknown, ctx: InstanceContext): DbError {
  const msg = (err as Error).message ?? String(err);
  if (/not authorized|requires (WRITE|admin|READ)/i.test(msg)) return new DbError(msg, 'PERMISSION_DENIED');
  return mapInfluxError(err, ctx);
}

export async function queryV1(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  if (!request.account) throw new DbError(`Queries on influxdb/${ctx.name} run only under the read-only account.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  const auth = `Basic ${Buffer.from(`${request.account.user}:${request.account.password}`).toString('base64')}`;
  const form = new URLSearchParams({ q: request.text, epoch: 'ms', ...(request.database ? { db: request.database } : {}) });
  let series: Series[];
  try {
    const r = await httpExchange(await endpointOf(ctx), 'POST', '/query', { headers: { authorization: auth, 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), timeoutMs: request.timeoutMs });
    series = allSeries(r.status, r.body);
  } catch (err) {
    if (/timed out/.test((err as Error).message)) throw new DbError(`The InfluxQL query did not finish within ${request.timeoutMs} ms.`, 'TIMEOUT');
    throw refusal(err, ctx);
  }
  const t = seriesTable(series);
  return { columns: t.columns, rows: t.rows.slice(0, request.maxRows), truncated: t.rows.length > request.maxRows, command: request.text.trim().split(/\s+/)[0]!.toUpperCase() };
}

// ---------- 2.x ----------

export const READ_TOKEN_DESCRIPTION = 'portunix_ro (portunix-db read-only token)';

/** The permissions of the 2.x read token: read on every bucket of the org, and on the org itself. Pure, for tests. */
export function readTokenPermissions(orgID: string): { action: 'read'; resource: { type: 'buckets' | 'orgs'; orgID?: string; id?: string } }[] {
  return [
    { action: 'read', resource: { type: 'buckets', orgID } },
    { action: 'read', resource: { type: 'orgs', id: orgID } },
  ];
}

/** The slice of AuthorizationsAPI the read token needs (a fake in unit tests). */
export interface AuthApi {
  list(): Promise<{ id?: string; description?: string }[]>;
  create(body: { orgID: string; description: string; permissions: ReturnType<typeof readTokenPermissions> }): Promise<{ id?: string; token?: string }>;
  remove(id: string): Promise<void>;
}

/** Replaces any earlier read token with a new one (the server makes tokens; they cannot be set). */
export async function provisionReadToken(api: AuthApi, orgID: string, user: string): Promise<ReadonlyAccountOutcome> {
  const old = (await api.list()).filter((a) => a.description === READ_TOKEN_DESCRIPTION && a.id);
  const made = await api.create({ orgID, description: READ_TOKEN_DESCRIPTION, permissions: readTokenPermissions(orgID) });
  if (!made.token) throw new DbError('InfluxDB made the read token but did not return it.', 'QUERY_FAILED', 'Retry `portunix-db user readonly influxdb`.');
  for (const a of old) if (a.id !== made.id) await api.remove(a.id!);
  return { user, created: old.length === 0, secret: made.token, enforcement: [`authorization "${READ_TOKEN_DESCRIPTION}" ${made.id ?? ''}: read buckets (all in the org), read org; no write, no delete, no tasks`.replace('  ', ' ')] };
}

export async function readonlyAccountV2(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  return v2(ctx, async (s) => {
    const api = new s.apis.AuthorizationsAPI(s.influx);
    return provisionReadToken(
      {
        list: async () => (await api.getAuthorizations({ orgID: s.orgID })).authorizations ?? [],
        create: (body) => api.postAuthorizations({ body }),
        remove: (id) => api.deleteAuthorizationsID({ authID: id }),
      },
      s.orgID,
      spec.user,
    );
  });
}

/** Flux rows (objects) as a table, columns in first-seen order, the client's table/result bookkeeping dropped. Pure, for tests. */
export function fluxTable(records: Record<string, unknown>[]): { columns: string[]; rows: unknown[][] } {
  const columns: string[] = [];
  for (const r of records) for (const k of Object.keys(r)) if (k !== 'result' && k !== 'table' && k !== '' && !columns.includes(k)) columns.push(k);
  return { columns, rows: records.map((r) => columns.map((c) => r[c] ?? null)) };
}

export async function queryV2(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  if (!request.account) throw new DbError(`Queries on influxdb/${ctx.name} run only under the read token.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  if (request.database !== undefined) throw new UsageError('Flux names its bucket itself: from(bucket: "...").', 'USAGE', 'Drop --database and put the bucket in the query.');
  const records = await withV2(ctx, request.account.password, async (s) => {
    const run = s.influx.getQueryApi({ org: s.orgID, gzip: false }).collectRows(request.text) as Promise<Record<string, unknown>[]>;
    return Promise.race([run, new Promise<never>((_, reject) => setTimeout(() => reject(new DbError(`The Flux query did not finish within ${request.timeoutMs} ms.`, 'TIMEOUT')), request.timeoutMs).unref())]);
  }).catch((err: unknown) => {
    throw /unauthorized|forbidden|not authorized|insufficient permissions|401|403/i.test((err as Error).message) ? new DbError((err as Error).message, 'PERMISSION_DENIED') : err;
  });
  const t = fluxTable(records);
  return { columns: t.columns, rows: t.rows.slice(0, request.maxRows), truncated: t.rows.length > request.maxRows, command: 'flux' };
}
