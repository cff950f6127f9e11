import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_HOSTS } from '../../src/core/install/host.js';
import type { ArtifactResolver, InstallRequest, PlanStep } from '../../src/core/install/plan.js';
import { describeStep } from '../../src/core/install/plan.js';
import { DbError, NotApplicableError } from '../../src/core/errors.js';
import { need } from '../../src/engines/need.js';
import { versionNotice } from '../../src/core/versions.js';
import { engine } from '../../src/engines/redis/index.js';
import { parseAclLine, grantRules } from '../../src/engines/redis/admin.js';
import { parseClientList, keyPrefix } from '../../src/engines/redis/inspect.js';
import { parseInfo, parseKeyspace } from '../../src/engines/redis/client.js';
import { confValue, renderAcl, renderConfig, sha256 } from '../../src/engines/redis/instance.js';
import type { InstanceContext } from '../../src/engines/contract.js';
import type { SourceId } from '../../src/engines/ids.js';

const resolver: ArtifactResolver = {
  npmPackage: () => Promise.reject(new Error('redis plans must not need the npm registry')),
};

function request(version: string, source: SourceId): InstallRequest {
  return { engine: 'redis', version, source, instance: 'main', port: 6379, dataDir: '/tmp/redis-data' };
}

function commands(steps: PlanStep[]): string[] {
  return steps.map(describeStep);
}

test('engine info: versions, EOL dates, port and terms', () => {
  const v = Object.fromEntries(engine.info.versions.map((x) => [x.version, x.eol]));
  assert.deepEqual(v, { '7.0': '2024-07-31', '7.2': '2026-02-28' });
  assert.equal(engine.info.defaultPort, 6379);
  assert.deepEqual(engine.info.terms, { database: 'keyspace', table: 'key type' });
  const notice = versionNotice(engine.info, '7.0', '7.0.15', new Date('2026-01-01'));
  assert.equal(notice.eol, true);
  assert.match(notice.message ?? '', /end of life on 2024-07-31/);
  assert.equal(versionNotice(engine.info, '7.2', '7.2.4', new Date('2025-01-01')).eol, false);
});

test('default source per host', () => {
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['debian-12']!, '7.0'), 'apt');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['ubuntu-24.04']!, '7.0'), 'apt');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['fedora-40']!, '7.2'), 'dnf');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['rhel-9']!, '7.2'), 'dnf');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['macos-arm64']!, '7.2'), 'brew');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['windows-x64']!, '7.2'), 'container');
});

test('apt 7.0 on Debian 12 and Ubuntu 24.04: the distribution package, binaries in /usr/bin', async () => {
  for (const key of ['debian-12', 'ubuntu-24.04']) {
    const plan = await engine.install.plan(request('7.0', 'apt'), SAMPLE_HOSTS[key]!, resolver);
    assert.equal(plan.binDir, '/usr/bin');
    assert.ok(!plan.manualOnly);
    const cmds = commands(plan.steps);
    assert.ok(cmds.some((c) => c.includes('apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends redis-server redis-tools')), cmds.join('\n'));
    assert.ok(!cmds.some((c) => c.includes('packages.redis.io')), 'no third-party repo for the distro line');
    assert.ok(plan.steps.some((s) => s.kind === 'engine-step' && s.action === 'release-distro-service' && s.params['port'] === '6379'));
    assert.ok(plan.notes.some((n) => /post-install/.test(n)));
  }
});

test('apt 7.2 on Debian 12: packages.redis.io with a signed-by keyring and a version pin', async () => {
  const plan = await engine.install.plan(request('7.2', 'apt'), SAMPLE_HOSTS['debian-12']!, resolver);
  assert.equal(plan.binDir, '/usr/bin');
  const download = plan.steps.find((s) => s.kind === 'download');
  assert.ok(download && download.kind === 'download' && download.url === 'https://packages.redis.io/gpg');
  const list = plan.steps.find((s) => s.kind === 'write-file' && s.path === '/etc/apt/sources.list.d/redis.list');
  assert.ok(list && list.kind === 'write-file');
  assert.equal(list.content, 'deb [signed-by=/usr/share/keyrings/redis-archive-keyring.gpg] https://packages.redis.io/deb bookworm main\n');
  const pin = plan.steps.find((s) => s.kind === 'write-file' && s.path.startsWith('/etc/apt/preferences.d/'));
  assert.ok(pin && pin.kind === 'write-file' && pin.content.includes('Pin: version 6:7.2.*'));
  const cmds = commands(plan.steps);
  assert.ok(cmds.some((c) => c.includes('gpg --batch --yes --dearmor -o /usr/share/keyrings/redis-archive-keyring.gpg')));
  // the key is installed before the list that trusts it, and both before apt-get update
  const idx = (pred: (s: PlanStep) => boolean) => plan.steps.findIndex(pred);
  const keyAt = idx((s) => s.kind === 'command' && s.argv.includes('--dearmor'));
  const listAt = idx((s) => s === list);
  const updateAt = idx((s) => s.kind === 'command' && s.argv.join(' ') === 'apt-get -o DPkg::Lock::Timeout=600 update');
  assert.ok(keyAt < listAt && listAt < updateAt, `order: key ${keyAt}, list ${listAt}, update ${updateAt}`);
});

