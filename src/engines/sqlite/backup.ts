import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DbError } from '../../core/errors.js';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { validateDatabaseName } from './identifiers.js';
import { databaseLocation, mapSqliteError, openFile, requireDatabase, SIDE_FILES, sqliteVersion, withDatabase, withFile, type Db } from './instance.js';

const MOD = 1n << 256n;

/**
 * Rows and an order-independent checksum per table: the sum (mod 2^256) of a SHA-256 per row
 * over a typed encoding of its values. Rowids are left out, so VACUUM (which may renumber
 * them) does not change the checksum; duplicate rows count twice.
 */
export function computeFingerprint(db: Db): TableFingerprint[] {
  const tables = db
    .prepare(`SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name`)
    .all() as { name: string; sql: string | null }[];
  const out: TableFingerprint[] = [];
  for (const t of tables) {
    if (/^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(t.sql ?? '')) continue; // their shadow tables hold the data
    const stmt = db.prepare(`SELECT * FROM "${t.name.replace(/"/g, '""')}"`).raw(true).safeIntegers(true);
    let rows = 0;
    let sum = 0n;
    const num = Buffer.alloc(8);
    for (const row of stmt.iterate() as Iterable<unknown[]>) {
      rows++;
      const h = createHash('sha256');
      for (const v of row) {
        if (v === null || v === undefined) h.update('N');
        else if (typeof v === 'bigint') h.update(`I${v.toString()};`);
        else if (typeof v === 'number') {
          num.writeDoubleBE(v);
          h.update('R');
          h.update(num);
        } else if (typeof v === 'string') {
          h.update(`T${Buffer.byteLength(v)}:`);
          h.update(v);
        } else if (Buffer.isBuffer(v)) {
          h.update(`B${v.length}:`);
          h.update(v);
        } else h.update(`?${String(v)}`);
      }
      sum = (sum + BigInt(`0x${h.digest('hex')}`)) % MOD;
    }
    const checksum = createHash('sha256').update(`${rows}:${sum.toString(16)}`).digest('hex');
    out.push({ name: t.name, rows, checksum: `sha256:${checksum}` });
  }
  return out;
}

export async function fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  return withDatabase(ctx, database, (db) => computeFingerprint(db), { readonly: true });
}

function integrityProblems(db: Db): string[] {
  return (db.prepare('PRAGMA integrity_check(20)').pluck().all() as string[]).filter((s) => s !== 'ok');
}

async function fsyncPath(path: string): Promise<void> {
  const h = await open(path, 'r').catch(() => undefined);
  if (!h) return;
  try {
    await h.sync();
  } catch {
    /* directories cannot be synced on every platform */
  } finally {
    await h.close();
  }
}

export async function backup(ctx: InstanceContext, options: { database: string; file: string }): Promise<BackupOutcome> {
  const source = await requireDatabase(ctx, options.database);
  await mkdir(dirname(options.file), { recursive: true });
  const partial = `${options.file}.partial-${process.pid}`;
  await rm(partial, { force: true });
  const db = await openFile(source.path);
  let sourceMode = 'unknown';
  try {
    db.pragma('busy_timeout = 30000');
    sourceMode = String(db.pragma('journal_mode', { simple: true }));
    ctx.progress(`online backup of ${source.path}`);
    // Copy every remaining page in one step: the step holds a read transaction, so the copy is
    // one consistent snapshot even while other processes keep writing (WAL writers are never blocked).
    await db.backup(partial, { progress: () => 0x7fffffff });
  } catch (err) {
    await rm(partial, { force: true });
    throw mapSqliteError(err, source.path);
  } finally {
    db.close();
  }
  let tables: TableFingerprint[];
  try {
    tables = await withFile(partial, (copy) => {
      // a self-contained single file: no -wal/-shm next to the backup
      copy.pragma('journal_mode = DELETE');
      const problems = integrityProblems(copy);
      if (problems.length) throw new DbError(`The backup copy of ${options.database} failed its integrity check: ${problems.join('; ')}`, 'BACKUP_CORRUPT', 'The source may be corrupt: run `portunix-db health sqlite`.');
      return computeFingerprint(copy);
    });
    await fsyncPath(partial);
    await rename(partial, options.file);
    await fsyncPath(dirname(options.file));
  } catch (err) {
    await rm(partial, { force: true });
    for (const s of SIDE_FILES) await rm(partial + s, { force: true });
    throw err;
  }
  const version = await sqliteVersion();
  return {
    method: `sqlite online backup (SQLite ${version})`,
    format: 'sqlite',
    serverVersion: version,
    tables,
    scope: 'database',
    notes: [`Consistent snapshot taken with the online backup API; the copy uses journal_mode=delete (the source uses ${sourceMode}).`],
  };
}

/** Opens a backup read-only and checks it against its manifest; nothing live is touched. */
async function checkBackup(file: string, manifest: BackupManifestView, compare: boolean): Promise<TableFingerprint[]> {
  if (manifest.engine !== 'sqlite') throw new DbError(`This backup is from ${manifest.engine}, not SQLite.`, 'USAGE', `Restore it with --type ${manifest.engine}.`);
  if (!existsSync(file)) throw new DbError(`Backup file ${file} does not exist.`, 'NOT_FOUND', 'List backups with `portunix-db backup list --type sqlite`.');
  let tables: TableFingerprint[];
  try {
    tables = await withFile(
      file,
      (db) => {
        const problems = integrityProblems(db);
        if (problems.length) throw new DbError(`Backup ${file} is corrupt: integrity_check reports ${problems.slice(0, 3).join('; ')}.`, 'BACKUP_CORRUPT', 'Use another backup (`portunix-db backup list --type sqlite`). Nothing was changed.');
        return computeFingerprint(db);
      },
      { readonly: true },
    );
  } catch (err) {
    if (err instanceof DbError && err.code === 'BACKUP_CORRUPT') throw err;
    throw new DbError(`Backup ${file} cannot be read as a SQLite database: ${(err as Error).message}`, 'BACKUP_CORRUPT', 'Use another backup (`portunix-db backup list --type sqlite`). Nothing was changed.');
  }
  const mismatches = compare ? compareTables(manifest.tables, tables) : [];
  if (mismatches.length) {
    throw new DbError(`Backup ${file} does not match its manifest: ${mismatches.slice(0, 5).join('; ')}.`, 'BACKUP_CORRUPT', 'The file was changed after it was written; use another backup. Nothing was changed.', { mismatches });
  }
  return tables;
}

