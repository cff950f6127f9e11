import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, appendFile, chmod, rename, constants, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { DbError, NotApplicableError, UsageError } from '../errors.js';
import { validatePort } from '../ports.js';
import { detectHost } from '../install/host.js';
import { homePaths } from '../home.js';
import { fileDigest } from '../install/execute.js';
import { MANIFEST_SUFFIX, backupFileOf, backupSize, checkIntegrity, checkManifestAndSize, digestDirectory, directoryDigest, readManifest, writeManifest, type BackupManifest } from '../backup-manifest.js';
import { withScratchServer } from '../process/scratch.js';
import { confine } from '../real-path.js';
import { markInUse } from './backup-locks.js';
import { findInstance, listInstances, loadConfig, validateInstanceName } from '../config.js';
import { audit } from '../audit.js';
import { has, need } from '../../engines/need.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import type { BackupFileDigest, BackupManifestView, BackupOutcome, Engine, InstanceContents, InstanceContext, Progress, TableFingerprint } from '../../engines/contract.js';
import { allInstances, openInstance, openRunning, type Target } from './instances.js';
import type { Via } from './data.js';
import { closePooledConnections } from '../pool.js';
import { parseCompression, type Compression } from '../backup-compression.js';

export { MANIFEST_SUFFIX, readManifest, backupFileOf, checkIntegrity, type BackupManifest } from '../backup-manifest.js';

// age and its post-quantum ciphers load only for an encrypted backup: a plain one does not parse them
const cryptoOps = () => import('../backup-crypto.js');

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
  /** age-encrypt the file (key in the secret store); the manifest's sha256 covers the encrypted file. */
  encrypt?: boolean;
  /** The agent's stop signal: when it aborts, the partial file is removed and the backup fails (no process-wide signal handlers then). */
  signal?: AbortSignal;
  /** Parallel workers (engines with `info.parallelBackup`); 1 or absent: the single-file dump. */
  jobs?: number | string;
  /** `METHOD[:LEVEL]` (engines with `info.backupCompression`); absent: the engine's default. */
  compress?: string;
}

export const MAX_JOBS = 64;

/** `--jobs` / the MCP `jobs`: a whole number from 1 to MAX_JOBS. */
export function parseJobs(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_JOBS) throw new UsageError(`jobs must be a whole number from 1 to ${MAX_JOBS} (got ${JSON.stringify(value)}).`, 'USAGE', 'Use about one job per CPU core, e.g. --jobs 2.');
  return n;
}

/** Refuses parallel jobs on an engine whose backup has none, naming what it does instead. */
function checkJobs(engine: { info: { displayName: string; parallelBackup?: string } }, jobs: number | undefined, what: 'backup' | 'restore'): void {
  if (jobs !== undefined && jobs > 1 && !engine.info.parallelBackup) {
    throw new NotApplicableError(`${engine.info.displayName} ${what}s do not run in parallel jobs.`, `Leave out --jobs: ${engine.info.displayName} ${what}s run as one stream.`);
  }
}

/** Parses `--compress` and refuses a method the engine's dump tool does not take. */
function checkCompression(engine: { info: { displayName: string; backupCompression?: { methods: readonly string[] } } }, c: Compression | undefined): Compression | undefined {
  if (!c) return undefined;
  const offered = engine.info.backupCompression?.methods;
  if (!offered) throw new NotApplicableError(`${engine.info.displayName} backups take no --compress.`, `Leave out --compress: ${engine.info.displayName} backups are compressed the one way they can be.`);
  if (!offered.includes(c.method)) throw new NotApplicableError(`${engine.info.displayName} backups cannot be compressed with ${c.method}.`, `Use one of: ${offered.join(', ')}.`);
  return c;
}

/**
 * The engine writes into a temporary name in the destination; only a finished, hashed file is
 * renamed to its final name, and only then is its manifest written. An interrupted backup
 * leaves a `.partial` file that nothing lists as good.
 */
