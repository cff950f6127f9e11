import { createReadStream } from 'node:fs';
import { writeHashed, type Seal } from '../../core/hashed-write.js';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { parallelGzip } from '../../core/parallel-gzip.js';
import { PassThrough, Transform, Writable } from 'node:stream';
import type { Connection } from 'mysql2/promise';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { DbError, dumpOrLost } from '../../core/errors.js';
import { findProgram, num, query, spawnClient, withClientOptionFile, withConnection, withConnections, type Flavour } from './client.js';
import { quoteIdent, validateCharsetName, validateMysqlIdentifier } from './identifiers.js';
import { versionText } from './instance.js';
import { recordStagingDatabase } from '../../core/process/staging.js';

/**
 * Row count and CHECKSUM TABLE ... EXTENDED of every base table. CHECKSUM TABLE is the server's
 * own streamed hash (a sum of per-row CRC32s: order-independent, constant memory, no size
 * limit); inside a transaction it reads that transaction's snapshot.
 */
async function fingerprintWith(c: Connection, database: string, missing: () => DbError): Promise<TableFingerprint[]> {
  const db = validateMysqlIdentifier('database', database);
  const exists = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (!exists.length) throw missing();
  const out: TableFingerprint[] = [];
  for (const n of await baseTables(c, database)) {
    const t = `${db}.${quoteIdent(n)}`;
    const count = num((await query<{ c: unknown }>(c, `SELECT COUNT(*) AS c FROM ${t}`))[0]?.c) ?? 0;
    const sum = (await query<{ Checksum: unknown }>(c, `CHECKSUM TABLE ${t} EXTENDED`))[0]?.Checksum;
    out.push({ name: n, rows: count, ...(sum !== null && sum !== undefined ? { checksum: String(sum) } : {}) });
  }
  return out;
}

async function baseTables(c: Connection, database: string): Promise<string[]> {
  return (await query<{ n: string }>(c, "SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", [database])).map((r) => r.n);
}

/** Row count and CHECKSUM TABLE of every base table: order-independent, recomputed after a restore. */
export async function fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  validateMysqlIdentifier('database', database);
  return withConnection(ctx, undefined, (c) => fingerprintWith(c, database, () => missingDatabase(ctx, database)));
}