test('apt 7.2 on Ubuntu 24.04 uses the noble repository', async () => {
  const plan = await engine.install.plan(request('7.2', 'apt'), SAMPLE_HOSTS['ubuntu-24.04']!, resolver);
  const list = plan.steps.find((s) => s.kind === 'write-file' && s.path.endsWith('redis.list'));
  assert.ok(list && list.kind === 'write-file' && / noble main\n$/.test(list.content));
});

test('apt is refused on non-Debian hosts', async () => {
  for (const key of ['fedora-40', 'macos-arm64']) {
    await assert.rejects(engine.install.plan(request('7.0', 'apt'), SAMPLE_HOSTS[key]!, resolver), (e: DbError) => e.code === 'UNSUPPORTED_PLATFORM');
  }
});

test('dnf: Fedora 40 packages 7.2; RHEL 9 uses the redis:7 module stream; 7.0 is honestly manual', async () => {
  const fedora = await engine.install.plan(request('7.2', 'dnf'), SAMPLE_HOSTS['fedora-40']!, resolver);
  assert.deepEqual(commands(fedora.steps), ['sudo dnf install -y redis']);
  assert.equal(fedora.binDir, '/usr/bin');
  const rhel = await engine.install.plan(request('7.2', 'dnf'), SAMPLE_HOSTS['rhel-9']!, resolver);
  assert.deepEqual(commands(rhel.steps), ['sudo dnf module enable -y redis:7', 'sudo dnf install -y redis']);
  for (const key of ['fedora-40', 'rhel-9']) {
    const old = await engine.install.plan(request('7.0', 'dnf'), SAMPLE_HOSTS[key]!, resolver);
    assert.equal(old.manualOnly, true);
    assert.match(commands(old.steps).join('\n'), /7\.2/);
  }
  await assert.rejects(engine.install.plan(request('7.2', 'dnf'), SAMPLE_HOSTS['debian-12']!, resolver), (e: DbError) => e.code === 'UNSUPPORTED_PLATFORM');
});

test('brew: the redis formula, Homebrew prefix per architecture', async () => {
  const plan = await engine.install.plan(request('7.2', 'brew'), SAMPLE_HOSTS['macos-arm64']!, resolver);
  assert.deepEqual(commands(plan.steps), ['brew install redis']);
  assert.equal(plan.binDir, '/opt/homebrew/bin');
  assert.ok(plan.notes.some((n) => /newest Redis release/.test(n)));
  const intel = await engine.install.plan(request('7.2', 'brew'), { ...SAMPLE_HOSTS['macos-arm64']!, arch: 'x64' }, resolver);
  assert.equal(intel.binDir, '/usr/local/bin');
});

test('Windows: a manual-only plan that says there is no native build and offers WSL or a container', async () => {
  for (const source of ['container', 'apt', 'brew'] as SourceId[]) {
    const plan = await engine.install.plan(request('7.2', source), SAMPLE_HOSTS['windows-x64']!, resolver);
    assert.equal(plan.manualOnly, true);
    const text = commands(plan.steps).join('\n');
    assert.match(text, /no native Windows build/);
    assert.match(text, /wsl --install/);
    assert.match(text, /docker run .*-p 127\.0\.0\.1:6379:6379 redis:7\.2/);
  }
});

test('container source on Linux is manual, loopback-only', async () => {
  const plan = await engine.install.plan(request('7.0', 'container'), SAMPLE_HOSTS['debian-12']!, resolver);
  assert.equal(plan.manualOnly, true);
  assert.match(commands(plan.steps).join('\n'), /127\.0\.0\.1:6379:6379 redis:7\.0/);
});

test('keyspace names: 0-15 only', () => {
  const v = need(engine, 'validateIdentifier');
  assert.equal(v('database', '0'), '0');
  assert.equal(v('database', '15'), '15');
  for (const bad of ['16', '-1', '01', 'db0', 'foo', '', '1.5', '0 ', '99']) {
    assert.throws(() => v('database', bad), (e: DbError) => e.code === 'INVALID_IDENTIFIER', bad);
  }
  assert.equal(v('user', 'app_reader'), 'app_reader');
  assert.throws(() => v('user', 'bad user'), (e: DbError) => e.code === 'INVALID_IDENTIFIER');
  assert.throws(() => v('user', '>pass'), (e: DbError) => e.code === 'INVALID_IDENTIFIER');
});

