import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { snapshotPlan, snapshotWatch, SNAPSHOT_LOCK_WAIT_S } from '../../src/engines/mysql-family/backup.js';
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
