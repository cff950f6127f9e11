import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDumpFile, snapshotPlan, snapshotWatch, SNAPSHOT_LOCK_WAIT_S } from '../../src/engines/mysql-family/backup.js';
import { parallelGzip } from '../../src/core/parallel-gzip.js';
import { DbError } from '../../src/core/errors.js';

test('snapshot plan: locks only the database\'s own tables, bounded, then both snapshots, then unlocks', () => {
  const plan = snapshotPlan('shop', ['orders', 'order items']);
  assert.deepEqual(plan.lock, [`SET SESSION lock_wait_timeout = ${SNAPSHOT_LOCK_WAIT_S}`, 'FLUSH TABLES `shop`.`orders`, `shop`.`order items` WITH READ LOCK']);
  assert.deepEqual(plan.snapshot, ['SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ', 'START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY']);
  assert.equal(plan.unlock, 'UNLOCK TABLES');
  // nothing to line up in a database without tables: no lock at all (a bare FLUSH TABLES WITH READ LOCK would be server-wide)
  assert.deepEqual(snapshotPlan('empty', []).lock, []);
});

test('snapshot plan: hostile table names stay quoted identifiers; a hostile database name is refused', () => {
  const plan = snapshotPlan('shop', ['x` WITH READ LOCK; DROP DATABASE shop; --']);
  assert.equal(plan.lock[1], 'FLUSH TABLES `shop`.`x`` WITH READ LOCK; DROP DATABASE shop; --` WITH READ LOCK');
  assert.throws(() => snapshotPlan('shop`; DROP DATABASE mysql; --', ['t']), (e: unknown) => e instanceof DbError);
});

async function watchChunks(chunks: string[]): Promise<{ firedAfter: number | undefined; passed: string }> {
  let seen = 0;
  let firedAfter: number | undefined;
  let passed = '';
  const source = Readable.from(chunks.map((c) => Buffer.from(c)));
  const watch = snapshotWatch(() => {
    firedAfter ??= seen;
  });
  const counting = new Writable({
    write(chunk: Buffer, _enc, cb) {
      seen++;
      passed += chunk.toString();
      cb();
    },
  });
  await pipeline(source, watch, counting);
  return { firedAfter, passed };
}

const HEADER = '/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\n-- Host: 127.0.0.1    Database: shop\n/*!40101 SET NAMES utf8mb4 */;\n';

test('snapshot watch: the dump header alone does not release the lock; the first table does, once, even split across chunks', async () => {
  const marker = '\n--\n-- Table structure for table `orders`\n--\n';
  const cut = marker.indexOf('structure');
  const r = await watchChunks([HEADER, marker.slice(0, cut), marker.slice(cut), 'CREATE TABLE `orders` (id int);\n', '-- Dump completed on 2026-12-02\n']);
  // fired while the third chunk (the marker's second half) went through, before the fourth
  assert.equal(r.firedAfter, 2);
  assert.equal(r.passed, HEADER + marker + 'CREATE TABLE `orders` (id int);\n-- Dump completed on 2026-12-02\n');
});

test('snapshot watch: routines first (MariaDB order) and an empty database both count; the end of the stream releases at the latest', async () => {
  assert.equal((await watchChunks([HEADER, '\n--\n-- Dumping routines for database \'shop\'\n--\n'])).firedAfter, 1);
  assert.equal((await watchChunks([HEADER, '\n-- Dump completed on 2026-12-02  3:00:00\n'])).firedAfter, 1);
  let fired = 0;
  await pipeline(Readable.from([Buffer.from(HEADER)]), snapshotWatch(() => fired++), new Writable({ write: (_c, _e, cb) => cb() }));
  assert.equal(fired, 1);
});

test('spawnClient: a destination that fails ends the program instead of leaving it blocked on a full pipe', { timeout: 20_000 }, async () => {
  const { spawnClient } = await import('../../src/engines/mysql-family/client.js');
  let chunks = 0;
  const failing = new Writable({
    write(_chunk, _enc, cb) {
      cb(++chunks > 3 ? Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }) : null);
    },
  });
  failing.on('error', () => undefined);
  const ctx = { config: {} } as unknown as Parameters<typeof spawnClient>[0];
  // `yes` writes for ever: only a kill ends it
  await assert.rejects(spawnClient(ctx, ['yes', 'portunix'], { stdout: failing }), (e: unknown) => e instanceof DbError && /SIGTERM/.test(e.message));
});

/** The gzip members parallelGzip writes for `text`, one after another (each push is one member). */
async function gzipMembers(text: string, memberBytes: number): Promise<Buffer[]> {
  const members: Buffer[] = [];
  const gz = parallelGzip({ memberBytes, parallel: 3 });
  gz.on('data', (c: Buffer) => members.push(c));
  const done = new Promise((resolve, reject) => gz.on('end', resolve).on('error', reject));
  for (let i = 0; i < text.length; i += 5000) gz.write(Buffer.from(text.slice(i, i + 5000), 'latin1'));
  gz.end();
  await done;
  return members;
}

test('checkDumpFile reads a dump written in many gzip members (parallelGzip) to its end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-dumpfile-'));
  try {
    const body = `-- portunix-db database charset=latin1 collation=latin1_swedish_ci\n${HEADER}${"INSERT INTO `t` VALUES (1,'a\\'b'),(2,NULL);\n".repeat(4000)}\n-- Dump completed on 2026-12-02  3:00:00\n`;
    const members = await gzipMembers(body, 16 * 1024);
    assert.ok(members.length > 5, 'the test file has several members');
    writeFileSync(join(dir, 'ok.sql.gz'), Buffer.concat(members));
    assert.deepEqual(await checkDumpFile(join(dir, 'ok.sql.gz')), { charset: 'latin1', collation: 'latin1_swedish_ci' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('checkDumpFile: a multi-member dump cut at a member boundary is still valid gzip, and is refused as incomplete; cut inside a member, as corrupt', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-dumpfile-'));
  try {
    const body = `${HEADER}${"INSERT INTO `t` VALUES (1,0x00ff),(2,'x');\n".repeat(4000)}\n-- Dump completed on 2026-12-02  3:00:00\n`;
    const members = await gzipMembers(body, 16 * 1024);
    const whole = Buffer.concat(members);
    const last = whole.length - members[members.length - 1]!.length;
    writeFileSync(join(dir, 'boundary.sql.gz'), whole.subarray(0, last));
    await assert.rejects(checkDumpFile(join(dir, 'boundary.sql.gz')), (e: unknown) => e instanceof DbError && e.code === 'BACKUP_CORRUPT' && /incomplete/.test(e.message));
    writeFileSync(join(dir, 'inside.sql.gz'), whole.subarray(0, last - 7));
    await assert.rejects(checkDumpFile(join(dir, 'inside.sql.gz')), (e: unknown) => e instanceof DbError && e.code === 'BACKUP_CORRUPT' && /corrupt/.test(e.message));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
