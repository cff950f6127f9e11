import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { DbError, UsageError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import { shellQuote } from '../../core/install/plan.js';
import type { DatabaseSummary, InstanceContext } from '../contract.js';
import { validateDatabaseName } from './identifiers.js';

export type Db = BetterSqlite3.Database;
type DriverCtor = typeof BetterSqlite3;

let driver: Promise<DriverCtor> | undefined;
/** better-sqlite3 loads on first use only. */
export function loadDriver(): Promise<DriverCtor> {
  driver ??= import('better-sqlite3').then(
    (m) => ((m as { default?: DriverCtor }).default ?? (m as unknown as DriverCtor)),
    (err: unknown) => {
      driver = undefined;
      throw new DbError(
        `The SQLite driver (the native addon better-sqlite3) is not installed or not built for this Node.js ${process.version}: ${((err as Error).message ?? String(err)).split('\n')[0]}`,
        'NOT_INSTALLED',
        'Run `npm install --omit=dev` in the portunix-db package directory (the plugin install step does this; it compiles better-sqlite3 when no prebuilt binary fits). Every other engine works without it.',
      );
    },
  );
  return driver;
}

export const NO_SERVER = 'SQLite runs inside portunix-db; there is no server to start. Use `portunix-db status sqlite` to check its files.';
export const NO_CONNECTIONS = 'SQLite has no server and so no connection list; every program opens the database file itself. Use `portunix-db status sqlite` to check the files (and `lsof FILE` to see which processes hold one open).';

/** The files that belong to a database besides the main file. */
export const SIDE_FILES = ['-wal', '-shm', '-journal'] as const;

export interface DbFile {
  name: string;
  path: string;
  /** Registered by path (lives outside the instance directory). */
  registered: boolean;
}

/**
 * `registered_files` entries are `name=/abs/path` (written by `create --path`); a bare path
 * (hand-written config) is named after its file name without the extension.
 */
export function parseRegistration(entry: string): { name: string; path: string } {
  const m = /^([A-Za-z0-9_-]{1,64})=(.+)$/.exec(entry);
  if (m) return { name: m[1]!, path: m[2]! };
  const base = basename(entry).replace(/\.(db|sqlite3?|db3)$/i, '');
  return { name: base.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'db', path: entry };
}

export function registrations(ctx: InstanceContext): DbFile[] {
  return (ctx.config.registered_files ?? []).map((e) => ({ ...parseRegistration(e), registered: true }));
}

function dirFiles(dir: string, names: string[]): DbFile[] {
  return names
    .filter((f) => f.endsWith('.db'))
    .map((f) => f.slice(0, -3))
    .filter((n) => /^[A-Za-z0-9_-]{1,64}$/.test(n))
    .map((n) => ({ name: n, path: join(dir, `${n}.db`), registered: false }));
}

export async function listFiles(ctx: InstanceContext): Promise<DbFile[]> {
  const names = await readdir(ctx.paths.dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new DbError(`The SQLite instance directory ${ctx.paths.dataDir} is missing.`, 'NOT_FOUND', `Re-create it with \`portunix-db install sqlite${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`, or restore it from a backup.`);
    throw err;
  });
  const files = dirFiles(ctx.paths.dataDir, names);
  const taken = new Set(files.map((f) => f.name));
  for (const r of registrations(ctx)) if (!taken.has(r.name)) files.push(r);
  return files.sort((a, b) => a.name.localeCompare(b.name));
}

function listFilesSync(ctx: InstanceContext): DbFile[] {
  let names: string[] = [];
  try {
    names = readdirSync(ctx.paths.dataDir);
  } catch {
    /* reported by the async paths */
  }
  const files = dirFiles(ctx.paths.dataDir, names);
  const taken = new Set(files.map((f) => f.name));
  for (const r of registrations(ctx)) if (!taken.has(r.name)) files.push(r);
  return files;
}

/** Where database `name` lives (registered path or `<dir>/<name>.db`), whether or not it exists yet. */
export function databaseLocation(ctx: InstanceContext, name: string): DbFile {
  validateDatabaseName(name);
  const reg = registrations(ctx).find((r) => r.name === name);
  return reg ?? { name, path: join(ctx.paths.dataDir, `${name}.db`), registered: false };
}

/** An existing database, or NOT_FOUND naming the ones that exist. */
export async function requireDatabase(ctx: InstanceContext, name: string): Promise<DbFile> {
  const loc = databaseLocation(ctx, name);
  if (existsSync(loc.path)) return loc;
  if (loc.registered) {
    throw new DbError(`Database ${name} is registered at ${loc.path}, but that file is missing.`, 'NOT_FOUND', `Put the file back, or unregister it with \`portunix-db drop ${name} --type sqlite --force\`.`);
  }
  const all = (await listFiles(ctx)).map((f) => f.name);
  const guess = closest(name, all);
  throw new DbError(
    `SQLite database ${name} does not exist in ${ctx.engine}/${ctx.name} (no file ${loc.path}).`,
    'NOT_FOUND',
    `${guess ? `Did you mean ${guess}? ` : ''}${all.length ? `Databases: ${all.join(', ')}.` : 'There are none yet.'} Create one with \`portunix-db create ${name} --type sqlite\`.`,
  );
}

/** Maps SQLite errors to the tool's codes, naming the file. */
export function mapSqliteError(err: unknown, path: string): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; message?: string };
  const msg = e.message ?? String(err);
  const code = e.code ?? '';
  if (code.startsWith('SQLITE_NOTADB')) return new DbError(`${path} is not a SQLite database (${msg}).`, 'QUERY_FAILED', 'Check the path; restore the file from a backup if it was overwritten.');
  if (code.startsWith('SQLITE_CORRUPT')) return new DbError(`${path} is corrupt: ${msg}`, 'QUERY_FAILED', 'Restore it from a backup (`portunix-db backup list --type sqlite`), or salvage it with the sqlite3 shell\'s `.recover`.');
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) return new DbError(`${path} is locked by another process: ${msg}`, 'TIMEOUT', 'Retry when the other writer has finished, or switch the file to WAL mode (`config set sqlite <db>.journal_mode wal`).');
  if (code.startsWith('SQLITE_READONLY') || code.startsWith('SQLITE_PERM') || code.startsWith('SQLITE_AUTH')) return new DbError(`Cannot write ${path}: ${msg}`, 'PERMISSION_DENIED', 'Check the permissions of the file and its directory.');
  if (code.startsWith('SQLITE_CANTOPEN')) return new DbError(`Cannot open ${path}: ${msg}`, existsSync(path) ? 'PERMISSION_DENIED' : 'NOT_FOUND', 'Check that the file and its directory exist and are readable.');
  if (code.startsWith('SQLITE_FULL')) return new DbError(`The disk holding ${path} is full: ${msg}`, 'DISK_FULL', 'Free some space.');
  return new DbError(`${msg} (${path})`, 'QUERY_FAILED');
}

