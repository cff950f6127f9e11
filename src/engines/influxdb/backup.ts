import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { sleep } from '../../core/process/supervisor.js';
import { findProgram } from '../../core/tls.js';
import type { Seal, WrittenDigest } from '../../core/hashed-write.js';
import { systemTar, writeTarGz } from '../../core/tar-write.js';
import { getSecretStore, secretKey } from '../../core/secrets.js';
import { publicCertPath } from '../../core/tls.js';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { rows, withInfluxQl, type InfluxQl, type Series, TOKEN_SECRET, V2_ORG } from './client.js';
import { fluxString, quoteIdent, validateIdentifier } from './identifiers.js';
import { measurements, retentionPolicies } from './inspect.js';
import { hasTls, rpcAddress, serverVersionV1, serverVersionV2 } from './instance.js';
import { dropDatabaseV2, listDatabasesV2, v2 } from './admin.js';

/** The folder name inside every portunix-db InfluxDB backup archive. */
export const ARCHIVE_ROOT = 'backup';

// ---------- content fingerprints (pure parts tested on reply shapes) ----------

/**
 * One canonical line per point: tags (sorted), time, fields in column order; the checksum is
 * the sha256 of the sorted lines, so it does not depend on the order the server returns.
 */
export function pointLines(series: Series[]): string[] {
  const lines: string[] = [];
  for (const s of series) {
    const tags = JSON.stringify(Object.entries(s.tags ?? {}).filter(([, v]) => v !== '').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const timeAt = s.columns.indexOf('time');
    for (const v of s.values ?? []) {
      const fields = s.columns.map((c, i) => [c, v[i]] as const).filter(([c, x]) => c !== 'time' && x !== null);
      lines.push(`${tags}|${String(v[timeAt])}|${JSON.stringify(fields)}`);
    }
  }
  return lines;
}

export function checksumOf(lines: string[]): string {
  const h = createHash('sha256');
  for (const l of [...lines].sort()) h.update(l).update('\n');
  return h.digest('hex');
}

async function fingerprintWith(c: InfluxQl, database: string): Promise<TableFingerprint[]> {
  const out: TableFingerprint[] = [];
  const ms = await measurements(c, database);
  for (const rp of await retentionPolicies(c, database)) {
    for (const m of ms) {
      const series = await c.query(`SELECT * FROM ${quoteIdent(database)}.${quoteIdent(rp.name)}.${quoteIdent(m)} GROUP BY *`, { epoch: 'ns' });
      const lines = pointLines(series);
      if (lines.length) out.push({ name: `${rp.name}.${m}`, rows: lines.length, checksum: checksumOf(lines) });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Points per retention-policy.measurement, with a content checksum of every point. */
export async function fingerprintV1(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  validateIdentifier('database', database);
  return withInfluxQl(ctx, (c) => fingerprintWith(c, database), { timeoutMs: 10 * 60_000 });
}

/**
 * A freshly restored shard answers "shard is disabled" until influxd has opened it: fingerprint
 * once it is, within a bound.
 */
async function fingerprintRestored(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return await fingerprintV1(ctx, database);
    } catch (err) {
      if (!/shard is disabled/i.test((err as Error).message) || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

// ---------- archives ----------

const tarProgram = () => systemTar('InfluxDB backups are tar.gz archives of the portable backup');

async function privateTemp(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `pdb-influx-${label}-`));
  await chmod(dir, 0o700);
  return dir;
}

/**
 * Member names of an archive: every one must sit under `backup/`, with no absolute path, no
 * `..` and no link, before anything is unpacked. Pure, for tests.
 */
export function checkMembers(listing: string): string[] {
  const names = listing.split('\n').map((l) => l.trim()).filter(Boolean);
  if (!names.length) throw new DbError('The backup archive is empty.', 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  for (const n of names) {
    if (n.startsWith('/') || n.split('/').includes('..') || !(n === `${ARCHIVE_ROOT}/` || n === ARCHIVE_ROOT || n.startsWith(`${ARCHIVE_ROOT}/`))) {
      throw new DbError(`The backup archive holds an unexpected member ${JSON.stringify(n)}.`, 'BACKUP_CORRUPT', 'Nothing was changed. This is not a portunix-db InfluxDB backup; use another one.');
    }
  }
  return names;
}

async function unpack(ctx: InstanceContext, file: string): Promise<{ dir: string; root: string }> {
  const tar = tarProgram();
  const listing = await ctx.exec([tar, '-tzf', file], { asServiceUser: false, allowFailure: true, timeoutMs: 10 * 60_000 });
  if (listing.code !== 0) throw new DbError(`${file} is not a readable tar.gz archive: ${listing.stderr.trim().split('\n').slice(-1)[0] ?? ''}`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  checkMembers(listing.stdout);
  const verbose = await ctx.exec([tar, '-tvzf', file], { asServiceUser: false, timeoutMs: 10 * 60_000 });
  if (verbose.stdout.split('\n').some((l) => /^[lhbcp]/.test(l))) throw new DbError('The backup archive holds links or special files.', 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  const dir = await privateTemp('restore');
  const r = await ctx.exec([tar, '-xzf', file, '-C', dir, '--no-same-owner', '--no-same-permissions'], { asServiceUser: false, allowFailure: true, timeoutMs: 30 * 60_000 });
  if (r.code !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new DbError(`${file} could not be unpacked: ${r.stderr.trim().split('\n').slice(-1)[0] ?? ''}`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  }
  return { dir, root: join(dir, ARCHIVE_ROOT) };
}

/** The portable backup archived as it is hashed (and sealed, with --encrypt): nothing is read back. */
function pack(dir: string, file: string, seal?: Seal): Promise<WrittenDigest> {
  return writeTarGz(file, { tar: tarProgram(), dir, entries: [ARCHIVE_ROOT] }, seal, 30 * 60_000);
}

// ---------- 1.x: influxd backup/restore -portable ----------

/** The databases a portable backup's manifest names. Pure, for tests. */
export function portableDatabases(manifestJson: string): string[] {
  const m = JSON.parse(manifestJson) as { files?: { database?: string }[] };
  return [...new Set((m.files ?? []).map((f) => f.database).filter((d): d is string => !!d))];
}

async function portableManifest(root: string): Promise<{ file: string; databases: string[] }> {
  const names = await readdir(root).catch(() => [] as string[]);
  const manifest = names.find((n) => n.endsWith('.manifest'));
  if (!manifest) throw new DbError('The backup has no portable manifest (*.manifest): it is not an `influxd backup -portable` backup.', 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  try {
    return { file: manifest, databases: portableDatabases(await readFile(join(root, manifest), 'utf8')) };
  } catch {
    throw new DbError(`The portable manifest ${manifest} is unreadable.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  }
}

async function influxdBackup(ctx: InstanceContext, database: string, dest: string): Promise<void> {
  const r = await ctx.exec(['influxd', 'backup', '-portable', '-database', database, '-host', await rpcAddress(ctx), dest], { asServiceUser: false, allowFailure: true, timeoutMs: 60 * 60_000 });
  if (r.code !== 0) throw new DbError(`influxd backup failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, 'COMMAND_FAILED', `Look at \`portunix-db logs influxdb --instance ${ctx.name}\`.`);
}

async function influxdRestore(ctx: InstanceContext, root: string, from: string, into: string): Promise<void> {
  const r = await ctx.exec(['influxd', 'restore', '-portable', '-db', from, '-newdb', into, '-host', await rpcAddress(ctx), root], { asServiceUser: false, allowFailure: true, timeoutMs: 60 * 60_000 });
  if (r.code !== 0) throw new DbError(`influxd restore into ${into} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, 'RESTORE_FAILED');
}

async function dbExists(c: InfluxQl, name: string): Promise<boolean> {
  return rows((await c.query('SHOW DATABASES'))[0]).some((r) => r['name'] === name);
}

function scratchName(base: string): string {
  return `${base.slice(0, 40)}_pdb_${randomBytes(4).toString('hex')}`;
}

function describe(t: TableFingerprint[]): string {
  return t.length ? t.map((x) => `${x.name}=${x.rows}`).join(', ') : 'no points';
}

function same(a: TableFingerprint[], b: TableFingerprint[]): boolean {
  const norm = (t: TableFingerprint[]) => JSON.stringify(t.map((x) => [x.name, x.rows, x.checksum ?? '']).sort());
  return norm(a) === norm(b);
}

/**
 * `influxd backup -portable` of one database into a private temp dir, packed as tar.gz. The
 * point counts and checksums in the manifest come from the copy itself: it is restored into a
 * scratch database, fingerprinted, and the scratch database dropped.
 */
export async function backupV1(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }): Promise<BackupOutcome> {
  validateIdentifier('database', options.database);
  const serverVersion = await serverVersionV1(ctx);
  if (!(await withInfluxQl(ctx, (c) => dbExists(c, options.database)))) throw new DbError(`Database ${options.database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND', 'List databases with `portunix-db list --type influxdb`.');
  const dir = await privateTemp('backup');
  const scratch = scratchName(options.database);
  try {
    const root = join(dir, ARCHIVE_ROOT);
    ctx.progress(`influxd backup -portable -database ${options.database}`);
    await influxdBackup(ctx, options.database, root);
    await portableManifest(root);
    ctx.progress('counting points in the copy (restored into a scratch database)');
    await influxdRestore(ctx, root, options.database, scratch);
    const tables = await fingerprintRestored(ctx, scratch);
    const written = await pack(dir, options.file, options.seal);
    return {
      written,
      method: `influxd backup -portable (InfluxDB ${serverVersion}), tar.gz`,
      format: 'tar.gz',
      serverVersion,
      tables,
      scope: 'database',
      notes: ['Point counts and checksums per retention-policy.measurement come from restoring the copy into a scratch database.'],
    };
  } finally {
    await withInfluxQl(ctx, async (c) => (await dbExists(c, scratch)) && c.query(`DROP DATABASE ${quoteIdent(scratch)}`, { write: true })).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Restores into `target` (the backed-up name or a new one). An existing target is first backed
 * up aside, dropped, and put back if the restore does not match the manifest.
 */
export async function restoreV1(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  validateIdentifier('database', options.target);
  const { dir, root } = await unpack(ctx, options.file);
  const actions: string[] = [];
  let aside: string | undefined;
  try {
    const pm = await portableManifest(root);
    const source = options.manifest.database;
    if (!pm.databases.includes(source)) throw new DbError(`The portable backup holds ${pm.databases.join(', ') || 'no database'}, not ${source} as its manifest says.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    const exists = await withInfluxQl(ctx, (c) => dbExists(c, options.target));
    if (exists && !options.replace) throw new DbError(`Database ${options.target} already exists on influxdb/${ctx.name}.`, 'CONFIRMATION_REQUIRED', 'Pass --force to replace it, or --target NEW_NAME.');
    if (exists) {
      aside = join(dir, 'aside');
      await influxdBackup(ctx, options.target, aside);
      await withInfluxQl(ctx, (c) => c.query(`DROP DATABASE ${quoteIdent(options.target)}`, { write: true }));
      actions.push(`dropped database ${options.target} (a portable copy was kept until the restore was verified)`);
    }
    try {
      await influxdRestore(ctx, root, source, options.target);
      actions.push(`influxd restore -portable -db ${source} -newdb ${options.target}`);
      const got = await fingerprintRestored(ctx, options.target);
      if (options.manifest.tables.length && !same(got, options.manifest.tables)) {
        throw new DbError(`After the restore ${options.target} holds ${describe(got)}; the manifest says ${describe(options.manifest.tables)}.`, 'RESTORE_FAILED');
      }
      actions.push(`verified points and checksums: ${describe(got)}`);
      return { target: `influxdb/${ctx.name} database ${options.target}`, actions, tables: got };
    } catch (err) {
      await withInfluxQl(ctx, async (c) => (await dbExists(c, options.target)) && c.query(`DROP DATABASE ${quoteIdent(options.target)}`, { write: true })).catch(() => undefined);
      if (aside) {
        await influxdRestore(ctx, aside, options.target, options.target).then(
          () => actions.push(`put the previous ${options.target} back`),
          () => actions.push(`could NOT put the previous ${options.target} back`),
        );
      }
      const e = err instanceof DbError ? err : new DbError((err as Error).message, 'RESTORE_FAILED');
      throw new DbError(`${e.message}${actions.length ? ` (${actions.join('; ')})` : ''}`, e.code, e.hint);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------- 2.x: influx backup/restore (the influx CLI), Flux fingerprints ----------

/** `influx` gets the host and token from its environment (never argv) and trusts the instance certificate. */
async function influxCliEnv(ctx: InstanceContext): Promise<Record<string, string>> {
  const token = await getSecretStore().get(secretKey(ctx.engine, ctx.name, TOKEN_SECRET));
  if (!token) throw new DbError(`No stored operator token for influxdb/${ctx.name}.`, 'AUTH_FAILED');
  return {
    INFLUX_HOST: `${hasTls(ctx) ? 'https' : 'http'}://127.0.0.1:${ctx.config.port}`,
    INFLUX_TOKEN: token,
    INFLUX_ORG: V2_ORG,
    ...(hasTls(ctx) ? { SSL_CERT_FILE: publicCertPath(ctx) } : {}),
  };
}

/** Flux rows (measurement, field, time, value, tags) -> per-measurement counts and checksums. Pure, for tests. */
export function fluxFingerprint(records: Record<string, unknown>[]): TableFingerprint[] {
  const byM = new Map<string, string[]>();
  for (const r of records) {
    const m = String(r['_measurement']);
    const tags = Object.entries(r).filter(([k]) => !k.startsWith('_') && k !== 'result' && k !== 'table').sort(([a], [b]) => (a < b ? -1 : 1));
    const line = `${JSON.stringify(tags)}|${String(r['_time'])}|${String(r['_field'])}=${JSON.stringify(r['_value'])}`;
    byM.set(m, [...(byM.get(m) ?? []), line]);
  }
  return [...byM].map(([name, lines]) => ({ name, rows: lines.length, checksum: checksumOf(lines) })).sort((a, b) => (a.name < b.name ? -1 : 1));
}

export async function fingerprintV2(ctx: InstanceContext, bucket: string): Promise<TableFingerprint[]> {
  validateIdentifier('database', bucket);
  return v2(ctx, async (s) => fluxFingerprint((await s.influx.getQueryApi(s.orgID).collectRows(`from(bucket: ${fluxString(bucket)}) |> range(start: 0)`)) as Record<string, unknown>[]));
}

function influxCli(ctx: InstanceContext): string {
  return ctx.config.bin_dir && findProgram('influx', ctx.config.bin_dir) ? join(ctx.config.bin_dir, 'influx') : findProgram('influx') ?? 'influx';
}

export async function backupV2(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }): Promise<BackupOutcome> {
  validateIdentifier('database', options.database);
  if (!(await listDatabasesV2(ctx)).some((d) => d.name === options.database)) throw new DbError(`Bucket ${options.database} does not exist on influxdb/${ctx.name}.`, 'NOT_FOUND');
  const serverVersion = await serverVersionV2(ctx);
  const dir = await privateTemp('backup');
  try {
    const r = await ctx.exec([influxCli(ctx), 'backup', join(dir, ARCHIVE_ROOT), '--bucket', options.database], { asServiceUser: false, env: await influxCliEnv(ctx), allowFailure: true, timeoutMs: 60 * 60_000 });
    if (r.code !== 0) throw new DbError(`influx backup failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, 'COMMAND_FAILED', 'The influx CLI (influxdb2-cli) must be installed.');
    const tables = await fingerprintV2(ctx, options.database);
    const written = await pack(dir, options.file, options.seal);
    return { written, method: `influx backup --bucket (InfluxDB ${serverVersion}), tar.gz`, format: 'tar.gz', serverVersion, tables, scope: 'database', notes: ['Counts are field values per measurement (Flux count over all time) with a content checksum.'] };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function restoreV2(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  validateIdentifier('database', options.target);
  const { dir, root } = await unpack(ctx, options.file);
  const actions: string[] = [];
  try {
    if (options.replace) {
      await dropDatabaseV2(ctx, options.target);
      actions.push(`deleted bucket ${options.target}`);
    }
    const r = await ctx.exec([influxCli(ctx), 'restore', root, '--bucket', options.manifest.database, '--new-bucket', options.target], { asServiceUser: false, env: await influxCliEnv(ctx), allowFailure: true, timeoutMs: 60 * 60_000 });
    if (r.code !== 0) throw new DbError(`influx restore failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, 'RESTORE_FAILED');
    actions.push(`influx restore --bucket ${options.manifest.database} --new-bucket ${options.target}`);
    const got = await fingerprintV2(ctx, options.target);
    if (options.manifest.tables.length && !same(got, options.manifest.tables)) {
      await dropDatabaseV2(ctx, options.target).catch(() => undefined);
      throw new DbError(`After the restore ${options.target} holds ${describe(got)}; the manifest says ${describe(options.manifest.tables)} (the restored bucket was deleted).`, 'RESTORE_FAILED');
    }
    actions.push(`verified: ${describe(got)}`);
    return { target: `influxdb/${ctx.name} bucket ${options.target}`, actions, tables: got };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

