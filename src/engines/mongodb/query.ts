/**
 * Read-only access for assistants. MongoDB: a user in `admin` with the built-in `read` role on each
 * user database, so the server refuses inserts, updates, drops, $out and $merge ("not authorized").
 * FerretDB 1.x has no roles (createUser answers NotImplemented for `roles`): there the account
 * has full access, the outcome says the server does not enforce read-only, and only the query
 * shapes db_query accepts (find, aggregate without $out/$merge, count, distinct) keep it to reads.
 */
import { DbError, NotApplicableError, UsageError } from '../../core/errors.js';
import type { InstanceContext, QueryAccount, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec, UpstreamConnection, UpstreamId } from '../contract.js';
import { AUTH_DB, isUnsupported, instanceCertificate, loadDriver, withMongo, type MongoConn } from './client.js';
import { databaseNames } from './admin.js';
import { SYSTEM_DATABASES, validateIdentifier } from './identifiers.js';
import { serverIdentity } from './instance.js';
import { serverLabel } from './servers.js';

/** The roles of the read-only account: `read` on every user database. Pure, for tests. */
export function readRoles(databases: string[]): { role: string; db: string }[] {
  return databases.filter((d) => !SYSTEM_DATABASES.has(d)).sort().map((db) => ({ role: 'read', db }));
}

async function exists(c: MongoConn, user: string): Promise<boolean> {
  const r = (await c.admin({ usersInfo: { user, db: AUTH_DB } })) as { users?: unknown[] };
  return (r.users ?? []).length > 0;
}

export async function readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  validateIdentifier('user', spec.user);
  const id = await serverIdentity(ctx);
  return withMongo(ctx, async (c) => {
    const roles = readRoles(await databaseNames(c));
    const had = await exists(c, spec.user);
    const base = { pwd: spec.password, mechanisms: ['SCRAM-SHA-256'] };
    try {
      await c.admin(had ? { updateUser: spec.user, ...base, roles } : { createUser: spec.user, ...base, roles });
      return { user: spec.user, created: !had, enforcement: [roles.length ? `role read on ${roles.map((r) => r.db).join(', ')} (no write, no $out/$merge, no user or index changes)` : 'role read on no database yet (run `user readonly mongodb` again after creating one)'] };
    } catch (err) {
      if (!isUnsupported(err)) throw err;
      // FerretDB 1.x: roles are not implemented; the only user it can make has full access
      await c.admin(had ? { updateUser: spec.user, ...base } : { createUser: spec.user, ...base, roles: [] });
      return {
        user: spec.user,
        created: !had,
        serverEnforced: false,
        enforcement: [`${serverLabel(id.kind, id.version)} has no roles (createUser: roles not implemented), so ${spec.user} can write`, 'db_query runs only find, aggregate (no $out/$merge), count and distinct', 'install MongoDB itself for a read role the server enforces'],
      };
    }
  });
}

type Shape =
  | { verb: 'find'; collection: string; filter: Record<string, unknown>; projection?: Record<string, unknown>; sort?: Record<string, unknown>; skip?: number; limit?: number }
  | { verb: 'aggregate'; collection: string; pipeline: Record<string, unknown>[] }
  | { verb: 'count'; collection: string; filter: Record<string, unknown> }
  | { verb: 'distinct'; collection: string; key: string; filter: Record<string, unknown> };

const VERBS = ['find', 'aggregate', 'count', 'distinct'] as const;
/** Aggregation stages that write. */
const WRITING_STAGES = ['$out', '$merge'];

function obj(v: unknown, what: string): Record<string, unknown> {
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError(`${what} must be a JSON object.`, 'USAGE', 'e.g. {"find": "users", "filter": {"age": {"$gt": 30}}}');
  return v as Record<string, unknown>;
}

/**
 * The query text as one read command: `{"find": "users", "filter": {...}, "projection", "sort",
 * "skip", "limit"}`, `{"aggregate": "users", "pipeline": [...]}`, `{"count": "users", "filter"}`,
 * `{"distinct": "users", "key": "lang", "filter"}` (MongoDB Extended JSON). Anything else is
 * refused before it reaches the server. Pure apart from EJSON, for tests.
 */
