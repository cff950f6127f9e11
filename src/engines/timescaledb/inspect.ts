/**
 * TimescaleDB-aware inspection on top of PostgreSQL's: hypertables (dimensions, chunks,
 * compression), continuous aggregates, and background jobs (policies) with their last run.
 * Everything comes from the extension's own views (timescaledb_information.*) and functions;
 * a database without the extension gets PostgreSQL's answer unchanged.
 */
import type pg from 'pg';
import type { InstanceContext, PerformanceReport, TableInfo, TableSummary } from '../contract.js';
import * as pgInspect from '../postgresql/inspect.js';
import { quoteIdent, withClient } from '../postgresql/client.js';

/** Schemas of the extension itself: its catalog, chunks and views are not user tables. */
export const EXTENSION_SCHEMAS = ['_timescaledb_catalog', '_timescaledb_internal', '_timescaledb_config', '_timescaledb_cache', '_timescaledb_functions', '_timescaledb_debug', 'timescaledb_information', 'timescaledb_experimental'];

export async function extensionVersion(c: pg.Client): Promise<string | undefined> {
  const r = await c.query<{ v: string }>(`SELECT extversion AS v FROM pg_extension WHERE extname = 'timescaledb'`);
  return r.rows[0]?.v;
}

const schemas = new WeakMap<pg.Client, string>();

/**
 * The schema the extension's functions live in, quoted, for qualified calls: a session's
 * search_path may not include it (pg_restore sets it empty; users may drop public).
 */
export async function ts(c: pg.Client): Promise<string> {
  let s = schemas.get(c);
  if (s === undefined) {
    const r = await c.query<{ s: string }>(`SELECT quote_ident(n.nspname) AS s FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'timescaledb'`);
    s = r.rows[0]?.s ?? 'public';
    schemas.set(c, s);
  }
  return s;
}

/** Whether a view of timescaledb_information exists (they change between 2.x releases). */
async function hasView(c: pg.Client, name: string): Promise<boolean> {
  const r = await c.query(`SELECT 1 FROM pg_views WHERE schemaname = 'timescaledb_information' AND viewname = $1`, [name]);
  return (r.rowCount ?? 0) > 0;
}

function num(v: unknown): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** Interval values from node-postgres ({days: 1} or a string) as PostgreSQL's text form. */
export function intervalText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (typeof v === 'object') {
    const o = v as Record<string, number | undefined> & { toPostgres?: () => string };
    if (typeof o.toPostgres === 'function') return o.toPostgres() || '0';
    const parts = (['years', 'months', 'days', 'hours', 'minutes', 'seconds', 'milliseconds'] as const).filter((k) => o[k]).map((k) => `${o[k]} ${k}`);
    return parts.join(' ') || '0';
  }
  return String(v);
}

/** Compression ratio before/after, rounded; undefined until something is compressed. Pure, for tests. */
export function compressionRatio(beforeBytes: number | undefined, afterBytes: number | undefined): number | undefined {
  if (!beforeBytes || !afterBytes) return undefined;
  return Math.round((beforeBytes / afterBytes) * 100) / 100;
}

/** A job's kind from its procedure ("policy_compression" -> "compression"); user-defined actions are "custom". Pure, for tests. */
export function jobKind(procSchema: string, procName: string): string {
  const known: Record<string, string> = {
    policy_retention: 'retention',
    policy_compression: 'compression',
    policy_refresh_continuous_aggregate: 'refresh',
    policy_reorder: 'reorder',
    policy_job_stat_history_retention: 'job history retention',
    policy_telemetry: 'telemetry',
  };
  if (procSchema.startsWith('_timescaledb_') && known[procName]) return known[procName]!;
  return procSchema.startsWith('_timescaledb_') ? procName : 'custom';
}

export interface JobRow {
  job_id: number;
  kind: string;
  proc: string;
  hypertable?: string;
  schedule_interval?: string;
  scheduled: boolean;
  config?: unknown;
  job_status?: string;
  last_run_status?: string;
  last_run_started_at?: string;
  last_successful_finish?: string;
  next_start?: string;
  total_runs?: number;
  total_failures?: number;
}

