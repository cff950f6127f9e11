import { DbError } from '../../core/errors.js';
import type { ColumnInfo, ConnectionInfo, DatabaseSummary, HealthCheck, InstanceContext, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../contract.js';
import { endpointOf, httpExchange, rows, withInfluxQl, type InfluxQl, type Series } from './client.js';
import { fluxString, quoteIdent, validateIdentifier } from './identifiers.js';
import { hasTls } from './instance.js';
import { v2 } from './admin.js';

// ---------- pure helpers (tested on documented reply shapes) ----------

/** SHOW STATS series -> counters (cumulative) and gauges, keyed `<module>.<name>`. */
export function statsToReport(series: Series[]): { counters: Record<string, number>; gauges: Record<string, number | string | null> } {
  const counters: Record<string, number> = {};
  const gauges: Record<string, number | string | null> = {};
  const pick = (name: string) => rows(series.find((s) => s.name === name))[0] ?? {};
  const n = (v: unknown) => (typeof v === 'number' ? v : Number(v ?? 0));
  const httpd = pick('httpd');
  for (const k of ['queryReq', 'writeReq', 'pingReq', 'pointsWrittenOK', 'pointsWrittenFail', 'pointsWrittenDropped', 'authFail', 'clientError', 'serverError', 'req', 'queryRespBytes', 'queryReqDurationNs', 'writeReqBytes']) {
    if (k in httpd) counters[`httpd.${k}`] = n(httpd[k]);
  }
  const qe = pick('queryExecutor');
  for (const k of ['queriesExecuted', 'queriesFinished', 'queryDurationNs']) if (k in qe) counters[`queryExecutor.${k}`] = n(qe[k]);
  if ('queriesActive' in qe) gauges['queryExecutor.queriesActive'] = n(qe['queriesActive']);
  const w = pick('write');
  for (const k of ['pointReq', 'writeOk', 'writeError', 'writeDrop', 'writeTimeout']) if (k in w) counters[`write.${k}`] = n(w[k]);
  const rt = pick('runtime');
  for (const k of ['HeapAlloc', 'HeapInUse', 'Sys', 'NumGoroutine', 'NumGC']) if (k in rt) gauges[`runtime.${k}`] = n(rt[k]);
  for (const s of series.filter((x) => x.name === 'database')) {
    const r = rows(s)[0] ?? {};
    const db = s.tags?.['database'];
    if (db && db !== '_internal') {
      gauges[`database.${db}.numSeries`] = n(r['numSeries']);
      gauges[`database.${db}.numMeasurements`] = n(r['numMeasurements']);
    }
  }
  return { counters, gauges };
}

/** Disk bytes per database, summed over its shards (SHOW STATS FOR 'shard'). */
export function shardBytes(series: Series[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of series.filter((x) => x.name === 'shard')) {
    const db = s.tags?.['database'];
    if (!db) continue;
    out.set(db, (out.get(db) ?? 0) + Number(rows(s)[0]?.['diskBytes'] ?? 0));
  }
  return out;
}

/** SHOW QUERIES -> connections (InfluxDB 1.x has no session list; running queries are what it has). */
export function queriesAsConnections(series: Series | undefined): ConnectionInfo[] {
  return rows(series).map((r) => ({ id: String(r['qid']), database: String(r['database'] ?? ''), state: String(r['status'] ?? ''), query: String(r['query'] ?? ''), ...(r['duration'] ? { client: `running ${String(r['duration'])}` } : {}) }));
}

/** The row of a SHOW DIAGNOSTICS section. */
export function diagnostics(series: Series[], name: string): Record<string, unknown> {
  return rows(series.find((s) => s.name === name))[0] ?? {};
}

/** Prometheus text (2.x /metrics) -> metric name -> summed value. Pure, for tests. */
export function parsePrometheus(text: string): Map<string, { total: number; byLabel: { labels: Record<string, string>; value: number }[] }> {
  const out = new Map<string, { total: number; byLabel: { labels: Record<string, string>; value: number }[] }>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[4]);
    if (!Number.isFinite(value)) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    const e = out.get(m[1]!) ?? { total: 0, byLabel: [] };
    e.total += value;
    e.byLabel.push({ labels, value });
    out.set(m[1]!, e);
  }
  return out;
}

