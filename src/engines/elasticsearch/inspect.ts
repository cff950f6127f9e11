import { DbError } from '../../core/errors.js';
import type { ColumnInfo, ConnectionInfo, DatabaseSummary, HealthCheck, IndexInfo, InstanceContext, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../contract.js';
import { fetchDatabases, resolveDatabase } from './admin.js';
import { num, withEs, type EsConn } from './client.js';
import { seg, validateIdentifier } from './identifiers.js';

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  return withEs(ctx, async (c) => {
    if (database !== undefined) return [await resolveDatabase(c, database)];
    return fetchDatabases(c);
  });
}

interface MappingProps {
  properties?: Record<string, MappingField>;
}
interface MappingField extends MappingProps {
  type?: string;
  fields?: Record<string, MappingField>;
  [k: string]: unknown;
}

export interface FlatField {
  path: string;
  type: string;
  /** Multi-field (e.g. `title.keyword`) of another field. */
  multiOf?: string;
  details: Record<string, unknown>;
}

/** Every field of a mapping, depth first, with multi-fields after their parent (pure, for tests). */
export function flattenMapping(props: Record<string, MappingField> | undefined, prefix = ''): FlatField[] {
  const out: FlatField[] = [];
  for (const [name, f] of Object.entries(props ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    const path = prefix ? `${prefix}.${name}` : name;
    const { properties, fields, type, ...details } = f;
    out.push({ path, type: type ?? (properties ? 'object' : 'unknown'), details });
    for (const [sub, sf] of Object.entries(fields ?? {})) {
      const { type: st, ...sd } = sf;
      out.push({ path: `${path}.${sub}`, type: st ?? 'unknown', multiOf: path, details: sd });
    }
    if (properties) out.push(...flattenMapping(properties, path));
  }
  return out;
}

/** The metadata fields every document has: they keep db_tables from being empty on a new index. */
export const META_FIELDS: FlatField[] = [
  { path: '_id', type: 'keyword', details: { metadata: true } },
  { path: '_source', type: 'object', details: { metadata: true } },
];

async function mappingOf(ctx: InstanceContext, database: string): Promise<{ name: string; fields: FlatField[]; docs?: number; sizeBytes?: number; kind: string; raw: unknown }> {
  return withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, database);
    const m = await c.req<Record<string, { mappings?: MappingProps & Record<string, unknown> }>>('GET', `/${seg(db.name)}/_mapping`);
    // a data stream answers one mapping per backing index: the newest write index is its current one
    const entries = Object.entries(m).sort(([a], [b]) => a.localeCompare(b));
    const current = entries[entries.length - 1]?.[1]?.mappings ?? {};
    return { name: db.name, fields: flattenMapping(current.properties), ...(db.docs !== undefined ? { docs: db.docs } : {}), ...(db.sizeBytes !== undefined ? { sizeBytes: db.sizeBytes } : {}), kind: db.kind, raw: current };
  });
}

/**
 * Our words, kept the same in every tool: a "table" of an index is its mapping. db_tables lists
 * the mapping's fields (metadata fields `_id` and `_source` first, so a new index is never an
 * empty answer); db_table_info shows the whole mapping (table "_mapping" or the index's own
 * name) or one field and its sub-fields.
 */
export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  const m = await mappingOf(ctx, options.database);
  return [...META_FIELDS, ...m.fields].map((f) => ({
    schema: m.name,
    name: f.path,
    kind: f.details['metadata'] ? 'metadata field' : f.multiOf ? `${f.type} multi-field` : `${f.type} field`,
    ...(f.path === '_id' && m.docs !== undefined ? { rows: m.docs } : {}),
    ...(options.includeSizes && f.path === '_source' && m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}),
  }));
}

export async function schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  const m = await mappingOf(ctx, options.database);
  return {
    database: m.name,
    schemas: [{ name: m.name, tables: 1, views: 0 }],
    objects: [{ schema: m.name, name: '_mapping', kind: `${m.kind} mapping`, columns: m.fields.length + META_FIELDS.length }],
  };
}