/** Opens a file that must exist and be a SQLite database (checked by reading its header). */
export async function openFile(path: string, options: { readonly?: boolean } = {}): Promise<Db> {
  const Database = await loadDriver();
  let db: Db | undefined;
  try {
    db = new Database(path, { readonly: !!options.readonly, fileMustExist: true, timeout: 10_000 });
    db.pragma('schema_version', { simple: true });
    return db;
  } catch (err) {
    db?.close();
    throw mapSqliteError(err, path);
  }
}

/** Runs `fn` on database `name`, closing it afterwards; SQLite errors become DbErrors. */
export async function withDatabase<T>(ctx: InstanceContext, name: string, fn: (db: Db, file: DbFile) => T | Promise<T>, options: { readonly?: boolean } = {}): Promise<T> {
  const file = await requireDatabase(ctx, name);
  return withFile(file.path, (db) => fn(db, file), options);
}

export async function withFile<T>(path: string, fn: (db: Db) => T | Promise<T>, options: { readonly?: boolean } = {}): Promise<T> {
  const db = await openFile(path, options);
  try {
    return await fn(db);
  } catch (err) {
    throw mapSqliteError(err, path);
  } finally {
    db.close();
  }
}

/** Size of the main file plus its WAL. */
export async function fileBytes(path: string): Promise<number> {
  const main = await stat(path).then((s) => s.size, () => 0);
  const wal = await stat(`${path}-wal`).then((s) => s.size, () => 0);
  return main + wal;
}