export function prometheusReport(text: string): PerformanceReport {
  const p = parsePrometheus(text);
  const counters: Record<string, number> = {};
  const gauges: Record<string, number | string | null> = {};
  const c = (name: string, as = name) => {
    const v = p.get(name);
    if (v) counters[as] = v.total;
  };
  const g = (name: string, as = name) => {
    const v = p.get(name);
    if (v) gauges[as] = v.total;
  };
  c('http_api_requests_total');
  c('storage_writer_ok_points', 'storage_writer_ok_points');
  c('query_control_requests_total');
  c('http_query_request_count');
  c('http_write_request_count');
  g('go_goroutines');
  g('go_memstats_heap_alloc_bytes');
  g('storage_shard_disk_size');
  g('storage_shard_series');
  g('influxdb_buckets_total');
  g('qc_executing_active', 'query_executing_active');
  return { counters, gauges, notes: ['From the server /metrics endpoint (Prometheus format).'] };
}

// ---------- 1.x ----------

async function requireDatabase(c: InfluxQl, ctx: InstanceContext, database: string): Promise<void> {
  const names = rows((await c.query('SHOW DATABASES'))[0]).map((r) => String(r['name']));
  if (!names.includes(database)) throw new DbError(`Database ${database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND', 'List databases with `portunix-db list --type influxdb`.');
}

export interface RetentionPolicy {
  name: string;
  duration: string;
  shardGroupDuration: string;
  replicaN: number;
  default: boolean;
}

export async function retentionPolicies(c: InfluxQl, database: string): Promise<RetentionPolicy[]> {
  return rows((await c.query(`SHOW RETENTION POLICIES ON ${quoteIdent(database)}`))[0]).map((r) => ({
    name: String(r['name']),
    duration: String(r['duration']),
    shardGroupDuration: String(r['shardGroupDuration']),
    replicaN: Number(r['replicaN']),
    default: r['default'] === true,
  }));
}

export async function measurements(c: InfluxQl, database: string): Promise<string[]> {
  return rows((await c.query(`SHOW MEASUREMENTS ON ${quoteIdent(database)}`))[0]).map((r) => String(r['name']));
}

/** Points in rp.measurement: the largest per-field COUNT (exact when one field is in every point). */
export async function pointCount(c: InfluxQl, database: string, rp: string, measurement: string): Promise<{ rows: number; estimated: boolean }> {
  const s = (await c.query(`SELECT COUNT(*) FROM ${quoteIdent(database)}.${quoteIdent(rp)}.${quoteIdent(measurement)}`))[0];
  const r = rows(s)[0];
  if (!r) return { rows: 0, estimated: false };
  const counts = Object.entries(r).filter(([k]) => k.startsWith('count_')).map(([, v]) => Number(v));
  return { rows: counts.length ? Math.max(...counts) : 0, estimated: counts.length > 1 };
}

function rpSummary(rp: RetentionPolicy): string {
  return `duration ${rp.duration === '0s' ? 'infinite' : rp.duration}, shard groups ${rp.shardGroupDuration}, replication ${rp.replicaN}${rp.default ? ', default' : ''}`;
}

/** Retention policies (the level above measurements) and measurements, side by side. */
export async function listTablesV1(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  validateIdentifier('database', options.database);
  if (options.schema !== undefined) validateIdentifier('schema', options.schema);
  return withInfluxQl(ctx, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const rps = await retentionPolicies(c, options.database);
    const rp = options.schema ?? rps.find((r) => r.default)?.name ?? 'autogen';
    if (options.schema !== undefined && !rps.some((r) => r.name === options.schema)) throw new DbError(`Retention policy ${options.schema} does not exist on ${options.database}.`, 'NOT_FOUND', `Retention policies: ${rps.map((r) => r.name).join(', ')}.`);
    const out: TableSummary[] = rps.map((r) => ({ name: r.name, kind: r.default ? 'retention policy (default)' : 'retention policy' }));
    for (const m of await measurements(c, options.database)) {
      const t: TableSummary = { schema: rp, name: m, kind: 'measurement' };
      if (options.includeSizes) {
        const n = await pointCount(c, options.database, rp, m);
        t.rows = n.rows;
        t.rowsEstimated = n.estimated;
      }
      out.push(t);
    }
    return out;
  });
}

export async function schemaV1(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  validateIdentifier('database', options.database);
  return withInfluxQl(ctx, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const rps = await retentionPolicies(c, options.database);
    const ms = await measurements(c, options.database);
    const objects: SchemaSummary['objects'] = [];
    for (const m of ms) {
      const tags = rows((await c.query(`SHOW TAG KEYS ON ${quoteIdent(options.database)} FROM ${quoteIdent(m)}`))[0]).length;
      const fields = rows((await c.query(`SHOW FIELD KEYS ON ${quoteIdent(options.database)} FROM ${quoteIdent(m)}`))[0]).length;
      objects.push({ name: m, kind: 'measurement', columns: 1 + tags + fields });
    }
    return { database: options.database, schemas: rps.map((r) => ({ name: r.name, tables: ms.length, views: 0, owner: rpSummary(r) })), objects };
  });
}

/** A measurement: time, its tags and fields, points in the retention policy and series count; or a retention policy's settings. */
export async function tableInfoV1(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  validateIdentifier('database', options.database);
  validateIdentifier('table', options.table);
  if (options.schema !== undefined) validateIdentifier('schema', options.schema);
  return withInfluxQl(ctx, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const rps = await retentionPolicies(c, options.database);
    const ms = await measurements(c, options.database);
    const db = quoteIdent(options.database);
    if (!ms.includes(options.table)) {
      const rp = rps.find((r) => r.name === options.table);
      if (rp) return { name: rp.name, kind: 'retention policy', columns: [], comment: rpSummary(rp) };
      throw new DbError(`${options.database} has no measurement or retention policy named ${options.table}.`, 'NOT_FOUND', 'List them with `portunix-db tables ' + options.database + ' --type influxdb`.');
    }
    const rpName = options.schema ?? rps.find((r) => r.default)?.name ?? 'autogen';
    if (!rps.some((r) => r.name === rpName)) throw new DbError(`Retention policy ${rpName} does not exist on ${options.database}.`, 'NOT_FOUND');
    const m = quoteIdent(options.table);
    const columns: ColumnInfo[] = [{ name: 'time', type: 'timestamp (ns)', nullable: false }];
    for (const t of rows((await c.query(`SHOW TAG KEYS ON ${db} FROM ${m}`))[0])) columns.push({ name: String(t['tagKey']), type: 'tag (string)', nullable: true });
    for (const f of rows((await c.query(`SHOW FIELD KEYS ON ${db} FROM ${m}`))[0])) columns.push({ name: String(f['fieldKey']), type: `field (${String(f['fieldType'])})`, nullable: true });
    const series = Number(rows((await c.query(`SHOW SERIES EXACT CARDINALITY ON ${db} FROM ${m}`))[0])[0]?.['count'] ?? 0);
    const points = await pointCount(c, options.database, rpName, options.table);
    return { schema: rpName, name: options.table, kind: 'measurement', columns, rows: points.rows, rowsEstimated: points.estimated, comment: `${series} series; points counted in retention policy ${rpName}` };
  });
}

export async function databaseSizesV1(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  if (database !== undefined) validateIdentifier('database', database);
  return withInfluxQl(ctx, async (c) => {
    const names = rows((await c.query('SHOW DATABASES'))[0]).map((r) => String(r['name'])).filter((n) => n !== '_internal');
    if (database !== undefined && !names.includes(database)) throw new DbError(`Database ${database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND');
    const bytes = shardBytes(await c.query(`SHOW STATS FOR 'shard'`));
    return names.filter((n) => database === undefined || n === database).map((name) => ({ name, sizeBytes: bytes.get(name) ?? 0 }));
  });
}