function column(f: FlatField): ColumnInfo {
  const extra = Object.entries(f.details).filter(([k]) => k !== 'metadata').map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return { name: f.path, type: f.type, nullable: !f.details['metadata'], default: null, comment: [f.multiOf ? `multi-field of ${f.multiOf}` : '', ...extra].filter(Boolean).join('; ') || null };
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  validateIdentifier('table', options.table);
  const m = await mappingOf(ctx, options.database);
  const whole = options.table === '_mapping' || options.table === m.name;
  const fields = whole ? [...META_FIELDS, ...m.fields] : m.fields.filter((f) => f.path === options.table || f.path.startsWith(`${options.table}.`));
  if (!fields.length) {
    throw new DbError(`The mapping of ${m.name} has no field "${options.table}".`, 'NOT_FOUND', `List its fields with \`portunix-db tables ${m.name} --type elasticsearch\`, or ask for table "_mapping".`);
  }
  const dynamic = (m.raw as { dynamic?: unknown }).dynamic;
  return {
    schema: m.name,
    name: whole ? '_mapping' : options.table,
    kind: `${m.kind} mapping`,
    columns: fields.map(column),
    primaryKey: ['_id'],
    ...(m.docs !== undefined ? { rows: m.docs } : {}),
    ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}),
    comment: `dynamic mapping: ${dynamic === undefined ? 'true (default)' : String(dynamic)}`,
  };
}

interface CatShard {
  index: string;
  shard: string;
  prirep: string;
  state: string;
  docs?: string;
  store?: string;
  node?: string;
  'segments.count'?: string;
  'unassigned.reason'?: string;
}

/** Shards and segments per index: one entry per shard copy (pure, for tests). */
export function shardEntries(shards: CatShard[]): IndexInfo[] {
  return shards
    .map((s) => ({
      schema: s.index,
      table: s.index,
      name: `shard ${s.shard} ${s.prirep === 'p' ? 'primary' : 'replica'}`,
      columns: [],
      unique: false,
      primary: s.prirep === 'p',
      method: 'lucene',
      ...(num(s.store) !== undefined ? { sizeBytes: num(s.store)! } : {}),
      ...(s.state !== 'STARTED' ? { invalid: true } : {}),
      definition: `${s.state}${s.node ? ` on ${s.node}` : ''}: ${num(s['segments.count']) ?? 0} segments, ${num(s.docs) ?? 0} docs${s['unassigned.reason'] ? `, unassigned (${s['unassigned.reason']})` : ''}`,
    }))
    .sort((a, b) => a.table.localeCompare(b.table) || a.name.localeCompare(b.name, undefined, { numeric: true }));
}

export async function indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]> {
  return withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, options.database);
    const shards = await c.req<CatShard[]>('GET', `/_cat/shards/${seg(db.name)}`, { query: { format: 'json', bytes: 'b', h: 'index,shard,prirep,state,docs,store,node,segments.count,unassigned.reason' } });
    return shardEntries(shards);
  });
}

interface NodeStats {
  nodes: Record<string, {
    name?: string;
    http?: { current_open?: number; total_opened?: number; clients?: { id: number; closed_time_millis?: number; remote_address?: string; last_uri?: string; opened_time_millis?: number; last_request_time_millis?: number; agent?: string; request_count?: number }[] };
    indices?: Record<string, Record<string, number>>;
    jvm?: { mem?: { heap_used_in_bytes?: number; heap_max_in_bytes?: number; heap_used_percent?: number }; gc?: { collectors?: Record<string, { collection_count?: number; collection_time_in_millis?: number }> }; uptime_in_millis?: number };
    thread_pool?: Record<string, { threads?: number; queue?: number; active?: number; rejected?: number; completed?: number }>;
    fs?: { total?: { total_in_bytes?: number; available_in_bytes?: number; free_in_bytes?: number } };
    process?: { open_file_descriptors?: number; cpu?: { percent?: number } };
  }>;
}

