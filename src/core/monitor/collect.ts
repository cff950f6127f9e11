/**
 * One sampling round over every installed instance, through the same core operations as
 * `status`, `health`, `metrics`, `size` and `backup status` (never a query of its own), turned
 * into a snapshot per instance, points for the store, and the alert conditions that hold.
 */
import { statfs } from 'node:fs/promises';
import type { HealthCheck, KeyMetrics, PerformanceReport } from '../../engines/contract.js';
import { loadEngine } from '../../engines/registry.js';
import { parseEngineId } from '../../engines/ids.js';
import { toDbError } from '../errors.js';
import { loadConfig, listInstances } from '../config.js';
import { status, type StatusEntry } from '../ops/lifecycle.js';
import { health, performanceReport, ratesBetween, sizes } from '../ops/inspect.js';
import { backupStatus, type BackupStatusEntry } from '../ops/backup.js';
import { INTERVAL_MS, type ScheduleInterval } from '../ops/backup-schedule.js';
import { backupAlertKey } from '../agent/alert-claims.js';
import type { BackupFigures, Condition, InstanceSnapshot, KeyFigures, Point } from './types.js';

/** At most this many databases get their own size series (the largest). */
export const MAX_DATABASE_SERIES = 50;
/** At most this many engine-specific gauges and rates each per instance. */
export const MAX_ENGINE_SERIES = 40;
/** Used share of a data directory's file system that raises disk-nearly-full. */
export const DISK_NEARLY_FULL = 0.9;
/** A scheduled backup is overdue once its last good one is this many intervals old. */
export const OVERDUE_FACTOR = 1.5;

function sum(values: Record<string, number>, names: string[] | undefined): number | undefined {
  if (!names) return undefined;
  const present = names.filter((n) => values[n] !== undefined);
  return present.length ? present.reduce((s, n) => s + values[n]!, 0) : undefined;
}