/** The `sqlite3` shell on PATH (or the instance's bin_dir), if any. */
export function findShell(binDir?: string): string | undefined {
  const exe = process.platform === 'win32' ? 'sqlite3.exe' : 'sqlite3';
  const dirs = [...(binDir ? [binDir] : []), ...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean)];
  for (const d of dirs) {
    const p = join(d, exe);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export async function sqliteVersion(): Promise<string> {
  const Database = await loadDriver();
  const db = new Database(':memory:');
  try {
    return String(db.prepare('select sqlite_version()').pluck().get());
  } finally {
    db.close();
  }
}

// ---------- lifecycle ----------

export async function initialize(ctx: InstanceContext): Promise<void> {
  await mkdir(ctx.paths.dataDir, { recursive: true, mode: 0o700 });
  // proves the native driver loads here, and records the library version the files are written with
  const version = await sqliteVersion().catch((err: Error) => {
    if (err instanceof DbError) throw err;
    throw new DbError(`better-sqlite3 cannot load on this machine: ${err.message}`, 'INTERNAL', 'Reinstall portunix-db (`npm rebuild better-sqlite3`) for this Node.js version.');
  });
  ctx.config.full_version = version;
  ctx.progress(`SQLite ${version} (in-process); databases are the *.db files in ${ctx.paths.dataDir}`);
}

export async function serverVersion(): Promise<string> {
  return sqliteVersion();
}

export async function embeddedStatus(ctx: InstanceContext): Promise<Record<string, unknown>> {
  const files = await listFiles(ctx);
  const databases = await Promise.all(
    files.map(async (f) => {
      const base = { name: f.name, path: f.path, ...(f.registered ? { registered: true } : {}) };
      if (!existsSync(f.path)) return { ...base, error: 'file missing' };
      try {
        return await withFile(
          f.path,
          (db) => {
            const check = db.pragma('quick_check', { simple: false }) as { quick_check: string }[];
            const problems = check.map((r) => r.quick_check).filter((s) => s !== 'ok');
            return {
              ...base,
              size_bytes: statSync(f.path).size,
              wal_bytes: existsSync(`${f.path}-wal`) ? statSync(`${f.path}-wal`).size : 0,
              page_size: Number(db.pragma('page_size', { simple: true })),
              page_count: Number(db.pragma('page_count', { simple: true })),
              journal_mode: String(db.pragma('journal_mode', { simple: true })),
              integrity: problems.length === 0 ? 'ok' : problems.slice(0, 5).join('; '),
              integrity_check: 'quick_check',
            };
          },
          { readonly: true },
        );
      } catch (err) {
        return { ...base, error: (err as Error).message };
      }
    }),
  );
  return { directory: ctx.paths.dataDir, sqlite_version: await sqliteVersion(), sqlite3_shell: findShell(ctx.config.bin_dir) ?? null, databases };
}

export function connectionUrl(ctx: InstanceContext, options: { database?: string }): string {
  let file: DbFile | undefined;
  if (options.database) file = databaseLocation(ctx, options.database);
  else {
    const all = listFilesSync(ctx);
    if (all.length === 1) file = all[0];
    else throw new UsageError(all.length === 0 ? `${ctx.engine}/${ctx.name} has no databases yet.` : `${ctx.engine}/${ctx.name} has ${all.length} databases: ${all.map((f) => f.name).join(', ')}.`, 'USAGE', all.length === 0 ? 'Create one with `portunix-db create NAME --type sqlite`.' : 'Name one with --database.');
  }
  return pathToFileURL(file!.path).href;
}

// ---------- databases ----------

export async function listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]> {
  const files = await listFiles(ctx);
  return Promise.all(files.map(async (f) => ({ name: f.name, path: f.path, sizeBytes: await fileBytes(f.path) })));
}

async function saveRegistrations(ctx: InstanceContext, entries: string[]): Promise<void> {
  const { findInstance, putInstance, updateConfig } = await import('../../core/config.js');
  const ref = { engine: ctx.engine, name: ctx.name };
  await updateConfig((c) => {
    const inst = findInstance(c, ref);
    if (!inst) throw new DbError(`${ctx.engine}/${ctx.name} is no longer in the config.`, 'NOT_INSTALLED', 'Install it again.');
    const next = { ...inst.config };
    if (entries.length) next.registered_files = entries;
    else delete next.registered_files;
    return putInstance(c, ref, next);
  });
  if (entries.length) ctx.config.registered_files = entries;
  else delete ctx.config.registered_files;
}

const ENCODINGS: Record<string, string> = { 'utf-8': 'UTF-8', utf8: 'UTF-8', 'utf-16': 'UTF-16', utf16: 'UTF-16', 'utf-16le': 'UTF-16le', utf16le: 'UTF-16le', 'utf-16be': 'UTF-16be', utf16be: 'UTF-16be' };

export interface CreateOptions {
  owner?: string;
  charset?: string;
  collation?: string;
  /** Register (or create) a database file outside the instance directory. */
  path?: string;
}

