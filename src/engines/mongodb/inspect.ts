/**
 * Inspection, in MongoDB's terms mapped onto ours: collections (and views, time-series
 * collections) are tables, fields found in a bounded sample are columns, validators and unique
 * indexes are constraints. Where the server lacks something (FerretDB has no $sample, no
 * $indexStats, an always-empty currentOp, no opcounters) the answer says so, or is a typed
 * NOT_APPLICABLE error naming the server.
 */
import { statfs } from 'node:fs/promises';
import type { Document } from 'mongodb';
import { DbError } from '../../core/errors.js';
import { publicCertPath } from '../../core/tls.js';
import type { ColumnInfo, ConnectionInfo, ConstraintInfo, DatabaseSummary, HealthCheck, IndexInfo, InstanceContext, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../contract.js';
import { databaseNames, parseListDatabases, type ListDatabasesReply } from './admin.js';
import { instanceCertificate, isUnsupported, lacks, n, withMongo, type MongoConn } from './client.js';
import { validateIdentifier } from './identifiers.js';
import { serverIdentity } from './instance.js';
import type { ServerIdentity } from './servers.js';

/** How many documents db_schema and db_table_info look at per collection. */
export const SAMPLE_SIZE = 100;

export interface CollectionEntry {
  name: string;
  type: string;
  options: Document;
}

/** listCollections → user collections (system.* left out), sorted. */
export async function collections(c: MongoConn, database: string): Promise<CollectionEntry[]> {
  const list = (await c.db(database).listCollections({}, { nameOnly: false }).toArray()) as { name: string; type?: string; options?: Document }[];
  return list
    .filter((x) => !x.name.startsWith('system.'))
    .map((x) => ({ name: x.name, type: x.type ?? 'collection', options: x.options ?? {} }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

function kindOf(type: string): string {
  return type === 'timeseries' ? 'time-series collection' : type === 'view' ? 'view' : 'collection';
}

/** Storage figures of one collection: $collStats storageStats, or the collStats command. */
export async function storageStats(c: MongoConn, database: string, collection: string): Promise<{ count?: number; size?: number; storageSize?: number; totalIndexSize?: number; totalSize?: number }> {
  let s: Document | undefined;
  try {
    const [first] = await c.db(database).collection(collection).aggregate([{ $collStats: { storageStats: {} } }]).toArray();
    s = (first?.['storageStats'] as Document | undefined) ?? undefined;
  } catch (err) {
    if (!isUnsupported(err)) throw err;
  }
  s ??= await c.db(database).command({ collStats: collection });
  const out: { count?: number; size?: number; storageSize?: number; totalIndexSize?: number; totalSize?: number } = {};
  for (const key of ['count', 'size', 'storageSize', 'totalIndexSize', 'totalSize'] as const) {
    const v = n(s[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  if (database !== undefined) validateIdentifier('database', database);
  return withMongo(ctx, async (c) => {
    const all = parseListDatabases((await c.admin({ listDatabases: 1 })) as ListDatabasesReply);
    const chosen = database !== undefined ? all.filter((d) => d.name === database) : all;
    if (database !== undefined && chosen.length === 0) return [{ name: database, sizeBytes: 0 }];
    return chosen;
  });
}

export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  validateIdentifier('database', options.database);
  return withMongo(ctx, async (c) => {
    const out: TableSummary[] = [];
    for (const coll of await collections(c, options.database)) {
      const row: TableSummary = { name: coll.name, kind: kindOf(coll.type) };
      row.rows = await c.db(options.database).collection(coll.name).countDocuments({});
      row.rowsEstimated = false;
      if (options.includeSizes && coll.type !== 'view') {
        const s = await storageStats(c, options.database, coll.name);
        const size = s.totalSize ?? (s.storageSize !== undefined ? s.storageSize + (s.totalIndexSize ?? 0) : s.size);
        if (size !== undefined) row.sizeBytes = size;
      }
      out.push(row);
    }
    return out;
  });
}

// ---------- sampled fields ----------

/** BSON type names as MongoDB's $type spells them, for a value read with promoteValues: false. Pure. */
export function bsonType(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'array';
  if (value instanceof Date) return 'date';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(value) ? 'int' : 'double';
    case 'bigint':
      return 'long';
  }
  const t = (value as { _bsontype?: string })._bsontype;
  const names: Record<string, string> = { Int32: 'int', Double: 'double', Long: 'long', Decimal128: 'decimal', ObjectId: 'objectId', Binary: 'binData', Timestamp: 'timestamp', BSONRegExp: 'regex', MinKey: 'minKey', MaxKey: 'maxKey', Code: 'javascript', BSONSymbol: 'symbol', DBRef: 'dbPointer', UUID: 'binData' };
  if (t) return names[t] ?? t;
  return 'object';
}

export interface FieldStat {
  path: string;
  types: Record<string, number>;
  /** In how many sampled documents the field is present. */
  present: number;
}

/** Field paths (nested documents to depth 3) and their types over the sample. Pure, for tests. */
export function analyseFields(docs: Document[], maxDepth = 3): FieldStat[] {
  const stats = new Map<string, FieldStat>();
  const visit = (doc: Document, prefix: string, depth: number, seen: Set<string>) => {
    for (const [key, value] of Object.entries(doc)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const type = bsonType(value);
      let s = stats.get(path);
      if (!s) stats.set(path, (s = { path, types: {}, present: 0 }));
      s.types[type] = (s.types[type] ?? 0) + 1;
      if (!seen.has(path)) {
        seen.add(path);
        s.present++;
      }
      if (type === 'object' && depth < maxDepth) visit(value as Document, path, depth + 1, seen);
    }
  };
  for (const d of docs) visit(d, '', 1, new Set());
  return [...stats.values()].sort((a, b) => (a.path === '_id' ? -1 : b.path === '_id' ? 1 : a.path.localeCompare(b.path)));
}

export function fieldColumns(fields: FieldStat[], sampled: number): ColumnInfo[] {
  return fields.map((f) => {
    const types = Object.entries(f.types).sort((a, b) => b[1] - a[1]).map(([t]) => t);
    return { name: f.path, type: types.join('|'), nullable: f.present < sampled || types.includes('null'), comment: `in ${f.present} of ${sampled} sampled documents` };
  });
}

/**
 * Up to SAMPLE_SIZE documents: `$sample` (random), or, on a server without it, the first ones in
 * natural order (the note says which).
 */
export async function sampleDocuments(c: MongoConn, id: ServerIdentity, database: string, collection: string): Promise<{ docs: Document[]; how: string }> {
  const coll = c.db(database).collection(collection);
  try {
    const docs = await coll.aggregate([{ $sample: { size: SAMPLE_SIZE } }], { promoteValues: false }).toArray();
    return { docs, how: `$sample of ${SAMPLE_SIZE}` };
  } catch (err) {
    if (!isUnsupported(err)) throw err;
    const docs = await coll.find({}, { limit: SAMPLE_SIZE, promoteValues: false }).toArray();
    return { docs, how: `first ${SAMPLE_SIZE} in natural order (${id.kind === 'ferretdb' ? `FerretDB ${id.version}` : 'this server'} has no $sample stage)` };
  }
}

export async function schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  validateIdentifier('database', options.database);
  const id = await serverIdentity(ctx);
  return withMongo(ctx, async (c) => {
    const colls = await collections(c, options.database);
    const objects: NonNullable<SchemaSummary['objects']> = [];
    const notes: string[] = [];
    for (const coll of colls) {
      const total = await c.db(options.database).collection(coll.name).countDocuments({});
      const { docs, how } = await sampleDocuments(c, id, options.database, coll.name);
      const fields = analyseFields(docs);
      objects.push({ name: coll.name, kind: kindOf(coll.type), columns: fields.length });
      notes.push(`${coll.name}: ${fields.length} fields found in ${docs.length} of ${total} documents sampled (${how}).`);
    }
    return {
      database: options.database,
      schemas: [{ name: options.database, tables: colls.filter((x) => x.type !== 'view').length, views: colls.filter((x) => x.type === 'view').length }],
      objects,
      notes: ['MongoDB has no fixed schema: fields and types come from a bounded sample of each collection (`db_table_info` lists them).', ...notes],
    };
  });
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  validateIdentifier('database', options.database);
  validateIdentifier('table', options.table);
  const id = await serverIdentity(ctx);
  return withMongo(ctx, async (c) => {
    const coll = (await collections(c, options.database)).find((x) => x.name === options.table);
    if (!coll) throw new DbError(`Collection ${options.database}.${options.table} does not exist on mongodb/${ctx.name}.`, 'NOT_FOUND', `List collections with \`portunix-db tables ${options.database} --type mongodb\`.`);
    const rows = await c.db(options.database).collection(coll.name).countDocuments({});
    const { docs, how } = await sampleDocuments(c, id, options.database, coll.name);
    const fields = analyseFields(docs);
    const indexes = coll.type === 'view' ? [] : await c.db(options.database).collection(coll.name).listIndexes().toArray();
    const sizes = coll.type === 'view' ? {} : await storageStats(c, options.database, coll.name);
    const { validator, ...otherOptions } = coll.options;
    return {
      name: coll.name,
      kind: kindOf(coll.type),
      columns: fieldColumns(fields, docs.length),
      primaryKey: ['_id'],
      rows,
      rowsEstimated: false,
      ...(sizes.totalSize ?? sizes.storageSize ?? sizes.size) !== undefined ? { sizeBytes: (sizes.totalSize ?? sizes.storageSize ?? sizes.size)! } : {},
      comment: `fields from ${docs.length} of ${rows} documents sampled (${how})`,
      details: { sampled: docs.length, sampleMethod: how, validator: validator ?? null, options: otherOptions, indexes: indexes.map((i) => ({ name: i['name'], key: i['key'], ...(i['unique'] ? { unique: true } : {}) })) },
      notes: [`Fields and types come from ${docs.length} of ${rows} documents sampled (${how}).`],
    };
  });
}

// ---------- indexes and constraints ----------

export interface IndexSpec {
  name: string;
  key: Record<string, unknown>;
  unique?: boolean;
  sparse?: boolean;
  partialFilterExpression?: Document;
  expireAfterSeconds?: number;
}

function keyColumns(key: Record<string, unknown>): string[] {
  return Object.entries(key).map(([k, v]) => (n(v) === 1 ? k : `${k}:${n(v) ?? String(v)}`));
}

function methodOf(key: Record<string, unknown>): string {
  const special = Object.values(key).find((v) => typeof v === 'string');
  return special ? String(special) : 'btree';
}

/**
 * listIndexes output + $indexStats usage → IndexInfo, flagging duplicates (same key pattern) and
 * unused indexes (no access since the server started; never _id or unique ones). Pure, for tests.
 */
export function describeIndexes(collection: string, specs: IndexSpec[], usage: Map<string, number> | undefined): IndexInfo[] {
  const byKey = new Map<string, string>();
  return specs.map((s) => {
    const columns = keyColumns(s.key);
    const primary = s.name === '_id_';
    const signature = JSON.stringify(Object.entries(s.key).map(([k, v]) => [k, n(v) ?? String(v)]));
    const duplicateOf = byKey.get(signature);
    if (!duplicateOf) byKey.set(signature, s.name);
    const scans = usage?.get(s.name);
    const info: IndexInfo = { table: collection, name: s.name, columns, unique: !!s.unique || primary, primary, method: methodOf(s.key), definition: JSON.stringify({ key: s.key, ...(s.unique ? { unique: true } : {}), ...(s.sparse ? { sparse: true } : {}), ...(s.partialFilterExpression ? { partialFilterExpression: s.partialFilterExpression } : {}), ...(s.expireAfterSeconds !== undefined ? { expireAfterSeconds: s.expireAfterSeconds } : {}) }) };
    if (scans !== undefined) {
      info.scans = scans;
      info.unused = scans === 0 && !primary && !s.unique;
    }
    if (duplicateOf) info.duplicateOf = duplicateOf;
    return info;
  });
}

/** `$indexStats` → accesses per index name, or undefined where the server has no such stage. */
export async function indexUsage(c: MongoConn, database: string, collection: string): Promise<Map<string, number> | undefined> {
  try {
    const rows = await c.db(database).collection(collection).aggregate([{ $indexStats: {} }]).toArray();
    return new Map(rows.map((r) => [String(r['name']), n((r['accesses'] as Document | undefined)?.['ops']) ?? 0]));
  } catch (err) {
    if (isUnsupported(err)) return undefined;
    throw err;
  }
}

async function chosenCollections(c: MongoConn, database: string, table?: string): Promise<CollectionEntry[]> {
  const all = await collections(c, database);
  if (table === undefined) return all;
  validateIdentifier('table', table);
  const one = all.filter((x) => x.name === table);
  if (!one.length) throw new DbError(`Collection ${database}.${table} does not exist.`, 'NOT_FOUND', `List collections with \`portunix-db tables ${database} --type mongodb\`.`);
  return one;
}

/** Runs `fn` on each chosen collection (views have no indexes) with its listIndexes output. */
async function perCollection<T>(ctx: InstanceContext, options: { database: string; table?: string }, fn: (c: MongoConn, coll: CollectionEntry, specs: IndexSpec[]) => Promise<T[]>): Promise<T[]> {
  validateIdentifier('database', options.database);
  return withMongo(ctx, async (c) => {
    const out: T[] = [];
    for (const coll of await chosenCollections(c, options.database, options.table)) {
      if (coll.type === 'view') continue;
      const specs = (await c.db(options.database).collection(coll.name).listIndexes().toArray()) as unknown as IndexSpec[];
      out.push(...(await fn(c, coll, specs)));
    }
    return out;
  });
}

export function indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]> {
  return perCollection(ctx, options, async (c, coll, specs) => describeIndexes(coll.name, specs, await indexUsage(c, options.database, coll.name)));
}

/** Validators ($jsonSchema or query operators) as check constraints, unique indexes as unique ones, _id as the primary key. Pure, for tests. */
export function describeConstraints(collection: string, options: Document, specs: IndexSpec[]): ConstraintInfo[] {
  const out: ConstraintInfo[] = [{ table: collection, name: '_id_', type: 'primary key', columns: ['_id'] }];
  for (const s of specs) if (s.unique && s.name !== '_id_') out.push({ table: collection, name: s.name, type: 'unique', columns: Object.keys(s.key), definition: JSON.stringify({ key: s.key, unique: true, ...(s.partialFilterExpression ? { partialFilterExpression: s.partialFilterExpression } : {}) }) });
  const validator = options['validator'] as Document | undefined;
  if (validator && Object.keys(validator).length) {
    const schemaDoc = validator['$jsonSchema'] as Document | undefined;
    const required = Array.isArray(schemaDoc?.['required']) ? (schemaDoc!['required'] as string[]) : [];
    const properties = schemaDoc?.['properties'] ? Object.keys(schemaDoc['properties'] as Document) : Object.keys(validator).filter((k) => !k.startsWith('$'));
    out.push({
      table: collection,
      name: schemaDoc ? 'validator ($jsonSchema)' : 'validator',
      type: 'check',
      columns: [...new Set([...required, ...properties])],
      definition: JSON.stringify({ validator, validationLevel: options['validationLevel'] ?? 'strict', validationAction: options['validationAction'] ?? 'error' }),
    });
  }
  return out;
}

export function constraints(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<ConstraintInfo[]> {
  return perCollection(ctx, options, async (_c, coll, specs) => describeConstraints(coll.name, coll.options, specs));
}

// ---------- activity ----------

/** `currentOp` inprog entries → connections. Pure, for tests. */
export function parseCurrentOp(reply: { inprog?: Document[] }): ConnectionInfo[] {
  return (reply.inprog ?? []).map((op) => {
    const users = (op['effectiveUsers'] as { user?: string }[] | undefined) ?? [];
    const micros = n(op['microsecs_running']);
    const ns = typeof op['ns'] === 'string' ? (op['ns'] as string) : '';
    const command = op['command'] as Document | undefined;
    const info: ConnectionInfo = { id: String(op['connectionId'] ?? op['opid'] ?? op['desc'] ?? '?') };
    if (op['client']) info.client = String(op['client']);
    if (users[0]?.user) info.user = users[0].user;
    if (ns) info.database = ns.split('.')[0]!;
    info.state = op['active'] ? `active ${String(op['op'] ?? '')}`.trim() : 'idle';
    if (typeof op['currentOpTime'] === 'string') info.queryStart = op['currentOpTime'] as string;
    if (micros !== undefined) info.durationMs = Math.round(micros / 1000);
    if (command) info.query = JSON.stringify(command).slice(0, 500);
    return info;
  });
}

export async function connections(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  const id = await serverIdentity(ctx);
  if (id.kind === 'ferretdb') {
    // its currentOp answers an empty list whatever runs: an empty answer would be untrue
    throw lacks(id.kind, id.version, 'listing connections (its currentOp always answers an empty list)', 'Look at its log (`portunix-db logs mongodb`) for connections, or run MongoDB itself for currentOp.');
  }
  return withMongo(ctx, async (c) => parseCurrentOp((await c.admin({ currentOp: 1, $all: true })) as { inprog?: Document[] }));
}

/** serverStatus → counters (cumulative) and gauges. Pure, for tests. */
export function parseServerStatus(s: Document): { counters: Record<string, number>; gauges: Record<string, number | string | null>; notes: string[] } {
  const counters: Record<string, number> = {};
  const gauges: Record<string, number | string | null> = {};
  const notes: string[] = [];
  const ops = s['opcounters'] as Document | undefined;
  if (ops) {
    for (const k of ['insert', 'query', 'update', 'delete', 'getmore', 'command']) {
      const v = n(ops[k]);
      if (v !== undefined) counters[`ops_${k}`] = v;
    }
  } else {
    // FerretDB: per-command totals instead of opcounters
    const cmds = (s['metrics'] as Document | undefined)?.['commands'] as Document | undefined;
    let total = 0;
    for (const [name, v] of Object.entries(cmds ?? {})) {
      const t = n((v as Document)['total']);
      if (t === undefined) continue;
      total += t;
      if (['insert', 'find', 'update', 'delete', 'aggregate', 'getMore', 'count'].includes(name)) counters[`cmd_${name}`] = t;
    }
    if (cmds) counters['cmd_total'] = total;
    notes.push('No opcounters on this server: rates are from per-command totals (metrics.commands).');
  }
  const conns = s['connections'] as Document | undefined;
  if (conns) {
    gauges['connections_current'] = n(conns['current']) ?? null;
    gauges['connections_available'] = n(conns['available']) ?? null;
    const created = n(conns['totalCreated']);
    if (created !== undefined) counters['connections_created'] = created;
  }
  const cache = (s['wiredTiger'] as Document | undefined)?.['cache'] as Document | undefined;
  if (cache) {
    const used = n(cache['bytes currently in the cache']);
    const max = n(cache['maximum bytes configured']);
    gauges['wt_cache_bytes'] = used ?? null;
    gauges['wt_cache_max_bytes'] = max ?? null;
    if (used !== undefined && max) gauges['wt_cache_fill_ratio'] = Math.round((used / max) * 1000) / 1000;
    const readInto = n(cache['pages read into cache']);
    if (readInto !== undefined) counters['wt_pages_read_into_cache'] = readInto;
  } else {
    notes.push('No WiredTiger cache figures (the server has no wiredTiger section in serverStatus).');
  }
  const uptime = n(s['uptime']);
  if (uptime !== undefined) gauges['uptime_seconds'] = Math.round(uptime);
  if (s['version']) gauges['version'] = String(s['version']);
  if (s['ferretdbVersion']) gauges['ferretdb_version'] = String(s['ferretdbVersion']);
  return { counters, gauges, notes };
}

async function userDatabases(c: MongoConn, database?: string): Promise<string[]> {
  if (database !== undefined) return [validateIdentifier('database', database)];
  return (await databaseNames(c)).filter((d) => !['admin', 'local', 'config'].includes(d));
}

export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  const id = await serverIdentity(ctx);
  return withMongo(ctx, async (c) => {
    const { counters, gauges, notes } = parseServerStatus(await c.admin({ serverStatus: 1 }));
    const report: PerformanceReport = { counters, gauges, notes };
    if (id.kind === 'ferretdb') {
      report.slowQueriesNote = `FerretDB ${id.version} has no profiler (no \`profile\` command, no system.profile): slow operations are not available. Its log (\`portunix-db logs mongodb\`) shows slow commands.`;
      return report;
    }
    const slow: NonNullable<PerformanceReport['slowQueries']> = [];
    let profiling = false;
    for (const db of await userDatabases(c, options.database)) {
      const level = n((await c.db(db).command({ profile: -1 }))['was']) ?? 0;
      if (level === 0) continue;
      profiling = true;
      const rows = await c.db(db).collection('system.profile').find({}, { sort: { millis: -1 }, limit: 20 }).toArray();
      for (const r of rows) slow.push({ query: `${String(r['ns'] ?? db)} ${JSON.stringify(r['command'] ?? r['op'] ?? {}).slice(0, 300)}`, totalMs: n(r['millis']) ?? 0, calls: 1, meanMs: n(r['millis']) ?? 0, ...(n(r['nreturned']) !== undefined ? { rows: n(r['nreturned'])! } : {}) });
    }
    if (slow.length) report.slowQueries = slow.sort((a, b) => (b.totalMs ?? 0) - (a.totalMs ?? 0)).slice(0, 20);
    else report.slowQueriesNote = profiling ? 'The profiler is on and has recorded no slow operation yet.' : 'The profiler is off: `portunix-db metrics mongodb --enable-statements` turns it on (level 1, slow operations over 100 ms) for every database.';
    return report;
  });
}

/** Turns the profiler on (level 1, slowms 100) in every user database; FerretDB has none. */
export async function enableStatements(ctx: InstanceContext): Promise<{ changed: boolean; restartRequired: boolean; message: string }> {
  const id = await serverIdentity(ctx);
  if (id.kind === 'ferretdb') throw lacks(id.kind, id.version, 'the database profiler (no `profile` command)', 'Read slow commands from its log (`portunix-db logs mongodb`), or run MongoDB itself.');
  return withMongo(ctx, async (c) => {
    const changed: string[] = [];
    for (const db of await userDatabases(c)) {
      const was = n((await c.db(db).command({ profile: 1, slowms: 100 }))['was']) ?? 0;
      if (was === 0) changed.push(db);
    }
    return {
      changed: changed.length > 0,
      restartRequired: false,
      message: changed.length ? `Profiler on (level 1, slowms 100) in ${changed.join(', ')}. Databases created later start with it off; run this again for them.` : 'The profiler was already on in every database.',
    };
  });
}

export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  const id = await serverIdentity(ctx);
  const checks: HealthCheck[] = [];
  const cert = await instanceCertificate(ctx);
  await withMongo(ctx, async (c) => {
    const ping = await c.admin({ ping: 1 });
    checks.push({ name: 'ping', status: ping['ok'] === 1 ? 'ok' : 'fail', detail: `authenticated ping as admin answered ok=${String(ping['ok'])}` });
    checks.push({ name: 'server', status: 'ok', detail: id.kind === 'ferretdb' ? `FerretDB ${id.version}, a stand-in that emulates MongoDB ${id.mongoVersion} (not MongoDB itself)` : `MongoDB ${id.version}` });
    checks.push({ name: 'tls', status: cert ? 'ok' : 'warn', detail: cert ? `TLS required, certificate ${publicCertPath(ctx)}` : 'no TLS: the instance was made without openssl; TCP is not encrypted' });
    const hello = await c.admin({ hello: 1 });
    const rs = hello['setName'];
    checks.push({ name: 'replication', status: 'ok', detail: rs ? `replica set ${String(rs)} (${hello['isWritablePrimary'] ? 'primary' : 'secondary'}): mongodump --oplog gives point-in-time backups` : 'standalone: no oplog, so backups are not a single point-in-time snapshot' });
    const status = await c.admin({ serverStatus: 1 });
    const conns = status['connections'] as Document | undefined;
    if (conns) {
      const cur = n(conns['current']) ?? 0;
      const avail = n(conns['available']) ?? 0;
      const ratio = cur / Math.max(1, cur + avail);
      checks.push({ name: 'connections', status: ratio > 0.9 ? 'fail' : ratio > 0.75 ? 'warn' : 'ok', detail: `${cur} in use, ${avail} available` });
    }
    const cache = (status['wiredTiger'] as Document | undefined)?.['cache'] as Document | undefined;
    if (cache) {
      const used = n(cache['bytes currently in the cache']) ?? 0;
      const max = n(cache['maximum bytes configured']) ?? 1;
      checks.push({ name: 'wiredtiger_cache', status: used / max > 0.95 ? 'warn' : 'ok', detail: `${Math.round((used / max) * 100)}% of ${Math.round(max / 1048576)} MiB` });
    }
    const asserts = status['asserts'] as Document | undefined;
    if (asserts) {
      const regular = n(asserts['regular']) ?? 0;
      checks.push({ name: 'asserts', status: regular > 0 ? 'warn' : 'ok', detail: `${regular} regular asserts since start` });
    }
  });
  const fs = await statfs(ctx.paths.dataDir).catch(() => undefined);
  if (fs) {
    const free = fs.bavail * fs.bsize;
    const ratio = fs.bavail / Math.max(1, fs.blocks);
    checks.push({ name: 'disk', status: ratio < 0.05 ? 'fail' : ratio < 0.1 ? 'warn' : 'ok', detail: `${Math.round(free / 1048576)} MiB free on the data dir's file system (${Math.round(ratio * 100)}%)` });
  }
  return checks;
}
