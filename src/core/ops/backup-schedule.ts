/**
 * Scheduled backups without a resident daemon: the instance config keeps `auto_backup` and
 * `backup_schedule`, and `backup due --run` (run often by cron, launchd or Task Scheduler) backs
 * up whatever is due. Every backup goes through createBackup, so manifests, atomicity, history
 * and audit are the same as for a manual one.
 */
import { backupOptionsSchema } from '../config-schema.js';
import { effectiveOptions, DEFAULT_INSTANCE, findInstance, listInstances, loadConfig, putInstance, updateConfig, validateInstanceName, type BackupOptions, type InstanceConfig, type Retention } from '../config.js';
import { checkSchedule, dueAt, INTERVAL_MS, isInterval, timezoneProblem } from '../schedule.js';
import { DbError, toDbError, type ErrorCode } from '../errors.js';
import { audit } from '../audit.js';
import { silentProgress } from '../instance-context.js';
import { has, need } from '../../engines/need.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import type { Progress } from '../../engines/contract.js';
import { openRunning } from './instances.js';
import { createBackup, failedVerifications, latestVerifications, listBackups, verifyBackup, type BackupListEntry } from './backup.js';
import { takeInstanceBackupLock } from './backup-locks.js';
import { pruneBackups } from './backup-prune.js';
import type { Via } from './data.js';
import { bytes } from '../text-format.js';

export { INTERVAL_MS, type ScheduleInterval } from '../schedule.js';
export type Every = string;
export const EVERY_VALUES: readonly string[] = ['hourly', 'daily', 'weekly', 'off'];

/** `off`, a keyword, or a five-field cron expression. */
export function parseEvery(value: string): Every {
  if (value === 'off') return value;
  return checkSchedule(value);
}

// ---------- setSchedule ----------

export interface ScheduleChange {
  engine: EngineId;
  instance: string;
  auto_backup: boolean;
  backup_schedule: InstanceConfig['backup_schedule'];
  backup_options?: BackupOptions;
  previous: { auto_backup: boolean; backup_schedule: InstanceConfig['backup_schedule'] };
  message: string;
}

export interface ScheduleSettings {
  timezone?: string;
  jitter_seconds?: number;
  encrypt?: boolean;
  /** 'off' removes it. */
  verify_every?: string;
  retention?: Retention;
}

/** Turns scheduled backups of one instance on (a keyword or cron) or off ('off' = auto_backup false, schedule 'manual'), with its options. */
export async function setSchedule(options: { type: string; instance?: string; every: string; settings?: ScheduleSettings; via?: Via }): Promise<ScheduleChange> {
  const engine = parseEngineId(options.type);
  const name = validateInstanceName(options.instance ?? DEFAULT_INSTANCE);
  const every = parseEvery(options.every);
  const settings = options.settings ?? {};
  if (settings.timezone !== undefined) {
    const problem = timezoneProblem(settings.timezone);
    if (problem) throw new DbError(`Invalid --tz: ${problem}.`, 'USAGE', 'Use an IANA name such as Europe/Prague, America/New_York or UTC.');
  }
  if (settings.verify_every !== undefined && settings.verify_every !== 'off') checkSchedule(settings.verify_every, '--verify-every');
  let change: ScheduleChange | undefined;
  await updateConfig((config) => {
    const inst = findInstance(config, { engine, name });
    if (!inst) {
      const others = listInstances(config, engine).map((i) => i.name);
      throw new DbError(
        `No ${engine} instance named "${name}" is installed.`,
        'NOT_INSTALLED',
        others.length ? `Installed ${engine} instances: ${others.join(', ')}. Pass --instance NAME.` : `Install it with \`portunix-db install ${engine}\`.`,
      );
    }
    const { verify_every, retention, ...rest } = settings;
    const merged: BackupOptions = { ...inst.config.backup_options, ...rest };
    if (verify_every === 'off') delete merged.verify_every;
    else if (verify_every) merged.verify_every = verify_every;
    if (retention) merged.retention = { ...merged.retention, ...retention };
    // the schema checks every value (ranges, zone names) before anything is written
    const parsed = backupOptionsSchema.safeParse(merged);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new DbError(`Invalid backup option ${issue.path.map(String).join('.')}: ${issue.message}.`, 'USAGE', 'See `portunix-db backup --help`.');
    }
    const next: InstanceConfig = { ...inst.config, auto_backup: every !== 'off', backup_schedule: every === 'off' ? 'manual' : every, ...(Object.keys(parsed.data).length ? { backup_options: parsed.data } : {}) };
    change = {
      engine,
      instance: name,
      auto_backup: next.auto_backup,
      backup_schedule: next.backup_schedule,
      ...(next.backup_options ? { backup_options: next.backup_options } : {}),
      previous: { auto_backup: inst.config.auto_backup, backup_schedule: inst.config.backup_schedule },
      message:
        every === 'off'
          ? `Scheduled backups of ${engine}/${name} are off.`
          : `${engine}/${name}: every database is backed up ${isInterval(every) ? every : `at "${every}"${parsed.data.timezone ? ` (${parsed.data.timezone})` : ' (UTC)'}`} while \`portunix-db monitor\` runs (or run \`portunix-db backup due --run\` from your scheduler: \`backup schedule ${engine} --install\`).`,
    };
    return putInstance(config, { engine, name }, next);
  });
  const c = change!;
  await audit({ action: 'backup-schedule', engine, instance: name, via: options.via ?? 'cli', ok: true, detail: `${c.previous.auto_backup ? c.previous.backup_schedule : 'off'} -> ${every}${c.backup_options ? ` ${JSON.stringify(c.backup_options)}` : ''}` });
  return c;
}