function iso(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  return v instanceof Date ? v.toISOString() : String(v);
}

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Background jobs (policies and custom actions) with their statistics. */
export async function listJobs(c: pg.Client, hypertable?: { schema: string; name: string }): Promise<JobRow[]> {
  const r = await c.query<Record<string, unknown>>(
    `SELECT j.job_id, j.proc_schema, j.proc_name, j.hypertable_schema, j.hypertable_name, j.schedule_interval, j.scheduled, j.config,
            s.job_status, s.last_run_status, s.last_run_started_at, s.last_successful_finish, coalesce(s.next_start, j.next_start) AS next_start,
            s.total_runs, s.total_failures
       FROM timescaledb_information.jobs j
       LEFT JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
      WHERE ($1::text IS NULL OR (j.hypertable_schema = $1 AND j.hypertable_name = $2))
      ORDER BY j.job_id`,
    [hypertable?.schema ?? null, hypertable?.name ?? null],
  );
  return r.rows.map((row) =>
    strip({
      job_id: Number(row['job_id']),
      kind: jobKind(String(row['proc_schema']), String(row['proc_name'])),
      proc: `${row['proc_schema']}.${row['proc_name']}`,
      hypertable: row['hypertable_name'] ? `${row['hypertable_schema']}.${row['hypertable_name']}` : undefined,
      schedule_interval: intervalText(row['schedule_interval']),
      scheduled: !!row['scheduled'],
      config: row['config'] ?? undefined,
      job_status: (row['job_status'] as string | null) ?? undefined,
      last_run_status: (row['last_run_status'] as string | null) ?? undefined,
      last_run_started_at: iso(row['last_run_started_at']),
      last_successful_finish: iso(row['last_successful_finish']),
      next_start: iso(row['next_start']),
      total_runs: num(row['total_runs']),
      total_failures: num(row['total_failures']),
    }),
  );
}

/** The latest failed runs, from job_history (2.15+) or job_errors (older 2.x). */
export async function recentFailures(c: pg.Client, limit = 20): Promise<{ job_id: number; started_at?: string; finished_at?: string; error?: string; sqlerrcode?: string }[]> {
  const view = (await hasView(c, 'job_history')) ? 'job_history' : (await hasView(c, 'job_errors')) ? 'job_errors' : undefined;
  if (!view) return [];
  const sql =
    view === 'job_history'
      ? `SELECT job_id, start_time, finish_time, sqlerrcode, err_message FROM timescaledb_information.job_history WHERE NOT succeeded ORDER BY start_time DESC NULLS LAST LIMIT $1`
      : `SELECT job_id, start_time, finish_time, sqlerrcode, err_message FROM timescaledb_information.job_errors ORDER BY start_time DESC NULLS LAST LIMIT $1`;
  const r = await c.query<Record<string, unknown>>(sql, [limit]);
  return r.rows.map((row) => strip({ job_id: Number(row['job_id']), started_at: iso(row['start_time']), finished_at: iso(row['finish_time']), sqlerrcode: (row['sqlerrcode'] as string | null) ?? undefined, error: (row['err_message'] as string | null) ?? undefined }));
}

interface HypertableRow {
  schema: string;
  name: string;
  dimensions: number;
  chunks: number;
  compressed_chunks: number;
  compression_enabled: boolean;
}

async function hypertables(c: pg.Client): Promise<HypertableRow[]> {
  const r = await c.query<Record<string, unknown>>(
    `SELECT h.hypertable_schema AS schema, h.hypertable_name AS name, h.num_dimensions AS dimensions, h.num_chunks AS chunks, h.compression_enabled,
            (SELECT count(*) FROM timescaledb_information.chunks k WHERE k.hypertable_schema = h.hypertable_schema AND k.hypertable_name = h.hypertable_name AND k.is_compressed) AS compressed_chunks
       FROM timescaledb_information.hypertables h`,
  );
  return r.rows.map((row) => ({ schema: String(row['schema']), name: String(row['name']), dimensions: Number(row['dimensions']), chunks: Number(row['chunks']), compressed_chunks: Number(row['compressed_chunks']), compression_enabled: !!row['compression_enabled'] }));
}

interface CaggRow {
  schema: string;
  name: string;
  hypertable: string;
  materialized_only: boolean;
  materialization: string;
}

async function continuousAggregates(c: pg.Client): Promise<CaggRow[]> {
  const r = await c.query<Record<string, unknown>>(
    `SELECT view_schema, view_name, hypertable_schema, hypertable_name, materialized_only, materialization_hypertable_schema, materialization_hypertable_name
       FROM timescaledb_information.continuous_aggregates`,
  );
  return r.rows.map((row) => ({
    schema: String(row['view_schema']),
    name: String(row['view_name']),
    hypertable: `${row['hypertable_schema']}.${row['hypertable_name']}`,
    materialized_only: !!row['materialized_only'],
    materialization: `${row['materialization_hypertable_schema']}.${row['materialization_hypertable_name']}`,
  }));
}

