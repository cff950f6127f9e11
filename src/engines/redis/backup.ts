import { randomBytes } from 'node:crypto';
import { chown, copyFile, mkdtemp, open, rename, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
import { writeHashed, type WrittenDigest } from '../../core/hashed-write.js';
import { RdbKeyCounter } from './rdb-count.js';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { spawnScratch, type ScratchProcess } from '../../core/process/scratch.js';
import { processStatus, sleep, startServer, stopServer } from '../../core/process/supervisor.js';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { info, num, pairs, parseKeyspace, withRedis, type RedisConn } from './client.js';
import { RespError, RespProtocolError, type RespConnection } from './resp.js';
import { SyncPayloadReader } from './sync-stream.js';
import { RDB_FILE, redisBin } from './instance.js';

const BGSAVE_TIMEOUT_MS = 30 * 60_000;

function fingerprints(spaces: { db: number; keys: number }[]): TableFingerprint[] {
  return spaces.filter((s) => s.keys > 0).map((s) => ({ name: `db${s.db}`, rows: s.keys }));
}

/** The RDB header: "REDIS" and a four-digit format version. */
export async function checkRdbHeader(file: string): Promise<number> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (err) {
    throw new DbError(`Cannot read backup file ${file}: ${(err as Error).message}`, 'NOT_FOUND', 'Check the path; `portunix-db backup list --type redis` lists backups.');
  }
  try {
    const buf = Buffer.alloc(9);
    const { bytesRead } = await fh.read(buf, 0, 9, 0);
    const text = buf.toString('latin1', 0, bytesRead);
    const m = /^REDIS(\d{4})$/.exec(text);
    if (!m) throw new DbError(`${file} is not a Redis RDB file (bad header).`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    return Number(m[1]);
  } finally {
    await fh.close();
  }
}

export async function fingerprint(ctx: InstanceContext): Promise<TableFingerprint[]> {
  return withRedis(ctx, async (c) => fingerprints(parseKeyspace(await info(c, 'keyspace'))));
}

async function waitForBgsave(c: RedisConn, ctx: InstanceContext, done: (p: Record<string, string>) => boolean): Promise<Record<string, string>> {
  const deadline = Date.now() + BGSAVE_TIMEOUT_MS;
  let lastNote = Date.now();
  let polls = 0;
  for (;;) {
    const p = await info(c, 'persistence');
    if (p['rdb_bgsave_in_progress'] === '0' && done(p)) return p;
    if (Date.now() > deadline) throw new DbError(`redis/${ctx.name}: the background save did not finish in ${BGSAVE_TIMEOUT_MS / 60_000} minutes.`, 'TIMEOUT');
    if (Date.now() - lastNote > 5000) {
      ctx.progress('waiting for BGSAVE to finish...');
      lastNote = Date.now();
    }
    // a save of a small instance is over in milliseconds: look again soon, then less often
    await sleep(Math.min(100, 5 * ++polls));
  }
}

/** A tap that feeds every chunk to the key counter on its way to the file. */
function counting(counter: RdbKeyCounter): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      counter.push(chunk);
      cb(null, chunk);
    },
  });
}

/**
 * Whether SYNC would start the snapshot at once. A diskless master waits
 * repl-diskless-sync-delay seconds (default 5) for more replicas before it forks; then BGSAVE
 * is quicker. A disk-based master (repl-diskless-sync no) saves and sends at once. Pure, for tests.
 */
export function syncStartsAtOnce(settings: Map<string, string>): { ok: true } | { ok: false; delay: number } {
  const delay = num(settings.get('repl-diskless-sync-delay')) ?? 5;
  return settings.get('repl-diskless-sync') === 'no' || delay <= 0 ? { ok: true } : { ok: false, delay };
}

/** The server said no to the replication handshake (before Redis 7.0 there is no rdb-only, or the user lacks the right): BGSAVE instead. */
class SyncRefused extends Error {}

/** No byte (not even a "\n" keep-alive, which a master sends every second while it prepares the snapshot) for this long: the stream is dead. */
const SYNC_IDLE_MS = 120_000;
const SYNC_BATCH = 1 << 20;

