import { readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { homePaths } from '../home.js';
import { audit } from '../audit.js';
import { findInstance, loadConfigLenient } from '../config.js';
import { createInstanceContext, silentProgress } from '../instance-context.js';
import { DbError } from '../errors.js';
import { pidAlive } from '../file-lock.js';
import { loadEngine } from '../../engines/registry.js';
import { has, need } from '../../engines/need.js';
import { isOurProcess, readPidRecord } from './supervisor.js';
import { parseEngineId } from '../../engines/ids.js';
import type { InstanceContext } from '../../engines/contract.js';

/**
 * Databases a restore creates and fills before it is done with them (PostgreSQL's
 * `<target>__restore_<hex>`, MariaDB's target while it loads). Each is recorded here before it
 * is created, with the owning process (pid and start time); a command killed mid-restore leaves
 * its record, and the next command on that instance (or `doctor`) drops the database once the
 * owner is dead. One whose owner still runs is never touched.
 */
const recordDir = () => join(homePaths.state(), 'restores');

export interface StagingRecord {
  owner_pid: number;
  /** /proc/<pid>/stat start time of the owner, so a reused pid is not mistaken for it. */
  owner_start?: string;
  engine: string;
  instance: string;
  database: string;
  at: string;
  /** Said when the orphan is dropped (where the previous data is). */
  note?: string;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Is the process that wrote the record still running (same pid, same start time)? */
export function ownerAlive(rec: { owner_pid: number; owner_start?: string }): boolean {
  if (!pidAlive(rec.owner_pid)) return false;
  const now = startTimeOf(rec.owner_pid);
  return rec.owner_start === undefined || now === undefined || now === rec.owner_start;
}

/** Records `database` as this process's staging database; call the result once it is dropped or kept. */
export async function recordStagingDatabase(ctx: InstanceContext, database: string, note?: string): Promise<() => Promise<void>> {
  await mkdir(recordDir(), { recursive: true, mode: 0o700 });
  const file = join(recordDir(), `${ctx.engine}.${ctx.name}.${randomBytes(6).toString('hex')}.json`);
  const start = startTimeOf(process.pid);
  const rec: StagingRecord = { owner_pid: process.pid, ...(start ? { owner_start: start } : {}), engine: ctx.engine, instance: ctx.name, database, at: new Date().toISOString(), ...(note ? { note } : {}) };
  await writeFile(file, JSON.stringify(rec) + '\n', { mode: 0o600 });
  return () => rm(file, { force: true });
}

export interface StagingEntry extends StagingRecord {
  file: string;
  owner_alive: boolean;
}

export async function listStagingRecords(): Promise<StagingEntry[]> {
  let names: string[];
  try {
    names = (await readdir(recordDir())).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const out: StagingEntry[] = [];
  for (const name of names) {
    const file = join(recordDir(), name);
    try {
      const rec = JSON.parse(await readFile(file, 'utf8')) as StagingRecord;
      if (typeof rec.owner_pid !== 'number' || typeof rec.database !== 'string' || typeof rec.engine !== 'string' || typeof rec.instance !== 'string') throw new Error('bad record');
      out.push({ ...rec, file, owner_alive: rec.owner_pid === process.pid || ownerAlive(rec) });
    } catch {
      // an unreadable record names nothing that could be dropped
      await rm(file, { force: true });
    }
  }
  return out;
}

export interface StagingCleanup {
  /** What was dropped. */
  cleaned: string[];
  /** Orphans that could not be dropped now (the instance is stopped or unreachable), with why. */
  pending: string[];
}

/**
 * Drops the staging databases of dead owners (only of `only` when given). A record whose
 * instance is not running stays, for the next command or `doctor`.
 */
export async function cleanupStagingDatabases(via: 'cli' | 'mcp', only?: { engine: string; instance: string }): Promise<StagingCleanup> {
  const result: StagingCleanup = { cleaned: [], pending: [] };
  const records = (await listStagingRecords()).filter((r) => !r.owner_alive && (!only || (r.engine === only.engine && r.instance === only.instance)));
  if (!records.length) return result;
  const { config } = await loadConfigLenient();
  for (const rec of records) {
    const id = `${rec.engine}/${rec.instance}`;
    const what = `${rec.database} on ${id}, left by a killed restore (pid ${rec.owner_pid}, ${rec.at})`;
    const instance = (() => {
      try {
        return findInstance(config, { engine: parseEngineId(rec.engine), name: rec.instance });
      } catch {
        return undefined;
      }
    })();
    if (!instance) {
      // the instance is gone, and its databases with it
      await rm(rec.file, { force: true });
      continue;
    }
    const engine = await loadEngine(instance.engine);
    const ctx = createInstanceContext(instance.engine, instance.name, instance.config, silentProgress);
    if (has(engine, 'launchSpec')) {
      const pid = await readPidRecord(ctx.paths.pidFile);
      if (!pid || !(await isOurProcess(pid))) {
        result.pending.push(`${what}: ${id} is not running; start it and run \`portunix-db doctor --fix\``);
        continue;
      }
    }
    try {
      await need(engine, 'dropDatabase')(ctx, rec.database);
    } catch (err) {
      if (!(err instanceof DbError && err.code === 'NOT_FOUND')) {
        result.pending.push(`${what}: could not drop it: ${(err as Error).message}`);
        continue;
      }
    }
    await rm(rec.file, { force: true });
    const line = `dropped the partial database ${what}${rec.note ? `; ${rec.note}` : ''}`;
    result.cleaned.push(line);
    await audit({ action: 'cleanup', engine: rec.engine, instance: rec.instance, target: rec.database, via, ok: true, detail: line });
  }
  return result;
}