/** Open HTTP connections (`_nodes/stats/http` client stats) and running tasks (`_tasks`). */
export async function connections(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  return withEs(ctx, async (c) => {
    const stats = await c.req<NodeStats>('GET', '/_nodes/stats/http', { query: { include_client_stats: true } }).catch(() => c.req<NodeStats>('GET', '/_nodes/stats/http'));
    const now = Date.now();
    const out: ConnectionInfo[] = [];
    for (const n of Object.values(stats.nodes)) {
      for (const cl of n.http?.clients ?? []) {
        if (cl.closed_time_millis !== undefined) continue;
        out.push({ id: `http-${cl.id}`, ...(cl.remote_address ? { client: cl.remote_address } : {}), state: 'http connection', ...(cl.opened_time_millis ? { queryStart: new Date(cl.opened_time_millis).toISOString(), durationMs: now - cl.opened_time_millis } : {}), ...(cl.last_uri ? { query: cl.last_uri } : {}) });
      }
    }
    const tasks = await c.req<{ nodes: Record<string, { tasks: Record<string, { action: string; description?: string; start_time_in_millis?: number; running_time_in_nanos?: number; type?: string }> }> }>('GET', '/_tasks', { query: { detailed: true } });
    for (const n of Object.values(tasks.nodes ?? {})) {
      for (const [id, t] of Object.entries(n.tasks ?? {})) {
        out.push({ id: `task-${id}`, state: `task ${t.action}`, ...(t.start_time_in_millis ? { queryStart: new Date(t.start_time_in_millis).toISOString() } : {}), ...(t.running_time_in_nanos !== undefined ? { durationMs: Math.round(t.running_time_in_nanos / 1e6) } : {}), ...(t.description ? { query: t.description } : {}) });
      }
    }
    return out;
  });
}

/**
 * `_nodes/stats` as cumulative counters (the core turns them into rates between samples):
 * indexing and search operations and times, GC collections, thread-pool rejections; and gauges:
 * JVM heap, open HTTP connections, queues. With --database, the index's own indexing/search stats.
 */
export function performanceFrom(stats: NodeStats, index?: { primaries?: Record<string, Record<string, number>>; total?: Record<string, Record<string, number>> }): PerformanceReport {
  const counters: Record<string, number> = {};
  const gauges: Record<string, number | string | null> = {};
  const add = (k: string, v: number | undefined) => {
    if (v !== undefined) counters[k] = (counters[k] ?? 0) + v;
  };
  for (const n of Object.values(stats.nodes)) {
    const ix = index?.total ?? n.indices ?? {};
    add('indexing_ops', ix['indexing']?.['index_total']);
    add('indexing_time_ms', ix['indexing']?.['index_time_in_millis']);
    add('search_queries', ix['search']?.['query_total']);
    add('search_query_time_ms', ix['search']?.['query_time_in_millis']);
    add('search_fetches', ix['search']?.['fetch_total']);
    add('get_ops', ix['get']?.['total']);
    add('refreshes', ix['refresh']?.['total']);
    add('merges', ix['merges']?.['total']);
    for (const [name, gc] of Object.entries(n.jvm?.gc?.collectors ?? {})) {
      add(`gc_${name}_collections`, gc.collection_count);
      add(`gc_${name}_time_ms`, gc.collection_time_in_millis);
    }
    for (const [pool, tp] of Object.entries(n.thread_pool ?? {})) {
      if (['write', 'search', 'get', 'management', 'flush', 'refresh', 'force_merge', 'snapshot'].includes(pool)) {
        add(`threadpool_${pool}_rejected`, tp.rejected);
        add(`threadpool_${pool}_completed`, tp.completed);
        gauges[`threadpool_${pool}_queue`] = tp.queue ?? 0;
      }
    }
    add('http_connections_opened', n.http?.total_opened);
    gauges['heap_used_bytes'] = n.jvm?.mem?.heap_used_in_bytes ?? null;
    gauges['heap_max_bytes'] = n.jvm?.mem?.heap_max_in_bytes ?? null;
    gauges['heap_used_percent'] = n.jvm?.mem?.heap_used_percent ?? null;
    gauges['http_connections_open'] = n.http?.current_open ?? null;
    gauges['docs'] = ix['docs']?.['count'] ?? null;
    gauges['store_bytes'] = ix['store']?.['size_in_bytes'] ?? null;
    gauges['segments'] = ix['segments']?.['count'] ?? null;
    if (n.process?.open_file_descriptors !== undefined) gauges['open_file_descriptors'] = n.process.open_file_descriptors;
  }
  const notes: string[] = [];
  const rejected = Object.entries(counters).filter(([k, v]) => k.endsWith('_rejected') && v > 0);
  if (rejected.length) notes.push(`thread-pool rejections since start: ${rejected.map(([k, v]) => `${k.replace(/^threadpool_|_rejected$/g, '')}=${v}`).join(', ')} (the node is overloaded for that work)`);
  if (typeof gauges['heap_used_percent'] === 'number' && gauges['heap_used_percent'] > 85) notes.push(`JVM heap is ${gauges['heap_used_percent']}% used: raise it with \`portunix-db config set elasticsearch heap 1g\` (restart).`);
  return { counters, gauges, slowQueriesNote: "Elasticsearch logs slow searches per index (index.search.slowlog.threshold.*): give an index thresholds when you create it (--setting search.slowlog.threshold.query.warn=2s); they go to the instance's logs/ directory.", ...(notes.length ? { notes } : {}) };
}

