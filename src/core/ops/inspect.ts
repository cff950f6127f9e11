import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths } from '../home.js';
import { page, clip, decodeKeyCursor, keysetPage, pageLimit, type Page } from '../paging.js';
import { tailFile } from '../process/supervisor.js';
import { has, need } from '../../engines/need.js';
import type { ConnectionInfo, ConstraintInfo, DatabaseSummary, HealthCheck, IndexInfo, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../../engines/contract.js';
import { openInstance, openRunning, type Target } from './instances.js';
import { DbError } from '../errors.js';

export interface Paged {
  limit?: number;
  cursor?: string;
}

function checkIdent(engine: Parameters<typeof need>[0], kind: 'database' | 'table' | 'schema', value: string | undefined): void {
  if (value !== undefined) need(engine, 'validateIdentifier')(kind, value);
}

export async function sizes(target: Target & { database?: string } & Paged): Promise<Page<DatabaseSummary> & { total_bytes: number }> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  const all = await need(engine, 'databaseSizes')(ctx, target.database);
  return { ...page(all, target), total_bytes: all.reduce((s, d) => s + (d.sizeBytes ?? 0), 0) };
}

export async function tables(target: Target & { database: string; schema?: string; includeSizes?: boolean } & Paged): Promise<Page<TableSummary>> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  checkIdent(engine, 'schema', target.schema);
  const options = { database: target.database, ...(target.schema ? { schema: target.schema } : {}), includeSizes: !!target.includeSizes };
  if (has(engine, 'listTablesPage')) {
    const after = decodeKeyCursor(target.cursor, 2);
    // one more than the page holds: it says whether another page follows
    const r = await need(engine, 'listTablesPage')(ctx, { ...options, limit: pageLimit(target.limit) + 1, ...(after ? { after } : {}) });
    return keysetPage(r.items, r.total, (t) => [t.schema ?? '', t.name], target);
  }
  return page(await need(engine, 'listTables')(ctx, options), target);
}

export async function schema(target: Target & { database: string; schema?: string } & Paged): Promise<Omit<SchemaSummary, 'objects'> & { objects: Page<NonNullable<SchemaSummary['objects']>[number]> }> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  checkIdent(engine, 'schema', target.schema);
  const options = { database: target.database, ...(target.schema ? { schema: target.schema } : {}) };
  if (has(engine, 'schemaPage')) {
    const after = decodeKeyCursor(target.cursor, 2);
    const p = await need(engine, 'schemaPage')(ctx, { ...options, limit: pageLimit(target.limit) + 1, ...(after ? { after } : {}) });
    return { database: p.database, schemas: p.schemas, objects: keysetPage(p.objects.items, p.objects.total, (o) => [o.schema ?? '', o.name], target), ...(p.notes?.length ? { notes: p.notes } : {}) };
  }
  const s = await need(engine, 'schema')(ctx, options);
  return { database: s.database, schemas: s.schemas, objects: page(s.objects ?? [], target), ...(s.notes?.length ? { notes: s.notes } : {}) };
}

export async function tableInfo(target: Target & { database: string; schema?: string; table: string }): Promise<TableInfo> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  checkIdent(engine, 'schema', target.schema);
  checkIdent(engine, 'table', target.table);
  return need(engine, 'tableInfo')(ctx, { database: target.database, ...(target.schema ? { schema: target.schema } : {}), table: target.table });
}

export async function indexes(target: Target & { database: string; schema?: string; table?: string } & Paged): Promise<Page<IndexInfo>> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  checkIdent(engine, 'schema', target.schema);
  checkIdent(engine, 'table', target.table);
  return page(await need(engine, 'indexes')(ctx, { database: target.database, ...(target.schema ? { schema: target.schema } : {}), ...(target.table ? { table: target.table } : {}) }), target);
}

export async function constraints(target: Target & { database: string; schema?: string; table?: string } & Paged): Promise<Page<ConstraintInfo>> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  checkIdent(engine, 'schema', target.schema);
  checkIdent(engine, 'table', target.table);
  return page(await need(engine, 'constraints')(ctx, { database: target.database, ...(target.schema ? { schema: target.schema } : {}), ...(target.table ? { table: target.table } : {}) }), target);
}

