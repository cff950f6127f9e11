import { randomBytes } from 'node:crypto';
import { access, appendFile, chmod, rename, constants, link, lstat, mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DbError } from '../errors.js';
import { homePaths } from '../home.js';
import { fileDigest } from '../install/execute.js';
import { MANIFEST_SUFFIX, backupFileOf, checkIntegrity, readManifest, writeManifest, type BackupManifest } from '../backup-manifest.js';
import { withScratchServer } from '../process/scratch.js';
import { confine } from '../real-path.js';
import { listInstances, loadConfig } from '../config.js';
import { audit } from '../audit.js';
import { has, need } from '../../engines/need.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import type { BackupManifestView, Progress, TableFingerprint } from '../../engines/contract.js';
import { allInstances, openRunning, type Target } from './instances.js';
import type { Via } from './data.js';
import { closePooledConnections } from '../pool.js';

export { MANIFEST_SUFFIX, readManifest, backupFileOf, checkIntegrity, type BackupManifest } from '../backup-manifest.js';

interface HistoryEntry {
  at: string;
  engine: EngineId;
  instance: string;
  database: string;
  ok: boolean;
  file?: string;
  method?: string;
  error?: string;
  kind: 'backup' | 'verify' | 'restore';
}

const historyFile = () => join(homePaths.state(), 'backup-history.jsonl');

async function record(entry: HistoryEntry): Promise<void> {
  await mkdir(homePaths.state(), { recursive: true });
  await appendFile(historyFile(), JSON.stringify(entry) + '\n', { mode: 0o600 });
}

async function readHistory(): Promise<HistoryEntry[]> {
  try {
    return (await readFile(historyFile(), 'utf8'))
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as HistoryEntry);
  } catch {
    return [];
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

async function checkDestination(dir: string): Promise<void> {
  try {
    // folders the tool creates for backups are owner-only
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DbError(`Backup destination ${dir} is not writable (${code ?? (err as Error).message}).`, 'PERMISSION_DENIED', 'Choose a --destination you can write to.');
  }
  const probe = join(dir, `.portunix-db-probe-${process.pid}`);
  try {
    await writeFile(probe, 'x');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC') throw new DbError(`Backup destination ${dir} is full.`, 'DISK_FULL', 'Free space there or choose another --destination.');
    throw new DbError(`Backup destination ${dir} is not writable (${code}).`, 'PERMISSION_DENIED', 'Choose a --destination you can write to.');
  } finally {
    await rm(probe, { force: true });
  }
  const fs = await statfs(dir).catch(() => undefined);
  if (fs && fs.bavail * fs.bsize < 1024 * 1024) throw new DbError(`Backup destination ${dir} has less than 1 MiB free.`, 'DISK_FULL', 'Free space there or choose another --destination.');
}

/** Test seams (set by tests in-process or by a test launcher), never read from the environment. */
export const backupHooks: { afterWrite?: (partialFile: string) => Promise<void> } = {};

/** Backups hold data and often secrets (a PostgreSQL snapshot has server.key and pg_authid): owner-only, whatever the engine's tool made. */
async function restrictTree(path: string): Promise<void> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) return;
  if (info.isDirectory()) {
    await chmod(path, 0o700);
    for (const name of await readdir(path)) await restrictTree(join(path, name));
  } else await chmod(path, 0o600);
}

/**
 * Gives the finished file a final name no other backup has: `link` fails when the name exists,
 * so two backups in the same second get `-2`, `-3`... instead of one overwriting the other.
 */
async function claimName(partial: string, dir: string, base: string, format: string): Promise<string> {
  for (let n = 1; n < 1000; n++) {
    const candidate = join(dir, `${base}${n === 1 ? '' : `-${n}`}.${format}`);
    try {
      await link(partial, candidate);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') continue;
      // a backup that is a folder cannot be hard-linked: rename it, if the name is still free
      if ((code === 'EPERM' || code === 'EISDIR') && !(await lstat(candidate).then(() => true, () => false))) {
        await rename(partial, candidate);
        return candidate;
      }
      throw err;
    }
    await rm(partial, { force: true });
    return candidate;
  }
  throw new DbError(`Could not find a free backup file name for ${base} in ${dir}.`, 'COMMAND_FAILED', 'Remove old backups from that folder.');
}