test('not-applicable operations name db_tables', () => {
  for (const op of ['schema', 'tableInfo', 'indexes', 'constraints'] as const) {
    assert.throws(() => need(engine, op), (e: NotApplicableError) => e.code === 'NOT_APPLICABLE' && /db_tables/.test(e.message), op);
  }
});

test('ACL lines parse into users with grants; passwords never appear', () => {
  const u = parseAclLine('user app on sanitize-payload #eac6 resetchannels -@all +@read ~app:*');
  assert.deepEqual(u, { name: 'app', canLogin: true, superuser: false, grants: ['resetchannels', '-@all', '+@read', '~app:*'] });
  const d = parseAclLine('user default on #fc22 ~* &* +@all');
  assert.equal(d?.superuser, true);
  assert.equal(parseAclLine('user x off nopass')?.canLogin, false);
});

test('grant words become ACL rules; passwords and flags are refused', () => {
  assert.deepEqual(grantRules('read'), ['+@read']);
  assert.deepEqual(grantRules('-@dangerous'), ['-@dangerous']);
  assert.deepEqual(grantRules('~cache:*'), ['~cache:*']);
  assert.deepEqual(grantRules('%R~logs:*'), ['%R~logs:*']);
  assert.deepEqual(grantRules('+GET'), ['+get']);
  assert.deepEqual(grantRules('+config|get'), ['+config|get']);
  assert.deepEqual(grantRules('all'), ['+@all', '~*', '&*']);
  for (const bad of ['>secret', 'nopass', 'off', 'reset', '+@re ad', '']) assert.throws(() => grantRules(bad), (e: DbError) => e.code === 'USAGE', bad);
});

test('INFO, keyspace and CLIENT LIST parsing', () => {
  const m = parseInfo('# Keyspace\r\ndb0:keys=100,expires=2,avg_ttl=0\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n# Stats\r\nkeyspace_hits:5\r\n');
  assert.deepEqual(parseKeyspace(m), [
    { db: 0, keys: 100, expires: 2 },
    { db: 3, keys: 1, expires: 0 },
  ]);
  assert.equal(m['keyspace_hits'], '5');
  const conns = parseClientList('id=15 addr=127.0.0.1:50182 laddr=127.0.0.1:6379 fd=8 name=worker age=3 idle=2 flags=N db=4 cmd=client|list user=app\n');
  assert.deepEqual(conns[0], { id: '15', client: '127.0.0.1:50182 (worker)', user: 'app', database: '4', state: 'idle', durationMs: 2000, query: 'client list' });
});

test('key prefixes group keys', () => {
  assert.equal(keyPrefix('user:1'), 'user:*');
  assert.equal(keyPrefix('a.b.c'), 'a.*');
  assert.equal(keyPrefix('plain'), '(no prefix)');
});

test('generated redis.conf: loopback, protected mode, RDB, no password in it; ACL file holds only a hash', () => {
  const ctx = {
    name: 'main',
    config: { port: 6390 },
    paths: { root: '/h/i', dataDir: '/h/i/data dir', logFile: '/h/i/server.log', runDir: '/h/i/run', configFile: '/h/i/server.conf', pidFile: '/h/i/run/server.pid', backupDir: '/h/b' },
  } as unknown as InstanceContext;
  const conf = renderConfig(ctx);
  for (const line of ['port 6390', 'bind 127.0.0.1', 'protected-mode yes', 'daemonize no', 'appendonly no', 'dbfilename dump.rdb', 'dir "/h/i/data dir"', 'logfile /h/i/server.log', 'pidfile /h/i/run/redis.pid', 'aclfile /h/i/users.acl']) {
    assert.ok(conf.split('\n').includes(line), `missing: ${line}\n${conf}`);
  }
  const acl = renderAcl('s3cretPassw0rd');
  assert.ok(!acl.includes('s3cretPassw0rd'));
  assert.equal(acl, `user default on #${sha256('s3cretPassw0rd')} ~* &* +@all\n`);
  assert.equal(confValue('a"b'), '"a\\"b"');
});

test('connection URL masks the password unless asked, and checks the keyspace', () => {
  // an instance without a certificate (made before TLS, or without openssl): plain redis://
  const ctx = { name: 'main', config: { port: 6390 }, paths: { root: '/nonexistent/portunix-db/i', dataDir: '/nonexistent/portunix-db/i/data' } } as unknown as InstanceContext;
  const url = need(engine, 'connectionUrl');
  assert.equal(url(ctx, { showPassword: false, password: 'pw' }), 'redis://default:***@127.0.0.1:6390/0');
  assert.equal(url(ctx, { showPassword: true, password: 'pw', database: '2' }), 'redis://default:pw@127.0.0.1:6390/2');
  assert.throws(() => url(ctx, { showPassword: false, password: 'pw', database: '42' }), (e: DbError) => e.code === 'INVALID_IDENTIFIER');
});