export function compareTables(expected: TableFingerprint[], actual: TableFingerprint[]): string[] {
  const out: string[] = [];
  const byName = new Map(actual.map((t) => [t.name, t]));
  for (const e of expected) {
    const a = byName.get(e.name);
    if (!a) out.push(`table ${e.name} is missing`);
    else if (a.rows !== e.rows) out.push(`table ${e.name} has ${a.rows} rows, expected ${e.rows}`);
    else if (e.checksum && a.checksum && a.checksum !== e.checksum) out.push(`table ${e.name} checksum differs`);
    byName.delete(e.name);
  }
  for (const extra of byName.keys()) out.push(`unexpected table ${extra}`);
  return out;
}

export async function verifyBackup(_ctx: InstanceContext, options: { file: string; manifest: BackupManifestView }): Promise<{ tables: TableFingerprint[]; method: string }> {
  // the core compares these with the manifest and reports each table
  const tables = await checkBackup(options.file, options.manifest, false);
  return { tables, method: 'opened the backup file read-only: integrity_check and per-table row checksums' };
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '_').slice(0, 15);
}

export async function restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  validateDatabaseName(options.target);
  const loc = databaseLocation(ctx, options.target);
  const exists = existsSync(loc.path);
  if (exists && !options.replace) {
    throw new DbError(`SQLite database ${options.target} already exists (${loc.path}).`, 'ALREADY_EXISTS', `Pass --force to replace it (the old file is kept next to it), or --target NEW_NAME to restore beside it.`);
  }
  const actions: string[] = [];
  const checked = await checkBackup(options.file, options.manifest, true);
  actions.push(`checked the backup: integrity ok, ${checked.length} table(s) match the manifest`);

  const dir = dirname(loc.path);
  if (!existsSync(dir)) throw new DbError(`The directory ${dir} does not exist.`, 'NOT_FOUND', 'Re-create it, or restore into another --target.');
  const tmp = join(dir, `.${basename(loc.path)}.restore-${process.pid}-${Date.now()}`);
  let journalMode = 'wal';
  try {
    if (exists) {
      await withFile(loc.path, (db) => {
        journalMode = String(db.pragma('journal_mode', { simple: true }));
        db.pragma('busy_timeout = 10000');
        // fold the WAL into the main file so the kept copy is complete and no stale WAL remains
        if (journalMode === 'wal') db.pragma('wal_checkpoint(TRUNCATE)');
      }).catch(() => undefined); // a corrupt target is replaced as it is
    }
    await copyFile(options.file, tmp);
    await withFile(tmp, (db) => {
      if (journalMode !== 'delete') db.pragma(`journal_mode = ${journalMode === 'wal' ? 'WAL' : journalMode.toUpperCase()}`);
      const problems = integrityProblems(db);
      if (problems.length) throw new DbError(`The restored copy failed its integrity check: ${problems.join('; ')}`, 'RESTORE_FAILED', 'Check the disk; nothing was replaced.');
    });
    for (const s of SIDE_FILES) await rm(tmp + s, { force: true });
    await fsyncPath(tmp);

    let kept: string | undefined;
    if (exists) {
      kept = loc.registered ? `${loc.path}.old-${stamp()}` : join(dir, `${options.target.slice(0, 40)}_old_${stamp()}.db`);
      // a hard link keeps the old content under a new name while the rename swaps the target atomically
      await link(loc.path, kept).catch(() => copyFile(loc.path, kept!));
    }
    for (const s of SIDE_FILES) await rm(loc.path + s, { force: true });
    await rename(tmp, loc.path);
    await fsyncPath(dir);
    actions.push(exists ? `replaced database ${options.target} at ${loc.path} (old copy kept as ${kept})` : `created database ${options.target} at ${loc.path}`);
    if (exists) ctx.progress(`the previous ${options.target} is kept as ${kept}; drop it when you no longer need it`);
  } catch (err) {
    await rm(tmp, { force: true });
    for (const s of SIDE_FILES) await rm(tmp + s, { force: true });
    if (err instanceof DbError) throw err;
    throw new DbError(`Restore of ${options.target} failed: ${(err as Error).message}`, 'RESTORE_FAILED', `${exists ? `${options.target} was left as it was.` : 'Nothing was created.'} Fix the cause and retry.`);
  }
  const tables = await withFile(loc.path, (db) => computeFingerprint(db), { readonly: true });
  const after = compareTables(options.manifest.tables, tables);
  if (after.length) throw new DbError(`Restored ${options.target}, but it does not match the manifest: ${after.join('; ')}`, 'RESTORE_FAILED', 'Another process may have written to it during the restore; check it with `portunix-db backup verify`.');
  actions.push(`verified ${tables.length} table(s): row counts and checksums match`);
  return { target: options.target, actions, tables };
}