// ---------- the due computation (pure) ----------

/** A good backup as the due computation sees it. */
export interface GoodBackup {
  engine: EngineId;
  instance: string;
  database: string;
  scope: 'database' | 'instance';
  finished_at: string;
  file: string;
}

/** One scheduled instance, as gathered from the config and (when it runs) its server. */
export interface ScheduledInstance {
  engine: EngineId;
  instance: string;
  auto_backup: boolean;
  backup_schedule: InstanceConfig['backup_schedule'];
  options?: BackupOptions;
  /** The databases the engine lists; absent when the instance was not asked (skipped or error). */
  databases?: string[];
  /** Why the instance was not looked at (stopped, no backup support). Not a failure. */
  skipped?: string;
  /** The instance runs but its databases could not be listed. A failure. */
  error?: { code: ErrorCode; message: string };
}

export interface DatabaseDue {
  database: string;
  due: boolean;
  reason: string;
  /** When it is (or was) due. */
  due_at?: string;
  last_backup?: { file: string; finished_at: string; scope: 'database' | 'instance' };
}

export interface InstanceDue {
  engine: EngineId;
  instance: string;
  schedule: string;
  state: 'checked' | 'skipped' | 'error';
  reason?: string;
  error?: { code: ErrorCode; message: string };
  databases: DatabaseDue[];
}

/**
 * The newest good backup that covers this database: one of the database itself, or an
 * instance-scoped one (Redis RDB, PostgreSQL physical snapshot) of the same instance whatever
 * database name its manifest carries.
 */
export function lastGoodBackup(backups: readonly GoodBackup[], engine: EngineId, instance: string, database: string): GoodBackup | undefined {
  let best: GoodBackup | undefined;
  for (const b of backups) {
    if (b.engine !== engine || b.instance !== instance) continue;
    if (b.scope !== 'instance' && b.database !== database) continue;
    if (!best || Date.parse(b.finished_at) > Date.parse(best.finished_at)) best = b;
  }
  return best;
}

