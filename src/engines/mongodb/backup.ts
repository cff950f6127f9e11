/**
 * Backups of one database, two ways:
 *
 *  - `mongodump --archive --gzip` / `mongorestore --nsFrom/--nsTo`, when MongoDB Database Tools
 *    are in the instance's bin dir or on PATH (format `archive.gz`);
 *  - otherwise the driver export (format `bson.gz`): a gzip stream of frames, written
 *    collection by collection: a header (collections, their options and indexes), each
 *    document's exact BSON bytes, and a trailer with counts and checksums. Consistency: each
 *    collection is read as of its own moment; without a replica set (and even with one, in this
 *    path) there is no single snapshot across collections.
 *
 * Either way the manifest holds per-collection counts and content checksums (an order-independent
 * sum of each document's sha256, over the BSON bytes the server returns), restores refuse a file
 * that does not match before anything is touched, and the result is compared after.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import type { Document } from 'mongodb';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { writeHashed, type Seal } from '../../core/hashed-write.js';
import { findProgram } from '../../core/tls.js';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { databaseNames } from './admin.js';
import { ADMIN_USER, AUTH_DB, instanceCertificate, loadDriver, withMongo, type MongoConn } from './client.js';
import { userDatabase, validateIdentifier } from './identifiers.js';
import { collections } from './inspect.js';
import { serverIdentity } from './instance.js';
import { serverLabel } from './servers.js';

export const EXPORT_FORMAT = 'bson.gz';
export const DUMP_FORMAT = 'archive.gz';
const MAGIC = 'portunix-db mongodb export';
const MAX_DOC = 16 * 1024 * 1024 + 16 * 1024;

// ---------- checksums ----------

const MOD = 1n << 128n;

/** Order-independent content checksum: the sum of each document's sha256 (first 128 bits), mod 2^128. */
export class Checksum {
  private sum = 0n;
  count = 0;
  add(bytes: Uint8Array): void {
    const h = createHash('sha256').update(bytes).digest();
    this.sum = (this.sum + BigInt(`0x${h.subarray(0, 16).toString('hex')}`)) % MOD;
    this.count++;
  }
  hex(): string {
    return this.sum.toString(16).padStart(32, '0');
  }
}

/** Counts and checksums of the live collections, reading each document's raw BSON bytes. */
export async function fingerprintWith(c: MongoConn, database: string): Promise<TableFingerprint[]> {
  const out: TableFingerprint[] = [];
  for (const coll of (await collections(c, database)).filter((x) => x.type !== 'view')) {
    const sum = new Checksum();
    for await (const raw of c.db(database).collection(coll.name).find({}, { raw: true, batchSize: 1000 })) sum.add(raw as unknown as Uint8Array);
    out.push({ name: coll.name, rows: sum.count, checksum: sum.hex() });
  }
  return out;
}

export async function fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  validateIdentifier('database', database);
  return withMongo(ctx, (c) => fingerprintWith(c, database));
}

// ---------- the export file ----------

/** Collection options a restore re-applies (anything else in a backup is ignored). */
const COLLECTION_OPTIONS = ['validator', 'validationLevel', 'validationAction', 'capped', 'size', 'max', 'collation', 'timeseries', 'expireAfterSeconds'];
/** Index options a restore re-applies. */
const INDEX_OPTIONS = ['unique', 'sparse', 'partialFilterExpression', 'expireAfterSeconds', 'collation', 'weights', 'default_language', 'language_override', 'textIndexVersion', '2dsphereIndexVersion', 'bits', 'min', 'max', 'hidden'];

export interface ExportHeader {
  magic: string;
  version: number;
  database: string;
  server: string;
  collections: { name: string; options: Document; indexes: Document[] }[];
  skipped: { name: string; type: string }[];
}

export interface ExportTrailer {
  end: true;
  tables: TableFingerprint[];
}

function pick(doc: Document, keys: string[]): Document {
  const out: Document = {};
  for (const k of keys) if (doc[k] !== undefined) out[k] = doc[k];
  return out;
}

function frame(kind: 'H' | 'T', doc: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(kind, 'latin1'), doc]);
}