async function hypertableSize(c: pg.Client, schema: string, name: string): Promise<{ rows?: number; sizeBytes?: number }> {
  const rel = `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const r = await c.query<{ rows: string | null; size: string | null }>(`SELECT ${await ts(c)}.approximate_row_count($1::regclass) AS rows, ${await ts(c)}.hypertable_size($1::regclass) AS size`, [rel]);
  return strip({ rows: num(r.rows[0]?.rows), sizeBytes: num(r.rows[0]?.size) });
}

/** Hypertables and continuous aggregates among PostgreSQL's tables get their kind and facts. */
async function decorate(c: pg.Client, tables: TableSummary[], includeSizes: boolean): Promise<TableSummary[]> {
  const hts = new Map((await hypertables(c)).map((h) => [`${h.schema}.${h.name}`, h]));
  const caggs = new Map((await continuousAggregates(c)).map((a) => [`${a.schema}.${a.name}`, a]));
  const out: TableSummary[] = [];
  for (const t of tables) {
    const key = `${t.schema}.${t.name}`;
    const ht = hts.get(key);
    const cagg = caggs.get(key);
    if (ht) {
      const sized = includeSizes ? await hypertableSize(c, ht.schema, ht.name) : {};
      out.push({ ...t, kind: 'hypertable', ...(sized.rows !== undefined ? { rows: sized.rows, rowsEstimated: true } : {}), ...(sized.sizeBytes !== undefined ? { sizeBytes: sized.sizeBytes } : {}), details: { chunks: ht.chunks, compressed_chunks: ht.compressed_chunks, dimensions: ht.dimensions, compression: ht.compression_enabled } });
    } else if (cagg) {
      out.push({ ...t, kind: 'continuous aggregate', details: { hypertable: cagg.hypertable, materialized_only: cagg.materialized_only } });
    } else {
      out.push(t);
    }
  }
  return out;
}

/** PostgreSQL's page of tables (keyset, in the catalog query), without the extension's own schemas (unless asked for by schema), decorated. */
async function tablesOf(ctx: InstanceContext, options: pgInspect.TablesQuery): Promise<{ items: TableSummary[]; total: number }> {
  return withClient(ctx, options.database, async (c) => {
    // chunks, the catalog and the extension's views are not the user's tables
    const r = await pgInspect.queryTables(c, ctx, { ...options, excludeSchemas: EXTENSION_SCHEMAS });
    if (!(await extensionVersion(c))) return r;
    return { total: r.total, items: await decorate(c, r.items, options.includeSizes) };
  });
}

export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  return (await tablesOf(ctx, options)).items;
}

export async function listTablesPage(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean; limit: number; after?: readonly string[] }): Promise<{ items: TableSummary[]; total: number }> {
  return tablesOf(ctx, options);
}

async function dimensions(c: pg.Client, schema: string, name: string): Promise<Record<string, unknown>[]> {
  const r = await c.query<Record<string, unknown>>(
    `SELECT dimension_number, column_name, column_type, dimension_type, time_interval, integer_interval, num_partitions
       FROM timescaledb_information.dimensions WHERE hypertable_schema = $1 AND hypertable_name = $2 ORDER BY dimension_number`,
    [schema, name],
  );
  return r.rows.map((d) =>
    strip({
      column: String(d['column_name']),
      type: String(d['column_type']),
      kind: String(d['dimension_type']).toLowerCase(),
      chunk_interval: intervalText(d['time_interval']) ?? (d['integer_interval'] !== null ? String(d['integer_interval']) : undefined),
      partitions: num(d['num_partitions']),
    }),
  );
}

async function compression(c: pg.Client, schema: string, name: string, enabled: boolean): Promise<Record<string, unknown>> {
  if (!enabled) return { enabled: false };
  const rel = `${quoteIdent(schema)}.${quoteIdent(name)}`;
  const settings: Record<string, unknown> = {};
  if (await hasView(c, 'hypertable_compression_settings')) {
    const r = await c.query<Record<string, unknown>>(`SELECT segmentby, orderby FROM timescaledb_information.hypertable_compression_settings WHERE hypertable = $1::regclass`, [rel]);
    if (r.rows[0]) Object.assign(settings, strip({ segmentby: r.rows[0]['segmentby'] ?? undefined, orderby: r.rows[0]['orderby'] ?? undefined }));
  } else if (await hasView(c, 'compression_settings')) {
    const r = await c.query<{ attname: string; segmentby_column_index: number | null; orderby_column_index: number | null; orderby_asc: boolean | null }>(
      `SELECT attname, segmentby_column_index, orderby_column_index, orderby_asc FROM timescaledb_information.compression_settings WHERE hypertable_schema = $1 AND hypertable_name = $2`,
      [schema, name],
    );
    settings['segmentby'] = r.rows.filter((x) => x.segmentby_column_index !== null).map((x) => x.attname).join(',') || undefined;
    settings['orderby'] = r.rows.filter((x) => x.orderby_column_index !== null).map((x) => `${x.attname}${x.orderby_asc === false ? ' DESC' : ''}`).join(',') || undefined;
  }
  const s = await c.query<Record<string, string | null>>(`SELECT * FROM ${await ts(c)}.hypertable_compression_stats($1::regclass)`, [rel]);
  const row = s.rows[0] ?? {};
  const before = num(row['before_compression_total_bytes']);
  const after = num(row['after_compression_total_bytes']);
  return strip({ enabled: true, ...strip(settings), compressed_chunks: num(row['number_compressed_chunks']), before_bytes: before, after_bytes: after, ratio: compressionRatio(before, after) });
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  const info = await pgInspect.tableInfo(ctx, options);
  return withClient(ctx, options.database, async (c) => {
    if (!(await extensionVersion(c)) || !info.schema) return info;
    const ht = (await hypertables(c)).find((h) => h.schema === info.schema && h.name === info.name);
    if (ht) {
      const sized = await hypertableSize(c, ht.schema, ht.name);
      return {
        ...info,
        kind: 'hypertable',
        ...(sized.rows !== undefined ? { rows: sized.rows, rowsEstimated: true } : {}),
        ...(sized.sizeBytes !== undefined ? { sizeBytes: sized.sizeBytes } : {}),
        details: {
          dimensions: await dimensions(c, ht.schema, ht.name),
          chunks: ht.chunks,
          compression: await compression(c, ht.schema, ht.name, ht.compression_enabled),
          policies: await listJobs(c, ht),
        },
      };
    }
    const cagg = (await continuousAggregates(c)).find((a) => a.schema === info.schema && a.name === info.name);
    if (cagg) {
      const [mSchema, mName] = cagg.materialization.split('.') as [string, string];
      const mat = (await hypertables(c)).find((h) => h.schema === mSchema && h.name === mName);
      return {
        ...info,
        kind: 'continuous aggregate',
        details: {
          hypertable: cagg.hypertable,
          materialized_only: cagg.materialized_only,
          materialization: cagg.materialization,
          ...(mat ? { chunks: mat.chunks, dimensions: await dimensions(c, mSchema, mName) } : {}),
          // refresh policies name the continuous aggregate itself as their "hypertable"
          policies: await listJobs(c, { schema: cagg.schema, name: cagg.name }),
        },
      };
    }
    return info;
  });
}

async function extensionDatabases(ctx: InstanceContext, only?: string): Promise<string[]> {
  if (only) return [only];
  return withClient(ctx, 'postgres', async (c) => (await c.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname LIMIT 20`)).rows.map((r) => r.datname));
}

