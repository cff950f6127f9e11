/** `backup --compress`: parsing (and what it refuses), and the pg_dump arguments per pg_dump major. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCompression, parseCompression } from '../../src/core/backup-compression.js';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultPgCompression, pgDumpCompressArgs, pgDumpSupports } from '../../src/engines/postgresql/backup.js';
import { DbError } from '../../src/core/errors.js';

test('compress: methods with and without a level; absent stays absent', () => {
  assert.equal(parseCompression(undefined), undefined);
  assert.deepEqual(parseCompression('gzip'), { method: 'gzip' });
  assert.deepEqual(parseCompression('gzip:1'), { method: 'gzip', level: 1 });
  assert.deepEqual(parseCompression(' ZSTD:19 '), { method: 'zstd', level: 19 });
  assert.deepEqual(parseCompression('lz4:12'), { method: 'lz4', level: 12 });
  assert.deepEqual(parseCompression('none'), { method: 'none' });
  assert.equal(formatCompression({ method: 'zstd', level: 3 }), 'zstd:3');
  assert.equal(formatCompression({ method: 'none' }), 'none');
});

test('compress: anything but a known method and an in-range level is refused (it ends up in argv)', () => {
  const bad = ['', 'gzip:0', 'gzip:10', 'lz4:13', 'zstd:23', 'zstd:-1', 'none:1', 'brotli', 'gzip:1;rm -rf /', 'gzip:1 --file=/etc/passwd', '--compress=9', 'gzip:', 'gzip:01x', 'gzip:999', 'gzip\n:1', 'x'.repeat(5000)];
  for (const value of bad) {
    assert.throws(() => parseCompression(value), (err: unknown) => err instanceof DbError && err.code === 'USAGE', JSON.stringify(value));
  }
  for (const value of [6, null, {}, ['gzip']]) assert.throws(() => parseCompression(value), /METHOD/);
});

test('pg_dump arguments: 15 and older take a zlib level only; 16+ take METHOD[:LEVEL]', () => {
  assert.deepEqual(pgDumpCompressArgs({ method: 'gzip', level: 1 }, 15, '15.20'), ['--compress=1']);
  assert.deepEqual(pgDumpCompressArgs({ method: 'gzip' }, 14, '14.23'), ['--compress=6']);
  assert.deepEqual(pgDumpCompressArgs({ method: 'none' }, 15, '15.20'), ['--compress=0']);
  assert.throws(() => pgDumpCompressArgs({ method: 'zstd' }, 15, '15.20'), (err: unknown) => err instanceof DbError && err.code === 'NOT_APPLICABLE' && /pg_dump 16 or newer; the one found is 15\.20/.test(err.message));
  assert.throws(() => pgDumpCompressArgs({ method: 'lz4', level: 1 }, 13, '13.1'), /needs pg_dump 16/);
  assert.deepEqual(pgDumpCompressArgs({ method: 'zstd', level: 3 }, 16, '16.15'), ['--compress=zstd:3']);
  assert.deepEqual(pgDumpCompressArgs({ method: 'lz4' }, 18, '18.6'), ['--compress=lz4']);
  assert.deepEqual(pgDumpCompressArgs({ method: 'none' }, 17, '17.11'), ['--compress=none']);
  assert.deepEqual(pgDumpCompressArgs({ method: 'gzip', level: 9 }, 16, '16.15'), ['--compress=gzip:9']);
});

test('default compression: zstd from pg_dump 16 when it was built with it, zlib level 1 otherwise', () => {
  assert.deepEqual(defaultPgCompression(15), { method: 'gzip', level: 1 });
  assert.deepEqual(defaultPgCompression(16), { method: 'zstd' });
  assert.deepEqual(defaultPgCompression(18, true), { method: 'zstd' });
  assert.deepEqual(defaultPgCompression(18, false), { method: 'gzip', level: 1 });
});

test('pgDumpSupports reads pg_dump\'s own refusal; gzip and none need no probe', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-fake-pgdump-'));
  try {
    // a pg_dump built without zstd refuses the option before connecting; one with it gets as far as the connection
    const without = join(dir, 'without');
    writeFileSync(without, '#!/bin/sh\ncase "$1" in --compress=zstd*|--compress=lz4*) echo "pg_dump: error: invalid compression specification: this build does not support compression with ZSTD" >&2; exit 1;; esac\necho "pg_dump: error: connection to server failed" >&2; exit 1\n');
    const withIt = join(dir, 'with');
    writeFileSync(withIt, '#!/bin/sh\necho "pg_dump: error: connection to server on socket failed: No such file or directory" >&2; exit 1\n');
    chmodSync(without, 0o755);
    chmodSync(withIt, 0o755);
    assert.equal(await pgDumpSupports(without, 'zstd'), false);
    assert.equal(await pgDumpSupports(without, 'lz4'), false);
    assert.equal(await pgDumpSupports(withIt, 'zstd'), true);
    assert.equal(await pgDumpSupports(join(dir, 'missing'), 'gzip'), true, 'gzip is in every build: no probe');
    assert.equal(await pgDumpSupports(join(dir, 'missing'), 'zstd'), false, 'a pg_dump that cannot run supports nothing');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
