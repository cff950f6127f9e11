/** Backup speed work (issue 14), the pure parts: WAL selection, checksum schemes, --jobs parsing, directory digests and the hashing writer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumQuery, schemeOf, walNeeded } from '../../src/engines/postgresql/backup.js';
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

test('checksum schemes: old manifests (32-hex md5s) are checked the old way, everything else with sum64', () => {
  assert.equal(schemeOf([{ name: 'a', rows: 1, checksum: 'd41d8cd98f00b204e9800998ecf8427e' }]), 'md5-sorted');
  assert.equal(schemeOf([{ name: 'a', rows: 1, checksum: 'sum64:-12' }]), 'sum64');
  assert.equal(schemeOf([{ name: 'a', rows: 0 }]), 'sum64');
  assert.doesNotMatch(checksumQuery('"s"."t"', 'sum64'), /ORDER BY|string_agg/, 'no sort, no growing string');
  assert.match(checksumQuery('"s"."t"', 'md5-sorted'), /string_agg\(h, '' ORDER BY h\)/);
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
