import { createReadStream } from 'node:fs';
import { hashedFileWriter } from '../../core/hashed-write.js';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { PassThrough, Writable } from 'node:stream';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { DbError, dumpOrLost } from '../../core/errors.js';
import { findProgram, num, query, spawnClient, withClientOptionFile, withConnection, type Flavour } from './client.js';
import { quoteIdent, validateCharsetName, validateMysqlIdentifier } from './identifiers.js';
import { serverVersion } from './instance.js';
import { recordStagingDatabase } from '../../core/process/staging.js';

/** Row count and CHECKSUM TABLE of every base table: order-independent, recomputed after a restore. */
export async function fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  const db = validateMysqlIdentifier('database', database);
  return withConnection(ctx, undefined, async (c) => {
    const exists = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
    if (!exists.length) throw new DbError(`Database "${database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    const tables = await query<{ n: string }>(c, "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [database]);
    const out: TableFingerprint[] = [];
    for (const { n } of tables) {
      const t = `${db}.${quoteIdent(n)}`;
      const count = num((await query<{ c: unknown }>(c, `SELECT COUNT(*) AS c FROM ${t}`))[0]?.c) ?? 0;
      const sum = (await query<{ Checksum: unknown }>(c, `CHECKSUM TABLE ${t} EXTENDED`))[0]?.Checksum;
      out.push({ name: n, rows: count, ...(sum !== null && sum !== undefined ? { checksum: String(sum) } : {}) });
    }
    return out;
  });
}

function dumpArgs(flavour: Flavour, optionFile: string): string[] {
  return [
    `--defaults-extra-file=${optionFile}`, // must be the first option
    '--single-transaction',
    '--routines',
    '--triggers',
    '--events',
    '--hex-blob',
    '--default-character-set=utf8mb4',
    '--dump-date',
    ...(flavour.id === 'mysql' ? ['--set-gtid-purged=OFF', '--column-statistics=0'] : []),
  ];
}

/**
 * mariadb-dump / mysqldump of one database (no CREATE DATABASE / USE, so it restores under
 * any name), gzip-compressed into `file`. The core handles temp names, sha256 and the manifest.
 */
export async function backup(ctx: InstanceContext, options: { database: string; file: string }, flavour: Flavour): Promise<BackupOutcome> {
  validateMysqlIdentifier('database', options.database);
  const dump = await findProgram(ctx, flavour.dump);
  const version = await serverVersion(ctx);
  const password = await ctx.adminPassword();
  const cs = await withConnection(ctx, undefined, async (c) => (await query<{ cs: string; co: string }>(c, 'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [options.database]))[0]);
  if (!cs) throw new DbError(`Database "${options.database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
  // the fingerprints (counts and CHECKSUM TABLE) run on their own connection while the dump streams, not as a pass before it
  const fingerprints = fingerprint(ctx, options.database);
  fingerprints.catch(() => undefined);
  const written = await withClientOptionFile(ctx, flavour, async (optionFile) => {
    const gzip = createGzip({ level: 6 });
    const out = hashedFileWriter(options.file);
    const done = pipeline(gzip, out.stream).then(() => out.done);
    done.catch(() => undefined);
    // the dump has no CREATE DATABASE (it restores under any name); keep the database's charset here
    gzip.write(`${HEADER} charset=${cs.cs} collation=${cs.co}\n`);
    try {
      await dumpOrLost(ctx, `${dump.split("/").pop()} of ${options.database}`, () => spawnClient(ctx, [dump, ...dumpArgs(flavour, optionFile), '--', options.database], { stdout: gzip, redact: [password] }));
    } catch (err) {
      gzip.destroy();
      await done.catch(() => undefined);
      throw err;
    }
    return done;
  });
  const tables = await fingerprints;
  return {
    method: `${dump.split('/').pop()} --single-transaction --routines --triggers --events + gzip`,
    format: 'sql.gz',
    serverVersion: version,
    tables,
    scope: 'database',
    notes: ['Table checksums are CHECKSUM TABLE EXTENDED values, taken while the dump ran (on another connection); writes during the dump may not be reflected in them.'],
    written,
  };
}

const HEADER = '-- portunix-db database';

/** Reads the whole gzip stream and checks that the dump ran to its end. Touches no data. */
export async function checkDumpFile(file: string): Promise<{ charset?: string; collation?: string }> {
  let tail = '';
  let head = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (head.length < 1024) head += chunk.toString('utf8').slice(0, 1024);
      tail = (tail + chunk.toString('utf8')).slice(-4096);
      cb();
    },
  });
  try {
    await pipeline(createReadStream(file), createGunzip(), sink);
  } catch (err) {
    throw new DbError(`Backup file ${file} is corrupt: ${(err as Error).message}.`, 'BACKUP_CORRUPT', 'Nothing was restored. Use another backup (`portunix-db backup list`).');
  }
  if (!/-- Dump completed/.test(tail)) {
    throw new DbError(`Backup file ${file} is incomplete: the dump does not end with "-- Dump completed".`, 'BACKUP_CORRUPT', 'Nothing was restored. Use another backup (`portunix-db backup list`).');
  }
  const m = new RegExp(`^${HEADER} charset=(\\w+) collation=(\\w+)`).exec(head);
  return m ? { charset: validateCharsetName('charset', m[1]!), collation: validateCharsetName('collation', m[2]!) } : {};
}

