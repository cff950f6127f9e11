/**
 * Read-only access for assistants. With x-pack security on, a native-realm user whose only role
 * (portunix_ro) grants `read` and `view_index_metadata` on non-restricted indices and cluster
 * `monitor`: Elasticsearch refuses indexing, deletes, _delete_by_query, index creation and
 * settings changes (security_exception, 403). Without security (the Maven integ-test
 * distribution) there are no accounts: the outcome says the server does not enforce read-only,
 * and db_query only ever calls `_search`.
 */
import { DbError, NotApplicableError, UsageError } from '../../core/errors.js';
import type { InstanceContext, QueryAccount, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec, UpstreamConnection, UpstreamId } from '../contract.js';
import { ADMIN_USER, httpCertPath, readState, withEs, type EsConn } from './client.js';
import { seg, validateIdentifier } from './identifiers.js';
import { existsSync } from 'node:fs';

/** The role the read-only user gets. Pure, for tests. */
export function readonlyRole(): { cluster: string[]; indices: { names: string[]; privileges: string[]; allow_restricted_indices: boolean }[] } {
  return { cluster: ['monitor'], indices: [{ names: ['*'], privileges: ['read', 'view_index_metadata'], allow_restricted_indices: false }] };
}

/** The security API calls that make (or refresh) the account, on a connection as elastic. */
export async function provisionRole(c: EsConn, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  validateIdentifier('user', spec.user);
  const path = `/_security/user/${encodeURIComponent(spec.user)}`;
  const had = await c.req<Record<string, unknown>>('GET', path).then((r) => spec.user in r, (err: unknown) => {
    if ((err as { meta?: { statusCode?: number } }).meta?.statusCode === 404) return false;
    throw err;
  });
  await c.req('PUT', `/_security/role/${encodeURIComponent(spec.user)}`, { body: readonlyRole() });
  await c.req('PUT', path, { body: { password: spec.password, roles: [spec.user], full_name: 'portunix-db read-only account', enabled: true }, query: { refresh: 'wait_for' } });
  return { user: spec.user, created: !had, enforcement: [`role ${spec.user}: indices * (not restricted) read, view_index_metadata; cluster monitor`, 'no index, delete, write, manage or script-store privileges'] };
}

export async function readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  if (!readState(ctx).security) {
    return {
      user: spec.user,
      created: false,
      serverEnforced: false,
      enforcement: ['security is off on this instance (this distribution has no x-pack security), so there are no accounts and no roles', 'db_query sends only _search requests; the Elastic upstream offers only its read tools', 'install the default Elasticsearch distribution for a read-only role the server enforces'],
    };
  }
  return withEs(ctx, (c) => provisionRole(c, spec));
}

/** The search body: a JSON object; size bounded by maxRows. Pure, for tests. */
export function searchBody(text: string, maxRows: number): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`The Elasticsearch query is not JSON: ${(err as Error).message}`, 'USAGE', 'Send a search body, e.g. {"query": {"match": {"title": "lamp"}}, "size": 10}.');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new UsageError('The Elasticsearch query must be a JSON object (a _search body).', 'USAGE', 'e.g. {"query": {"match_all": {}}}');
  const b = { ...(body as Record<string, unknown>) };
  const size = b['size'];
  if (size !== undefined && (!Number.isInteger(size) || (size as number) < 0)) throw new UsageError('"size" must be a non-negative integer.', 'USAGE', 'Omit it for the limit.');
  b['size'] = Math.min((size as number | undefined) ?? maxRows + 1, maxRows + 1);
  return b;
}

interface SearchReply {
  took?: number;
  timed_out?: boolean;
  hits?: { total?: { value?: number; relation?: string } | number; hits?: { _index: string; _id: string; _score?: number | null; _source?: unknown; fields?: unknown }[] };
  aggregations?: unknown;
}

export async function query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  const body = searchBody(request.text, request.maxRows);
  const path = request.database !== undefined ? `/${seg(request.database)}/_search` : '/_search';
  const r = await withEs(ctx, (c) => c.req<SearchReply>('POST', path, { body, query: { timeout: `${request.timeoutMs}ms`, allow_partial_search_results: false } }), { timeoutMs: request.timeoutMs + 2000, ...(request.account ? { as: request.account } : {}) }).catch((err: unknown) => {
    const e = err as DbError;
    if (e.code === 'TIMEOUT') throw new DbError(`The search did not finish within ${request.timeoutMs} ms.`, 'TIMEOUT');
    throw err;
  });
  const hits = r.hits?.hits ?? [];
  const rows: unknown[][] = hits.map((h) => [h._index, h._id, h._score ?? null, h._source ?? h.fields ?? null]);
  const total = typeof r.hits?.total === 'number' ? r.hits.total : r.hits?.total?.value;
  const kept = rows.slice(0, request.maxRows);
  if (r.aggregations !== undefined) kept.push(['(aggregations)', null, null, r.aggregations]);
  return { columns: ['_index', '_id', '_score', '_source'], rows: kept, truncated: rows.length > request.maxRows, command: `hits ${total ?? hits.length}${r.timed_out ? ' (timed out)' : ''}` };
}

/** @elastic/mcp-server-elasticsearch's variables: ES_URL, ES_USERNAME/ES_PASSWORD, ES_CA_CERT (a path), ES_VERSION. */
export async function upstreamConnection(ctx: InstanceContext, options: { upstream: UpstreamId; account?: QueryAccount; database?: string }): Promise<UpstreamConnection> {
  if (options.upstream !== 'elasticsearch') throw new NotApplicableError(`The ${options.upstream} upstream does not serve Elasticsearch.`, 'Use `--with elasticsearch` (@elastic/mcp-server-elasticsearch) or db_query.');
  const state = readState(ctx);
  const tls = state.security && existsSync(httpCertPath(ctx));
  const settings: Record<string, string> = { ES_URL: `${tls ? 'https' : 'http'}://127.0.0.1:${ctx.config.port ?? 9200}`, ES_VERSION: (ctx.config.version ?? '8').split('.')[0] ?? '8' };
  if (state.security) {
    settings['ES_USERNAME'] = options.account?.user ?? ADMIN_USER;
    settings['ES_PASSWORD'] = options.account?.password ?? (await ctx.adminPassword());
  }
  if (tls) settings['ES_CA_CERT'] = httpCertPath(ctx);
  return { upstream: 'elasticsearch', settings };
}