export async function connections(target: Target & Paged): Promise<Page<ConnectionInfo>> {
  const { engine, ctx } = await openRunning(target);
  const all = (await need(engine, 'connections')(ctx)).map((c) => ({ ...c, ...(c.query !== undefined ? { query: clip(c.query) } : {}) }));
  return page(all, target);
}

export interface PerformanceResult extends PerformanceReport {
  /** Per-second rates of the counters since the previous sample (absent on the first sample). */
  rates?: Record<string, number>;
  sample_interval_seconds?: number;
}

/** A counter sample: when it was taken (ms since epoch) and the cumulative counters. */
export interface CounterSample {
  at: number;
  counters: Record<string, number>;
}

/**
 * Per-second rates of the counters between two samples, rounded to 0.01; a counter that went
 * down (the server restarted) or is new has no rate. Undefined when no time passed. Pure.
 */
export function ratesBetween(prev: CounterSample, now: CounterSample): { rates: Record<string, number>; seconds: number } | undefined {
  const seconds = (now.at - prev.at) / 1000;
  if (!(seconds > 0)) return undefined;
  const rates: Record<string, number> = {};
  for (const [k, v] of Object.entries(now.counters)) {
    const before = prev.counters[k];
    if (before !== undefined && v >= before) rates[k] = Math.round(((v - before) / seconds) * 100) / 100;
  }
  return { rates, seconds };
}

/** The engine's performance report of a running instance, as is (no rates): what the monitor samples. */
export async function performanceReport(target: Target & { database?: string }): Promise<PerformanceReport & { engine: string; instance: string }> {
  const { engine, ctx } = await openRunning(target);
  checkIdent(engine, 'database', target.database);
  const report = await need(engine, 'performance')(ctx, { ...(target.database ? { database: target.database } : {}) });
  return { ...report, engine: ctx.engine, instance: ctx.name };
}

/**
 * Counters are cumulative; rates need two samples. The previous sample is kept under the
 * tool's state dir, so both `metrics` runs and `db_performance` calls compute deltas.
 */
export async function performance(target: Target & { database?: string }): Promise<PerformanceResult> {
  const { engine: engineId, instance, ...report } = await performanceReport(target);
  const file = join(homePaths.state(), `perf-${engineId}-${instance}.json`);
  const now = Date.now();
  let result: PerformanceResult = report;
  try {
    const prev = JSON.parse(await readFile(file, 'utf8')) as CounterSample;
    const r = ratesBetween(prev, { at: now, counters: report.counters });
    if (r) result = { ...report, rates: r.rates, sample_interval_seconds: Math.round(r.seconds * 10) / 10 };
  } catch {
    if (Object.keys(report.counters).length > 0) result = { ...report, notes: [...(report.notes ?? []), 'First sample: rates (e.g. transactions per second) appear from the next call.'] };
  }
  await mkdir(homePaths.state(), { recursive: true });
  await writeFile(file, JSON.stringify({ at: now, counters: report.counters }));
  return result;
}

export async function health(target: Target): Promise<{ engine: string; instance: string; healthy: boolean; checks: HealthCheck[] }> {
  const { engine, ctx } = await openInstance(target);
  let checks: HealthCheck[];
  try {
    await openRunning(target);
    checks = await need(engine, 'health')(ctx);
  } catch (err) {
    if (!(err instanceof DbError) || err.code !== 'NOT_RUNNING') throw err;
    checks = [{ name: 'server', status: 'fail', detail: err.message }];
  }
  return { engine: ctx.engine, instance: ctx.name, healthy: checks.every((c) => c.status !== 'fail'), checks };
}

export async function logs(target: Target & { lines?: number }): Promise<{ file: string; lines: string[] }> {
  const { ctx } = await openInstance(target);
  return { file: ctx.paths.logFile, lines: await tailFile(ctx.paths.logFile, Math.min(Math.max(target.lines ?? 50, 1), 10_000)) };
}

export async function enableStatements(target: Target): Promise<{ changed: boolean; restartRequired: boolean; message: string }> {
  const { engine, ctx } = await openRunning(target);
  return need(engine, 'enableStatements')(ctx);
}
