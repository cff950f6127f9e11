import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths, toolHome } from '../home.js';
import { createInstanceContext } from '../instance-context.js';
import { getSecretStore, secretKey } from '../secrets.js';
import { DbError } from '../errors.js';
import { pidAlive } from '../file-lock.js';
import { has, need } from '../../engines/need.js';
import type { Engine, InstanceContext } from '../../engines/contract.js';
import { freePort, isOurProcess, readPidRecord, sleep, startServer, stopServer } from './supervisor.js';

/**
 * Throw-away servers, a core service handed to engines: verify restores a backup into one
 * instead of the live server, and PostgreSQL proves a physical snapshot by starting one on it.
 * Each is recorded under <home>/state/scratch while it runs, so one left behind by a killed
 * command is stopped and removed by the next command (`cleanupOrphans`, also run by `doctor`).
 */
const scratchRoot = () => join(toolHome(), 'scratch');
const recordDir = () => join(homePaths.state(), 'scratch');

interface ScratchRecord {
  owner_pid: number;
  root: string;
  pid_file: string;
  engine: string;
  /** Extra paths to remove with it (a temp dir an engine made). */
  extra?: string[];
}

export interface ScratchOptions {
  /** Run on this existing data dir (a copy) instead of initialising a fresh one; it shares the base instance's admin password. */
  dataDir?: string;
}

/** Records a path (a scratch dir, a half-restored database's marker) to be removed if this process dies first. */
export async function recordLeftover(id: string, record: ScratchRecord): Promise<() => Promise<void>> {
  await mkdir(recordDir(), { recursive: true, mode: 0o700 });
  const file = join(recordDir(), `${id}.json`);
  await writeFile(file, JSON.stringify(record) + '\n', { mode: 0o600 });
  return () => rm(file, { force: true });
}

/** Scratch records whose owner is gone, and dirs under the scratch root no record names (older than a minute): what `cleanupOrphans` would remove. */
export async function scratchOrphans(): Promise<string[]> {
  const out: string[] = [];
  const named = new Set<string>();
  for (const name of await readdir(recordDir()).catch(() => [] as string[])) {
    if (!name.endsWith('.json')) continue;
    try {
      const rec = JSON.parse(await readFile(join(recordDir(), name), 'utf8')) as ScratchRecord;
      named.add(rec.root);
      if (!pidAlive(rec.owner_pid) || rec.owner_pid === process.pid) out.push(`scratch ${rec.engine} server at ${rec.root}, left by a killed command (pid ${rec.owner_pid})`);
    } catch {
      out.push(`unreadable scratch record ${join(recordDir(), name)}`);
    }
  }
  for (const name of await readdir(scratchRoot()).catch(() => [] as string[])) {
    const dir = join(scratchRoot(), name);
    const info = await stat(dir).catch(() => undefined);
    if (!named.has(dir) && info && Date.now() - info.mtimeMs > 60_000) out.push(`scratch dir ${dir} that no running command owns`);
  }
  return out;
}

/** Removes scratch dirs no record names, older than a minute (a command killed between making one and recording it). */
async function cleanupUnrecordedDirs(named: Set<string>): Promise<string[]> {
  const cleaned: string[] = [];
  for (const name of await readdir(scratchRoot()).catch(() => [] as string[])) {
    const dir = join(scratchRoot(), name);
    const info = await stat(dir).catch(() => undefined);
    if (named.has(dir) || !info || Date.now() - info.mtimeMs <= 60_000) continue;
    await rm(dir, { recursive: true, force: true });
    cleaned.push(`removed ${dir}`);
  }
  return cleaned;
}

/**
 * Stops and removes scratch servers and dirs whose owning command is gone. Returns what it
 * cleaned, for `doctor`.
 */
export async function cleanupOrphans(options: { unrecorded?: boolean } = {}): Promise<string[]> {
  const names = await readdir(recordDir()).catch(() => [] as string[]);
  const cleaned: string[] = [];
  const named = new Set<string>();
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const file = join(recordDir(), name);
    let rec: ScratchRecord;
    try {
      rec = JSON.parse(await readFile(file, 'utf8')) as ScratchRecord;
    } catch {
      await rm(file, { force: true });
      continue;
    }
    if (pidAlive(rec.owner_pid) && rec.owner_pid !== process.pid) {
      named.add(rec.root);
      continue;
    }
    const pidRecord = await readPidRecord(rec.pid_file);
    // only the very process the scratch run started (pid, start time and program checked) is killed
    if (pidRecord && (await isOurProcess(pidRecord))) {
      const pid = pidRecord.pid;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
      cleaned.push(`stopped orphaned scratch ${rec.engine} server (pid ${pid})`);
    }
    for (const p of [rec.root, ...(rec.extra ?? [])]) await rm(p, { recursive: true, force: true });
    cleaned.push(`removed ${rec.root}`);
    await rm(file, { force: true });
  }
  if (options.unrecorded) cleaned.push(...(await cleanupUnrecordedDirs(named)));
  return cleaned;
}