/** Which databases are due: no good backup, or the last one is at least one interval old at `now`. */
export function computeDue(instances: readonly ScheduledInstance[], backups: readonly GoodBackup[], now: Date): InstanceDue[] {
  const out: InstanceDue[] = [];
  for (const inst of instances) {
    if (!inst.auto_backup) continue;
    const base = { engine: inst.engine, instance: inst.instance };
    if (inst.backup_schedule === 'manual') {
      out.push({ ...base, schedule: 'daily', state: 'skipped', reason: 'auto_backup is on but backup_schedule is "manual"; set one with `backup schedule --every`.', databases: [] });
      continue;
    }
    const schedule = inst.backup_schedule;
    if (inst.error) {
      out.push({ ...base, schedule, state: 'error', error: inst.error, reason: inst.error.message, databases: [] });
      continue;
    }
    if (inst.skipped !== undefined || !inst.databases) {
      out.push({ ...base, schedule, state: 'skipped', reason: inst.skipped ?? 'its databases are unknown', databases: [] });
      continue;
    }
    const timing = { ...(inst.options?.timezone ? { timezone: inst.options.timezone } : {}), ...(inst.options?.jitter_seconds ? { jitter_seconds: inst.options.jitter_seconds } : {}) };
    const databases = [...inst.databases].sort().map((database): DatabaseDue => {
      const last = lastGoodBackup(backups, inst.engine, inst.instance, database);
      if (!last) return { database, due: true, reason: 'no good backup yet' };
      const lastBackup = { file: last.file, finished_at: last.finished_at, scope: last.scope };
      const at = dueAt(schedule, new Date(last.finished_at), `${inst.engine}/${inst.instance}`, timing);
      const due = !(now.getTime() < at.getTime()); // NaN (unparseable time) counts as due
      const what = isInterval(schedule) ? `older than ${schedule}` : `before the last "${schedule}" slot`;
      return { database, due, reason: due ? `last good backup is ${what}` : `backed up within the ${isInterval(schedule) ? `${schedule} interval` : `"${schedule}" slot`}`, ...(Number.isNaN(at.getTime()) ? {} : { due_at: at.toISOString() }), last_backup: lastBackup };
    });
    out.push({ ...base, schedule, state: 'checked', databases });
  }
  return out;
}

// ---------- dueBackups / runDue ----------

export interface DueReport {
  checked_at: string;
  /** Databases due now, over all instances. */
  due: number;
  instances: InstanceDue[];
}

export interface DueOptions {
  type?: string;
  instance?: string;
  progress?: Progress;
  /** For tests; defaults to the current time. */
  now?: Date;
}

async function gather(options: DueOptions): Promise<ScheduledInstance[]> {
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const config = await loadConfig();
  const scheduled = listInstances(config, engineId).filter((i) => i.config.auto_backup && (!options.instance || i.name === options.instance));
  return Promise.all(
    scheduled.map(async (inst): Promise<ScheduledInstance> => {
      const base = { engine: inst.engine, instance: inst.name, auto_backup: inst.config.auto_backup, backup_schedule: inst.config.backup_schedule, options: effectiveOptions(config, inst.engine, inst.config) };
      if (inst.config.backup_schedule === 'manual') return base;
      let open;
      try {
        open = await openRunning({ type: inst.engine, instance: inst.name, progress: options.progress ?? silentProgress });
      } catch (err) {
        const e = toDbError(err);
        // a stopped (or crashed) server is not this command's failure: the scheduler runs again later
        if (e.code === 'NOT_RUNNING') return { ...base, skipped: e.message };
        return { ...base, error: { code: e.code, message: e.message } };
      }
      if (!has(open.engine, 'backup')) return { ...base, skipped: open.engine.unsupported.backup ?? `${open.engine.info.displayName} has no backups.` };
      try {
        const dbs = await need(open.engine, 'listDatabases')(open.ctx);
        return { ...base, databases: dbs.map((d) => d.name) };
      } catch (err) {
        const e = toDbError(err);
        return { ...base, error: { code: e.code, message: e.message } };
      }
    }),
  );
}

async function goodBackups(options: { type?: string; instance?: string }): Promise<GoodBackup[]> {
  const [list, failed] = await Promise.all([listBackups({ ...(options.type ? { type: options.type } : {}), ...(options.instance ? { instance: options.instance } : {}) }), failedVerifications()]);
  // a backup whose latest verification failed is not a good backup
  return list.filter((b) => !failed.has(b.file)).map((b: BackupListEntry) => ({ engine: b.engine, instance: b.instance, database: b.database, scope: b.scope, finished_at: b.finished_at, file: b.file }));
}

/** For every instance with auto_backup on: which databases are due. A stopped instance is skipped with the reason. */
export async function dueBackups(options: DueOptions = {}): Promise<DueReport> {
  const now = options.now ?? new Date();
  const [instances, backups] = await Promise.all([gather(options), goodBackups(options)]);
  const report = computeDue(instances, backups, now);
  return { checked_at: now.toISOString(), due: report.reduce((n, i) => n + i.databases.filter((d) => d.due).length, 0), instances: report };
}

export interface RunItem {
  engine: EngineId;
  instance: string;
  database: string;
  ok: boolean;
  file?: string;
  method?: string;
  encrypted?: boolean;
  /** Set when an instance-scoped backup made earlier in this run already holds this database. */
  covered_by_instance_backup?: boolean;
  verify?: { ok: boolean; method: string; problems: string[] };
  error?: { code: ErrorCode; message: string; hint?: string };
}

