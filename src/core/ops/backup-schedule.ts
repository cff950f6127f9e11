/**
 * Scheduled backups without a resident daemon: the instance config keeps `auto_backup` and
 * `backup_schedule`, and `backup due --run` (run often by cron, launchd or Task Scheduler) backs
 * up whatever is due. Every backup goes through createBackup, so manifests, atomicity, history
 * and audit are the same as for a manual one.
 */
import { DEFAULT_INSTANCE, findInstance, listInstances, loadConfig, putInstance, updateConfig, validateInstanceName, type InstanceConfig } from '../config.js';
import { DbError, toDbError, type ErrorCode } from '../errors.js';
import { audit } from '../audit.js';
import { silentProgress } from '../instance-context.js';
import { has, need } from '../../engines/need.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import type { Progress } from '../../engines/contract.js';
import { openRunning } from './instances.js';
import { createBackup, failedVerifications, listBackups, verifyBackup, type BackupListEntry } from './backup.js';
import type { Via } from './data.js';

export type ScheduleInterval = 'hourly' | 'daily' | 'weekly';
export type Every = ScheduleInterval | 'off';
export const EVERY_VALUES: readonly Every[] = ['hourly', 'daily', 'weekly', 'off'];

export const INTERVAL_MS: Record<ScheduleInterval, number> = {
  hourly: 60 * 60 * 1000,
  daily: 24 * 60 * 60 * 1000,
  weekly: 7 * 24 * 60 * 60 * 1000,
};

export function parseEvery(value: string): Every {
  if ((EVERY_VALUES as readonly string[]).includes(value)) return value as Every;
  throw new DbError(`"${value}" is not a backup schedule.`, 'USAGE', `Use --every ${EVERY_VALUES.join('|')}.`);
}

// ---------- setSchedule ----------

export interface ScheduleChange {
  engine: EngineId;
  instance: string;
  auto_backup: boolean;
  backup_schedule: InstanceConfig['backup_schedule'];
  previous: { auto_backup: boolean; backup_schedule: InstanceConfig['backup_schedule'] };
  message: string;
}

/** Turns scheduled backups of one instance on (hourly/daily/weekly) or off ('off' = auto_backup false, schedule 'manual'). */
export async function setSchedule(options: { type: string; instance?: string; every: string; via?: Via }): Promise<ScheduleChange> {
  const engine = parseEngineId(options.type);
  const name = validateInstanceName(options.instance ?? DEFAULT_INSTANCE);
  const every = parseEvery(options.every);
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
    const next: InstanceConfig = { ...inst.config, auto_backup: every !== 'off', backup_schedule: every === 'off' ? 'manual' : every };
    change = {
      engine,
      instance: name,
      auto_backup: next.auto_backup,
      backup_schedule: next.backup_schedule,
      previous: { auto_backup: inst.config.auto_backup, backup_schedule: inst.config.backup_schedule },
      message:
        every === 'off'
          ? `Scheduled backups of ${engine}/${name} are off.`
          : `${engine}/${name}: every database is backed up ${every} by \`portunix-db backup due --run\` (run it from cron, launchd or Task Scheduler).`,
    };
    return putInstance(config, { engine, name }, next);
  });
  const c = change!;
  await audit({ action: 'backup-schedule', engine, instance: name, via: options.via ?? 'cli', ok: true, detail: `${c.previous.auto_backup ? c.previous.backup_schedule : 'off'} -> ${every}` });
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
  last_backup?: { file: string; finished_at: string; scope: 'database' | 'instance' };
}

export interface InstanceDue {
  engine: EngineId;
  instance: string;
  schedule: ScheduleInterval;
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
    const interval = INTERVAL_MS[schedule];
    const databases = [...inst.databases].sort().map((database): DatabaseDue => {
      const last = lastGoodBackup(backups, inst.engine, inst.instance, database);
      if (!last) return { database, due: true, reason: 'no good backup yet' };
      const lastBackup = { file: last.file, finished_at: last.finished_at, scope: last.scope };
      const age = now.getTime() - Date.parse(last.finished_at);
      const due = !(age < interval); // NaN (unparseable time) counts as due
      return { database, due, reason: due ? `last good backup is older than ${schedule}` : `backed up within the ${schedule} interval`, last_backup: lastBackup };
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
  const scheduled = listInstances(await loadConfig(), engineId).filter((i) => i.config.auto_backup && (!options.instance || i.name === options.instance));
  return Promise.all(
    scheduled.map(async (inst): Promise<ScheduledInstance> => {
      const base = { engine: inst.engine, instance: inst.name, auto_backup: inst.config.auto_backup, backup_schedule: inst.config.backup_schedule };
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
}

/**
 * Backs up every due database through createBackup (verifying each new file when asked). An
 * instance-scoped backup counts for every database of its instance in this run. One failure
 * does not stop the others.
 */
export async function runDue(options: DueOptions & { verify?: boolean; via?: Via; signal?: AbortSignal } = {}): Promise<RunReport> {
  const progress = options.progress ?? silentProgress;
  const due = await dueBackups(options);
  const results: RunItem[] = [];
  const skipped: RunReport['skipped'] = [];
  for (const inst of due.instances) {
    const base = { engine: inst.engine, instance: inst.instance };
    if (inst.state === 'skipped') {
      skipped.push({ ...base, reason: inst.reason ?? 'skipped' });
      continue;
    }
    if (inst.state === 'error') {
      results.push({ ...base, database: '*', ok: false, error: inst.error ?? { code: 'INTERNAL', message: inst.reason ?? 'unknown error' } });
      continue;
    }
    let cover: RunItem | undefined;
    for (const db of inst.databases.filter((d) => d.due)) {
      if (cover) {
        results.push({ ...base, database: db.database, ok: cover.ok, covered_by_instance_backup: true, ...(cover.file ? { file: cover.file } : {}), ...(cover.method ? { method: cover.method } : {}), ...(cover.verify ? { verify: cover.verify } : {}), ...(cover.error ? { error: cover.error } : {}) });
        continue;
      }
      const item: RunItem = { ...base, database: db.database, ok: false };
      try {
        const { file, manifest } = await createBackup({ type: inst.engine, instance: inst.instance, database: db.database, progress, ...(options.via ? { via: options.via } : {}), ...(options.signal ? { signal: options.signal } : {}) });
        item.file = file;
        item.method = manifest.method;
        item.ok = true;
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
      results.push(item);
    }
  }
  const failed = results.filter((r) => !r.ok).length;
  return { checked_at: due.checked_at, ok: failed === 0, backed_up: results.filter((r) => r.ok && !r.covered_by_instance_backup).length, failed, results, skipped };
}
