import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DbError, dumpOrLost } from '../../core/errors.js';
import { run } from '../../core/process/exec.js';
import { writeHashed, type Seal } from '../../core/hashed-write.js';
import { parallelGzip } from '../../core/parallel-gzip.js';
import { followDirectory } from '../../core/follow-directory.js';
import { formatCompression, type Compression, type CompressionMethod } from '../../core/backup-compression.js';
import { chownRecursive } from '../../core/process/service-user.js';
import { startServer, stopServer } from '../../core/process/supervisor.js';
import { withScratchServer } from '../../core/process/scratch.js';
import { recordStagingDatabase } from '../../core/process/staging.js';
import { generatePassword } from '../../core/secrets.js';
import type { BackupManifestView, BackupOutcome, Engine, InstanceContents, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { libpqEnv, quoteIdent, SUPERUSER, withClient } from './client.js';
import { scramVerifier } from './admin.js';
import { isReady as baseIsReady, launchSpec as baseLaunchSpec, shutdown as baseShutdown, writeInstanceFiles } from './instance.js';
import type pg from 'pg';

/**
 * What a member of the PostgreSQL family adds to these backups (TimescaleDB: its extension
 * version in the manifest, timescaledb_pre_restore()/post_restore() around pg_restore, chunks
 * counted through their hypertable). Plain PostgreSQL uses none.
 */
export interface PgBackupHooks {
  /** "schema.name" of tables not fingerprinted on their own (their rows are counted through a parent). */
  skipTables?(client: pg.Client): Promise<Set<string>>;
  /** Extension versions to record in the manifest, read from the database being backed up. */
  extensions?(client: pg.Client): Promise<Record<string, string> | undefined>;
  /** Before anything is loaded: checks the manifest against this server (throws to refuse, nothing touched yet). */
  checkRestore?(ctx: InstanceContext, manifest: BackupManifestView): Promise<void>;
  /** On the freshly created database, before pg_restore loads it. */
  beforeLoad?(ctx: InstanceContext, database: string, manifest: BackupManifestView): Promise<void>;
  /** On that database after pg_restore (also after a failed one, before it is dropped). */
  afterLoad?(ctx: InstanceContext, database: string): Promise<void>;
}

// ---------- finding a pg_dump that can dump this server ----------

interface PgTools {
  dump: string;
  restore: string;
  major: number;
  version: string;
}

function toolDirs(ctx: InstanceContext): string[] {
  const dirs: string[] = [];
  if (ctx.config.client_bin_dir) dirs.push(ctx.config.client_bin_dir);
  if (ctx.config.bin_dir) dirs.push(ctx.config.bin_dir);
  for (const base of ['/usr/lib/postgresql']) {
    try {
      // newest first: a newer pg_dump can always dump an older server
      const versions = readdirSync(base).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
      for (const v of versions) dirs.push(join(base, v, 'bin'));
    } catch {
      /* not Debian */
    }
  }
  for (let v = 20; v >= 12; v--) dirs.push(`/usr/pgsql-${v}/bin`, `/opt/homebrew/opt/postgresql@${v}/bin`, `/usr/local/opt/postgresql@${v}/bin`);
  for (const p of (process.env['PATH'] ?? '').split(':')) if (p) dirs.push(p);
  return [...new Set(dirs)];
}

/** The first pg_dump (with its pg_restore) whose major is at least the server's. */
export async function findPgTools(ctx: InstanceContext, serverMajor: number): Promise<PgTools | undefined> {
  for (const dir of toolDirs(ctx)) {
    const dump = join(dir, 'pg_dump');
    const restore = join(dir, 'pg_restore');
    if (!existsSync(dump) || !existsSync(restore)) continue;
    const out = await run([dump, '--version'], { allowFailure: true }).catch(() => undefined);
    const m = out && /(\d+)(?:\.(\d+))?/.exec(out.stdout);
    if (!m) continue;
    const major = Number(m[1]);
    if (major >= serverMajor) return { dump, restore, major, version: out!.stdout.trim().replace(/^pg_dump \(PostgreSQL\) /, '') };
  }
  return undefined;
}

async function serverMajor(ctx: InstanceContext): Promise<{ major: number; version: string }> {
  return withClient(ctx, 'postgres', async (c) => {
    const r = await c.query<{ v: string; n: string }>("SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS n");
    return { major: Math.floor(Number(r.rows[0]!.n) / 10000), version: r.rows[0]!.v };
  });
}

// ---------- fingerprints: row count + order-independent content hash per table ----------

/** Output settings fixed so that a row's text form is the same before and after a restore. */
const STABLE_OUTPUT = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'";

/**
 * How a table's content checksum is computed. Each is written with the row count beside it.
 * - `cols64` (current): the exact (numeric) sum over rows of a 64-bit row hash, which XORs one
 *   hash per column: the column type's own extended hash function where it is exact for the
 *   type's equality (integers, text under "C", uuid, timestamps, jsonb...), else the hash of the
 *   column's text form. Columns are taken in name order, each with its own seed, so a value
 *   moved to another column or another row changes the sum. Order-independent, no sort,
 *   constant memory, and about a third of `sum64`'s CPU: it does not build every row's text.
 *   Written as "cols64:<decimal sum>".
 * - `sum64` (manifests written before cols64): the same sum of `hashtextextended(row::text)`.
 * - `md5-sorted` (manifests written before sum64): md5 over the sorted md5s of every row. It sorts
 *   every row hash and fails once the aggregate passes PostgreSQL's 1 GB string limit; kept only so
 *   that older backups still verify (its checksums are 32 hex digits).
 */
export type PgChecksumScheme = 'cols64' | 'sum64' | 'md5-sorted';

export const SUM64_PREFIX = 'sum64:';
export const COLS64_PREFIX = 'cols64:';

/** The scheme a manifest's checksums were taken with: old manifests carry bare md5s or sum64 sums. */
export function schemeOf(tables: readonly TableFingerprint[]): PgChecksumScheme {
  if (tables.some((t) => t.checksum && /^[0-9a-f]{32}$/.test(t.checksum))) return 'md5-sorted';
  if (tables.some((t) => t.checksum?.startsWith(SUM64_PREFIX))) return 'sum64';
  return 'cols64';
}

/** A column as the catalog names it: its name and the oid of its type (pg_attribute.atttypid). */
export interface PgColumn {
  name: string;
  type: number;
}

/**
 * Column types whose own extended hash is exact (equal hashes input only for values the type
 * itself calls equal, and the same on every server): keyed by type oid. Everything else
 * (numeric and floats, whose hashes ignore scale and the sign of zero; dates, intervals,
 * arrays, domains, bytea...) is hashed through its text form, under STABLE_OUTPUT.
 */
const TYPED_HASH: Record<number, (col: string, seed: number) => string> = {
  16: (c, s) => `hashint4extended(${c}::int4, ${s})`, // bool
  20: (c, s) => `hashint8extended(${c}, ${s})`,
  21: (c, s) => `hashint2extended(${c}, ${s})`,
  23: (c, s) => `hashint4extended(${c}, ${s})`,
  26: (c, s) => `hashoidextended(${c}, ${s})`,
  25: (c, s) => `hashtextextended(${c} COLLATE "C", ${s})`, // text
  1043: (c, s) => `hashtextextended(${c}::text COLLATE "C", ${s})`, // varchar
  1042: (c, s) => `hashbpcharextended(${c} COLLATE "C", ${s})`, // char(n): padding is not part of its value
  1083: (c, s) => `time_hash_extended(${c}, ${s})`,
  1114: (c, s) => `timestamp_hash_extended(${c}, ${s})`,
  1184: (c, s) => `timestamp_hash_extended(${c}::timestamp, ${s})`, // timestamptz, in UTC (STABLE_OUTPUT): one-to-one
  2950: (c, s) => `uuid_hash_extended(${c}, ${s})`,
  3802: (c, s) => `jsonb_hash_extended(${c}, ${s})`,
};

/** The cols64 row hash of a table alias `x` with these columns. Pure, for tests. */
export function rowHashExpression(columns: readonly PgColumn[]): string {
  if (!columns.length) return '0::bigint';
  // code-unit order, whatever the database's collation, so both sides of a restore agree
  const sorted = [...columns].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return sorted
    .map((col, i) => {
      const ref = `x.${quoteIdent(col.name)}`;
      const seed = i + 1;
      const hash = TYPED_HASH[col.type]?.(ref, seed) ?? `hashtextextended(${ref}::text, ${seed})`;
      // a NULL hashes to its column's seed: never dropped from the row, never equal to another column's NULL
      return `coalesce(${hash}, ${seed})`;
    })
    .join(' # ');
}

/** The per-table query of a scheme; `rel` is already quoted, `columns` are needed by cols64. */
export function checksumQuery(rel: string, scheme: PgChecksumScheme, columns: readonly PgColumn[] = []): string {
  if (scheme === 'md5-sorted') return `SELECT count(*)::bigint AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS sum FROM (SELECT md5(x::text) AS h FROM ${rel} x) s`;
  if (scheme === 'sum64') return `SELECT count(*)::bigint AS n, '${SUM64_PREFIX}' || coalesce(sum(hashtextextended(x::text, 0)), 0)::text AS sum FROM ${rel} x`;
  return `SELECT count(*)::bigint AS n, '${COLS64_PREFIX}' || coalesce(sum(${rowHashExpression(columns)}), 0)::text AS sum FROM ${rel} x`;
}

interface FingerprintTable {
  name: string;
  rel: string;
  columns: PgColumn[];
}

/** The tables a fingerprint covers, in a stable order, with their columns (one catalog query). */
async function fingerprintTables(client: pg.Client, hooks: PgBackupHooks): Promise<FingerprintTable[]> {
  await client.query(STABLE_OUTPUT);
  const skip = (await hooks.skipTables?.(client)) ?? new Set<string>();
  const tables = await client.query<{ schema: string; name: string; columns: PgColumn[] | null }>(
    `SELECT n.nspname AS schema, c.relname AS name,
            (SELECT json_agg(json_build_object('name', a.attname, 'type', a.atttypid::int8) ORDER BY a.attnum)
               FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
      ORDER BY 1, 2`,
  );
  return tables.rows
    .map((t) => ({ name: `${t.schema}.${t.name}`, rel: `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`, columns: t.columns ?? [] }))
    .filter((t) => !skip.has(t.name));
}

async function fingerprintWith(client: pg.Client, hooks: PgBackupHooks = {}, scheme: PgChecksumScheme = 'cols64'): Promise<TableFingerprint[]> {
  const out: TableFingerprint[] = [];
  for (const t of await fingerprintTables(client, hooks)) {
    const r = await client.query<{ n: string; sum: string }>(checksumQuery(t.rel, scheme, t.columns));
    out.push({ name: t.name, rows: Number(r.rows[0]!.n), checksum: r.rows[0]!.sum });
  }
  return out;
}

async function fingerprintDb(ctx: InstanceContext, database: string, hooks: PgBackupHooks = {}, scheme: PgChecksumScheme = 'cols64'): Promise<TableFingerprint[]> {
  return withClient(ctx, database, async (c) => {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    try {
      return await fingerprintWith(c, hooks, scheme);
    } finally {
      await c.query('COMMIT').catch(() => undefined);
    }
  });
}

// ---------- what a whole instance holds ----------

/** Databases (not templates), roles (not the built-in pg_*), and the settings set with ALTER SYSTEM (`config set`). */
async function contentsWith(c: pg.Client): Promise<InstanceContents> {
  const dbs = await c.query<{ name: string }>('SELECT datname AS name FROM pg_database WHERE NOT datistemplate ORDER BY 1');
  const roles = await c.query<{ name: string }>("SELECT rolname AS name FROM pg_roles WHERE rolname !~ '^pg_' ORDER BY 1");
  const settings = await c.query<{ name: string; value: string }>(
    "SELECT name, current_setting(name) AS value FROM pg_settings WHERE source = 'configuration file' AND sourcefile LIKE '%postgresql.auto.conf' ORDER BY 1",
  );
  return { databases: dbs.rows.map((r) => r.name), roles: roles.rows.map((r) => r.name), settings: settings.rows.map((r) => `${r.name} = ${r.value}`) };
}

export async function instanceContents(ctx: InstanceContext): Promise<InstanceContents> {
  return withClient(ctx, 'postgres', contentsWith);
}

// ---------- backup ----------

/**
 * What `backup --compress` takes for PostgreSQL. pg_dump's own default (zlib level 6) keeps its
 * process busy on one core for most of a dump (4.7 s of CPU in a 5.5 s dump of 1 GB of pgbench),
 * the core our fingerprint query needs beside the server's COPY, for a file 2% smaller than at
 * level 1. So the default is Zstandard (level 3) where pg_dump has it (16 and newer), else zlib
 * level 1, which every pg_restore reads.
 */
export const PG_COMPRESSION: { methods: readonly CompressionMethod[]; default: string } = { methods: ['gzip', 'lz4', 'zstd', 'none'], default: 'zstd with pg_dump 16+, else gzip:1' };

/** The compression a backup gets when none is asked for: zstd where this pg_dump has it. Pure, for tests. */
export function defaultPgCompression(dumpMajor: number, hasZstd = true): Compression {
  return dumpMajor >= 16 && hasZstd ? { method: 'zstd' } : { method: 'gzip', level: 1 };
}

const builtWith = new Map<string, Promise<boolean>>();

/**
 * Whether this pg_dump was built with `method` (lz4 and zstd are build options: PyPI's pgserver
 * pg_dump 18 has neither). pg_dump checks its --compress before it connects, so the probe points
 * it at a socket directory that does not exist: no server is ever reached, and the answer is in
 * the first line it prints.
 */
export function pgDumpSupports(dump: string, method: CompressionMethod): Promise<boolean> {
  if (method === 'gzip' || method === 'none') return Promise.resolve(true);
  const key = `${dump}\0${method}`;
  let known = builtWith.get(key);
  if (!known) {
    const nowhere = join(tmpdir(), `portunix-db-no-server-${randomBytes(6).toString('hex')}`);
    known = run([dump, `--compress=${method}`, `--host=${nowhere}`, '--port=1', '--no-password', `--file=${join(nowhere, 'x')}`, 'postgres'], { allowFailure: true, env: { PGHOSTADDR: '', PGSERVICE: '', PGCONNECT_TIMEOUT: '1' }, timeoutMs: 15_000 })
      .then((r) => !/does not support compression/i.test(`${r.stderr}${r.stdout}`))
      .catch(() => false);
    builtWith.set(key, known);
  }
  return known;
}

/**
 * pg_dump's --compress for `c`. pg_dump 15 and older take a zlib level only (0 = none); 16 and
 * newer take METHOD[:LEVEL]. Pure, for tests.
 */
export function pgDumpCompressArgs(c: Compression, dumpMajor: number, dumpVersion: string): string[] {
  if (dumpMajor >= 16) return [`--compress=${formatCompression(c)}`];
  if (c.method === 'none') return ['--compress=0'];
  if (c.method === 'gzip') return [`--compress=${c.level ?? 6}`];
  throw new DbError(`--compress ${c.method} needs pg_dump 16 or newer; the one found is ${dumpVersion}.`, 'NOT_APPLICABLE', 'Use --compress gzip[:1-9] or none, or install postgresql-client-16 (or newer) and pass its bin dir with --client-bin-dir.');
}

async function backupWith(ctx: InstanceContext, options: { database: string; file: string; jobs?: number; compress?: Compression; seal?: Seal }, hooks: PgBackupHooks): Promise<BackupOutcome> {
  const server = await serverMajor(ctx);
  const extensions = hooks.extensions ? await withClient(ctx, options.database, (c) => hooks.extensions!(c)) : undefined;
  const tools = await findPgTools(ctx, server.major);
  let outcome: BackupOutcome;
  if (tools) {
    outcome = await logicalBackup(ctx, options, server.version, tools, hooks);
  } else {
    if (options.jobs && options.jobs > 1) throw new DbError(`--jobs needs pg_dump ${server.major} or newer, and none was found; the fallback (a physical snapshot) is one copy.`, 'NOT_APPLICABLE', `Leave out --jobs, or install pg_dump ${server.major}+ (postgresql-client-${server.major}) and pass its bin dir with --client-bin-dir.`);
    if (options.compress) throw new DbError(`--compress picks pg_dump's compression, and no pg_dump ${server.major} or newer was found; the fallback (a physical snapshot) is always gzipped.`, 'NOT_APPLICABLE', `Leave out --compress, or install pg_dump ${server.major}+ (postgresql-client-${server.major}) and pass its bin dir with --client-bin-dir.`);
    ctx.progress(`no pg_dump ${server.major} or newer found; taking an online physical snapshot instead`);
    outcome = await physicalBackup(ctx, options, server, hooks);
  }
  return extensions ? { ...outcome, extensions } : outcome;
}

/** pg_export_snapshot() returns ids like 00000003-0000001B-1; nothing else is put into SET TRANSACTION SNAPSHOT. */
function snapshotId(s: string): string {
  if (!/^[0-9A-Fa-f]+(-[0-9A-Fa-f]+)+$/.test(s)) throw new DbError(`Unexpected snapshot id from the server: ${JSON.stringify(s)}.`, 'INTERNAL');
  return s;
}

/** Both settle before this does (neither is left running behind an error); the first failure wins. */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * pg_dump of one exported snapshot, and the fingerprints taken in that same snapshot on a
 * second connection while pg_dump runs: they describe exactly what the dump holds, even while
 * other sessions write. A single-file dump (custom format) goes to pg_dump's stdout and through
 * a sha256 on its way into the file; with `jobs` > 1 it is a directory-format dump of `jobs`
 * workers, each of its files hashed as the workers write it (followDirectory).
 */
async function logicalBackup(ctx: InstanceContext, options: { database: string; file: string; jobs?: number; compress?: Compression; seal?: Seal }, serverVersion: string, tools: PgTools, hooks: PgBackupHooks): Promise<BackupOutcome> {
  const compression = options.compress ?? defaultPgCompression(tools.major, tools.major >= 16 && (await pgDumpSupports(tools.dump, 'zstd')));
  const compressArgs = pgDumpCompressArgs(compression, tools.major, tools.version);
  if (!(await pgDumpSupports(tools.dump, compression.method))) throw new DbError(`This pg_dump (${tools.dump}, ${tools.version}) was built without ${compression.method}.`, 'NOT_APPLICABLE', 'Use --compress gzip[:1-9] or none, or a pg_dump built with it (the PGDG and Debian packages are) via --client-bin-dir.');
  const env = await libpqEnv(ctx, options.database);
  const jobs = options.jobs && options.jobs > 1 ? options.jobs : undefined;
  const runOptions = { env, redact: [env['PGPASSWORD']!], timeoutMs: 6 * 60 * 60_000 };
  // the exporting transaction stays open until pg_dump and the fingerprinting session have both imported its snapshot
  return dumpOrLost(ctx, `pg_dump of ${options.database}`, () => withClient(ctx, options.database, async (holder) => {
    await holder.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    try {
      const snapshot = snapshotId((await holder.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0]!.s);
      const fingerprints = withClient(ctx, options.database, async (c) => {
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
        try {
          await c.query(`SET TRANSACTION SNAPSHOT '${snapshot}'`);
          return await fingerprintWith(c, hooks);
        } finally {
          await c.query('COMMIT').catch(() => undefined);
        }
      });
      const common = [`--snapshot=${snapshot}`, '--no-password', ...compressArgs];
      let dumping: Promise<BackupOutcome['written']>;
      if (jobs) {
        ctx.progress(`pg_dump ${tools.version}: dumping ${options.database} (directory format, ${jobs} jobs, ${formatCompression(compression)}), fingerprinting the same snapshot alongside`);
        // each file is hashed as the workers write it, not read again afterwards
        const follow = followDirectory(options.file);
        dumping = run([tools.dump, '--format=directory', `--jobs=${jobs}`, ...common, `--file=${options.file}`, options.database], runOptions).then(
          async () => ({ files: await follow.finish() }),
          async (err: unknown) => {
            await follow.stop();
            throw err;
          },
        );
      } else {
        ctx.progress(`pg_dump ${tools.version}: dumping ${options.database} (custom format, ${formatCompression(compression)}), fingerprinting the same snapshot alongside`);
        // with --encrypt, through age on its way into the file: no plaintext copy is ever written
        dumping = writeHashed(options.file, (stdout) => run([tools.dump, '--format=custom', ...common, options.database], { ...runOptions, stdout }), options.seal);
      }
      const [tables, written] = await both(fingerprints, dumping);
      return {
        method: `pg_dump ${jobs ? `directory format, ${jobs} jobs` : 'custom format'}, ${formatCompression(compression)} (pg_dump ${tools.version})`,
        format: jobs ? 'dumpdir' : 'dump',
        serverVersion,
        tables,
        scope: 'database' as const,
        ...(written ? { written } : {}),
      };
    } finally {
      await holder.query('COMMIT').catch(() => undefined);
    }
  }));
}

/**
 * The pg_wal entries a base backup needs: the segments from the one holding its start LSN to the
 * one holding its stop LSN, on that timeline (segment names are fixed-width hex, so they sort in
 * LSN order), and the timeline history files. Pure, for tests.
 */
export function walNeeded(names: readonly string[], first: string, last: string): string[] {
  const tli = first.slice(0, 8);
  return names.filter((n) => (/^[0-9A-F]{24}$/.test(n) && n.startsWith(tli) && n >= first && n <= last) || /^[0-9A-F]{8}\.history$/.test(n)).sort();
}

const SKIP_IN_SNAPSHOT = new Set(['postmaster.pid', 'postmaster.opts', 'pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans']);
const EMPTY_DIRS_IN_SNAPSHOT = ['pg_wal', 'pg_replslot', 'pg_stat_tmp', 'pg_dynshmem', 'pg_notify', 'pg_serial', 'pg_snapshots', 'pg_subtrans'];

/** Copies a live directory tree, tolerating files that vanish mid-copy (WAL replay repairs the rest). */
async function copyTree(from: string, to: string, skip: Set<string> = new Set()): Promise<void> {
  await mkdir(to, { recursive: true, mode: 0o700 });
  let entries: string[];
  try {
    entries = await readdir(from);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of entries) {
    if (skip.has(name) || name.startsWith('pgsql_tmp')) continue;
    const src = join(from, name);
    const dst = join(to, name);
    const info = await lstat(src).catch(() => undefined);
    if (!info) continue;
    try {
      if (info.isDirectory()) await copyTree(src, dst);
      else if (info.isSymbolicLink()) await symlink(await readlink(src), dst);
      else await copyFile(src, dst);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * The documented fallback when no pg_dump of this major exists (portable binaries ship
 * none): an online base backup through pg_backup_start/stop, with the WAL it needs, proved
 * restorable before it is kept by starting a scratch server on it and fingerprinting it.
 * It restores the whole instance.
 */
async function physicalBackup(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }, server: { major: number; version: string }, hooks: PgBackupHooks): Promise<BackupOutcome> {
  // staged beside the instance's data (which the service user can reach), not in the owner-only backup folder
  const staging = await mkdtemp(join(dirname(ctx.paths.dataDir), '.snapshot-'));
  let takenAt = '';
  try {
    await withClient(ctx, 'postgres', async (c) => {
      const label = `portunix-db ${new Date().toISOString()}`;
      const startLsn = server.major >= 15 ? (await c.query<{ lsn: string }>('SELECT pg_backup_start($1, true)::text AS lsn', [label])).rows[0]!.lsn : (await c.query<{ lsn: string }>('SELECT pg_start_backup($1, true, false)::text AS lsn', [label])).rows[0]!.lsn;
      let stopped = false;
      try {
        ctx.progress('copying the data directory (online)');
        await copyTree(ctx.paths.dataDir, staging, SKIP_IN_SNAPSHOT);
        const r = await c.query<{ labelfile: string; spcmapfile: string | null; lsn: string }>(server.major >= 15 ? 'SELECT labelfile, spcmapfile, lsn::text AS lsn FROM pg_backup_stop(false)' : 'SELECT labelfile, spcmapfile, lsn::text AS lsn FROM pg_stop_backup(false, false)');
        stopped = true;
        takenAt = new Date().toISOString();
        const segments = (await c.query<{ first: string; last: string }>('SELECT pg_walfile_name($1::pg_lsn) AS first, pg_walfile_name($2::pg_lsn) AS last', [startLsn, r.rows[0]!.lsn])).rows[0]!;
        for (const d of EMPTY_DIRS_IN_SNAPSHOT) await mkdir(join(staging, d), { recursive: true, mode: 0o700 });
        // only the WAL from backup start to stop (pg_backup_stop switched segments, so the last one is complete), not all of pg_wal
        await mkdir(join(staging, 'pg_wal', 'archive_status'), { recursive: true, mode: 0o700 });
        const wal = walNeeded(await readdir(join(ctx.paths.dataDir, 'pg_wal')), segments.first, segments.last);
        ctx.progress(`copying the ${wal.length - wal.filter((n) => n.endsWith('.history')).length} WAL segment(s) the backup needs (${segments.first} to ${segments.last})`);
        for (const name of wal) await copyFile(join(ctx.paths.dataDir, 'pg_wal', name), join(staging, 'pg_wal', name));
        await writeFile(join(staging, 'backup_label'), r.rows[0]!.labelfile);
        if (r.rows[0]!.spcmapfile) await writeFile(join(staging, 'tablespace_map'), r.rows[0]!.spcmapfile);
      } finally {
        if (!stopped) await c.query(server.major >= 15 ? 'SELECT pg_backup_stop(false)' : 'SELECT pg_stop_backup(false, false)').catch(() => undefined);
      }
    });
    ctx.progress('proving the snapshot restores: starting a scratch server on it');
    const { tables, contents } = await withSnapshotServer(ctx, staging, async (scratch) => ({
      tables: await fingerprintDb(scratch, options.database, hooks),
      // what restoring it brings back (and so replaces), read from the snapshot itself
      contents: { ...(await instanceContents(scratch)), taken_at: takenAt },
    }));
    ctx.progress('compressing the snapshot');
    // the scratch run left the snapshot recovered and cleanly shut down: that is what we keep
    await rm(join(staging, 'postmaster.pid'), { force: true });
    // gzip on every core (tar itself would use one): the same .tar.gz, a series of gzip members
    const written = await writeHashed(options.file, (stream) => {
      const gz = parallelGzip();
      return Promise.all([run(['tar', '-cf', '-', '-C', staging, '.'], { timeoutMs: 6 * 60 * 60_000, stdout: gz }), pipeline(gz, stream)]);
    }, options.seal);
    return {
      written,
      method: `physical snapshot (online base backup; no pg_dump ${server.major}+ on this machine)`,
      format: 'tar.gz',
      serverVersion: server.version,
      tables,
      scope: 'instance',
      contents,
      notes: [`Restores the whole instance. Install pg_dump ${server.major} or newer for per-database logical dumps.`],
    };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * This engine, as the supervisor needs it, for servers on a data dir that is not the instance's
 * own configuration (a snapshot copy): port, socket dir and archiving set on the command line.
 */
function engineFor(port?: number, runDir?: string): Engine {
  if (port === undefined) return { info: { id: 'postgresql' }, install: {}, unsupported: {}, launchSpec: baseLaunchSpec, isReady: baseIsReady, shutdown: baseShutdown } as unknown as Engine;
  return {
    info: { id: 'postgresql' },
    install: {},
    unsupported: {},
    launchSpec: async (c: InstanceContext) => {
      const spec = await baseLaunchSpec(c);
      if (port === undefined || runDir === undefined) return spec;
      return { ...spec, argv: [...spec.argv, '-p', String(port), '-k', runDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'archive_mode=off'] };
    },
    isReady: async (c: InstanceContext) => withClient(c, 'postgres', async () => true, { timeoutMs: 2000 }).catch(() => false),
  } as unknown as Engine;
}

/**
 * Runs a throw-away server (the core's scratch service) of the instance's own binaries on a
 * copy of a data dir. The copy shares the instance's superuser password.
 */
async function withSnapshotServer<T>(ctx: InstanceContext, dataDir: string, fn: (scratch: InstanceContext) => Promise<T>): Promise<T> {
  if (ctx.runAs) await chownRecursive(dataDir, ctx.runAs);
  await chmod(dataDir, 0o700);
  const lazy: Engine = {
    ...engineFor(),
    launchSpec: async (c: InstanceContext) => engineFor(c.config.port, c.paths.runDir).launchSpec!(c),
  } as Engine;
  try {
    return await withScratchServer(lazy, ctx, { dataDir }, fn);
  } catch (err) {
    if (err instanceof DbError && err.code !== 'VERIFY_FAILED') throw err;
    throw new DbError(`The snapshot did not start as a server: ${(err as Error).message}`, 'VERIFY_FAILED', 'The backup was not kept. See the server log above.');
  }
}

// ---------- restore ----------

async function dropQuietly(ctx: InstanceContext, name: string): Promise<void> {
  await withClient(ctx, 'postgres', (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`)).catch(() => undefined);
}

async function pgRestoreInto(ctx: InstanceContext, file: string, database: string, dumpVersion: string, scratch = false, jobs?: number): Promise<void> {
  const server = await serverMajor(ctx);
  const dumpMajor = Number(/pg_dump (\d+)/.exec(dumpVersion)?.[1] ?? server.major);
  const tools = await findPgTools(ctx, Math.max(server.major, dumpMajor));
  if (!tools) throw new DbError(`No pg_restore ${Math.max(server.major, dumpMajor)} or newer found to read this dump.`, 'NOT_INSTALLED', `Install postgresql-client-${Math.max(server.major, dumpMajor)}.`);
  if (scratch) await tuneScratchServer(ctx);
  const env = await libpqEnv(ctx, database);
  // parallel workers cannot share one transaction; the database is new (dropped again when the load fails), so nothing half-loaded survives either way
  const mode = jobs && jobs > 1 ? [`--jobs=${jobs}`] : ['--single-transaction'];
  await run([tools.restore, '--exit-on-error', ...mode, '--no-password', ...(scratch ? ['--no-owner', '--no-privileges'] : []), `--dbname=${database}`, file], { env, redact: [env['PGPASSWORD']!], timeoutMs: 6 * 60 * 60_000 });
}

/**
 * A scratch server is thrown away after the verify, so it takes the load the fastest way there
 * is: wal_level minimal (a table created and filled in pg_restore's single transaction writes no
 * WAL at all), no fsync, no full-page writes, no checkpoints or autovacuum in the way. Set with
 * ALTER SYSTEM in the scratch copy and one restart. The live server's settings are never touched.
 */
const SCRATCH_SETTINGS = ["wal_level = 'minimal'", 'max_wal_senders = 0', "archive_mode = 'off'", 'fsync = off', 'full_page_writes = off', 'synchronous_commit = off', "max_wal_size = '64GB'", "checkpoint_timeout = '1d'", 'autovacuum = off'];

async function tuneScratchServer(ctx: InstanceContext): Promise<void> {
  await withClient(ctx, 'postgres', async (c) => {
    for (const setting of SCRATCH_SETTINGS) await c.query(`ALTER SYSTEM SET ${setting}`);
  });
  const engine = engineFor();
  await stopServer(engine, ctx);
  await startServer(engine, ctx);
}

/** Creates `database` and loads the dump into it between the hooks; drops it again when that fails. */
async function loadDump(ctx: InstanceContext, file: string, database: string, manifest: BackupManifestView, hooks: PgBackupHooks, scratch = false, staging = false, jobs?: number): Promise<() => Promise<void>> {
  // a staging name is random, so it is recorded before it exists; a new target only once this command made it
  let forget = staging && !scratch ? await recordStagingDatabase(ctx, database) : async () => undefined;
  try {
    await withClient(ctx, 'postgres', (c) => c.query(`CREATE DATABASE ${quoteIdent(database)}`));
  } catch (err) {
    await forget();
    throw err;
  }
  if (!staging && !scratch) forget = await recordStagingDatabase(ctx, database);
  try {
    await hooks.beforeLoad?.(ctx, database, manifest);
    try {
      await pgRestoreInto(ctx, file, database, manifest.method, scratch, jobs);
    } finally {
      await hooks.afterLoad?.(ctx, database);
    }
  } catch (err) {
    await dropQuietly(ctx, database);
    await forget();
    throw err;
  }
  return forget;
}

async function restoreWith(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean; scratch?: boolean; jobs?: number }, hooks: PgBackupHooks): Promise<RestoreOutcome> {
  await hooks.checkRestore?.(ctx, options.manifest);
  if (options.manifest.scope === 'instance') {
    if (options.jobs && options.jobs > 1) throw new DbError('This backup is a physical snapshot of the whole instance: it is unpacked, not loaded by pg_restore workers.', 'NOT_APPLICABLE', 'Leave out --jobs.');
    return restoreSnapshot(ctx, options, hooks);
  }
  const actions: string[] = [];
  const suffix = randomBytes(3).toString('hex');
  const loadInto = options.replace ? `${options.target}__restore_${suffix}`.slice(0, 63) : options.target;
  let loaded: () => Promise<void>;
  try {
    ctx.progress(`pg_restore into ${loadInto}`);
    loaded = await loadDump(ctx, options.file, loadInto, options.manifest, hooks, !!options.scratch, options.replace, options.jobs);
  } catch (err) {
    const state = options.replace ? `"${options.target}" was not touched` : `"${options.target}" was not created`;
    throw new DbError(`Restore failed; ${state}. ${(err as Error).message}`, 'RESTORE_FAILED', 'Check the message above (a missing role is a common cause: create it, then retry).');
  }
  // loaded in full: from here a kill leaves complete data under one of its names, never a half load to drop
  await loaded();
  if (!options.replace) {
    actions.push(`created database ${options.target} and restored ${options.manifest.tables.length} tables into it`);
  } else {
    const old = `${options.target}__old_${suffix}`.slice(0, 63);
    await withClient(ctx, 'postgres', async (c) => {
      await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [options.target]);
      await c.query(`ALTER DATABASE ${quoteIdent(options.target)} RENAME TO ${quoteIdent(old)}`);
      try {
        await c.query(`ALTER DATABASE ${quoteIdent(loadInto)} RENAME TO ${quoteIdent(options.target)}`);
      } catch (err) {
        await c.query(`ALTER DATABASE ${quoteIdent(old)} RENAME TO ${quoteIdent(options.target)}`).catch(() => undefined);
        throw err;
      }
      await c.query(`DROP DATABASE ${quoteIdent(old)} WITH (FORCE)`);
    });
    actions.push(`restored into ${loadInto}, then swapped it in for ${options.target} (sessions on it were closed) and dropped the old copy`);
  }
  return { target: options.target, actions, tables: await fingerprintDb(ctx, options.target, hooks, schemeOf(options.manifest.tables)) };
}

async function restoreSnapshot(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string }, hooks: PgBackupHooks): Promise<RestoreOutcome> {
  const engine = engineFor();
  const dataDir = ctx.paths.dataDir;
  const stamp = new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15);
  const incoming = `${dataDir}.restore-${stamp}`;
  const previous = `${dataDir}.before-restore-${stamp}`;
  const actions: string[] = [];
  await mkdir(incoming, { recursive: true, mode: 0o700 });
  try {
    ctx.progress('unpacking the snapshot beside the live data');
    await run(['tar', '-xzf', options.file, '-C', incoming]);
    if (ctx.runAs) await chownRecursive(incoming, ctx.runAs);
    await chmod(incoming, 0o700);
  } catch (err) {
    await rm(incoming, { recursive: true, force: true });
    throw new DbError(`Could not unpack ${options.file}: ${(err as Error).message}`, 'RESTORE_FAILED', 'Nothing was changed.');
  }
  await stopServer(engine, ctx);
  actions.push(`stopped ${ctx.engine}/${ctx.name}`);
  await rename(dataDir, previous);
  await rename(incoming, dataDir);
  actions.push(`swapped in the snapshot; the previous data directory is kept at ${previous} (delete it once you are satisfied)`);
  try {
    await startServer(engine, ctx);
  } catch (err) {
    await stopServer(engine, ctx).catch(() => undefined);
    await rename(dataDir, `${dataDir}.failed-restore-${stamp}`);
    await rename(previous, dataDir);
    await startServer(engine, ctx).catch(() => undefined);
    throw new DbError(`The restored snapshot did not start (${(err as Error).message}); the previous data directory was put back and started.`, 'RESTORE_FAILED', `The unpacked snapshot is at ${dataDir}.failed-restore-${stamp} for inspection.`);
  }
  actions.push(`started ${ctx.engine}/${ctx.name} on the restored data`);
  return { target: options.target, actions, tables: await fingerprintDb(ctx, options.target, hooks, schemeOf(options.manifest.tables)).catch(() => []) };
}

/** Settings in postgresql.auto.conf that belong to the instance, not to its data: a new instance sets its own. */
const INSTANCE_OWN_SETTINGS = /^\s*(port|listen_addresses|unix_socket_directories|ssl|ssl_cert_file|ssl_key_file|ssl_ca_file|data_directory|hba_file|ident_file|config_file|archive_command|archive_mode)\s*=/i;

/**
 * `restore --as-instance NAME`: the new instance's data dir (already made, empty) gets the
 * snapshot, then its own certificate, port, socket dir, pg_hba.conf and superuser password
 * (set in single-user mode, so the server never runs with the source's password). The install
 * that called this registers and starts it.
 */
async function initializeFromBackup(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; source: InstanceContext }): Promise<void> {
  if (options.manifest.scope !== 'instance') throw new DbError('This backup is a dump of one database, not a snapshot of a whole instance, so it cannot make a new instance.', 'USAGE', 'Restore it into a database with --target NAME (add --instance NAME for another existing instance).');
  const dataDir = ctx.paths.dataDir;
  const existing = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (existing) throw new DbError(`${dataDir} already holds a PostgreSQL ${existing.trim()} cluster.`, 'DATA_DIR_CONFLICT', 'Choose another instance name. Nothing was changed.');
  ctx.progress(`unpacking the snapshot into ${dataDir}`);
  await run(['tar', '-xzf', options.file, '-C', dataDir], { timeoutMs: 6 * 60 * 60_000 });
  const major = (await readFile(join(dataDir, 'PG_VERSION'), 'utf8').catch(() => '')).trim();
  if (major !== ctx.config.version.split('.')[0]) {
    throw new DbError(`The snapshot is of PostgreSQL ${major || '(unknown)'}, but the new instance runs PostgreSQL ${ctx.config.version}.`, 'VERSION_MISMATCH', 'A physical snapshot only starts on its own major version.');
  }
  for (const f of ['postmaster.pid', 'postmaster.opts', '.portunix-db']) await rm(join(dataDir, f), { force: true });
  const auto = join(dataDir, 'postgresql.auto.conf');
  const autoText = await readFile(auto, 'utf8').catch(() => undefined);
  if (autoText !== undefined) await writeFile(auto, autoText.split('\n').filter((l) => !INSTANCE_OWN_SETTINGS.test(l)).join('\n'), { mode: 0o600 });
  if (ctx.runAs) await chownRecursive(dataDir, ctx.runAs);
  await chmod(dataDir, 0o700);
  await writeInstanceFiles(ctx);
  const password = generatePassword();
  const superuser = options.source.config.superuser ?? SUPERUSER;
  ctx.progress(`giving ${ctx.engine}/${ctx.name} its own ${superuser} password (single-user mode, before it listens)`);
  const postgres = ctx.config.bin_dir ? join(ctx.config.bin_dir, 'postgres') : 'postgres';
  // the SCRAM verifier, not the password, goes to the server
  const out = await ctx.exec([postgres, '--single', '-D', dataDir, 'postgres'], { input: `ALTER ROLE ${quoteIdent(superuser)} PASSWORD '${scramVerifier(password).replace(/'/g, "''")}'\n`, env: { LC_ALL: 'C', LANG: 'C' }, timeoutMs: 5 * 60_000 });
  if (/\b(ERROR|FATAL|PANIC):/.test(out.stdout + out.stderr)) throw new DbError(`Setting the new instance's password failed: ${(out.stdout + out.stderr).trim().split('\n').slice(-3).join(' ')}`, 'RESTORE_FAILED', 'The new instance was not registered.');
  await ctx.setAdminPassword(password);
}

/**
 * Proves a whole-instance snapshot restores without touching live data: unpacked into a private
 * folder, a scratch server started on it. (Logical dumps are verified by the core, restored into
 * a fresh scratch server, so nothing from a dump runs on the live one.)
 */
async function verifyWith(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView }, hooks: PgBackupHooks): Promise<{ tables: TableFingerprint[]; method: string }> {
  await hooks.checkRestore?.(ctx, options.manifest);
  if (options.manifest.scope !== 'instance') throw new DbError('Logical dumps are verified in a scratch server by `backup verify`, never in the live one.', 'NOT_APPLICABLE', 'Run `portunix-db backup verify <file>`.');
  const dir = await mkdtemp(join(dirname(ctx.paths.dataDir), '.verify-'));
  try {
    await run(['tar', '-xzf', options.file, '-C', dir]);
    const tables = await withSnapshotServer(ctx, dir, (scratch) => fingerprintDb(scratch, options.manifest.database, hooks, schemeOf(options.manifest.tables)));
    return { tables, method: 'unpacked the snapshot and started a scratch server on it' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The backup operations with a family member's hooks. */
export function pgBackupOps(hooks: PgBackupHooks = {}): Pick<Engine, 'backup' | 'restore' | 'fingerprint' | 'verifyBackup' | 'instanceContents' | 'initializeFromBackup'> {
  return {
    instanceContents,
    initializeFromBackup,
    backup: (ctx, options) => backupWith(ctx, options, hooks),
    restore: (ctx, options) => restoreWith(ctx, options, hooks),
    fingerprint: (ctx, database) => fingerprintDb(ctx, database, hooks),
    verifyBackup: (ctx, options) => verifyWith(ctx, options, hooks),
  };
}

const plain = pgBackupOps();
export const backup = plain.backup!;
export const restore = plain.restore!;
export const fingerprint = plain.fingerprint!;
export const verifyBackup = plain.verifyBackup!;
export { initializeFromBackup };