export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  return withEs(ctx, async (c) => {
    const stats = await c.req<NodeStats>('GET', '/_nodes/stats/indices,jvm,thread_pool,http,process');
    if (!options.database) return performanceFrom(stats);
    const db = await resolveDatabase(c, options.database);
    const ix = await c.req<{ _all?: { primaries?: Record<string, Record<string, number>>; total?: Record<string, Record<string, number>> } }>('GET', `/${seg(db.name)}/_stats`);
    return performanceFrom(stats, ix._all);
  });
}

/** Parses "85%", "0.85" or "500mb" watermarks; answers a used-percent threshold or an absolute free-bytes floor. */
export function parseWatermark(value: string): { usedPercent?: number; freeBytes?: number } {
  const v = value.trim().toLowerCase();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) return { usedPercent: Number(pct[1]) };
  if (/^0?\.\d+$|^1(\.0+)?$/.test(v)) return { usedPercent: Number(v) * 100 };
  const bytes = /^(\d+(?:\.\d+)?)(b|kb|mb|gb|tb|pb)$/.exec(v);
  if (bytes) {
    const mult = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3, tb: 1024 ** 4, pb: 1024 ** 5 }[bytes[2] as 'b'];
    return { freeBytes: Number(bytes[1]) * mult };
  }
  return {};
}

export function diskCheck(watermarks: { low: string; high: string; flood: string }, total: number, available: number): HealthCheck {
  const usedPct = total > 0 ? ((total - available) / total) * 100 : 0;
  const over = (w: string) => {
    const p = parseWatermark(w);
    return p.usedPercent !== undefined ? usedPct >= p.usedPercent : p.freeBytes !== undefined ? available <= p.freeBytes : false;
  };
  const detail = `data disk ${usedPct.toFixed(1)}% used (${Math.round(available / 1024 ** 2)} MiB free); watermarks low ${watermarks.low}, high ${watermarks.high}, flood stage ${watermarks.flood}`;
  if (over(watermarks.flood)) return { name: 'disk watermarks', status: 'fail', detail: `${detail}: past the flood stage, indices are read-only` };
  if (over(watermarks.high)) return { name: 'disk watermarks', status: 'fail', detail: `${detail}: past the high watermark, shards are moved away or not allocated` };
  if (over(watermarks.low)) return { name: 'disk watermarks', status: 'warn', detail: `${detail}: past the low watermark: no replica and no restored shard (restore, backup checks, verify) is placed here` };
  return { name: 'disk watermarks', status: 'ok', detail };
}

