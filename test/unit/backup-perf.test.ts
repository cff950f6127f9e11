/** Backup speed work (issue 14), the pure parts: WAL selection, checksum schemes, --jobs parsing, directory digests, the hashing writer and parallel gzip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { checksumQuery, rowHashExpression, schemeOf, walNeeded } from '../../src/engines/postgresql/backup.js';
import { parallelGzip } from '../../src/core/parallel-gzip.js';
import { parseJobs } from '../../src/core/ops/backup.js';
import { directoryDigest } from '../../src/core/backup-manifest.js';
import { hashedFileWriter } from '../../src/core/hashed-write.js';
import { DbError } from '../../src/core/errors.js';

test('walNeeded keeps the segments from backup start to stop on that timeline, and history files', () => {
  const names = ['000000010000000000000003', '000000010000000000000004', '000000010000000000000005', '000000010000000000000006', '000000010000000000000007', '000000020000000000000005', '00000002.history', 'archive_status', '000000010000000000000005.00000028.backup', 'junk'];
  assert.deepEqual(walNeeded(names, '000000010000000000000004', '000000010000000000000005'), ['000000010000000000000004', '000000010000000000000005', '00000002.history']);
  // preallocated future segments (7) and older recycled ones (3) are left out
  assert.deepEqual(walNeeded(names, '000000010000000000000006', '000000010000000000000006'), ['000000010000000000000006', '00000002.history']);
});

test('checksum schemes: 32-hex md5s are checked the old way, sum64 sums as sum64, everything else with cols64', () => {
  assert.equal(schemeOf([{ name: 'a', rows: 1, checksum: 'd41d8cd98f00b204e9800998ecf8427e' }]), 'md5-sorted');
  assert.equal(schemeOf([{ name: 'a', rows: 1, checksum: 'sum64:-12' }]), 'sum64');
  assert.equal(schemeOf([{ name: 'a', rows: 1, checksum: 'cols64:-12' }]), 'cols64');
  assert.equal(schemeOf([{ name: 'a', rows: 0 }]), 'cols64');
  assert.doesNotMatch(checksumQuery('"s"."t"', 'sum64'), /ORDER BY|string_agg/, 'no sort, no growing string');
  assert.doesNotMatch(checksumQuery('"s"."t"', 'cols64', [{ name: 'id', type: 23 }]), /ORDER BY|string_agg|x::text/, 'no sort, no row text');
  assert.match(checksumQuery('"s"."t"', 'md5-sorted'), /string_agg\(h, '' ORDER BY h\)/);
});

test('cols64 row hash: columns in name order with their own seeds, exact typed hashes, text for the rest, NULLs kept', () => {
  const cols = [{ name: 'b', type: 1700 }, { name: 'a', type: 23 }, { name: 'c"q', type: 25 }, { name: 'd', type: 1184 }];
  const expr = rowHashExpression(cols);
  assert.equal(expr, rowHashExpression([...cols].reverse()), 'the catalog order of the columns does not matter');
  assert.equal(
    expr,
    'coalesce(hashint4extended(x."a", 1), 1) # coalesce(hashtextextended(x."b"::text, 2), 2) # coalesce(hashtextextended(x."c""q" COLLATE "C", 3), 3) # coalesce(timestamp_hash_extended(x."d"::timestamp, 4), 4)',
  );
  // numeric and floats go through their text form: their own hashes call 1.0 and 1.00 (or 0 and -0) equal
  for (const type of [700, 701, 1700]) assert.match(rowHashExpression([{ name: 'v', type }]), /hashtextextended\(x\."v"::text, 1\)/);
  assert.equal(rowHashExpression([]), '0::bigint', 'a table without columns still counts its rows');
});

test('parallelGzip writes gzip members that gunzip reads back whole, in order', async () => {
  const input = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.from(`${i}:`.repeat(5000 + i * 37))));
  for (const memberBytes of [1000, 64 * 1024, 10 * 1024 * 1024]) {
    const chunks: Buffer[] = [];
    const gz = parallelGzip({ memberBytes, parallel: 3 });
    gz.on('data', (c: Buffer) => chunks.push(c));
    const done = new Promise((r, j) => gz.on('end', r).on('error', j));
    for (let i = 0; i < input.length; i += 7777) gz.write(input.subarray(i, i + 7777));
    gz.end();
    await done;
    const out = Buffer.concat(chunks);
    assert.equal(out[0], 0x1f);
    assert.deepEqual(gunzipSync(out), input, `members of ${memberBytes} bytes`);
  }
  const empty: Buffer[] = [];
  const gz = parallelGzip();
  gz.on('data', (c: Buffer) => empty.push(c));
  await new Promise((r) => gz.on('end', r).end());
  assert.equal(gunzipSync(Buffer.concat(empty)).length, 0, 'an empty input is still a valid gzip file');
});

test('parseJobs takes 1 to 64 and refuses everything else as a usage error', () => {
  assert.equal(parseJobs(undefined), undefined);
  assert.equal(parseJobs(4), 4);
  assert.equal(parseJobs('2'), 2);
  assert.equal(parseJobs(' 8 '), 8);
  for (const bad of [0, -1, 1000, 65, 2.5, NaN, 'x', '', '-1', '1e2', '0x10', '2; rm -rf /', null, {}, [2]]) {
    assert.throws(() => parseJobs(bad), (e: unknown) => e instanceof DbError && e.code === 'USAGE', `jobs ${JSON.stringify(bad)}`);
  }
});

test('directoryDigest does not depend on listing order and changes with any file', () => {
  const files = [
    { path: 'toc.dat', size_bytes: 3, sha256: 'a'.repeat(64) },
    { path: '3001.dat.gz', size_bytes: 5, sha256: 'b'.repeat(64) },
  ];
  assert.equal(directoryDigest(files), directoryDigest([...files].reverse()));
  assert.notEqual(directoryDigest(files), directoryDigest([files[0]!, { ...files[1]!, sha256: 'c'.repeat(64) }]));
  assert.notEqual(directoryDigest(files), directoryDigest([files[0]!]));
});

test('hashedFileWriter hashes exactly the bytes it writes, file 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-hashed-'));
  try {
    const file = join(dir, 'out');
    const w = hashedFileWriter(file);
    for (let i = 0; i < 100; i++) w.stream.write(Buffer.alloc(10_000, i));
    w.stream.end('tail');
    const got = await w.done;
    const bytes = readFileSync(file);
    assert.equal(got.size, bytes.length);
    assert.equal(got.sha256, createHash('sha256').update(bytes).digest('hex'));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // a destination that cannot be written fails `done`
    const bad = hashedFileWriter(join(dir, 'missing', 'x'));
    bad.stream.end('x');
    await assert.rejects(bad.done, /ENOENT/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