export function parseMongoQuery(text: string, EJSON: { parse(t: string, o?: { relaxed: boolean }): unknown }): Shape {
  let doc: Record<string, unknown>;
  try {
    doc = obj(EJSON.parse(text, { relaxed: true }), 'The query');
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`The MongoDB query is not JSON: ${(err as Error).message}`, 'USAGE', 'Send one JSON command, e.g. {"find": "users", "filter": {"login": "ada"}, "limit": 10}.');
  }
  const verb = VERBS.find((v) => v in doc);
  if (!verb) throw new UsageError(`db_query on MongoDB runs find, aggregate, count or distinct; got ${JSON.stringify(Object.keys(doc)[0] ?? '')}.`, 'USAGE', 'e.g. {"aggregate": "users", "pipeline": [{"$group": {"_id": "$lang", "n": {"$sum": 1}}}]}. Writes, mapReduce and admin commands are not offered.');
  const collection = doc[verb];
  if (typeof collection !== 'string' || !collection) throw new UsageError(`"${verb}" must name a collection.`, 'USAGE', `e.g. {"${verb}": "users"}`);
  validateIdentifier('table', collection);
  const filter = obj(doc['filter'] ?? doc['query'], 'filter');
  if (verb === 'aggregate') {
    const pipeline = doc['pipeline'] ?? [];
    if (!Array.isArray(pipeline)) throw new UsageError('"pipeline" must be an array of stages.', 'USAGE', 'e.g. [{"$match": {...}}, {"$limit": 10}]');
    return { verb, collection, pipeline: pipeline.map((st, i) => obj(st, `Stage ${i}`)) };
  }
  if (verb === 'count') return { verb, collection, filter };
  if (verb === 'distinct') {
    if (typeof doc['key'] !== 'string') throw new UsageError('"distinct" needs "key": the field name.', 'USAGE', 'e.g. {"distinct": "users", "key": "lang"}');
    return { verb, collection, key: doc['key'], filter };
  }
  const num = (k: string): number | undefined => {
    const v = doc[k];
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || (v as number) < 0) throw new UsageError(`"${k}" must be a non-negative integer.`, 'USAGE', `e.g. "${k}": 10`);
    return v as number;
  };
  const skip = num('skip');
  const limit = num('limit');
  return { verb, collection, filter, ...(doc['projection'] !== undefined ? { projection: obj(doc['projection'], 'projection') } : {}), ...(doc['sort'] !== undefined ? { sort: obj(doc['sort'], 'sort') } : {}), ...(skip !== undefined ? { skip } : {}), ...(limit !== undefined ? { limit } : {}) };
}

/** The first writing stage of a pipeline, if any. Pure, for tests. */
export function writingStage(pipeline: Record<string, unknown>[]): string | undefined {
  for (const st of pipeline) for (const k of Object.keys(st)) if (WRITING_STAGES.includes(k)) return k;
  return undefined;
}

export async function query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  if (!request.account) throw new DbError(`Queries on mongodb/${ctx.name} run only under the read-only account.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  const { EJSON } = (await loadDriver()).BSON;
  const shape = parseMongoQuery(request.text, EJSON);
  const database = request.database ?? 'test';
  if (shape.verb === 'aggregate' && request.account.unenforced) {
    // the server holds this account to nothing: the one read shape that writes is refused here
    const stage = writingStage(shape.pipeline);
    if (stage) throw new DbError(`${stage} writes, and this server does not hold ${request.account.user} to reads: refused by portunix-db before it was sent.`, 'FORBIDDEN', 'Use find or an aggregate without $out/$merge.');
  }
  const maxTimeMS = request.timeoutMs;
  const docs = await withMongo(
    ctx,
    async (c) => {
      const coll = c.db(database).collection(shape.collection);
      switch (shape.verb) {
        case 'find': {
          const limit = Math.min(shape.limit ?? request.maxRows + 1, request.maxRows + 1);
          return coll.find(shape.filter, { ...(shape.projection ? { projection: shape.projection } : {}), ...(shape.sort ? { sort: shape.sort as never } : {}), ...(shape.skip ? { skip: shape.skip } : {}), limit, maxTimeMS }).toArray();
        }
        case 'aggregate':
          return coll.aggregate([...shape.pipeline, ...(writingStage(shape.pipeline) ? [] : [{ $limit: request.maxRows + 1 }])], { maxTimeMS }).toArray();
        case 'count':
          return [{ count: await coll.countDocuments(shape.filter, { maxTimeMS }) }];
        case 'distinct':
          return (await coll.distinct(shape.key, shape.filter, { maxTimeMS })).map((v) => ({ value: v }));
      }
    },
    { as: request.account, timeoutMs: Math.min(request.timeoutMs, 10_000) },
  ).catch((err: unknown) => {
    const e = err as DbError;
    if (e.code === 'QUERY_FAILED' && /exceeded time limit|MaxTimeMSExpired|operation exceeded/i.test(e.message)) throw new DbError(`The MongoDB query did not finish within ${request.timeoutMs} ms.`, 'TIMEOUT');
    throw err;
  });
  const rows = docs.map((d) => [JSON.parse(EJSON.stringify(d, { relaxed: true })) as unknown]);
  return { columns: ['document'], rows: rows.slice(0, request.maxRows), truncated: rows.length > request.maxRows, command: shape.verb };
}

/** mongodb-mcp-server's connection string, with the account and the pinned certificate (a file it reads). */
export async function upstreamConnection(ctx: InstanceContext, options: { upstream: UpstreamId; account?: QueryAccount; database?: string }): Promise<UpstreamConnection> {
  if (options.upstream !== 'mongodb') throw new NotApplicableError(`The ${options.upstream} upstream does not serve MongoDB.`, 'Use `--with mongodb` (mongodb-mcp-server) or db_query.');
  const user = options.account?.user ?? 'admin';
  const password = options.account?.password ?? (await ctx.adminPassword());
  const cert = await instanceCertificate(ctx);
  const url = new URL(`mongodb://127.0.0.1:${ctx.config.port ?? 27017}/${options.database ?? ''}`);
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  url.searchParams.set('authSource', AUTH_DB);
  url.searchParams.set('directConnection', 'true');
  if (cert) {
    url.searchParams.set('tls', 'true');
    url.searchParams.set('tlsCAFile', cert.path);
  }
  return { upstream: 'mongodb', settings: { MDB_MCP_CONNECTION_STRING: url.toString() } };
}