async function loadInto(ctx: InstanceContext, flavour: Flavour, file: string, database: string): Promise<void> {
  const client = await findProgram(ctx, flavour.client);
  const password = await ctx.adminPassword();
  await withClientOptionFile(ctx, flavour, async (optionFile) => {
    const input = new PassThrough();
    const feeding = pipeline(createReadStream(file), createGunzip(), input);
    try {
      await spawnClient(ctx, [client, `--defaults-extra-file=${optionFile}`, '--binary-mode', '--default-character-set=utf8mb4', `--database=${database}`], { stdin: input, redact: [password] });
    } finally {
      await feeding.catch(() => undefined);
    }
  });
}

async function databaseExists(ctx: InstanceContext, name: string): Promise<boolean> {
  return withConnection(ctx, undefined, async (c) => (await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [name])).length > 0);
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/**
 * Restores into a new database, or replaces an existing one. Replacing first moves the old
 * tables (RENAME TABLE, one atomic statement) into `<target>_old_<timestamp>`, so a failed load
 * leaves the old data there, intact, and says so.
 */
export async function restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }, flavour: Flavour): Promise<RestoreOutcome> {
  const target = validateMysqlIdentifier('database', options.target);
  const original = await checkDumpFile(options.file);
  const actions: string[] = [];
  const exists = await databaseExists(ctx, options.target);
  if (exists && !options.replace) {
    throw new DbError(`Database ${options.target} already exists on ${ctx.engine}/${ctx.name}.`, 'ALREADY_EXISTS', 'Pass --force to replace it (the old tables are kept in a copy), or --target another name.');
  }
  let keptAs: string | undefined;
  if (exists) {
    keptAs = `${options.target.slice(0, 40)}_old_${stamp()}`;
    const keep = validateMysqlIdentifier('database', keptAs);
    await withConnection(ctx, undefined, async (c) => {
      const charset = (await query<{ cs: string; co: string }>(c, 'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [options.target]))[0];
      const tables = await query<{ n: string }>(c, "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE'", [options.target]);
      const triggers = await query<{ n: string }>(c, 'SELECT TRIGGER_NAME AS n FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?', [options.target]);
      await c.query(`CREATE DATABASE ${keep}${charset ? ` CHARACTER SET ${charset.cs} COLLATE ${charset.co}` : ''}`);
      try {
        // a table with triggers cannot move to another database; the backup being restored carries its own triggers
        for (const t of triggers) await c.query(`DROP TRIGGER ${target}.${quoteIdent(t.n)}`);
        if (tables.length) {
          await c.query('SET FOREIGN_KEY_CHECKS = 0');
          // one statement: either every table moves or none does
          await c.query(`RENAME TABLE ${tables.map((t) => `${target}.${quoteIdent(t.n)} TO ${keep}.${quoteIdent(t.n)}`).join(', ')}`);
        }
      } catch (err) {
        await c.query(`DROP DATABASE IF EXISTS ${keep}`).catch(() => undefined);
        throw new DbError(`Could not set the existing ${options.target} aside: ${mapMessage(err)}`, 'RESTORE_FAILED', `${options.target} still holds its tables${triggers.length ? ' (its triggers may have been dropped)' : ''}; nothing was loaded.`);
      }
      await c.query(`DROP DATABASE ${target}`);
    });
    actions.push(`moved the tables of the existing database ${options.target} to ${keptAs} (its views, routines, triggers and events were dropped with it)`);
  }
  // recorded before it exists (the name was just checked free, or emptied above): a command killed mid-load leaves a record, and the next command drops the half-loaded database
  const forget = await recordStagingDatabase(ctx, options.target, keptAs ? `the previous tables of ${options.target} are in database ${keptAs}` : undefined);
  await withConnection(ctx, undefined, (c) => c.query(`CREATE DATABASE ${target} CHARACTER SET ${original.charset ?? 'utf8mb4'}${original.collation ? ` COLLATE ${original.collation}` : ''}`)).catch(async (err: unknown) => {
    await forget();
    throw err;
  });
  try {
    await loadInto(ctx, flavour, options.file, options.target);
  } catch (err) {
    const e = err as DbError;
    if (!keptAs) await withConnection(ctx, undefined, (c) => c.query(`DROP DATABASE IF EXISTS ${target}`)).catch(() => undefined);
    await forget();
    throw new DbError(
      `Restore into ${options.target} failed: ${e.message}`,
      e.code === 'DISK_FULL' ? 'DISK_FULL' : 'RESTORE_FAILED',
      keptAs ? `The old tables are intact in database ${keptAs}; ${options.target} holds a partial load. Fix the cause and restore again, or move the tables back from ${keptAs}.` : `The partial database ${options.target} was dropped; nothing else changed.`,
    );
  }
  await forget();
  actions.push(keptAs ? `replaced database ${options.target} (old copy kept as ${keptAs})` : `created database ${options.target}`);
  actions.push(`loaded ${options.file}`);
  const tables = await fingerprint(ctx, options.target);
  return { target: options.target, actions, tables };
}

function mapMessage(err: unknown): string {
  const e = err as { sqlMessage?: string; message?: string };
  return e.sqlMessage ?? e.message ?? String(err);
}