export async function connectionsV1(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  return withInfluxQl(ctx, async (c) => queriesAsConnections((await c.query('SHOW QUERIES'))[0]).filter((q) => q.query !== 'SHOW QUERIES'));
}

/** SHOW STATS counters and gauges, series cardinality per database, and SHOW DIAGNOSTICS facts. */
export async function performanceV1(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  if (options.database !== undefined) validateIdentifier('database', options.database);
  return withInfluxQl(ctx, async (c) => {
    const { counters, gauges } = statsToReport(await c.query('SHOW STATS'));
    const diag = await c.query('SHOW DIAGNOSTICS');
    const sys = diagnostics(diag, 'system');
    if (sys['uptime'] !== undefined) gauges['uptime'] = String(sys['uptime']);
    const build = diagnostics(diag, 'build');
    if (build['Version'] !== undefined) gauges['version'] = String(build['Version']);
    const dbs = rows((await c.query('SHOW DATABASES'))[0]).map((r) => String(r['name'])).filter((n) => n !== '_internal' && (options.database === undefined || n === options.database));
    if (options.database !== undefined && !dbs.length) throw new DbError(`Database ${options.database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND');
    for (const db of dbs) {
      // one row per shard group: the database's estimate is their sum
      const card = (await c.query(`SHOW SERIES CARDINALITY ON ${quoteIdent(db)}`)).flatMap((s) => rows(s));
      gauges[`series_cardinality.${db}`] = card.reduce((n, r) => n + Number(Object.values(r)[0] ?? 0), 0);
    }
    return { counters, gauges, notes: ['From SHOW STATS and SHOW DIAGNOSTICS; series cardinality per database from SHOW SERIES CARDINALITY (an estimate).'] };
  });
}

export async function healthV1(ctx: InstanceContext): Promise<HealthCheck[]> {
  const out: HealthCheck[] = [];
  try {
    const r = await httpExchange(await endpointOf(ctx), 'GET', '/ping', { timeoutMs: 5000 });
    out.push({ name: 'ping', status: r.status === 204 ? 'ok' : 'fail', detail: `GET /ping answered ${r.status}` });
  } catch (err) {
    out.push({ name: 'ping', status: 'fail', detail: (err as Error).message });
    return out;
  }
  await withInfluxQl(ctx, async (c) => {
    const diag = await c.query('SHOW DIAGNOSTICS');
    const http = diagnostics(diag, 'config-httpd');
    const bind = String(http['bind-address'] ?? '');
    out.push({ name: 'bind', status: bind.startsWith('127.0.0.1:') ? 'ok' : 'warn', detail: `HTTP bound to ${bind}` });
    const rpc = String(diagnostics(diag, 'config')['bind-address'] ?? '');
    out.push({ name: 'backup-rpc', status: rpc.startsWith('127.0.0.1:') ? 'ok' : 'warn', detail: `backup/restore RPC bound to ${rpc} (InfluxDB 1.x gives it no authentication; loopback only)` });
    out.push({ name: 'tls', status: http['https-enabled'] === true ? 'ok' : 'warn', detail: http['https-enabled'] === true ? 'HTTPS with the instance certificate' : 'HTTP without TLS' });
    const users = rows((await c.query('SHOW USERS'))[0]);
    out.push({ name: 'auth', status: 'ok', detail: `authentication on; ${users.length} user(s), ${users.filter((u) => u['admin'] === true).length} admin(s)` });
    const stats = statsToReport(await c.query('SHOW STATS')).counters;
    const fails = stats['httpd.pointsWrittenFail'] ?? 0;
    out.push({ name: 'writes', status: fails > 0 ? 'warn' : 'ok', detail: `${stats['httpd.pointsWrittenOK'] ?? 0} points written, ${fails} failed since start` });
  });
  if (!hasTls(ctx)) out.push({ name: 'certificate', status: 'warn', detail: 'the instance has no TLS certificate (openssl was missing at install)' });
  return out;
}

// ---------- 2.x (Flux and /metrics) ----------

async function flux(ctx: InstanceContext, query: string): Promise<Record<string, unknown>[]> {
  return v2(ctx, async (s) => (await s.influx.getQueryApi(s.orgID).collectRows(query)) as Record<string, unknown>[]);
}

export async function listTablesV2(ctx: InstanceContext, options: { database: string; includeSizes: boolean }): Promise<TableSummary[]> {
  validateIdentifier('database', options.database);
  const b = fluxString(options.database);
  const names = (await flux(ctx, `import "influxdata/influxdb/schema"\nschema.measurements(bucket: ${b})`)).map((r) => String(r['_value']));
  const counts = new Map<string, number>();
  if (options.includeSizes && names.length) {
    for (const r of await flux(ctx, `from(bucket: ${b}) |> range(start: 0) |> group(columns: ["_measurement"]) |> count()`)) counts.set(String(r['_measurement']), Number(r['_value']));
  }
  return names.map((name) => ({ name, kind: 'measurement', ...(options.includeSizes ? { rows: counts.get(name) ?? 0, rowsEstimated: true } : {}) }));
}

export async function tableInfoV2(ctx: InstanceContext, options: { database: string; table: string }): Promise<TableInfo> {
  validateIdentifier('database', options.database);
  validateIdentifier('table', options.table);
  const b = fluxString(options.database);
  const m = fluxString(options.table);
  const tags = (await flux(ctx, `import "influxdata/influxdb/schema"\nschema.measurementTagKeys(bucket: ${b}, measurement: ${m})`)).map((r) => String(r['_value'])).filter((t) => !t.startsWith('_'));
  const fields = (await flux(ctx, `import "influxdata/influxdb/schema"\nschema.measurementFieldKeys(bucket: ${b}, measurement: ${m})`)).map((r) => String(r['_value']));
  if (!tags.length && !fields.length) throw new DbError(`Bucket ${options.database} has no measurement ${options.table}.`, 'NOT_FOUND');
  return {
    name: options.table,
    kind: 'measurement',
    columns: [{ name: '_time', type: 'timestamp (ns)', nullable: false }, ...tags.map((t) => ({ name: t, type: 'tag (string)', nullable: true })), ...fields.map((f) => ({ name: f, type: 'field', nullable: true }))],
  };
}

export async function performanceV2(ctx: InstanceContext): Promise<PerformanceReport> {
  const r = await httpExchange(await endpointOf(ctx), 'GET', '/metrics', { timeoutMs: 10_000 });
  if (r.status !== 200) throw new DbError(`GET /metrics answered ${r.status}.`, 'QUERY_FAILED');
  return prometheusReport(r.body);
}

export async function healthV2(ctx: InstanceContext): Promise<HealthCheck[]> {
  const r = await httpExchange(await endpointOf(ctx), 'GET', '/health', { timeoutMs: 5000 }).catch((err: Error) => ({ status: 0, body: JSON.stringify({ status: 'fail', message: err.message }) }));
  const h = JSON.parse(r.body || '{}') as { status?: string; message?: string; version?: string };
  return [
    { name: 'health', status: h.status === 'pass' ? 'ok' : 'fail', detail: `/health: ${h.status ?? r.status}${h.message ? ` (${h.message})` : ''}${h.version ? `, ${h.version}` : ''}` },
    { name: 'tls', status: hasTls(ctx) ? 'ok' : 'warn', detail: hasTls(ctx) ? 'HTTPS with the instance certificate' : 'HTTP without TLS' },
  ];
}