/**
 * Runs `fn` against a scratch server of `engine`, built from the base instance's binaries and
 * settings, on a free loopback port, in a private folder under the tool's home. Stopped and
 * removed afterwards, whatever happens.
 */
export async function withScratchServer<T>(engine: Engine, base: InstanceContext, options: ScratchOptions, fn: (scratch: InstanceContext) => Promise<T>): Promise<T> {
  const id = randomBytes(6).toString('hex');
  const parent = scratchRoot();
  await mkdir(parent, { recursive: true, mode: 0o711 });
  await chmod(parent, 0o711); // the service user may traverse, nobody may list
  const root = join(parent, id);
  await mkdir(root, { mode: 0o700 });
  const runDir = join(root, 'run');
  await mkdir(runDir, { mode: 0o700 });
  const dataDir = options.dataDir ?? join(root, 'data');
  if (!options.dataDir) await mkdir(dataDir, { mode: 0o700 });
  const name = `scratch-${id}`;
  const port = await freePort();
  const config = {
    ...base.config,
    port,
    data_dir: dataDir,
    socket_dir: runDir,
    config_file: join(root, 'server.conf'),
    log_file: join(root, 'server.log'),
    pid_file: join(runDir, 'server.pid'),
    backup_dir: join(root, 'backups'),
  };
  const made = createInstanceContext(base.engine, name, config, base.progress);
  const scratch: InstanceContext = { ...made, paths: { ...made.paths, root }, ...(options.dataDir ? { adminPassword: () => base.adminPassword() } : {}) };
  if (base.runAs) {
    for (const p of [root, runDir, ...(options.dataDir ? [] : [dataDir])]) await chown(p, base.runAs.uid, base.runAs.gid);
  }
  const forget = await recordLeftover(id, { owner_pid: process.pid, root, pid_file: config.pid_file, engine: base.engine, ...(options.dataDir ? { extra: [options.dataDir] } : {}) });
  try {
    if (!options.dataDir) {
      base.progress(`initialising a scratch ${base.engine} server`);
      await need(engine, 'initialize')(scratch);
    }
    base.progress(`starting the scratch server on 127.0.0.1:${port}`);
    try {
      await startServer(engine, scratch);
    } catch (err) {
      throw new DbError(`The scratch server did not start: ${(err as Error).message}`, 'VERIFY_FAILED', 'Nothing live was touched. See the server log above.');
    }
    return await fn(scratch);
  } finally {
    if (has(engine, 'launchSpec')) await stopServer(engine, scratch).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
    if (!options.dataDir) await getSecretStore().delete(secretKey(base.engine, name, 'admin')).catch(() => undefined);
    await forget();
  }
}

/** A throwaway server process (scratch copy, bootstrap) the caller watches and always kills. */
export interface ScratchProcess {
  child: ChildProcess;
  /** The tail of its stdout and stderr. */
  output(): string;
  /** undefined while it runs; its exit code (or -1 when it could not start) once it ended. */
  exited(): number | null | undefined;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `argv` as the instance's service user with the instance's library path, output kept in memory. */
export function spawnScratch(ctx: InstanceContext, argv: string[], cwd: string): ScratchProcess {
  const [program, ...args] = argv;
  const child = spawn(program!, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(ctx.config.lib_dir ? { LD_LIBRARY_PATH: ctx.config.lib_dir } : {}) },
    ...(ctx.runAs ? { uid: ctx.runAs.uid, gid: ctx.runAs.gid } : {}),
  });
  let output = '';
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.on('error', (err) => {
    output += String(err.message);
    exited = -1;
  });
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => output,
    exited: () => exited,
    async stop(graceMs = 0) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      if (graceMs > 0 && !(await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]))) child.kill('SIGKILL');
      await gone;
    },
  };
}