function flatSetting(settings: Record<string, unknown>, key: string): string | undefined {
  for (const part of ['persistent', 'transient', 'defaults']) {
    const v = (settings[part] as Record<string, unknown> | undefined)?.[key];
    if (typeof v === 'string') return v;
  }
  return undefined;
}

/** The node's data disk against the watermarks in effect (a restore is refused past the low one). */
export async function diskState(c: EsConn): Promise<HealthCheck | undefined> {
  const settings = await c.req<Record<string, unknown>>('GET', '/_cluster/settings', { query: { include_defaults: true, flat_settings: true } });
  const wm = {
    low: flatSetting(settings, 'cluster.routing.allocation.disk.watermark.low') ?? '85%',
    high: flatSetting(settings, 'cluster.routing.allocation.disk.watermark.high') ?? '90%',
    flood: flatSetting(settings, 'cluster.routing.allocation.disk.watermark.flood_stage') ?? '95%',
  };
  const stats = await c.req<NodeStats>('GET', '/_nodes/stats/fs');
  for (const n of Object.values(stats.nodes)) {
    const fs = n.fs?.total;
    if (fs?.total_in_bytes !== undefined && fs.available_in_bytes !== undefined) return diskCheck(wm, fs.total_in_bytes, fs.available_in_bytes);
  }
  return undefined;
}

/** Cluster health, unassigned shards, disk watermarks against the data disk, heap and rejections. */
export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  return withEs(ctx, async (c) => {
    const h = await c.req<{ status: string; unassigned_shards: number; active_shards_percent_as_number: number; number_of_pending_tasks: number }>('GET', '/_cluster/health');
    const checks: HealthCheck[] = [];
    checks.push({ name: 'cluster health', status: h.status === 'green' ? 'ok' : h.status === 'yellow' ? 'warn' : 'fail', detail: `${h.status}: ${h.active_shards_percent_as_number.toFixed(1)}% of shards active, ${h.number_of_pending_tasks} pending cluster tasks` });
    let unassignedDetail = `${h.unassigned_shards} unassigned shards`;
    if (h.unassigned_shards > 0) {
      const shards = await c.req<CatShard[]>('GET', '/_cat/shards', { query: { format: 'json', h: 'index,shard,prirep,state,unassigned.reason' } });
      const un = shards.filter((s) => s.state === 'UNASSIGNED').slice(0, 5);
      unassignedDetail += `: ${un.map((s) => `${s.index}[${s.shard}] ${s.prirep === 'p' ? 'primary' : 'replica'} (${s['unassigned.reason'] ?? '?'})`).join(', ')}; replicas never get a second node here: create indices with number_of_replicas=0`;
    }
    checks.push({ name: 'unassigned shards', status: h.unassigned_shards === 0 ? 'ok' : h.status === 'red' ? 'fail' : 'warn', detail: unassignedDetail });
    const disk = await diskState(c);
    if (disk) checks.push(disk);
    const stats = await c.req<NodeStats>('GET', '/_nodes/stats/jvm,thread_pool');
    for (const n of Object.values(stats.nodes)) {
      const heap = n.jvm?.mem?.heap_used_percent;
      if (heap !== undefined) checks.push({ name: 'JVM heap', status: heap > 90 ? 'fail' : heap > 75 ? 'warn' : 'ok', detail: `${heap}% of ${Math.round((n.jvm?.mem?.heap_max_in_bytes ?? 0) / 1024 ** 2)} MiB used` });
      const rejected = Object.entries(n.thread_pool ?? {}).filter(([, t]) => (t.rejected ?? 0) > 0);
      checks.push({ name: 'thread-pool rejections', status: rejected.length ? 'warn' : 'ok', detail: rejected.length ? rejected.map(([p, t]) => `${p}: ${t.rejected}`).join(', ') : 'none since start' });
    }
    return checks;
  });
}