/** PostgreSQL's report, plus the background jobs of every database with the extension and their failures. */
export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  const report = await pgInspect.performance(ctx, options);
  const jobs: (JobRow & { database?: string })[] = [];
  const failures: (Awaited<ReturnType<typeof recentFailures>>[number] & { database?: string })[] = [];
  const versions: Record<string, string> = {};
  for (const db of await extensionDatabases(ctx, options.database)) {
    await withClient(ctx, db, async (c) => {
      const v = await extensionVersion(c);
      if (!v) return;
      versions[db] = v;
      for (const j of await listJobs(c)) jobs.push(options.database ? j : { database: db, ...j });
      for (const f of await recentFailures(c)) failures.push(options.database ? f : { database: db, ...f });
    });
  }
  const notes = report.notes ?? [];
  if (!Object.keys(versions).length) {
    notes.push(`The timescaledb extension is not created in ${options.database ? `database "${options.database}"` : 'any database of this instance'}; create it with \`portunix-db create <db> --type timescaledb\` (or CREATE EXTENSION timescaledb).`);
    return { ...report, notes };
  }
  const totalFailures = jobs.reduce((s, j) => s + (j.total_failures ?? 0), 0);
  const failing = jobs.filter((j) => j.last_run_status === 'Failed');
  if (failing.length) notes.push(`${failing.length} TimescaleDB job(s) failed on their last run: ${failing.map((j) => `${j.job_id} (${j.kind}${j.hypertable ? ` on ${j.hypertable}` : ''})`).join(', ')}; see details.job_failures, and run one now with \`portunix-db vacuum <db> --type ${ctx.engine} --task run-job --job ID\`.`);
  return {
    ...report,
    counters: { ...report.counters, timescaledb_job_failures: totalFailures },
    gauges: { ...report.gauges, timescaledb_jobs: jobs.length, timescaledb_jobs_failing: failing.length },
    ...(notes.length ? { notes } : {}),
    details: { timescaledb: versions, jobs, job_failures: failures },
  };
}