function docFrame(index: number, doc: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.write('D', 0, 'latin1');
  head.writeUInt32LE(index, 1);
  return Buffer.concat([head, doc]);
}

async function* exportFrames(c: MongoConn, database: string, header: ExportHeader, tables: TableFingerprint[]): AsyncGenerator<Buffer> {
  const { BSON } = await loadDriver();
  yield frame('H', BSON.serialize(header as unknown as Document));
  for (const [i, coll] of header.collections.entries()) {
    const sum = new Checksum();
    for await (const raw of c.db(database).collection(coll.name).find({}, { raw: true, batchSize: 1000 })) {
      const bytes = raw as unknown as Uint8Array;
      sum.add(bytes);
      yield docFrame(i, bytes);
    }
    tables.push({ name: coll.name, rows: sum.count, checksum: sum.hex() });
  }
  yield frame('T', BSON.serialize({ end: true, tables } as unknown as Document));
}

/** Reads the frames of an export; any damage is BACKUP_CORRUPT. */
export async function* readFrames(file: string): AsyncGenerator<{ kind: 'H' | 'T'; doc: Document } | { kind: 'D'; index: number; bytes: Buffer }> {
  const { BSON } = await loadDriver();
  const gunzip = createGunzip();
  const source = createReadStream(file).pipe(gunzip);
  const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let buf = Buffer.alloc(0);
  let off = 0;
  let done = false;
  const corrupt = (why: string) => new DbError(`${file} is not a readable MongoDB export: ${why}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  const need = async (nBytes: number): Promise<boolean> => {
    while (buf.length - off < nBytes) {
      if (done) return false;
      let r: IteratorResult<Buffer>;
      try {
        r = await it.next();
      } catch (err) {
        throw corrupt(`gzip stream damaged (${(err as Error).message})`);
      }
      if (r.done) {
        done = true;
        continue;
      }
      buf = Buffer.concat([buf.subarray(off), r.value]);
      off = 0;
    }
    return true;
  };
  const bson = async (): Promise<Buffer> => {
    if (!(await need(4))) throw corrupt('truncated');
    const len = buf.readInt32LE(off);
    if (len < 5 || len > MAX_DOC) throw corrupt(`bad document length ${len}`);
    if (!(await need(len))) throw corrupt('truncated');
    const bytes = buf.subarray(off, off + len);
    off += len;
    return Buffer.from(bytes);
  };
  const parse = (bytes: Buffer): Document => {
    try {
      return BSON.deserialize(bytes, { promoteValues: false, promoteBuffers: false, bsonRegExp: true });
    } catch (err) {
      throw corrupt(`bad BSON (${(err as Error).message})`);
    }
  };
  try {
    for (;;) {
      if (!(await need(1))) return;
      const kind = String.fromCharCode(buf[off]!);
      off += 1;
      if (kind === 'D') {
        if (!(await need(4))) throw corrupt('truncated');
        const index = buf.readUInt32LE(off);
        off += 4;
        yield { kind: 'D', index, bytes: await bson() };
      } else if (kind === 'H' || kind === 'T') {
        yield { kind, doc: parse(await bson()) };
      } else {
        throw corrupt(`unknown frame "${kind}"`);
      }
    }
  } finally {
    source.destroy();
  }
}

function plain(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)));
}

/**
 * Reads a whole export without touching any server: header, every document counted and
 * checksummed, trailer compared. Returns what a restore would write.
 */
export async function checkExport(file: string, manifest?: BackupManifestView): Promise<{ header: ExportHeader; tables: TableFingerprint[] }> {
  let header: ExportHeader | undefined;
  let trailer: ExportTrailer | undefined;
  const sums: Checksum[] = [];
  const corrupt = (why: string) => new DbError(`${file} is not a complete MongoDB export: ${why}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  for await (const f of readFrames(file)) {
    if (trailer) throw corrupt('data after the trailer');
    if (f.kind === 'H') {
      if (header) throw corrupt('two headers');
      const h = plain(f.doc) as ExportHeader;
      if (h.magic !== MAGIC || h.version !== 1 || !Array.isArray(h.collections)) throw corrupt('not a portunix-db export header');
      for (const coll of h.collections) validateIdentifier('table', coll.name);
      header = h;
      h.collections.forEach(() => sums.push(new Checksum()));
    } else if (f.kind === 'D') {
      const sum = header ? sums[f.index] : undefined;
      if (!sum) throw corrupt('a document before the header or for an unknown collection');
      sum.add(f.bytes);
    } else {
      trailer = plain(f.doc) as ExportTrailer;
    }
  }
  if (!header) throw corrupt('no header');
  if (!trailer) throw corrupt('no trailer (the file was cut short)');
  const tables = header.collections.map((c, i) => ({ name: c.name, rows: sums[i]!.count, checksum: sums[i]!.hex() }));
  const same = (a: TableFingerprint[], b: TableFingerprint[]) => JSON.stringify(a.map((t) => [t.name, t.rows, t.checksum ?? null]).sort()) === JSON.stringify(b.map((t) => [t.name, t.rows, t.checksum ?? null]).sort());
  if (!same(tables, trailer.tables)) throw corrupt('its documents do not match its own trailer');
  if (manifest && manifest.tables.length && !same(tables, manifest.tables)) throw corrupt('its documents do not match the manifest');
  return { header, tables };
}

// ---------- MongoDB Database Tools ----------

export function toolPath(ctx: Pick<InstanceContext, 'config'>, name: 'mongodump' | 'mongorestore'): string | undefined {
  const inBin = ctx.config.bin_dir ? join(ctx.config.bin_dir, name) : undefined;
  if (inBin && existsSync(inBin)) return inBin;
  return findProgram(name);
}

/**
 * The argv of mongodump / mongorestore. The password is in a 0600 `--config` YAML file, never in
 * argv. Pure, for tests.
 */
export function toolArgv(
  tool: 'mongodump' | 'mongorestore',
  program: string,
  options: { port: number; caFile?: string; configFile: string; archive: string; database: string; target?: string; dryRun?: boolean },
): string[] {
  const argv = [program, `--uri=mongodb://${ADMIN_USER}@127.0.0.1:${options.port}/?authSource=${AUTH_DB}&directConnection=true`, `--config=${options.configFile}`, ...(options.caFile ? ['--tls', `--tlsCAFile=${options.caFile}`] : []), `--archive=${options.archive}`, '--gzip'];
  if (tool === 'mongodump') return [...argv, `--db=${options.database}`];
  const target = options.target ?? options.database;
  return [...argv, `--nsInclude=${options.database}.*`, ...(target !== options.database ? [`--nsFrom=${options.database}.*`, `--nsTo=${target}.*`] : []), '--drop', ...(options.dryRun ? ['--dryRun'] : []), '--stopOnError'];
}

async function withToolConfig<T>(ctx: InstanceContext, fn: (configFile: string, caFile: string | undefined) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'pdb-mongo-tools-'));
  try {
    await chmod(dir, 0o700);
    const configFile = join(dir, 'tools.yaml');
    await writeFile(configFile, `password: ${JSON.stringify(await ctx.adminPassword())}\n`, { mode: 0o600 });
    const cert = await instanceCertificate(ctx);
    return await fn(configFile, cert?.path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runTool(ctx: InstanceContext, argv: string[], what: string): Promise<string> {
  const r = await ctx.exec(argv, { asServiceUser: false, allowFailure: true, timeoutMs: 6 * 3600_000 });
  if (r.code !== 0) throw new DbError(`${what} failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-5).join('\n')}`, what.startsWith('mongorestore') ? 'RESTORE_FAILED' : 'COMMAND_FAILED');
  return r.stderr + r.stdout;
}

// ---------- backup ----------

export async function backup(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }): Promise<BackupOutcome> {
  userDatabase(options.database, 'back up');
  const id = await serverIdentity(ctx);
  const dump = toolPath(ctx, 'mongodump');
  return withMongo(ctx, async (c) => {
    if (!(await databaseNames(c)).includes(options.database)) throw new DbError(`Database ${options.database} does not exist on mongodb/${ctx.name}.`, 'NOT_FOUND', '`portunix-db list --type mongodb` lists databases.');
    const serverVersion = String((await c.admin({ buildInfo: 1 }))['version'] ?? 'unknown');
    const label = serverLabel(id.kind, id.version);
    const replicaSet = (await c.admin({ hello: 1 }))['setName'];
    const consistency = replicaSet
      ? `Replica set ${String(replicaSet)}: a single-database dump cannot use --oplog (mongodump allows it only for whole-instance dumps), so collections are read one after another, not as one snapshot.`
      : 'Standalone server: there is no oplog, so collections are read one after another, not as one snapshot; stop writes during the backup for a consistent copy.';
    if (dump && id.kind === 'mongod') {
      const tables = await fingerprintWith(c, options.database);
      await withToolConfig(ctx, (configFile, caFile) => runTool(ctx, toolArgv('mongodump', dump, { port: ctx.config.port ?? 27017, configFile, ...(caFile ? { caFile } : {}), archive: options.file, database: options.database }), 'mongodump'));
      await chmod(options.file, 0o600);
      return { method: `mongodump --archive --gzip (${dump})`, format: DUMP_FORMAT, serverVersion, tables, scope: 'database', notes: [consistency, 'Counts and checksums were read through the driver just before the dump.'] };
    }
    const colls = await collections(c, options.database);
    const header: ExportHeader = {
      magic: MAGIC,
      version: 1,
      database: options.database,
      server: `${label} ${serverVersion}`,
      collections: [],
      skipped: colls.filter((x) => x.type === 'view').map((x) => ({ name: x.name, type: x.type })),
    };
    for (const coll of colls.filter((x) => x.type !== 'view')) {
      const indexes = (await c.db(options.database).collection(coll.name).listIndexes().toArray()).filter((i) => i['name'] !== '_id_').map((i) => ({ key: i['key'], name: i['name'], ...pick(i, INDEX_OPTIONS) }));
      header.collections.push({ name: coll.name, options: pick(coll.options, COLLECTION_OPTIONS), indexes });
    }
    const tables: TableFingerprint[] = [];
    // hashed (and with --encrypt, sealed) as it is written: nothing reads the export back
    const written = await writeHashed(options.file, (out) => pipeline(Readable.from(exportFrames(c, options.database, header, tables)), createGzip(), out), options.seal);
    const notes = [
      `Driver export (no mongodump${id.kind === 'ferretdb' ? ' is used with FerretDB' : ' was found in the bin dir or on PATH'}): documents as BSON, collection by collection, gzip.`,
      consistency,
    ];
    if (header.skipped.length) notes.push(`Views are not exported (re-create them after a restore): ${header.skipped.map((s) => s.name).join(', ')}.`);
    return { method: `driver export, BSON collection by collection (${label})`, format: EXPORT_FORMAT, serverVersion, tables, scope: 'database', notes, written };
  });
}

// ---------- restore ----------

function sameTables(a: TableFingerprint[], b: TableFingerprint[]): boolean {
  const norm = (t: TableFingerprint[]) => JSON.stringify(t.map((x) => [x.name, x.rows, x.checksum ?? null]).sort());
  return norm(a) === norm(b);
}

function describe(t: TableFingerprint[]): string {
  return t.length ? t.map((x) => `${x.name}=${x.rows}`).join(', ') : 'no collections';
}

async function restoreExport(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  const { header, tables: expected } = await checkExport(options.file, options.manifest);
  const { BSON } = await loadDriver();
  const actions: string[] = [`checked ${options.file}: ${describe(expected)} (counts and checksums match the manifest)`];
  return withMongo(ctx, async (c) => {
    const db = c.db(options.target);
    if ((await databaseNames(c)).includes(options.target)) {
      if (!options.replace) throw new DbError(`Database ${options.target} already exists.`, 'CONFIRMATION_REQUIRED', 'Pass --force to replace it.');
      await db.command({ dropDatabase: 1 });
      actions.push(`dropped the existing database ${options.target}`);
    }
    for (const coll of header.collections) {
      try {
        await db.command({ create: coll.name, ...coll.options });
      } catch (err) {
        // a server without validators (or these options) still gets the data
        if (!Object.keys(coll.options).length) throw err;
        await db.command({ create: coll.name });
        actions.push(`${coll.name}: created without its options (${Object.keys(coll.options).join(', ')}): ${(err as Error).message}`);
      }
    }
    let batch: Document[] = [];
    let batchIndex = -1;
    const flush = async () => {
      if (!batch.length) return;
      await db.collection(header.collections[batchIndex]!.name).insertMany(batch, { ordered: true, bypassDocumentValidation: true });
      batch = [];
    };
    for await (const f of readFrames(options.file)) {
      if (f.kind !== 'D') continue;
      if (f.index !== batchIndex || batch.length >= 1000) {
        await flush();
        batchIndex = f.index;
      }
      batch.push(BSON.deserialize(f.bytes, { promoteValues: false, promoteBuffers: false, bsonRegExp: true }));
    }
    await flush();
    actions.push(`inserted ${expected.reduce((s, t) => s + t.rows, 0)} documents into ${header.collections.length} collections of ${options.target}`);
    for (const coll of header.collections) {
      if (!coll.indexes.length) continue;
      await db.command({ createIndexes: coll.name, indexes: coll.indexes.map((i) => ({ key: i['key'], name: String(i['name']), ...pick(i, INDEX_OPTIONS) })) });
      actions.push(`${coll.name}: created ${coll.indexes.length} index(es): ${coll.indexes.map((i) => String(i['name'])).join(', ')}`);
    }
    if (header.skipped.length) actions.push(`views not in the backup (re-create them): ${header.skipped.map((s) => s.name).join(', ')}`);
    const got = await fingerprintWith(c, options.target);
    if (!sameTables(got, expected)) throw new DbError(`After the restore ${options.target} holds ${describe(got)}, expected ${describe(expected)}.`, 'RESTORE_FAILED');
    actions.push(`verified counts and checksums: ${describe(got)}`);
    return { target: `mongodb/${ctx.name} database ${options.target}`, actions, tables: got };
  });
}

async function restoreDump(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  const restoreTool = toolPath(ctx, 'mongorestore');
  if (!restoreTool) throw new NotApplicableError(`This backup was made with mongodump and needs mongorestore, which is not in ${ctx.config.bin_dir ?? 'the bin dir'} or on PATH.`, 'Install MongoDB Database Tools (mongodump/mongorestore) and retry.');
  const source = options.manifest.database;
  const base = { port: ctx.config.port ?? 27017, archive: options.file, database: source, target: options.target };
  const actions: string[] = [];
  await withToolConfig(ctx, async (configFile, caFile) => {
    const argv = (dryRun: boolean) => toolArgv('mongorestore', restoreTool, { ...base, configFile, ...(caFile ? { caFile } : {}), dryRun });
    // reads the whole archive first: a damaged one fails here, before anything changes
    await runTool(ctx, argv(true), 'mongorestore --dryRun').catch((err: DbError) => {
      throw new DbError(`${options.file} could not be read by mongorestore: ${err.message}`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    });
    actions.push('mongorestore --dryRun read the archive');
    await runTool(ctx, argv(false), 'mongorestore');
    actions.push(`mongorestore --drop ${source !== options.target ? `--nsFrom ${source}.* --nsTo ${options.target}.*` : `--nsInclude ${source}.*`}`);
  });
  const got = await fingerprint(ctx, options.target);
  if (options.manifest.tables.length && !sameTables(got, options.manifest.tables)) throw new DbError(`After the restore ${options.target} holds ${describe(got)}, the manifest says ${describe(options.manifest.tables)}.`, 'RESTORE_FAILED');
  actions.push(`verified counts and checksums: ${describe(got)}`);
  return { target: `mongodb/${ctx.name} database ${options.target}`, actions, tables: got };
}

export async function restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  userDatabase(options.target, 'restore into');
  if (options.manifest.format === DUMP_FORMAT) return restoreDump(ctx, options);
  if (options.manifest.format === EXPORT_FORMAT) return restoreExport(ctx, options);
  throw new DbError(`Unknown MongoDB backup format "${options.manifest.format}".`, 'BACKUP_CORRUPT', `Formats: ${DUMP_FORMAT} (mongodump), ${EXPORT_FORMAT} (driver export).`);
}