export interface RunReport {
  checked_at: string;
  ok: boolean;
  backed_up: number;
  failed: number;
  results: RunItem[];
  skipped: { engine: EngineId; instance: string; reason: string }[];
  /** Backups pruned by retention after this run's backups. */
  pruned: { removed: number; freed_bytes: number; files: string[] };
  /** Newest backups restored into a scratch server because verify_every said so. */
  verified: { engine: EngineId; instance: string; database: string; file: string; ok: boolean; problems: string[] }[];
}

type RunOptions = DueOptions & { verify?: boolean; via?: Via; signal?: AbortSignal };

/**
 * Backs up every due database through createBackup (verifying each new file when asked). An
 * instance-scoped backup counts for every database of its instance in this run. One failure
 * does not stop the others. One run per instance at a time (a lock): a second is skipped and
 * says so. After an instance's backups, its retention prunes; then verify_every verifies.
 */
export async function runDue(options: RunOptions = {}): Promise<RunReport> {
  const due = await dueBackups(options);
  const report: RunReport = { checked_at: due.checked_at, ok: true, backed_up: 0, failed: 0, results: [], skipped: [], pruned: { removed: 0, freed_bytes: 0, files: [] }, verified: [] };
  const config = await loadConfig();
  for (const inst of due.instances) {
    const base = { engine: inst.engine, instance: inst.instance };
    if (inst.state === 'skipped') {
      report.skipped.push({ ...base, reason: inst.reason ?? 'skipped' });
      continue;
    }
    if (inst.state === 'error') {
      report.results.push({ ...base, database: '*', ok: false, error: inst.error ?? { code: 'INTERNAL', message: inst.reason ?? 'unknown error' } });
      continue;
    }
    const lock = await takeInstanceBackupLock(inst.engine, inst.instance);
    if (!('release' in lock)) {
      report.skipped.push({ ...base, reason: `a scheduled backup of ${inst.engine}/${inst.instance} is already running${lock.heldBy ? ` (pid ${lock.heldBy})` : ''}` });
      continue;
    }
    try {
      const found = findInstance(config, { engine: inst.engine, name: inst.instance });
      const opts = found ? effectiveOptions(config, inst.engine, found.config) : {};
      const made = await backUpInstance(inst, opts, options, report);
      if (options.signal?.aborted) break;
      if (made && opts.retention) {
        const pruned = await pruneBackups({ type: inst.engine, instance: inst.instance, ...(options.via ? { via: options.via } : {}) });
        report.pruned.removed += pruned.removed;
        report.pruned.freed_bytes += pruned.freed_bytes;
        for (const c of pruned.chains) for (const r of c.remove) if (r.removed) report.pruned.files.push(r.file);
      }
      if (opts.verify_every) await verifyIfDue(inst, opts, options, report);
    } finally {
      await lock.release();
    }
  }
  report.failed = report.results.filter((r) => !r.ok).length + report.verified.filter((v) => !v.ok).length;
  report.ok = report.failed === 0;
  report.backed_up = report.results.filter((r) => r.ok && !r.covered_by_instance_backup).length;
  return report;
}