function missingDatabase(ctx: InstanceContext, database: string): DbError {
  return new DbError(`Database "${database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
}

/** How long writers to the database's tables may wait at most while the dump and the fingerprints take their snapshots. */
export const SNAPSHOT_LOCK_WAIT_S = 30;

/**
 * The statements that line the fingerprint connection's snapshot up with the dump's
 * (`--single-transaction`): the lock connection blocks writes to the database's tables (it
 * waits for open writers first, at most SNAPSHOT_LOCK_WAIT_S), the fingerprint connection starts
 * its snapshot, the dump starts its own, and the lock goes. Both snapshots then hold the same
 * committed rows. Only the database's own tables are locked, for the moment the dump needs to
 * connect (as mydumper does with FLUSH TABLES WITH READ LOCK, but not server-wide).
 */
export function snapshotPlan(database: string, tables: readonly string[]): { lock: string[]; snapshot: string[]; unlock: string } {
  const db = validateMysqlIdentifier('database', database);
  return {
    lock: tables.length ? [`SET SESSION lock_wait_timeout = ${SNAPSHOT_LOCK_WAIT_S}`, `FLUSH TABLES ${tables.map((t) => `${db}.${quoteIdent(t)}`).join(', ')} WITH READ LOCK`] : [],
    snapshot: ['SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY'],
    unlock: 'UNLOCK TABLES',
  };
}

/**
 * Lines mariadb-dump and mysqldump write only after `--single-transaction` started their
 * snapshot (the header before it holds none of them): the first table, routine, event or view,
 * or the end of an empty dump.
 */
const PAST_SNAPSHOT = /\n-- (Table structure for table|Dumping data for table|Dumping routines for database|Dumping events for database|Temporary table structure for view|Final view structure for view|Dump completed)/;

/**
 * A pass-through that calls `onPast` once the dump's text shows it is past its START TRANSACTION
 * (see PAST_SNAPSHOT), then only passes bytes on. A marker split across chunks is still seen.
 */
export function snapshotWatch(onPast: () => void): Transform {
  let seen = false;
  let carry = '';
  const fire = () => {
    if (!seen) {
      seen = true;
      onPast();
    }
  };
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      if (!seen) {
        const text = carry + chunk.toString('latin1');
        if (PAST_SNAPSHOT.test(text)) fire();
        else carry = text.slice(-64);
      }
      cb(null, chunk);
    },
    flush(cb) {
      fire();
      cb();
    },
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

/** The longest the lock of snapshotPlan is held if the dump never shows that it is past its snapshot. */
const SNAPSHOT_LOCK_HOLD_MS = 60_000;

/**
 * mariadb-dump / mysqldump of one database (no CREATE DATABASE / USE, so it restores under
 * any name), gzip-compressed on every core (parallelGzip: the dump and one gzip stream would
 * each leave a core idle) into `file` through the sha256 as it is written. The fingerprints
 * are taken on a second connection, in a snapshot started together with the dump's (see
 * snapshotPlan), while the dump streams. What comes before the dump starts is kept short: the
 * two connections open at once, and the server's version comes with the database's charset.
 */
export async function backup(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }, flavour: Flavour): Promise<BackupOutcome> {
  validateMysqlIdentifier('database', options.database);
  const [dump, password] = await Promise.all([findProgram(ctx, flavour.dump), ctx.adminPassword()]);
  const notes: string[] = [];
  const missing = () => missingDatabase(ctx, options.database);
  const { written, tables, version } = await withClientOptionFile(ctx, flavour, (optionFile) =>
    withConnections(ctx, 2, async (conns) => {
      const fp = conns[0]!;
      const lock = conns[1]!;
      const about = (await query<{ cs: string; co: string; v: unknown }>(fp, 'SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co, VERSION() AS v FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [options.database]))[0];
      if (!about) throw missing();
      const plan = snapshotPlan(options.database, await baseTables(fp, options.database));
      let locked = false;
      try {
        for (const sql of plan.lock) await lock.query(sql);
        locked = plan.lock.length > 0;
      } catch (err) {
        notes.push(`The tables could not be locked for the moment the snapshots start (${mapMessage(err)}): the fingerprints come from a snapshot started just before the dump's, so writes in between may make them differ from the dump.`);
      }
      let released: Promise<unknown> | undefined;
      const release = () => {
        if (locked && !released) released = lock.query(plan.unlock).catch(() => undefined);
      };
      const holdLimit = setTimeout(release, SNAPSHOT_LOCK_HOLD_MS);
      try {
        for (const sql of plan.snapshot) await fp.query(sql);
        const fingerprints = fingerprintWith(fp, options.database, missing).finally(() => fp.query('COMMIT').catch(() => undefined));
        fingerprints.catch(() => undefined);
        const done = await writeHashed(options.file, async (file) => {
          const watch = snapshotWatch(release);
          const compressed = pipeline(watch, parallelGzip({ level: 6 }), file);
          compressed.catch(() => undefined);
          // the dump has no CREATE DATABASE (it restores under any name); keep the database's charset here
          watch.write(`${HEADER} charset=${about.cs} collation=${about.co}\n`);
          try {
            await dumpOrLost(ctx, `${dump.split('/').pop()} of ${options.database}`, () => spawnClient(ctx, [dump, ...dumpArgs(flavour, optionFile), '--', options.database], { stdout: watch, redact: [password] }));
          } catch (err) {
            watch.destroy();
            throw err;
          }
          await compressed;
          // with --encrypt, through age on its way into the file: no plaintext copy is written
        }, options.seal).catch(async (err: unknown) => {
          // the fingerprints are of no use now: stop them rather than wait for them
          fp.destroy();
          await fingerprints.catch(() => undefined);
          throw err;
        });
        return { written: done, tables: await fingerprints, version: versionText(about.v) };
      } finally {
        clearTimeout(holdLimit);
        release();
        await released;
      }
    }),
  );
  return {
    method: `${dump.split('/').pop()} --single-transaction --routines --triggers --events + gzip`,
    format: 'sql.gz',
    serverVersion: version,
    tables,
    scope: 'database',
    notes: [
      'Table checksums are CHECKSUM TABLE EXTENDED values with row counts, taken on a second connection in a snapshot started together with the dump\'s (its tables locked for writes for that moment), while the dump ran.',
      ...notes,
    ],
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