/**
 * The snapshot as a replica gets it, the way redis-cli --rdb does: REPLCONF capa eof (a diskless
 * transfer may be sent), REPLCONF rdb-only 1 (only the RDB, no command stream after it; the
 * master then closes the link), SYNC, and the payload (SyncPayloadReader) streamed through the
 * key counter and the sha256 into the file, while the server's fork is still writing it: no RDB
 * written, fsync'd and read back. The master keeps the replication backlog it made for us
 * (repl-backlog-size, 1 MB by default) until repl-backlog-ttl, as after redis-cli --rdb.
 */
async function streamSnapshot(c: RespConnection, ctx: InstanceContext, file: string, counter: RdbKeyCounter): Promise<WrittenDigest> {
  try {
    await c.send(['REPLCONF', 'capa', 'eof']);
    await c.send(['REPLCONF', 'rdb-only', '1']);
  } catch (err) {
    if (err instanceof RespError) throw new SyncRefused(err.message);
    throw err;
  }
  const { socket, head } = c.takeOver(['SYNC']);
  try {
    socket.setTimeout(SYNC_IDLE_MS, () => socket.destroy(new DbError(`redis/${ctx.name} sent nothing for ${SYNC_IDLE_MS / 1000} s while sending its snapshot.`, 'TIMEOUT')));
    const reader = new SyncPayloadReader();
    const chunks = socket[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const deadline = Date.now() + BGSAVE_TIMEOUT_MS;
    let first: Buffer[];
    try {
      first = reader.push(head);
      while (!reader.framing) {
        if (Date.now() > deadline) throw new DbError(`redis/${ctx.name}: the snapshot did not start in ${BGSAVE_TIMEOUT_MS / 60_000} minutes.`, 'TIMEOUT');
        const r = await chunks.next();
        if (r.done) reader.end();
        else first = reader.push(r.value);
      }
    } catch (err) {
      // "-NOPERM ..." or "-ERR Can't SYNC while not connected with my master": nothing was written yet
      if (err instanceof RespError) throw new SyncRefused(err.message);
      throw err;
    }
    // TLS hands over 16 KiB records: passed on in pieces of up to SYNC_BATCH, so the counter,
    // the hash and the file see far fewer (and larger) writes
    async function* payload(): AsyncGenerator<Buffer> {
      let batch: Buffer[] = [...first];
      let size = batch.reduce((n, b) => n + b.length, 0);
      while (!reader.done) {
        if (size >= SYNC_BATCH) {
          yield Buffer.concat(batch, size);
          batch = [];
          size = 0;
        }
        const r = await chunks.next();
        if (r.done) reader.end();
        else
          for (const b of reader.push(r.value)) {
            batch.push(b);
            size += b.length;
          }
      }
      if (size) yield Buffer.concat(batch, size);
    }
    return await writeHashed(file, (out) => pipeline(Readable.from(payload(), { objectMode: false }), counting(counter), out));
  } catch (err) {
    if (err instanceof RespProtocolError) throw new DbError(`redis/${ctx.name} sent a snapshot that is not well-formed: ${err.message}.`, 'BACKUP_CORRUPT', 'Nothing was kept. Run the backup again; if it fails again, look at `portunix-db logs redis`.');
    throw err;
  } finally {
    c.destroy();
  }
}

/**
 * BGSAVE, wait until it completes (rdb_bgsave_in_progress back to 0; for a scheduled save also
 * rdb_saves, or before Redis 7.0 LASTSAVE, moved on), then copy the RDB through the key counter
 * and the sha256.
 */
async function bgsaveAndCopy(c: RespConnection, ctx: InstanceContext, file: string, counter: RdbKeyCounter): Promise<WrittenDigest> {
  // a save already running would not contain what was written before our request
  await waitForBgsave(c, ctx, () => true);
  const before = await info(c, 'persistence');
  const lastSaveBefore = Number(await c.send(['LASTSAVE']));
  const savesBefore = num(before['rdb_saves']);
  // "Background saving started": the fork has happened (Redis forks before it answers), so the
  // save is ours and over once none is in progress; no counter needed, and no LASTSAVE second to wait out
  let started: boolean;
  try {
    started = /started/i.test(String(await c.send(['BGSAVE'])));
  } catch (err) {
    // "already in progress", or another child (an AOF rewrite) runs: "... Use BGSAVE SCHEDULE ..."
    if (!/in progress|SCHEDULE/i.test((err as Error).message)) throw err;
    if (savesBefore === undefined) {
      // before Redis 7.0 only LASTSAVE tells a later save, at one-second resolution: the scheduled save must land in a later second
      while (Math.floor(Date.now() / 1000) <= lastSaveBefore) await sleep(50);
    }
    started = /started/i.test(String(await c.send(['BGSAVE', 'SCHEDULE'])));
  }
  const after = await waitForBgsave(c, ctx, (p) => started || (savesBefore !== undefined ? (num(p['rdb_saves']) ?? 0) > savesBefore : (num(p['rdb_last_save_time']) ?? 0) > lastSaveBefore));
  if (after['rdb_last_bgsave_status'] !== 'ok') {
    throw new DbError(`redis/${ctx.name}: the background save failed (rdb_last_bgsave_status ${after['rdb_last_bgsave_status']}).`, 'COMMAND_FAILED', `Look at \`portunix-db logs redis --instance ${ctx.name}\`; the disk may be full.`);
  }
  const dir = String(((await c.send(['CONFIG', 'GET', 'dir'])) as string[])[1] ?? ctx.paths.dataDir);
  const name = String(((await c.send(['CONFIG', 'GET', 'dbfilename'])) as string[])[1] ?? RDB_FILE);
  // the open file is the inode the server renamed into place (a later snapshot replaces the name, not these bytes)
  return writeHashed(file, (out) => pipeline(createReadStream(join(dir, name), { highWaterMark: 1 << 20 }), counting(counter), out));
}

/**
 * The snapshot streamed over SYNC when the server starts it at once (streamSnapshot), else
 * BGSAVE and a copy of the RDB (bgsaveAndCopy). Either way the bytes are hashed and the keys
 * counted as they are written (RdbKeyCounter), so the counts match the snapshot even while
 * clients keep writing; an RDB the reader cannot walk is counted by loading the copy in a
 * scratch server.
 */
export async function backup(ctx: InstanceContext, options: { database: string; file: string }): Promise<BackupOutcome> {
  const notes: string[] = [];
  let counter = new RdbKeyCounter();
  const { serverVersion, written, how } = await withRedis(ctx, async (c) => {
    const serverVersion = (await info(c, 'server'))['redis_version'] ?? 'unknown';
    const settings = new Map(pairs(await c.send(['CONFIG', 'GET', 'repl-diskless-sync*'])));
    const plan = syncStartsAtOnce(settings);
    if (!plan.ok) {
      notes.push(`BGSAVE was used: with repl-diskless-sync-delay ${plan.delay} the server would wait ${plan.delay} s before it streams a snapshot (\`portunix-db config set redis repl-diskless-sync-delay 0\` makes backups stream).`);
      return { serverVersion, written: await bgsaveAndCopy(c, ctx, options.file, counter), how: 'BGSAVE + RDB copy' };
    }
    try {
      return { serverVersion, written: await streamSnapshot(c, ctx, options.file, counter), how: 'SYNC (rdb-only replica stream) into the file' };
    } catch (err) {
      if (!(err instanceof SyncRefused)) throw err;
      notes.push(`The server refused the replication stream (${err.message}); BGSAVE was used.`);
    }
    counter = new RdbKeyCounter();
    // that connection was handed over or cut: BGSAVE on a new one
    return withRedis(ctx, async (c2) => ({ serverVersion, written: await bgsaveAndCopy(c2, ctx, options.file, counter), how: 'BGSAVE + RDB copy' }));
  });
  const rdbVersion = await checkRdbHeader(options.file);
  const read = counter.end();
  const tables = read.ok ? fingerprints([...read.keys].map(([db, keys]) => ({ db, keys }))) : await loadInScratch(ctx, options.file);
  return {
    method: `${how} (RDB format v${rdbVersion}, redis ${serverVersion})`,
    format: 'rdb',
    serverVersion,
    tables,
    scope: 'instance',
    notes: [
      `A Redis backup holds the whole instance (all keyspaces), not only keyspace ${options.database}.`,
      read.ok ? 'Key counts were read from the copy as it was written (keys already expired are not counted, as a load drops them).' : `Key counts come from loading the copy in a scratch server (the RDB could not be read as it streamed: ${read.reason}).`,
      ...notes,
    ],
    written,
  };
}

/**
 * Starts a throwaway redis-server with a copy of the RDB in a private temp directory, counts the
 * keys per keyspace, and kills it. It listens on no TCP port at all (`port 0`), only on a Unix
 * socket inside that 0700 directory, so it needs no TLS and nothing else can reach it. The live
 * instance is not touched.
 */
export async function loadInScratch(ctx: InstanceContext, file: string): Promise<TableFingerprint[]> {
  await checkRdbHeader(file);
  const dir = await mkdtemp(join(tmpdir(), 'pdb-redis-verify-'));
  const password = randomBytes(18).toString('base64url');
  let scratch: ScratchProcess | undefined;
  try {
    await copyFile(file, join(dir, RDB_FILE));
    const socket = join(dir, 'redis.sock');
    const conf = join(dir, 'redis.conf');
    await writeFile(
      conf,
      ['port 0', `unixsocket ${socket}`, 'unixsocketperm 700', 'bind 127.0.0.1', 'protected-mode yes', 'daemonize no', `dir ${dir}`, `dbfilename ${RDB_FILE}`, 'save ""', 'appendonly no', 'logfile ""', `requirepass ${password}`, 'databases 16', ''].join('\n'),
      { mode: 0o600 },
    );
    if (ctx.runAs) {
      for (const p of [dir, join(dir, RDB_FILE), conf]) await chown(p, ctx.runAs.uid, ctx.runAs.gid);
    }
    await chmod(dir, 0o700);
    scratch = spawnScratch(ctx, [redisBin(ctx), conf], dir);
    const deadline = Date.now() + 10 * 60_000;
    for (;;) {
      if (scratch.exited() !== undefined) {
        const output = scratch.output();
        const tail = output.trim().split('\n').slice(-6).join('\n');
        const versionProblem = /Can't handle RDB format version/i.test(output);
        throw new DbError(
          `${file} could not be loaded by redis-server: ${versionProblem ? 'it was written by a newer Redis.' : 'the RDB file is damaged or truncated.'}${tail ? `\n${tail}` : ''}`,
          versionProblem ? 'VERIFY_FAILED' : 'BACKUP_CORRUPT',
          versionProblem ? 'Restore it on an instance with the same or a newer Redis version.' : 'Nothing was changed. Use another backup.',
        );
      }
      const counts = await withRedis(ctx, async (c) => (await c.send(['PING'])) === 'PONG' ? parseKeyspace(await info(c, 'keyspace')) : undefined, { path: socket, user: 'default', password, timeoutMs: 1000 }).catch(() => undefined);
      if (counts) return fingerprints(counts);
      if (Date.now() > deadline) throw new DbError(`Loading ${file} in a scratch server took too long.`, 'TIMEOUT');
      await sleep(20);
    }
  } finally {
    await scratch?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function verifyBackup(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView }): Promise<{ tables: TableFingerprint[]; method: string }> {
  const tables = await loadInScratch(ctx, options.file);
  return { tables, method: 'loaded the RDB in a scratch redis-server (Unix socket in a private temp dir, no TCP port) and counted keys per keyspace' };
}

function sameCounts(a: TableFingerprint[], b: TableFingerprint[]): boolean {
  const norm = (t: TableFingerprint[]) => JSON.stringify(t.filter((x) => x.rows > 0).map((x) => [x.name, x.rows]).sort());
  return norm(a) === norm(b);
}

function describeCounts(t: TableFingerprint[]): string {
  return t.length ? t.map((x) => `${x.name}=${x.rows}`).join(', ') : 'no keys';
}

/**
 * Instance-wide: verify the file first (nothing changes if it is damaged), stop the server
 * (SHUTDOWN SAVE), put the RDB in place atomically with the old one kept aside, start, and
 * check the key counts. On any failure the old RDB goes back and the server is started again.
 */
export async function restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  const { engine } = await import('./index.js');
  const expected = await loadInScratch(ctx, options.file);
  if (options.manifest.tables.length && !sameCounts(expected, options.manifest.tables)) {
    throw new DbError(
      `${options.file} does not hold what its manifest says (file: ${describeCounts(expected)}; manifest: ${describeCounts(options.manifest.tables)}).`,
      'BACKUP_CORRUPT',
      'Nothing was changed. The file was replaced or damaged after the backup; use another backup.',
    );
  }
  const wasRunning = (await processStatus(engine, ctx)).state === 'running';
  if (wasRunning) {
    const live = await fingerprint(ctx);
    const aof = await withRedis(ctx, async (c) => ((await c.send(['CONFIG', 'GET', 'appendonly'])) as string[])[1]);
    if (aof === 'yes') throw new DbError(`redis/${ctx.name} has appendonly yes: on start it would load the AOF, not the restored RDB.`, 'RESTORE_FAILED', 'Run `portunix-db config set redis appendonly no`, then restore again.');
    if (live.length && !options.replace) {
      throw new DbError(`Restoring replaces every keyspace of redis/${ctx.name} (now ${describeCounts(live)}).`, 'CONFIRMATION_REQUIRED', 'Pass --force to replace them.');
    }
  }
  const rdb = join(ctx.paths.dataDir, RDB_FILE);
  if (!wasRunning && !options.replace && (await stat(rdb).then((s) => s.size > 0, () => false))) {
    throw new DbError(`Restoring replaces the data of redis/${ctx.name} (it is stopped and has an RDB file).`, 'CONFIRMATION_REQUIRED', 'Pass --force to replace it.');
  }
  const incoming = `${rdb}.restore-${process.pid}`;
  const aside = `${rdb}.before-restore-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await copyFile(options.file, incoming);
  await chmod(incoming, 0o600);
  if (ctx.runAs) await chown(incoming, ctx.runAs.uid, ctx.runAs.gid);
  const actions: string[] = [];
  let movedAside = false;
  try {
    if (wasRunning) {
      await stopServer(engine, ctx);
      actions.push(`stopped redis/${ctx.name} (SHUTDOWN SAVE)`);
    }
    const hadRdb = await stat(rdb).then(() => true, () => false);
    if (hadRdb) {
      await rename(rdb, aside);
      movedAside = true;
    }
    await rename(incoming, rdb);
    actions.push(`put ${options.file} in place as ${rdb}${movedAside ? ` (previous RDB kept aside as ${aside} until the server is up)` : ''}`);
    await startServer(engine, ctx);
    actions.push(`started redis/${ctx.name}`);
    const got = await fingerprint(ctx);
    if (!sameCounts(got, expected)) {
      throw new DbError(`After the restore redis/${ctx.name} holds ${describeCounts(got)}, expected ${describeCounts(expected)}.`, 'RESTORE_FAILED');
    }
    actions.push(`verified key counts: ${describeCounts(got)}`);
    if (movedAside) {
      await rm(aside, { force: true });
      actions.push('removed the previous RDB');
    }
    if (!wasRunning) actions.push(`redis/${ctx.name} was stopped before the restore; it is left running`);
    return { target: `redis/${ctx.name} (all keyspaces)`, actions, tables: got };
  } catch (err) {
    await rm(incoming, { force: true });
    if (movedAside) {
      // back to where we were: the previous RDB, and the server running if it was
      await stopServer(engine, ctx).catch(() => undefined);
      await rename(aside, rdb).catch(() => undefined);
      if (wasRunning) await startServer(engine, ctx).catch(() => undefined);
    }
    const e = err instanceof DbError ? err : new DbError((err as Error).message, 'RESTORE_FAILED');
    throw new DbError(`Restore of redis/${ctx.name} failed: ${e.message}${movedAside ? ' The previous data was put back.' : ''}`, e.code === 'INTERNAL' ? 'RESTORE_FAILED' : e.code, e.hint);
  }
}