/** Every instance's backup_dir plus the config's mcp.backup_roots. */
async function backupRoots(): Promise<string[]> {
  const config = await loadConfig();
  return [...listInstances(config).map((i) => i.config.backup_dir), ...(config.mcp?.backup_roots ?? [])];
}

export interface CreateBackupOptions extends Target {
  database: string;
  destination?: string;
  via?: Via;
}

/**
 * The engine writes into a temporary name in the destination; only a finished, hashed file is
 * renamed to its final name, and only then is its manifest written. An interrupted backup
 * leaves a `.partial` file that nothing lists as good.
 */
export async function createBackup(options: CreateBackupOptions): Promise<{ file: string; manifest: BackupManifest }> {
  const { engine, ctx } = await openRunning(options);
  need(engine, 'validateIdentifier')('database', options.database);
  const backupFn = need(engine, 'backup');
  // an MCP client's destination must resolve (symlinks followed) inside the configured backup roots
  const dir = options.via === 'mcp' && options.destination ? confine(options.destination, ctx.config.backup_dir, await backupRoots(), 'Backup destination') : resolve(options.destination ?? ctx.config.backup_dir);
  await checkDestination(dir);
  const started = new Date();
  const base = `${ctx.engine}-${ctx.name}-${options.database}-${stamp(started)}`;
  const partial = join(dir, `.${base}.${randomBytes(4).toString('hex')}.partial`);
  const progress: Progress = ctx.progress;
  progress(`backing up ${options.database} from ${ctx.engine}/${ctx.name} into ${dir}`);
  let cleanup = true;
  const onSignal = () => {
    void rm(partial, { force: true, recursive: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const outcome = await backupFn(ctx, { database: options.database, file: partial });
    // a test seam: hold here, after the data is written and before it is named good
    if (backupHooks.afterWrite) await backupHooks.afterWrite(partial);
    await restrictTree(partial);
    progress('hashing the backup (sha256)');
    const sha256 = await fileDigest(partial, 'sha256', 'hex');
    const size = (await stat(partial)).size;
    const finalFile = await claimName(partial, dir, base, outcome.format);
    cleanup = false;
    const unsigned: BackupManifest = {
      manifest_version: 1,
      tool: 'portunix-db',
      engine: ctx.engine,
      instance: ctx.name,
      database: options.database,
      method: outcome.method,
      format: outcome.format,
      scope: outcome.scope,
      serverVersion: outcome.serverVersion,
      server_version: outcome.serverVersion,
      file: basename(finalFile),
      size_bytes: size,
      sha256,
      started_at: started.toISOString(),
      finished_at: new Date().toISOString(),
      status: 'complete',
      tables: outcome.tables,
      ...(outcome.notes?.length ? { notes: outcome.notes } : {}),
      ...(outcome.extensions ? { extensions: outcome.extensions } : {}),
    };
    const manifest = await writeManifest(finalFile, unsigned, `${partial}.manifest`);
    await record({ at: manifest.finished_at, engine: ctx.engine, instance: ctx.name, database: options.database, ok: true, file: finalFile, method: outcome.method, kind: 'backup' });
    await audit({ action: 'backup', engine: ctx.engine, instance: ctx.name, target: options.database, via: options.via ?? 'cli', ok: true, detail: finalFile });
    return { file: finalFile, manifest };
  } catch (err) {
    await record({ at: new Date().toISOString(), engine: ctx.engine, instance: ctx.name, database: options.database, ok: false, error: (err as Error).message, kind: 'backup' });
    await audit({ action: 'backup', engine: ctx.engine, instance: ctx.name, target: options.database, via: options.via ?? 'cli', ok: false, detail: (err as Error).message }).catch(() => undefined);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (cleanup) await rm(partial, { force: true, recursive: true });
  }
}

export interface BackupListEntry {
  file: string;
  engine: EngineId;
  instance: string;
  database: string;
  method: string;
  scope: 'database' | 'instance';
  size_bytes: number;
  finished_at: string;
  tables: number;
}

async function scan(dir: string): Promise<BackupListEntry[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: BackupListEntry[] = [];
  for (const name of names) {
    if (!name.endsWith(MANIFEST_SUFFIX)) continue;
    const file = join(dir, name.slice(0, -MANIFEST_SUFFIX.length));
    try {
      const m = await readManifest(file);
      const info = await stat(file);
      if (info.size !== m.size_bytes) continue;
      out.push({ file, engine: m.engine, instance: m.instance, database: m.database, method: m.method, scope: m.scope, size_bytes: m.size_bytes, finished_at: m.finished_at, tables: m.tables.length });
    } catch {
      /* not a complete backup: never listed as good */
    }
  }
  return out;
}

export async function listBackups(options: { type?: string; instance?: string; database?: string } = {}): Promise<BackupListEntry[]> {
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const dirs = new Set<string>();
  for (const inst of await allInstances(engineId)) if (!options.instance || inst.name === options.instance) dirs.add(inst.config.backup_dir);
  for (const h of await readHistory()) if (h.file && (!engineId || h.engine === engineId)) dirs.add(dirname(h.file));
  const all = (await Promise.all([...dirs].map(scan))).flat();
  const seen = new Set<string>();
  return all
    .filter((e) => (seen.has(e.file) ? false : (seen.add(e.file), true)))
    .filter((e) => (!engineId || e.engine === engineId) && (!options.instance || e.instance === options.instance) && (!options.database || e.database === options.database))
    .sort((a, b) => b.finished_at.localeCompare(a.finished_at));
}

/** Backup files whose latest verification failed: not good, whatever their manifest says. */
export async function failedVerifications(): Promise<Set<string>> {
  const latest = new Map<string, boolean>();
  for (const h of await readHistory()) if (h.kind === 'verify' && h.file) latest.set(h.file, h.ok);
  return new Set([...latest].filter(([, ok]) => !ok).map(([file]) => file));
}

export interface BackupStatusEntry {
  engine: EngineId;
  instance: string;
  database: string;
  /** May be a whole-instance backup (Redis RDB, PostgreSQL snapshot) whose manifest names another database: it holds this one too. */
  last_backup?: { file: string; finished_at: string; method: string; size_bytes: number };
  last_attempt?: { at: string; ok: boolean; error?: string };
  last_verify?: { at: string; ok: boolean; error?: string };
}

/** The last good backup and the last attempt's result, per database. */
export async function backupStatus(options: { type?: string; instance?: string; database?: string } = {}): Promise<BackupStatusEntry[]> {
  const good = await listBackups(options);
  const history = await readHistory();
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const key = (e: { engine: string; instance: string; database: string }) => `${e.engine}/${e.instance}/${e.database}`;
  const map = new Map<string, BackupStatusEntry>();
  const instanceWide = new Map<string, BackupListEntry>();
  for (const b of [...good].reverse()) {
    map.set(key(b), { engine: b.engine, instance: b.instance, database: b.database, last_backup: { file: b.file, finished_at: b.finished_at, method: b.method, size_bytes: b.size_bytes } });
    if (b.scope === 'instance') instanceWide.set(`${b.engine}/${b.instance}`, b);
  }
  for (const h of history) {
    if ((engineId && h.engine !== engineId) || (options.instance && h.instance !== options.instance) || (options.database && h.database !== options.database)) continue;
    const entry = map.get(key(h)) ?? { engine: h.engine, instance: h.instance, database: h.database };
    if (h.kind === 'backup') entry.last_attempt = { at: h.at, ok: h.ok, ...(h.error ? { error: h.error } : {}) };
    if (h.kind === 'verify') entry.last_verify = { at: h.at, ok: h.ok, ...(h.error ? { error: h.error } : {}) };
    map.set(key(h), entry);
  }
  // a newer whole-instance backup is the last good backup of every database of that instance
  for (const entry of map.values()) {
    const wide = instanceWide.get(`${entry.engine}/${entry.instance}`);
    if (wide && (!entry.last_backup || wide.finished_at > entry.last_backup.finished_at)) {
      entry.last_backup = { file: wide.file, finished_at: wide.finished_at, method: wide.method, size_bytes: wide.size_bytes };
    }
  }
  return [...map.values()].sort((a, b) => key(a).localeCompare(key(b)));
}

export interface RestoreOptions {
  file: string;
  target?: string;
  /** Replace an existing target database. */
  force?: boolean;
  /** Restore into another instance of the same engine. */
  instance?: string;
  via?: Via;
  progress?: Progress;
}

export async function restoreBackup(options: RestoreOptions): Promise<{ file: string; engine: EngineId; instance: string; target: string; actions: string[]; tables?: TableFingerprint[] }> {
  const file = backupFileOf(options.file);
  const manifest = await checkIntegrity(file);
  const { engine, ctx } = await openRunning({ type: manifest.engine, instance: options.instance ?? manifest.instance, ...(options.progress ? { progress: options.progress } : {}) });
  const target = options.target ?? manifest.database;
  need(engine, 'validateIdentifier')('database', target);
  if (manifest.scope === 'instance' && target !== manifest.database) {
    throw new DbError(
      `This backup (${manifest.method}) holds the whole ${manifest.engine} instance; it restores "${manifest.database}" in place, not into "${target}".`,
      'USAGE',
      ['Restore without --target.', ...(manifest.notes ?? [])].join(' '),
    );
  }
  const existing = has(engine, 'listDatabases') ? (await need(engine, 'listDatabases')(ctx)).some((d) => d.name === target) : false;
  if ((existing || manifest.scope === 'instance') && !options.force) {
    throw new DbError(
      manifest.scope === 'instance' ? `Restoring ${basename(file)} replaces all data of ${ctx.engine}/${ctx.name}.` : `${engine.info.terms.database} "${target}" already exists on ${ctx.engine}/${ctx.name}.`,
      'CONFIRMATION_REQUIRED',
      manifest.scope === 'instance' ? 'Pass --force to confirm.' : `Pass --force to replace it, or --target NEW_NAME to restore beside it.`,
    );
  }
  try {
    // a pooled session on the database would stand in the way of replacing it
    await closePooledConnections(ctx.engine, ctx.name);
    const outcome = await need(engine, 'restore')(ctx, { file, manifest, target, replace: existing });
    // what was loaded must be what the signed manifest describes
    const restored = outcome.tables ?? (has(engine, 'fingerprint') ? await need(engine, 'fingerprint')(ctx, target) : undefined);
    if (restored) {
      const { problems } = compareFingerprints(manifest.tables, restored);
      if (problems.length) {
        throw new DbError(`The restored ${engine.info.terms.database} ${target} does not match the backup's manifest: ${problems.join('; ')}.`, 'RESTORE_FAILED', `What was done: ${outcome.actions.join('; ')}. Check ${target} before using it, and restore another backup.`, { problems, actions: outcome.actions });
      }
    }
    await record({ at: new Date().toISOString(), engine: ctx.engine, instance: ctx.name, database: target, ok: true, file, kind: 'restore' });
    await audit({ action: 'restore', engine: ctx.engine, instance: ctx.name, target, via: options.via ?? 'cli', ok: true, detail: file });
    return { file, engine: ctx.engine, instance: ctx.name, target: outcome.target, actions: outcome.actions, ...(outcome.tables ? { tables: outcome.tables } : {}) };
  } catch (err) {
    await record({ at: new Date().toISOString(), engine: ctx.engine, instance: ctx.name, database: target, ok: false, file, kind: 'restore', error: (err as Error).message });
    await audit({ action: 'restore', engine: ctx.engine, instance: ctx.name, target, via: options.via ?? 'cli', ok: false, detail: (err as Error).message }).catch(() => undefined);
    throw err;
  }
}

export interface VerifyTable {
  name: string;
  expected_rows: number;
  actual_rows?: number;
  checksum_match?: boolean;
  ok: boolean;
}

export interface VerifyResult {
  file: string;
  ok: boolean;
  checksum_ok: boolean;
  method: string;
  tables: VerifyTable[];
  problems: string[];
}

export function compareFingerprints(expected: TableFingerprint[], actual: TableFingerprint[]): { tables: VerifyTable[]; problems: string[] } {
  const byName = new Map(actual.map((t) => [t.name, t]));
  const problems: string[] = [];
  const tables = expected.map((e) => {
    const a = byName.get(e.name);
    byName.delete(e.name);
    if (!a) {
      problems.push(`${e.name}: missing from the restored copy`);
      return { name: e.name, expected_rows: e.rows, ok: false };
    }
    const checksumMatch = e.checksum && a.checksum ? e.checksum === a.checksum : undefined;
    const ok = a.rows === e.rows && checksumMatch !== false;
    if (a.rows !== e.rows) problems.push(`${e.name}: ${a.rows} rows, the manifest says ${e.rows}`);
    if (checksumMatch === false) problems.push(`${e.name}: content checksum differs from the manifest`);
    return { name: e.name, expected_rows: e.rows, actual_rows: a.rows, ...(checksumMatch !== undefined ? { checksum_match: checksumMatch } : {}), ok };
  });
  for (const extra of byName.keys()) problems.push(`${extra}: present in the restored copy but not in the manifest`);
  return { tables, problems };
}

/**
 * Proves a backup restores: checksum first, then a restore into a scratch copy (or the
 * engine's own way), and row counts + checksums compared with the manifest.
 */
export async function verifyBackup(options: { file: string; instance?: string; progress?: Progress }): Promise<VerifyResult> {
  const file = backupFileOf(options.file);
  const say: Progress = options.progress ?? (() => undefined);
  say(`verify 1/3: checking the checksum of ${file} against its manifest`);
  const manifest = await checkIntegrity(file);
  const { engine, ctx } = await openRunning({ type: manifest.engine, instance: options.instance ?? manifest.instance, ...(options.progress ? { progress: options.progress } : {}) });
  let actual: TableFingerprint[];
  let method: string;
  say(`verify 2/3: checksum ok; restoring ${manifest.database} into a scratch place (never the live data)`);
  if (manifest.scope === 'database' && has(engine, 'launchSpec') && has(engine, 'initialize')) {
    // nothing read from a backup runs on the live server: a fresh scratch server takes the restore
    const restore = need(engine, 'restore');
    const fingerprint = need(engine, 'fingerprint');
    actual = await withScratchServer(engine, ctx, {}, async (scratch) => {
      await restore(scratch, { file, manifest, target: manifest.database, replace: false, scratch: true });
      return fingerprint(scratch, manifest.database);
    });
    method = `restored into a scratch ${engine.info.displayName} server (not the live one)`;
  } else if (has(engine, 'verifyBackup')) {
    const r = await need(engine, 'verifyBackup')(ctx, { file, manifest });
    actual = r.tables;
    method = r.method;
  } else {
    const scratch = `${manifest.database}_verify_${randomBytes(3).toString('hex')}`.slice(0, 60);
    method = `restored into scratch ${engine.info.terms.database} ${scratch}`;
    try {
      await need(engine, 'restore')(ctx, { file, manifest, target: scratch, replace: false });
      actual = await need(engine, 'fingerprint')(ctx, scratch);
    } finally {
      await need(engine, 'dropDatabase')(ctx, scratch).catch(() => undefined);
    }
  }
  say(`verify 3/3: comparing ${manifest.tables.length} ${engine.info.terms.table}s with the manifest (counts and checksums)`);
  const { tables, problems } = compareFingerprints(manifest.tables, actual);
  const result: VerifyResult = { file, ok: problems.length === 0, checksum_ok: true, method, tables, problems };
  await record({ at: new Date().toISOString(), engine: ctx.engine, instance: ctx.name, database: manifest.database, ok: result.ok, file, kind: 'verify', ...(result.ok ? {} : { error: problems.join('; ') }) });
  return result;
}