export async function createDatabase(ctx: InstanceContext, name: string, options: CreateOptions): Promise<{ created: boolean; message?: string }> {
  validateDatabaseName(name);
  if (options.owner) throw new DbError('SQLite databases have no owner.', 'NOT_APPLICABLE', 'Leave --owner out; protect the file with file permissions.');
  if (options.collation) throw new UsageError('SQLite has no per-database collation.', 'USAGE', 'Leave --collation out; give columns a collation in CREATE TABLE (e.g. `name TEXT COLLATE NOCASE`).');
  let encoding: string | undefined;
  if (options.charset) {
    encoding = ENCODINGS[options.charset.toLowerCase()];
    if (!encoding) throw new UsageError(`SQLite does not support the encoding ${JSON.stringify(options.charset)}.`, 'USAGE', 'Use UTF-8 (the default), UTF-16le or UTF-16be.');
  }
  const existing = (await listFiles(ctx)).find((f) => f.name === name);
  if (existing) {
    throw new DbError(`SQLite database ${name} already exists (${existing.path}).`, 'ALREADY_EXISTS', `Pick another name, or drop it first with \`portunix-db drop ${name} --type sqlite --force\`.`);
  }

  if (options.path) {
    const path = resolve(options.path);
    if (resolve(dirname(path)) === resolve(ctx.paths.dataDir)) {
      throw new UsageError(`${path} is inside the instance directory; files there need no registration.`, 'USAGE', `Name it <name>.db there, or use \`create ${name} --type sqlite\` without --path.`);
    }
    const clash = registrations(ctx).find((r) => resolve(r.path) === path);
    if (clash) throw new DbError(`${path} is already registered as ${clash.name}.`, 'ALREADY_EXISTS', `Use the name ${clash.name}.`);
    let created = false;
    if (existsSync(path)) {
      if (!statSync(path).isFile()) throw new UsageError(`${path} is not a file.`, 'USAGE', 'Pass the path of a SQLite database file.');
      const db = await openFile(path, { readonly: true }); // refuses files that are not SQLite databases
      db.close();
    } else {
      if (!existsSync(dirname(path))) throw new DbError(`The directory ${dirname(path)} does not exist.`, 'NOT_FOUND', 'Create the directory first, or pass the path of an existing database file.');
      await createFile(path, encoding);
      created = true;
    }
    await saveRegistrations(ctx, [...(ctx.config.registered_files ?? []), `${name}=${path}`]);
    return { created: true, message: `${created ? 'Created' : 'Registered'} SQLite database ${name} at ${path} (registered in ${ctx.engine}/${ctx.name}; dropping it unregisters it and keeps the file).` };
  }

  const path = join(ctx.paths.dataDir, `${name}.db`);
  await createFile(path, encoding);
  return { created: true, message: `Created SQLite database ${name} at ${path} (WAL journal mode; change with \`portunix-db config set sqlite ${name}.journal_mode delete\`).` };
}

/** Creates the file exclusively (never clobbers), then writes a valid header in WAL mode. */
async function createFile(path: string, encoding: string | undefined): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new DbError(`${path} already exists.`, 'ALREADY_EXISTS', 'Pick another name, or register the existing file with --path.');
    throw err;
  }
  await handle.close();
  try {
    const Database = await loadDriver();
    const db = new Database(path, { fileMustExist: true, timeout: 10_000 });
    try {
      if (encoding) db.pragma(`encoding = '${encoding}'`);
      db.pragma('journal_mode = WAL');
    } finally {
      db.close();
    }
  } catch (err) {
    await rm(path, { force: true });
    throw mapSqliteError(err, path);
  }
}

export async function dropDatabase(ctx: InstanceContext, name: string): Promise<void> {
  validateDatabaseName(name);
  const reg = registrations(ctx).find((r) => r.name === name);
  const inDir = join(ctx.paths.dataDir, `${name}.db`);
  if (reg && !existsSync(inDir)) {
    await saveRegistrations(ctx, (ctx.config.registered_files ?? []).filter((e) => parseRegistration(e).name !== name));
    ctx.progress(`unregistered ${name}; its file ${reg.path} was left in place (it is yours)`);
    return;
  }
  const file = await requireDatabase(ctx, name);
  // A writer holding the file would keep writing to a deleted inode: refuse while it is locked.
  try {
    const db = await openFile(file.path);
    try {
      db.pragma('busy_timeout = 2000');
      db.exec('BEGIN IMMEDIATE');
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  } catch (err) {
    const e = err as DbError;
    if (e.code === 'TIMEOUT') throw new DbError(`${file.path} is being written by another process.`, 'TIMEOUT', 'Stop the program using it, then drop again.');
    // a corrupt file can still be dropped
  }
  await rm(file.path, { force: true });
  for (const s of SIDE_FILES) await rm(file.path + s, { force: true });
}

/** `sqlite3 FILE`: the URL is the database file's file: URL. */
export function clientCommand(_ctx: InstanceContext, conn: { url: string; ca?: string }): string {
  const file = fileURLToPath(conn.url);
  return `sqlite3 ${shellQuote(file)}`;
}