export async function createBackup(options: CreateBackupOptions): Promise<{ file: string; manifest: BackupManifest }> {
  const jobs = parseJobs(options.jobs);
  const compression = parseCompression(options.compress); // a bad value is refused before anything is opened
  const { engine, ctx } = await openRunning(options);
  need(engine, 'validateIdentifier')('database', options.database);
  const backupFn = need(engine, 'backup');
  checkJobs(engine, jobs, 'backup');
  const compress = checkCompression(engine, compression);
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
  const stopped = () => new DbError(`The backup of ${options.database} was stopped before it finished; nothing was kept.`, 'COMMAND_FAILED', 'It runs again at the next scheduled time.');
  const onAbort = () => void Promise.all([rm(partial, { force: true, recursive: true }), rm(`${partial}.age`, { force: true })]);
  if (options.signal) options.signal.addEventListener('abort', onAbort, { once: true });
  else {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  try {
    if (options.signal?.aborted) throw stopped();
    // offered to the engine: a backup written in one pass is encrypted as it is written
    const seal = options.encrypt ? await (await cryptoOps()).encryptingWriter(`${partial}.age`, options.signal) : undefined;
    const outcome = await backupFn(ctx, { database: options.database, file: partial, ...(jobs && jobs > 1 ? { jobs } : {}), ...(compress ? { compress } : {}), ...(seal ? { seal } : {}) });
    // a test seam: hold here, after the data is written and before it is named good
    if (backupHooks.afterWrite) await backupHooks.afterWrite(partial);
    if (options.signal?.aborted) throw stopped();
    await restrictTree(seal?.used ? seal.file : partial);
    let sealed = partial;
    let sha256: string;
    let size: number;
    let files: BackupFileDigest[] | undefined;
    let encryption: BackupManifest['encryption'];
    if (seal?.used) {
      // the engine wrote through the seal: the encrypted file is all there is
      if (!seal.digest) throw new DbError('The encrypted backup was not finished by its writer.', 'INTERNAL');
      if (existsSync(partial)) throw new DbError('The engine wrote a plain copy beside the encrypted backup.', 'INTERNAL');
      ({ sha256, size } = await digestOf(seal.file, seal.digest, progress));
      sealed = seal.file;
      encryption = seal.encryption;
    } else if (options.encrypt) {
      if ((await lstat(partial)).isDirectory()) throw new DbError(`The ${outcome.method} backup is a folder; --encrypt covers single-file backups.`, 'NOT_APPLICABLE', 'Back up one database (a logical dump, without --jobs), or encrypt the backup folder\'s disk.');
      progress('encrypting the backup (age) and hashing it as it is written');
      sealed = `${partial}.age`;
      try {
        ({ sha256, size, encryption } = await (await cryptoOps()).encryptFile(partial, sealed, options.signal));
      } catch (err) {
        await rm(sealed, { force: true });
        throw err;
      }
      // the plaintext never gets a final name
      await rm(partial, { force: true });
    } else {
      ({ sha256, size, files } = await digestOf(partial, outcome.written, progress));
    }
    if (options.signal?.aborted) {
      await rm(sealed, { force: true, recursive: true });
      throw stopped();
    }
    const finalFile = await claimName(sealed, dir, base, encryption ? `${outcome.format}.age` : outcome.format);
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
      ...(files ? { files } : {}),
      ...(outcome.notes?.length ? { notes: outcome.notes } : {}),
      ...(outcome.extensions ? { extensions: outcome.extensions } : {}),
      ...(outcome.contents ? { contents: outcome.contents } : {}),
      ...(encryption ? { encryption } : {}),
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
    options.signal?.removeEventListener('abort', onAbort);
    if (cleanup) {
      await rm(partial, { force: true, recursive: true });
      await rm(`${partial}.age`, { force: true });
    }
  }
}

/**
 * The backup's sha256 and size: as the engine hashed them while writing (checked against the
 * size on disk), or, when it did not, read back once here. A directory backup gets one per file.
 */
async function digestOf(partial: string, written: BackupOutcome['written'], progress: Progress): Promise<{ sha256: string; size: number; files?: BackupFileDigest[] }> {
  if (written && 'sha256' in written) {
    const onDisk = (await stat(partial)).size;
    if (onDisk !== written.size) throw new DbError(`The backup file has ${onDisk} bytes on disk but ${written.size} were written.`, 'COMMAND_FAILED', 'Run the backup again; check the destination disk.');
    return written;
  }
  if ((await lstat(partial)).isDirectory()) {
    const files = written && 'files' in written ? written.files : (progress('hashing the backup files (sha256)'), await digestDirectory(partial));
    return { sha256: directoryDigest(files), size: files.reduce((s, f) => s + f.size_bytes, 0), files };
  }
  progress('hashing the backup (sha256)');
  return { sha256: await fileDigest(partial, 'sha256', 'hex'), size: (await stat(partial)).size };
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
      if ((await backupSize(file)) !== m.size_bytes) continue;
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

/** Each backup file's latest verification: its result and when. */
export async function latestVerifications(): Promise<Map<string, { ok: boolean; at: string; error?: string }>> {
  const latest = new Map<string, { ok: boolean; at: string; error?: string }>();
  for (const h of await readHistory()) if (h.kind === 'verify' && h.file) latest.set(h.file, { ok: h.ok, at: h.at, ...(h.error ? { error: h.error } : {}) });
  return latest;
}

/** Backup files whose latest verification failed: not good, whatever their manifest says. */
export async function failedVerifications(): Promise<Set<string>> {
  return new Set([...(await latestVerifications())].filter(([, v]) => !v.ok).map(([file]) => file));
}

/**
 * The checked backup, ready for an engine: the signed manifest and size, then the sha256 as
 * the bytes are read. An encrypted backup is decrypted as it streams into a 0700 folder beside
 * it; `data` is the plaintext the engine reads, removed by `done`.
 */
async function openChecked(file: string): Promise<{ manifest: BackupManifest; data: string; done: () => Promise<void> }> {
  if (!(await readManifest(file)).encryption) return { manifest: await checkIntegrity(file), data: file, done: async () => undefined };
  const manifest = await checkManifestAndSize(file);
  const tmp = await mkdtemp(join(dirname(file), '.decrypt-'));
  await chmod(tmp, 0o700);
  const data = join(tmp, basename(file).replace(/\.age$/, ''));
  try {
    await (await cryptoOps()).decryptFile(file, data, { sha256: manifest.sha256, encryption: manifest.encryption! });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return { manifest, data, done: () => rm(tmp, { recursive: true, force: true }) };
}

/** While `fn` runs, the backup file is marked in use: pruning leaves it alone. */
async function whileInUse<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const exists = () => lstat(file).then(() => true, () => false);
  // a missing file gets the usual error from the code it was meant for
  if (!(await exists())) return fn();
  const release = await markInUse(file, exists);
  try {
    return await fn();
  } finally {
    await release();
  }
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
  /** Replace an existing target database (or, for a whole-instance backup, the whole instance). */
  force?: boolean;
  /** Restore into another instance of the same engine. */
  instance?: string;
  /** Whole-instance backups: restore into a new instance of this name, beside the original. */
  asInstance?: string;
  /** With asInstance: the new instance's port (default: the engine's, or the next free one). */
  port?: number;
  via?: Via;
  progress?: Progress;
  /** Parallel pg_restore workers (engines with `info.parallelBackup`). */
  jobs?: number | string;
}

export interface RestoreResult {
  file: string;
  engine: EngineId;
  instance: string;
  target: string;
  actions: string[];
  tables?: TableFingerprint[];
  /** One sentence saying what was replaced or made ("Replaced postgresql/main: databases ...; roles ...; settings ... with the snapshot of ..."). */
  summary?: string;
  /** Whole-instance restores: what the instance held before, and holds now. */
  replaced?: InstanceContents;
  contents?: InstanceContents;
}

function listed(items: string[], none: string, max = 25): string {
  if (!items.length) return none;
  return items.length > max ? `${items.slice(0, max).join(', ')} and ${items.length - max} more` : items.join(', ');
}

/** "databases a, b; roles x, y; settings work_mem = 32MB" */
export function contentsText(c: InstanceContents): string {
  return `databases ${listed(c.databases, '(none)')}; roles ${listed(c.roles, '(none)')}; settings ${listed(c.settings, '(none changed)')}`;
}

function snapshotTime(manifest: BackupManifest): string {
  return manifest.contents?.taken_at ?? manifest.finished_at;
}

interface RestorePlan {
  file: string;
  manifest: BackupManifest;
  engine: Engine;
  ctx: InstanceContext;
  target: string;
  existing: boolean;
  /** Set when the restore replaces something: what, in one sentence (the confirmation text). */
  replaces?: string;
  /** Whole-instance backups: what the instance holds now. */
  current?: InstanceContents;
}

/** Everything checked before a restore touches anything: the backup's integrity, the target, and what it would replace. */
async function planRestore(options: RestoreOptions, file: string, manifest: BackupManifest): Promise<RestorePlan> {
  if (manifest.scope === 'database' && options.asInstance !== undefined) {
    throw new DbError(`${basename(file)} is a backup of one ${manifest.engine} database (${manifest.method}); only a whole-instance snapshot can become a new instance.`, 'USAGE', 'Restore it with --target NAME (add --instance NAME to restore into another existing instance).');
  }
  const { engine, ctx } = await openRunning({ type: manifest.engine, instance: options.instance ?? manifest.instance, ...(options.progress ? { progress: options.progress } : {}) });
  checkJobs(engine, parseJobs(options.jobs), 'restore');
  const target = options.target ?? manifest.database;
  need(engine, 'validateIdentifier')('database', target);
  if (manifest.scope === 'instance') {
    if (target !== manifest.database) {
      throw new DbError(
        `${basename(file)} (${manifest.method}) holds the whole ${manifest.engine} instance ${manifest.engine}/${manifest.instance}, so it cannot be restored into one ${engine.info.terms.database} "${target}".`,
        'USAGE',
        [`To get its data beside the running instance, restore it as a new instance: \`portunix-db restore ${file} --as-instance NAME\` (its own data dir, port, certificate and passwords); then read "${target}" there.`, `To replace ${ctx.engine}/${ctx.name} as a whole: \`portunix-db restore ${file} --force\`.`, ...(manifest.notes ?? [])].join(' '),
      );
    }
    const current = has(engine, 'instanceContents') ? await need(engine, 'instanceContents')(ctx) : undefined;
    const snapshot = manifest.contents ? ` (it holds ${contentsText(manifest.contents)})` : '';
    const replaces = `Restoring ${basename(file)} replaces the whole instance ${ctx.engine}/${ctx.name} (data dir ${ctx.paths.dataDir})${current ? `, with ${contentsText(current)},` : ' and everything in it'} with the snapshot of ${snapshotTime(manifest)}${snapshot}; whatever was written since then is lost (the current data directory is kept beside it).`;
    return { file, manifest, engine, ctx, target, existing: true, replaces, ...(current ? { current } : {}) };
  }
  const existing = has(engine, 'listDatabases') ? (await need(engine, 'listDatabases')(ctx)).some((d) => d.name === target) : false;
  const replaces = existing ? `Restoring ${basename(file)} replaces ${engine.info.terms.database} "${target}" on ${ctx.engine}/${ctx.name} with its state of ${manifest.finished_at}.` : undefined;
  return { file, manifest, engine, ctx, target, existing, ...(replaces ? { replaces } : {}) };
}

/** What a restore with these options would replace, in one sentence (MCP's confirmation text); undefined when it replaces nothing. */
export async function describeRestore(options: RestoreOptions): Promise<string | undefined> {
  if (options.asInstance !== undefined) return undefined;
  const file = backupFileOf(options.file);
  // the signature and size are enough to say what would be replaced; the restore itself checks every byte
  return (await planRestore(options, file, await checkManifestAndSize(file))).replaces;
}

export async function restoreBackup(options: RestoreOptions): Promise<RestoreResult> {
  parseJobs(options.jobs); // a bad value is refused before anything is opened
  if (options.port !== undefined) {
    if (options.asInstance === undefined) throw new UsageError('--port is the port of the new instance that --as-instance NAME makes; a restore into an existing instance keeps its port.');
    validatePort(options.port);
  }
  const file = backupFileOf(options.file);
  // marked in use so pruning leaves it alone; an encrypted backup is decrypted as it is checked
  return whileInUse(file, async () => {
    const checked = await openChecked(file);
    try {
      if (options.asInstance !== undefined) return await restoreAsInstance(options, file, checked.data, checked.manifest);
      return await restoreChecked(options, checked.data, await planRestore(options, file, checked.manifest));
    } finally {
      await checked.done();
    }
  });
}

/** `data` is the file the engine reads: the backup itself, or its decrypted copy. */
async function restoreChecked(options: RestoreOptions, data: string, plan: RestorePlan): Promise<RestoreResult> {
  const { file, manifest, engine, ctx, target, existing, replaces, current } = plan;
  const jobs = parseJobs(options.jobs);
  if (replaces && !options.force) {
    throw new DbError(
      replaces,
      'CONFIRMATION_REQUIRED',
      manifest.scope === 'instance' ? 'Pass --force to replace it, or --as-instance NAME to restore the snapshot beside it as a new instance.' : 'Pass --force to replace it, or --target NEW_NAME to restore beside it.',
      current ? { replaces: current, ...(manifest.contents ? { snapshot: manifest.contents } : {}) } : undefined,
    );
  }
  try {
    // a pooled session on the database would stand in the way of replacing it
    await closePooledConnections(ctx.engine, ctx.name);
    const outcome = await need(engine, 'restore')(ctx, { file: data, manifest, target, replace: existing, ...(jobs && jobs > 1 ? { jobs } : {}) });
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
    const result: RestoreResult = { file, engine: ctx.engine, instance: ctx.name, target: outcome.target, actions: outcome.actions, ...(outcome.tables ? { tables: outcome.tables } : {}) };
    if (manifest.scope === 'instance') {
      const now = has(engine, 'instanceContents') ? await need(engine, 'instanceContents')(ctx).catch(() => undefined) : undefined;
      result.summary = `Replaced ${ctx.engine}/${ctx.name}${current ? ` (${contentsText(current)})` : ''} with the snapshot of ${snapshotTime(manifest)}${now ? `; it now holds ${contentsText(now)}` : ''}.`;
      if (current) result.replaced = current;
      if (now) result.contents = now;
    }
    return result;
  } catch (err) {
    await record({ at: new Date().toISOString(), engine: ctx.engine, instance: ctx.name, database: target, ok: false, file, kind: 'restore', error: (err as Error).message });
    await audit({ action: 'restore', engine: ctx.engine, instance: ctx.name, target, via: options.via ?? 'cli', ok: false, detail: (err as Error).message }).catch(() => undefined);
    throw err;
  }
}

/**
 * `restore FILE --as-instance NAME`: a whole-instance snapshot becomes a new instance beside the
 * one it came from, through the ordinary install (same binaries, its own data dir, free port,
 * certificate and secrets), with the engine's initializeFromBackup instead of a fresh
 * initialisation. The source instance is not touched (it need not even run).
 */
async function restoreAsInstance(options: RestoreOptions, file: string, data: string, manifest: BackupManifest): Promise<RestoreResult> {
  const name = validateInstanceName(options.asInstance!);
  if (manifest.scope !== 'instance') {
    throw new DbError(`${basename(file)} is a backup of one ${manifest.engine} database (${manifest.method}); only a whole-instance snapshot can become a new instance.`, 'USAGE', 'Restore it with --target NAME (add --instance NAME to restore into another existing instance).');
  }
  if (options.target !== undefined && options.target !== manifest.database) throw new UsageError('--as-instance restores the whole snapshot; leave out --target.');
  const { engine, ctx: source } = await openInstance({ type: manifest.engine, instance: options.instance ?? manifest.instance, ...(options.progress ? { progress: options.progress } : {}) });
  if (findInstance(await loadConfig(), { engine: manifest.engine, name })) {
    throw new DbError(`${manifest.engine}/${name} already exists; --as-instance makes a new instance.`, 'ALREADY_EXISTS', `Pick another name, or replace ${manifest.engine}/${name} as a whole with \`portunix-db restore ${file} --instance ${name} --force\`.`);
  }
  const initializeFromBackup = need(engine, 'initializeFromBackup');
  const { install } = await import('./lifecycle.js');
  const progress = options.progress ?? (() => undefined);
  progress(`restoring the snapshot of ${snapshotTime(manifest)} as the new instance ${manifest.engine}/${name}, beside ${source.engine}/${source.name}`);
  try {
    const installed = await install({
      type: manifest.engine,
      instance: name,
      version: source.config.version,
      ...(source.config.bin_dir ? { binDir: source.config.bin_dir } : { source: source.config.source ?? engine.info.defaultSource(detectHost(), source.config.version) }),
      ...(source.config.client_bin_dir ? { clientBinDir: source.config.client_bin_dir } : {}),
      progress,
      ...(options.port !== undefined ? { port: options.port } : {}),
      initializeWith: (ctx) => initializeFromBackup(ctx, { file: data, manifest, source }),
    });
    const { ctx } = await openRunning({ type: manifest.engine, instance: name, progress });
    const tables = await need(engine, 'fingerprint')(ctx, manifest.database);
    const { problems } = compareFingerprints(manifest.tables, tables);
    if (problems.length) throw new DbError(`The new instance ${manifest.engine}/${name} does not match the backup's manifest: ${problems.join('; ')}.`, 'RESTORE_FAILED', `It is installed; check it, or remove it with \`portunix-db uninstall ${manifest.engine} --instance ${name}\`.`, { problems });
    const now = has(engine, 'instanceContents') ? await need(engine, 'instanceContents')(ctx).catch(() => undefined) : undefined;
    await record({ at: new Date().toISOString(), engine: ctx.engine, instance: name, database: manifest.database, ok: true, file, kind: 'restore' });
    await audit({ action: 'restore', engine: ctx.engine, instance: name, target: `new instance ${name}`, via: options.via ?? 'cli', ok: true, detail: file });
    return {
      file,
      engine: ctx.engine,
      instance: name,
      target: manifest.database,
      actions: [`installed ${ctx.engine}/${name} ${installed.version} (port ${installed.port}, data dir ${installed.data_dir}) with its own certificate and passwords`, `loaded the snapshot of ${source.engine}/${source.name} from ${snapshotTime(manifest)} into it and started it`, `${source.engine}/${source.name} was not touched`],
      tables,
      summary: `Restored the snapshot of ${source.engine}/${source.name} from ${snapshotTime(manifest)} as the new instance ${ctx.engine}/${name} on port ${installed.port}${now ? `: ${contentsText(now)}` : ''}. ${source.engine}/${source.name} was not touched.`,
      ...(now ? { contents: now } : {}),
    };
  } catch (err) {
    await record({ at: new Date().toISOString(), engine: manifest.engine, instance: name, database: manifest.database, ok: false, file, kind: 'restore', error: (err as Error).message });
    await audit({ action: 'restore', engine: manifest.engine, instance: name, target: `new instance ${name}`, via: options.via ?? 'cli', ok: false, detail: (err as Error).message }).catch(() => undefined);
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
interface VerifyOptions {
  instance?: string;
  progress?: Progress;
  jobs?: number | string;
}

export async function verifyBackup(options: VerifyOptions & { file: string }): Promise<VerifyResult> {
  parseJobs(options.jobs); // a bad value is refused before anything is opened
  const file = backupFileOf(options.file);
  return whileInUse(file, () => verifyInUse(file, options));
}

async function verifyInUse(file: string, options: VerifyOptions): Promise<VerifyResult> {
  const say: Progress = options.progress ?? (() => undefined);
  say(`verify 1/3: checking the checksum of ${file} against its manifest`);
  const checked = await openChecked(file);
  try {
    return await verifyChecked(file, checked.data, checked.manifest, options);
  } finally {
    await checked.done();
  }
}

async function verifyChecked(file: string, data: string, manifest: BackupManifest, options: VerifyOptions): Promise<VerifyResult> {
  const jobs = parseJobs(options.jobs);
  const say: Progress = options.progress ?? (() => undefined);
  const { engine, ctx } = await openRunning({ type: manifest.engine, instance: options.instance ?? manifest.instance, ...(options.progress ? { progress: options.progress } : {}) });
  checkJobs(engine, jobs, 'restore');
  let actual: TableFingerprint[];
  let method: string;
  say(`verify 2/3: checksum ok; restoring ${manifest.database} into a scratch place (never the live data)`);
  if (manifest.scope === 'database' && has(engine, 'launchSpec') && has(engine, 'initialize')) {
    // nothing read from a backup runs on the live server: a fresh scratch server takes the restore
    const restore = need(engine, 'restore');
    const fingerprint = need(engine, 'fingerprint');
    actual = await withScratchServer(engine, ctx, {}, async (scratch) => {
      // the restore already fingerprints what it loaded (in the manifest's checksum scheme): not twice
      const restored = await restore(scratch, { file: data, manifest, target: manifest.database, replace: false, scratch: true, ...(jobs && jobs > 1 ? { jobs } : {}) });
      return restored.tables ?? fingerprint(scratch, manifest.database);
    });
    method = `restored into a scratch ${engine.info.displayName} server (not the live one)`;
  } else if (has(engine, 'verifyBackup')) {
    const r = await need(engine, 'verifyBackup')(ctx, { file: data, manifest });
    actual = r.tables;
    method = r.method;
  } else {
    const scratch = `${manifest.database}_verify_${randomBytes(3).toString('hex')}`.slice(0, 60);
    method = `restored into scratch ${engine.info.terms.database} ${scratch}`;
    try {
      const restored = await need(engine, 'restore')(ctx, { file: data, manifest, target: scratch, replace: false });
      actual = restored.tables ?? (await need(engine, 'fingerprint')(ctx, scratch));
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
