/** followDirectory: a directory's digests taken while a writer fills it equal a hash of the finished files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { followDirectory } from '../../src/core/follow-directory.js';
import { digestDirectory } from '../../src/core/backup-manifest.js';
import { DbError } from '../../src/core/errors.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'pdb-follow-'));

test('files appended in pieces while followed (and one made after the last look) hash as the finished files do', async () => {
  const root = fresh();
  const dir = join(root, 'dump.d');
  try {
    // the directory does not exist yet when following starts, as with pg_dump --format=directory
    const follow = followDirectory(dir, 2);
    await sleep(10);
    mkdirSync(dir);
    for (let i = 0; i < 40; i++) {
      appendFileSync(join(dir, '3001.dat.gz'), randomBytes(1 + Math.floor(Math.random() * 70_000)));
      if (i % 3 === 0) appendFileSync(join(dir, '3002.dat.gz'), randomBytes(Math.floor(Math.random() * 5000)));
      await sleep(Math.random() * 4);
    }
    appendFileSync(join(dir, '3001.dat.gz'), randomBytes(3 << 20)); // more than one read chunk
    writeFileSync(join(dir, 'toc.dat'), randomBytes(777)); // written last, as pg_dump's leader does
    const got = await follow.finish();
    assert.deepEqual(got, await digestDirectory(dir));
    assert.deepEqual(got.map((f) => f.path), ['3001.dat.gz', '3002.dat.gz', 'toc.dat']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('a file replaced under its name, or cut short, after it was read is hashed as it is at the end', async () => {
  const dir = fresh();
  try {
    writeFileSync(join(dir, 'a.dat'), randomBytes(50_000));
    writeFileSync(join(dir, 'b.dat'), randomBytes(50_000));
    const follow = followDirectory(dir, 2);
    await sleep(30);
    writeFileSync(join(dir, 'a.new'), randomBytes(1234));
    renameSync(join(dir, 'a.new'), join(dir, 'a.dat'));
    truncateSync(join(dir, 'b.dat'), 100);
    const got = await follow.finish();
    assert.deepEqual(got, await digestDirectory(dir));
    assert.equal(got[0]!.size_bytes, 1234);
    assert.equal(got[1]!.size_bytes, 100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a link or other non-file in the directory is refused; stop() after a failed write closes everything', async () => {
  const dir = fresh();
  try {
    writeFileSync(join(dir, 'a.dat'), 'x');
    symlinkSync('/etc/passwd', join(dir, 'evil.dat'));
    execFileSync('mkfifo', [join(dir, 'pipe.dat')]); // would block an open that waited for a writer
    const follow = followDirectory(dir, 2);
    await sleep(20);
    await assert.rejects(follow.finish(), (err: unknown) => err instanceof DbError && err.code === 'BACKUP_CORRUPT' && /evil\.dat|pipe\.dat/.test(err.message));
    const again = followDirectory(dir, 2);
    await sleep(10);
    await again.stop();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