async function backUpInstance(inst: InstanceDue, opts: BackupOptions, options: RunOptions, report: RunReport): Promise<number> {
  const progress = options.progress ?? silentProgress;
  const base = { engine: inst.engine, instance: inst.instance };
  let cover: RunItem | undefined;
  let made = 0;
  for (const db of inst.databases.filter((d) => d.due)) {
    if (options.signal?.aborted) break;
    if (cover) {
      report.results.push({ ...base, database: db.database, ok: cover.ok, covered_by_instance_backup: true, ...(cover.file ? { file: cover.file } : {}), ...(cover.method ? { method: cover.method } : {}), ...(cover.verify ? { verify: cover.verify } : {}), ...(cover.error ? { error: cover.error } : {}) });
      continue;
    }
    const item: RunItem = { ...base, database: db.database, ok: false };
    try {
      const { file, manifest } = await createBackup({ type: inst.engine, instance: inst.instance, database: db.database, progress, ...(opts.encrypt ? { encrypt: true } : {}), ...(options.via ? { via: options.via } : {}), ...(options.signal ? { signal: options.signal } : {}) });
      item.file = file;
      item.method = manifest.method;
      if (manifest.encryption) item.encrypted = true;
      item.ok = true;
      made++;
      if (manifest.scope === 'instance') cover = item;
      if (options.verify) {
        const v = await verifyBackup({ file, progress });
        item.verify = { ok: v.ok, method: v.method, problems: v.problems };
        if (!v.ok) {
          item.ok = false;
          item.error = { code: 'VERIFY_FAILED', message: `Verification of ${file} failed: ${v.problems.join('; ')}` };
        }
      }
    } catch (err) {
      const e = toDbError(err);
      item.ok = false;
      item.error = { code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
    }
    report.results.push(item);
  }
  return made;
}

/** verify_every: the newest good backup of each database is restored into a scratch server when its last verification is older than the schedule. */
async function verifyIfDue(inst: InstanceDue, opts: BackupOptions, options: RunOptions, report: RunReport): Promise<void> {
  const schedule = opts.verify_every!;
  const [good, verifications] = await Promise.all([goodBackups({ type: inst.engine, instance: inst.instance }), latestVerifications()]);
  const timing = opts.timezone ? { timezone: opts.timezone } : {};
  const done = new Set<string>();
  for (const db of inst.databases) {
    if (options.signal?.aborted) return;
    const newest = lastGoodBackup(good, inst.engine, inst.instance, db.database);
    if (!newest || done.has(newest.file)) continue;
    // the last verification of any backup of this database counts
    let lastAt: Date | undefined;
    for (const b of good) {
      if (b.engine !== inst.engine || b.instance !== inst.instance || (b.scope !== 'instance' && b.database !== db.database)) continue;
      const v = verifications.get(b.file);
      if (v?.ok && (!lastAt || Date.parse(v.at) > lastAt.getTime())) lastAt = new Date(v.at);
    }
    if (verifications.get(newest.file)?.ok) continue;
    if (Date.now() < dueAt(schedule, lastAt, `verify ${inst.engine}/${inst.instance}`, timing).getTime()) continue;
    done.add(newest.file);
    try {
      const v = await verifyBackup({ file: newest.file, progress: options.progress ?? silentProgress });
      report.verified.push({ engine: inst.engine, instance: inst.instance, database: db.database, file: newest.file, ok: v.ok, problems: v.problems });
    } catch (err) {
      report.verified.push({ engine: inst.engine, instance: inst.instance, database: db.database, file: newest.file, ok: false, problems: [toDbError(err).message] });
    }
  }
}

// ---------- backup health per scheduled instance (status) ----------

/** How late a cron slot may pass before it counts as missed: the OS scheduler checks every 15 minutes. */
export const CRON_GRACE_MS = 15 * 60 * 1000;

export interface InstanceBackupHealth {
  engine: EngineId;
  instance: string;
  schedule: string;
  /** Older than 1.5 intervals, or a cron slot (plus jitter and 15 min grace) passed without a backup, or never backed up. */
  overdue: boolean;
  reason: string;
  /** The stalest database's newest good backup (the one that decides overdue). */
  last_good_backup?: { database: string; file: string; finished_at: string; age_seconds: number };
  /** When the stalest database counts as overdue. */
  overdue_at?: string;
  last_verify?: { file: string; at: string; ok: boolean; age_seconds: number; error?: string };
  verify_failed: boolean;
  /** The backups kept (retention deletes the others): how many and their total size. */
  retained: { count: number; size_bytes: number };
}

export interface HealthInput {
  engine: EngineId;
  instance: string;
  schedule: string;
  options?: BackupOptions;
}

export interface HealthBackup extends GoodBackup {
  size_bytes: number;
}

/** Pure: the health of one scheduled instance from its kept backups and the latest verification per file. */
export function computeBackupHealth(inst: HealthInput, backups: readonly HealthBackup[], verifications: ReadonlyMap<string, { ok: boolean; at: string; error?: string }>, now: Date): InstanceBackupHealth {
  const mine = backups.filter((b) => b.engine === inst.engine && b.instance === inst.instance);
  const retained = { count: mine.length, size_bytes: mine.reduce((n, b) => n + b.size_bytes, 0) };
  const good = mine.filter((b) => verifications.get(b.file)?.ok !== false);
  const age = (at: string) => Math.max(0, Math.round((now.getTime() - Date.parse(at)) / 1000));
  let lastVerify: InstanceBackupHealth['last_verify'];
  for (const b of mine) {
    const v = verifications.get(b.file);
    if (v && (!lastVerify || Date.parse(v.at) > Date.parse(lastVerify.at))) lastVerify = { file: b.file, at: v.at, ok: v.ok, age_seconds: age(v.at), ...(v.error ? { error: v.error } : {}) };
  }
  const base = { engine: inst.engine, instance: inst.instance, schedule: inst.schedule, verify_failed: lastVerify?.ok === false, retained, ...(lastVerify ? { last_verify: lastVerify } : {}) };
  // the databases the kept backups name; each one's newest good backup (an instance-wide one covers all)
  const databases = [...new Set(mine.filter((b) => b.scope === 'database').map((b) => b.database))];
  if (!databases.length && mine.length) databases.push(mine[0]!.database);
  let stalest: GoodBackup | undefined;
  for (const db of databases) {
    const last = lastGoodBackup(good, inst.engine, inst.instance, db);
    if (!last) return { ...base, overdue: true, reason: `${db} has no good backup` };
    if (!stalest || Date.parse(last.finished_at) < Date.parse(stalest.finished_at)) stalest = last;
  }
  if (!stalest) return { ...base, overdue: true, reason: 'no good backup yet' };
  const last = new Date(stalest.finished_at);
  let overdueAt: Date;
  if (isInterval(inst.schedule)) overdueAt = new Date(last.getTime() + 1.5 * INTERVAL_MS[inst.schedule]);
  else {
    const timing = { ...(inst.options?.timezone ? { timezone: inst.options.timezone } : {}), ...(inst.options?.jitter_seconds ? { jitter_seconds: inst.options.jitter_seconds } : {}) };
    overdueAt = new Date(dueAt(inst.schedule, last, `${inst.engine}/${inst.instance}`, timing).getTime() + CRON_GRACE_MS);
  }
  const overdue = !(now.getTime() < overdueAt.getTime());
  const what = isInterval(inst.schedule) ? `1.5 × ${inst.schedule}` : `the next "${inst.schedule}" slot`;
  return {
    ...base,
    overdue,
    reason: overdue ? `${stalest.database}: last good backup is older than ${what}` : `backed up on schedule`,
    last_good_backup: { database: stalest.database, file: stalest.file, finished_at: stalest.finished_at, age_seconds: age(stalest.finished_at) },
    ...(Number.isNaN(overdueAt.getTime()) ? {} : { overdue_at: overdueAt.toISOString() }),
  };
}

/** The health of every instance with a schedule (auto_backup on, not manual); reads only files, never a server. */
export async function backupHealth(options: { type?: string; instance?: string; now?: Date } = {}): Promise<InstanceBackupHealth[]> {
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const config = await loadConfig();
  const scheduled = listInstances(config, engineId).filter((i) => i.config.auto_backup && i.config.backup_schedule !== 'manual' && (!options.instance || i.name === options.instance));
  if (!scheduled.length) return [];
  const [list, verifications] = await Promise.all([listBackups({ ...(engineId ? { type: engineId } : {}), ...(options.instance ? { instance: options.instance } : {}) }), latestVerifications()]);
  const now = options.now ?? new Date();
  return scheduled.map((i) => computeBackupHealth({ engine: i.engine, instance: i.name, schedule: i.config.backup_schedule, options: effectiveOptions(config, i.engine, i.config) }, list, verifications, now));
}

/** One line for `status`: overdue or failed verification, or undefined when all is well. */
export function healthMarker(h: InstanceBackupHealth): string | undefined {
  const parts: string[] = [];
  if (h.overdue) parts.push(`backup OVERDUE (${h.reason})`);
  if (h.verify_failed) parts.push(`last verify FAILED${h.last_verify?.error ? `: ${h.last_verify.error}` : ''}`);
  return parts.length ? `${h.engine}/${h.instance}: ${parts.join('; ')}` : undefined;
}

/** One line per scheduled instance for `backup status` and db_backup_status. */
export function healthLine(h: InstanceBackupHealth): string {
  const verify = h.last_verify ? `${h.last_verify.ok ? 'ok' : 'FAILED'} ${h.last_verify.at}` : 'never';
  return `${h.engine}/${h.instance} (${h.schedule}): ${h.overdue ? `OVERDUE: ${h.reason}` : 'on schedule'}; last verify ${verify}; kept ${h.retained.count} (${bytes(h.retained.size_bytes)})`;
}