function numeric(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The common figures from an engine's report, by the names its KeyMetrics gives. Pure. */
export function keyFigures(km: KeyMetrics | undefined, report: Pick<PerformanceReport, 'gauges'>, rates: Record<string, number> | undefined): KeyFigures {
  const g = report.gauges;
  const out: KeyFigures = {};
  const set = (k: keyof KeyFigures, v: number | undefined) => {
    if (v !== undefined) out[k] = v;
  };
  if (km?.connections) set('connections', numeric(g[km.connections]));
  if (km?.cacheHitRatio) set('cache_hit_ratio', numeric(g[km.cacheHitRatio]));
  if (km?.replicationLagSeconds) set('replication_lag_seconds', numeric(g[km.replicationLagSeconds]));
  if (rates) {
    const tx = sum(rates, km?.transactions);
    const ops = sum(rates, km?.operations);
    if (tx !== undefined) set('transactions_per_second', Math.round(tx * 100) / 100);
    if (ops !== undefined) set('operations_per_second', Math.round(ops * 100) / 100);
  }
  return out;
}

/** Store points of one snapshot (plus capped engine-specific gauges and rates). Pure. */
export function pointsOf(snap: InstanceSnapshot, report?: Pick<PerformanceReport, 'gauges'>, rates?: Record<string, number>): Point[] {
  const base = { engine: snap.engine, instance: snap.instance, database: '' };
  const pts: Point[] = [];
  const add = (metric: string, value: number | undefined, database = '') => {
    if (value !== undefined && Number.isFinite(value)) pts.push({ ...base, metric, value, database });
  };
  add('up', snap.state === 'running' || snap.state === 'embedded' ? 1 : 0);
  add('uptime_seconds', snap.uptime_seconds);
  for (const [k, v] of Object.entries(snap.key)) add(k, v);
  add('total_size_bytes', snap.total_bytes);
  for (const s of (snap.sizes ?? []).slice(0, MAX_DATABASE_SERIES)) add('database_size_bytes', s.bytes, s.database);
  if (snap.healthy !== undefined) add('health_failing', (snap.checks ?? []).filter((c) => c.status === 'fail').length);
  if (snap.disk) add('disk_free_bytes', snap.disk.free_bytes);
  let n = 0;
  for (const [k, v] of Object.entries(report?.gauges ?? {})) {
    if (numeric(v) === undefined || n >= MAX_ENGINE_SERIES) continue;
    add(`gauge.${k}`, v as number);
    n++;
  }
  n = 0;
  for (const [k, v] of Object.entries(rates ?? {})) {
    if (n++ >= MAX_ENGINE_SERIES) break;
    add(`rate.${k}`, v);
  }
  return pts;
}

const id = (s: { engine: string; instance: string }) => `${s.engine}/${s.instance}`;

/** The alert conditions that hold for one snapshot. Pure. */
export function conditionsOf(snap: InstanceSnapshot): Condition[] {
  const out: Condition[] = [];
  const base = { engine: snap.engine, instance: snap.instance };
  if (snap.state === 'crashed') {
    out.push({ ...base, key: `instance-crashed:${id(snap)}`, kind: 'instance-crashed', message: `${id(snap)} crashed: its server process is gone.`, ...(snap.log_tail?.length ? { detail: snap.log_tail.slice(-5).join('\n') } : {}) });
  }
  for (const c of snap.checks ?? []) {
    if (c.status !== 'fail' || snap.state === 'crashed') continue;
    out.push({ ...base, key: `health-failed:${id(snap)}:${c.name}`, kind: 'health-failed', message: `${id(snap)}: health check "${c.name}" fails: ${c.detail}` });
  }
  if (snap.disk && snap.disk.used_ratio >= DISK_NEARLY_FULL) {
    out.push({ ...base, key: `disk-nearly-full:${id(snap)}`, kind: 'disk-nearly-full', message: `${id(snap)}: the file system of ${snap.disk.path} is ${(snap.disk.used_ratio * 100).toFixed(1)}% full (${Math.round(snap.disk.free_bytes / 1048576)} MiB free).` });
  }
  for (const b of snap.backups ?? []) {
    const where = `${id(snap)}/${b.database}`;
    if (b.overdue) out.push({ ...base, key: `backup-overdue:${where}`, kind: 'backup-overdue', message: `${where}: the scheduled ${b.schedule ?? ''} backup is overdue (last good backup: ${b.last_backup_at ?? 'none'}).`.replace('  ', ' ') });
    if (b.last_verify && !b.last_verify.ok) out.push({ ...base, key: backupAlertKey('verify-failed', snap.engine, snap.instance, b.database), kind: 'verify-failed', message: `${where}: the last backup verification (${b.last_verify.at}) failed.`, ...(b.last_verify.error ? { detail: b.last_verify.error } : {}) });
    if (b.last_attempt && !b.last_attempt.ok && (!b.last_backup_at || b.last_attempt.at > b.last_backup_at)) {
      out.push({ ...base, key: backupAlertKey('backup-failed', snap.engine, snap.instance, b.database), kind: 'backup-failed', message: `${where}: the last backup (${b.last_attempt.at}) failed.`, ...(b.last_attempt.error ? { detail: b.last_attempt.error } : {}) });
    }
  }
  return out;
}

/** Backup figures of one instance from `backup status` and its schedule. Pure. */
export function backupFigures(
  entries: Pick<BackupStatusEntry, 'database' | 'last_backup' | 'last_verify' | 'last_attempt'>[],
  schedule: { auto_backup: boolean; backup_schedule: string; created_at?: string; databases?: string[] },
  now: number,
): BackupFigures[] {
  const interval = (INTERVAL_MS as Record<string, number | undefined>)[schedule.backup_schedule as ScheduleInterval];
  const scheduled = schedule.auto_backup && interval !== undefined;
  const limit = (interval ?? 0) * OVERDUE_FACTOR;
  const byDb = new Map(entries.map((e) => [e.database, e]));
  // a scheduled database that never had a backup is overdue once the instance is older than the grace
  for (const d of scheduled ? schedule.databases ?? [] : []) if (!byDb.has(d)) byDb.set(d, { database: d });
  const createdAgo = schedule.created_at ? now - Date.parse(schedule.created_at) : Infinity;
  return [...byDb.values()].map((e) => {
    const at = e.last_backup?.finished_at;
    const overdue = scheduled && (at ? now - Date.parse(at) > limit : createdAgo > limit);
    return {
      database: e.database,
      ...(at ? { last_backup_at: at } : {}),
      ...(e.last_backup?.size_bytes !== undefined ? { size_bytes: e.last_backup.size_bytes } : {}),
      ...(e.last_backup?.method ? { method: e.last_backup.method } : {}),
      ...(e.last_verify ? { last_verify: e.last_verify } : {}),
      ...(e.last_attempt ? { last_attempt: e.last_attempt } : {}),
      ...(scheduled ? { schedule: schedule.backup_schedule, overdue } : {}),
    };
  });
}

export interface RoundResult {
  at: number;
  snapshots: InstanceSnapshot[];
  points: Point[];
  conditions: Condition[];
}

/** Per-instance state the sampler keeps between rounds: the previous counters (for rates). */
export type PreviousCounters = Map<string, { at: number; values: Record<string, number> }>;

async function disk(path: string): Promise<InstanceSnapshot['disk']> {
  try {
    const s = await statfs(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    if (!(total > 0)) return undefined;
    return { path, free_bytes: free, total_bytes: total, used_ratio: Math.round((1 - free / total) * 10_000) / 10_000 };
  } catch {
    return undefined;
  }
}

/**
 * One round: status of every instance; for the running (and embedded) ones health, performance
 * and sizes; backups from `backup status` (passed in, refreshed less often by the caller).
 */
export async function sampleRound(previous: PreviousCounters, backups: BackupStatusEntry[] | undefined, now = () => Date.now()): Promise<RoundResult> {
  const at = now();
  const entries = (await status()).filter((e) => e.state !== 'invalid');
  const config = await loadConfig();
  const schedules = new Map(listInstances(config).map((i) => [`${i.engine}/${i.name}`, i.config]));
  const snapshots: InstanceSnapshot[] = [];
  const points: Point[] = [];
  const conditions: Condition[] = [];
  // one instance at a time: the monitor should not be what loads the machine
  for (const e of entries) {
    const { snap, report, rates } = await sampleInstance(e, previous, now);
    const cfg = schedules.get(id(e));
    if (backups && cfg) {
      const mine = backups.filter((b) => b.engine === e.engine && b.instance === e.instance);
      snap.backups = backupFigures(mine, { auto_backup: cfg.auto_backup, backup_schedule: String(cfg.backup_schedule), ...(cfg.created_at ? { created_at: cfg.created_at } : {}), ...(snap.sizes ? { databases: snap.sizes.map((s) => s.database) } : {}) }, at);
    }
    snapshots.push(snap);
    points.push(...pointsOf(snap, report, rates));
    conditions.push(...conditionsOf(snap));
  }
  for (const key of [...previous.keys()]) if (!snapshots.some((s) => id(s) === key)) previous.delete(key);
  return { at, snapshots, points, conditions };
}

async function sampleInstance(e: StatusEntry, previous: PreviousCounters, now: () => number): Promise<{ snap: InstanceSnapshot; report?: PerformanceReport; rates?: Record<string, number> }> {
  const snap: InstanceSnapshot = {
    engine: e.engine,
    instance: e.instance,
    at: new Date(now()).toISOString(),
    state: e.state,
    version: e.version,
    ...(e.full_version ? { full_version: e.full_version } : {}),
    ...(e.port !== undefined ? { port: e.port } : {}),
    ...(e.pid !== undefined ? { pid: e.pid } : {}),
    ...(e.uptime_seconds !== undefined ? { uptime_seconds: e.uptime_seconds } : {}),
    ...(e.notice ? { notice: e.notice } : {}),
    ...(e.state === 'crashed' && e.log_tail ? { log_tail: e.log_tail.slice(-10) } : {}),
    key: {},
    totals: {},
  };
  const d = await disk(e.data_dir);
  if (d) snap.disk = d;
  if (e.state !== 'running' && e.state !== 'embedded') {
    previous.delete(id(e));
    return { snap };
  }
  const target = { type: e.engine, instance: e.instance };
  const errors: string[] = [];
  const attempt = async <T>(what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      errors.push(`${what}: ${toDbError(err).message.split('\n')[0]}`);
      return undefined;
    }
  };
  const h = await attempt('health', () => health(target));
  if (h) {
    snap.healthy = h.healthy;
    snap.checks = h.checks.map((c: HealthCheck) => ({ name: c.name, status: c.status, detail: c.detail.slice(0, 300) }));
  }
  const engine = await loadEngine(parseEngineId(e.engine));
  let report: PerformanceReport | undefined;
  let rates: Record<string, number> | undefined;
  if (engine.performance) {
    report = await attempt('performance', () => performanceReport(target));
    if (report) {
      const at = now();
      const prev = previous.get(id(e));
      rates = prev ? ratesBetween({ at: prev.at, counters: prev.values }, { at, counters: report.counters })?.rates : undefined;
      previous.set(id(e), { at, values: report.counters });
      snap.counters = { at, values: report.counters };
      snap.key = keyFigures(engine.info.keyMetrics, report, rates);
      const tx = sum(report.counters, engine.info.keyMetrics?.transactions);
      const ops = sum(report.counters, engine.info.keyMetrics?.operations);
      snap.totals = { ...(tx !== undefined ? { transactions: tx } : {}), ...(ops !== undefined ? { operations: ops } : {}) };
    }
  }
  if (engine.databaseSizes) {
    const s = await attempt('sizes', () => sizes({ ...target, limit: MAX_DATABASE_SERIES }));
    if (s) {
      snap.sizes = s.items.filter((x) => x.sizeBytes !== undefined).map((x) => ({ database: x.name, bytes: x.sizeBytes! })).sort((a, b) => b.bytes - a.bytes);
      // an engine that reports no sizes (Redis keyspaces count keys) has no total, not a zero one
      if (snap.sizes.length) snap.total_bytes = s.total_bytes;
    }
  }
  if (errors.length) snap.errors = errors;
  return { snap, ...(report ? { report } : {}), ...(rates ? { rates } : {}) };
}

/** `backup status` of every instance (the sampler refreshes it less often than it samples). */
export function allBackupStatus(): Promise<BackupStatusEntry[]> {
  return backupStatus();
}
