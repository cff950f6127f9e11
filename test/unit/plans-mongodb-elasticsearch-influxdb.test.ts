import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, statSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'pdb-plans-'));
process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';

const { SAMPLE_HOSTS } = await import('../../src/core/install/host.js');
const { DbError } = await import('../../src/core/errors.js');
const { need } = await import('../../src/engines/need.js');
const { runVendorStep, parseChecksumFile } = await import('../../src/core/install/vendor-steps.js');
const { engine: mongodb } = await import('../../src/engines/mongodb/index.js');
const { engine: elasticsearch } = await import('../../src/engines/elasticsearch/index.js');
const { engine: influxdb } = await import('../../src/engines/influxdb/index.js');
import type { Engine } from '../../src/engines/contract.js';
import type { InstallPlan, PlanStep, ArtifactResolver } from '../../src/core/install/plan.js';

const noResolver: ArtifactResolver = { npmPackage: async () => { throw new Error('these engines never use the npm registry'); } };

async function plan(engine: Engine, version: string, source: string, host: string): Promise<InstallPlan> {
  return engine.install.plan({ engine: engine.info.id, version, source: source as never, instance: 'main', port: engine.info.defaultPort!, dataDir: '/tmp/x' }, SAMPLE_HOSTS[host]!, noResolver);
}
async function planError(engine: Engine, version: string, source: string, host: string): Promise<InstanceType<typeof DbError>> {
  try {
    await plan(engine, version, source, host);
  } catch (err) {
    assert.ok(err instanceof DbError, `expected DbError, got ${String(err)}`);
    assert.ok(err.hint && err.hint.length > 0, 'error carries a hint');
    return err;
  }
  assert.fail(`${engine.info.id} ${version} via ${source} on ${host} should have failed`);
}
const commands = (p: InstallPlan) => p.steps.filter((s): s is Extract<PlanStep, { kind: 'command' }> => s.kind === 'command').map((s) => s.argv);
const writes = (p: InstallPlan) => p.steps.filter((s): s is Extract<PlanStep, { kind: 'write-file' }> => s.kind === 'write-file');

/** Every archive download is followed by its checksum download and a verify step, all before the extract. */
function assertVerifiedDownload(p: InstallPlan, url: string, checksumUrl: string, algorithm: string) {
  const kinds = p.steps.map((s) => s.kind);
  assert.deepEqual(kinds, ['download', 'download', 'engine-step', 'extract']);
  const [archive, sum, verify, extract] = p.steps as [Extract<PlanStep, { kind: 'download' }>, Extract<PlanStep, { kind: 'download' }>, Extract<PlanStep, { kind: 'engine-step' }>, Extract<PlanStep, { kind: 'extract' }>];
  assert.equal(archive.url, url);
  assert.equal(sum.url, checksumUrl);
  assert.equal(verify.action, 'verify-checksum');
  assert.deepEqual(verify.params, { file: archive.dest, checksumFile: sum.dest, algorithm });
  assert.equal(extract.archive, archive.dest);
  assert.equal(extract.stripComponents, 1);
}

function assertContainer(p: InstallPlan, engine: string, image: string, port: number, volume: string) {
  const name = `portunix-db-${engine}-main`;
  const argv = commands(p);
  assert.deepEqual(argv[0], ['docker', 'pull', image]);
  const run = argv[1]!;
  assert.deepEqual(run.slice(0, 13), ['docker', 'run', '-d', '--name', name, '--restart', 'unless-stopped', '-p', `127.0.0.1:${port}:${port}`, '-v', `${name}:${volume}`, '--env-file', join(process.env['PORTUNIX_HOME']!, 'instances', engine, 'main', 'container.env')]);
  assert.equal(run[run.length - 1], image);
  assert.ok(!run.some((a) => /PASSWORD=|TOKEN=/.test(a)), 'no secret on the command line');
  const env = p.steps.find((s) => s.kind === 'engine-step') as Extract<PlanStep, { kind: 'engine-step' }>;
  assert.equal(env.action, 'write-container-env');
  assert.ok(p.steps.indexOf(env) < p.steps.findIndex((s) => s.kind === 'command' && s.argv[1] === 'run'), 'env file written before run');
}

// ---------------- MongoDB ----------------

test('mongodb info: versions, EOL dates, port, terms', () => {
  assert.deepEqual(mongodb.info.versions.map((v) => [v.version, v.eol]), [['6.0', '2025-07-31'], ['7.0', '2027-08-31']]);
  assert.equal(mongodb.info.defaultPort, 27017);
  assert.deepEqual(mongodb.info.terms, { database: 'database', table: 'collection' });
  assert.deepEqual(Object.fromEntries(Object.entries(SAMPLE_HOSTS).map(([k, h]) => [k, mongodb.info.defaultSource(h, '7.0')])), {
    'debian-12': 'apt', 'ubuntu-24.04': 'apt', 'fedora-40': 'container', 'rhel-9': 'dnf', 'macos-arm64': 'brew', 'windows-x64': 'download',
  });
});

test('mongodb apt on debian-12: signed-by repo.mongodb.org list for 7.0; 6.0 is not published for bookworm', async () => {
  const p = await plan(mongodb, '7.0', 'apt', 'debian-12');
  assert.deepEqual(commands(p), [
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update'],
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', 'ca-certificates', 'curl'],
    ['curl', '-fsSL', '-o', '/usr/share/keyrings/mongodb-server-7.0.asc', 'https://pgp.mongodb.com/server-7.0.asc'],
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update'],
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', 'mongodb-org'],
  ]);
  assert.deepEqual(writes(p).map((w) => [w.path, w.content]), [
    ['/etc/apt/sources.list.d/mongodb-org-7.0.list', 'deb [signed-by=/usr/share/keyrings/mongodb-server-7.0.asc] https://repo.mongodb.org/apt/debian bookworm/mongodb-org/7.0 main\n'],
  ]);
  assert.ok(p.steps.every((s) => s.kind !== 'command' || s.sudo), 'system steps are marked sudo');
  const e = await planError(mongodb, '6.0', 'apt', 'debian-12');
  assert.equal(e.code, 'UNSUPPORTED_PLATFORM');
  assert.match(e.message, /6\.0.*debian 12/);
  assert.match(e.hint!, /--source container/);
});

test('mongodb on ubuntu-24.04: no 6.0/7.0 packages or tarballs for noble, clear error; container works', async () => {
  for (const v of ['6.0', '7.0']) for (const s of ['apt', 'download']) assert.match((await planError(mongodb, v, s, 'ubuntu-24.04')).message, /ubuntu 24\.04/);
  assertContainer(await plan(mongodb, '7.0', 'container', 'ubuntu-24.04'), 'mongodb', 'docker.io/library/mongo:7.0.14', 27017, '/data/db');
});

test('mongodb dnf on rhel-9: repo file content, and Fedora is refused', async () => {
  for (const v of ['6.0', '7.0']) {
    const p = await plan(mongodb, v, 'dnf', 'rhel-9');
    assert.deepEqual(writes(p).map((w) => [w.path, w.content]), [[
      `/etc/yum.repos.d/mongodb-org-${v}.repo`,
      `[mongodb-org-${v}]\nname=MongoDB Repository\nbaseurl=https://repo.mongodb.org/yum/redhat/9/mongodb-org/${v}/$basearch/\ngpgcheck=1\nenabled=1\ngpgkey=https://pgp.mongodb.com/server-${v}.asc\n`,
    ]]);
    assert.deepEqual(commands(p), [['dnf', 'install', '-y', 'mongodb-org']]);
  }
  assert.match((await planError(mongodb, '7.0', 'dnf', 'fedora-40')).message, /Fedora/);
  assert.match((await planError(mongodb, '7.0', 'download', 'fedora-40')).message, /Fedora/);
  await planError(mongodb, '7.0', 'apt', 'rhel-9');
  await planError(mongodb, '7.0', 'dnf', 'debian-12');
});

test('mongodb brew and winget only on their platforms', async () => {
  const b = await plan(mongodb, '6.0', 'brew', 'macos-arm64');
  assert.deepEqual(commands(b), [['brew', 'tap', 'mongodb/brew'], ['brew', 'install', 'mongodb/brew/mongodb-community@6.0']]);
  assert.equal(b.binDir, '/opt/homebrew/opt/mongodb-community@6.0/bin');
  const w = await plan(mongodb, '7.0', 'winget', 'windows-x64');
  assert.deepEqual(commands(w), [['winget', 'install', '--id', 'MongoDB.Server', '--exact', '--version', '7.0.14', '--silent', '--accept-source-agreements', '--accept-package-agreements']]);
  for (const h of ['debian-12', 'ubuntu-24.04', 'fedora-40', 'rhel-9', 'windows-x64']) assert.equal((await planError(mongodb, '7.0', 'brew', h)).code, 'UNSUPPORTED_PLATFORM');
  for (const h of ['debian-12', 'ubuntu-24.04', 'fedora-40', 'rhel-9', 'macos-arm64']) await planError(mongodb, '7.0', 'winget', h);
  for (const h of ['macos-arm64', 'windows-x64']) { await planError(mongodb, '7.0', 'apt', h); await planError(mongodb, '7.0', 'dnf', h); }
});

test('mongodb download: exact fastdl URLs with the .sha256 beside them, verified before unpacking', async () => {
  const cases: [string, string, string][] = [
    ['debian-12', '7.0', 'https://fastdl.mongodb.org/linux/mongodb-linux-x86_64-debian12-7.0.14.tgz'],
    ['rhel-9', '6.0', 'https://fastdl.mongodb.org/linux/mongodb-linux-x86_64-rhel90-6.0.16.tgz'],
    ['rhel-9', '7.0', 'https://fastdl.mongodb.org/linux/mongodb-linux-x86_64-rhel90-7.0.14.tgz'],
    ['macos-arm64', '7.0', 'https://fastdl.mongodb.org/osx/mongodb-macos-arm64-7.0.14.tgz'],
    ['windows-x64', '7.0', 'https://fastdl.mongodb.org/windows/mongodb-windows-x86_64-7.0.14.zip'],
  ];
  for (const [host, v, url] of cases) {
    const p = await plan(mongodb, v, 'download', host);
    assertVerifiedDownload(p, url, `${url}.sha256`, 'sha256');
    assert.match(p.binDir!, /binaries[\\/]mongodb[\\/]\d+\.\d+\.\d+[\\/]bin$/);
  }
});

test('mongodb container on every host: 127.0.0.1 binding, named volume, password only in the env file', async () => {
  for (const h of Object.keys(SAMPLE_HOSTS)) assertContainer(await plan(mongodb, '6.0', 'container', h), 'mongodb', 'docker.io/library/mongo:6.0.16', 27017, '/data/db');
});

test('mongodb unknown source is a typed error naming the sources', async () => {
  const e = await planError(mongodb, '7.0', 'portable', 'debian-12');
  assert.equal(e.code, 'UNKNOWN_SOURCE');
  assert.match(e.hint!, /apt, dnf, brew, winget, download, container/);
});

test('mongodb operations are implemented; only embedded status is absent, with a statement naming status', () => {
  for (const op of ['initialize', 'launchSpec', 'listDatabases', 'backup', 'listTables', 'vacuum'] as const) assert.equal(typeof need(mongodb, op), 'function', op);
  assert.throws(() => need(mongodb, 'embeddedStatus'), (err: Error & { code?: string }) => err.code === 'NOT_APPLICABLE' && /portunix-db status mongodb/.test(err.message));
});

// ---------------- Elasticsearch ----------------

test('elasticsearch info and default sources', () => {
  assert.deepEqual(elasticsearch.info.versions, [{ version: '8' }]);
  assert.equal(elasticsearch.info.versions[0]!.eol, undefined);
  assert.equal(elasticsearch.info.defaultPort, 9200);
  assert.equal(elasticsearch.info.terms.database, 'index');
  assert.deepEqual(Object.fromEntries(Object.entries(SAMPLE_HOSTS).map(([k, h]) => [k, elasticsearch.info.defaultSource(h, '8')])), {
    'debian-12': 'apt', 'ubuntu-24.04': 'apt', 'fedora-40': 'dnf', 'rhel-9': 'dnf', 'macos-arm64': 'download', 'windows-x64': 'download',
  });
});

test('elasticsearch apt: artifacts.elastic.co 8.x list with signed-by', async () => {
  for (const h of ['debian-12', 'ubuntu-24.04']) {
    const p = await plan(elasticsearch, '8', 'apt', h);
    assert.deepEqual(writes(p).map((w) => [w.path, w.content]), [['/etc/apt/sources.list.d/elastic-8.x.list', 'deb [signed-by=/usr/share/keyrings/elasticsearch-keyring.asc] https://artifacts.elastic.co/packages/8.x/apt stable main\n']]);
    assert.deepEqual(commands(p)[2], ['curl', '-fsSL', '-o', '/usr/share/keyrings/elasticsearch-keyring.asc', 'https://artifacts.elastic.co/GPG-KEY-elasticsearch']);
    assert.deepEqual(commands(p).at(-1), ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', 'elasticsearch']);
  }
  for (const h of ['fedora-40', 'rhel-9', 'macos-arm64', 'windows-x64']) await planError(elasticsearch, '8', 'apt', h);
});

test('elasticsearch dnf: disabled repo enabled for this install', async () => {
  for (const h of ['fedora-40', 'rhel-9']) {
    const p = await plan(elasticsearch, '8', 'dnf', h);
    assert.deepEqual(writes(p).map((w) => [w.path, w.content]), [['/etc/yum.repos.d/elasticsearch.repo',
      '[elasticsearch]\nname=Elasticsearch repository for 8.x packages\nbaseurl=https://artifacts.elastic.co/packages/8.x/yum\ngpgcheck=1\ngpgkey=https://artifacts.elastic.co/GPG-KEY-elasticsearch\nenabled=0\nautorefresh=1\ntype=rpm-md\n']]);
    assert.deepEqual(commands(p), [['dnf', 'install', '-y', '--enablerepo=elasticsearch', 'elasticsearch']]);
  }
  for (const h of ['debian-12', 'ubuntu-24.04', 'macos-arm64', 'windows-x64']) await planError(elasticsearch, '8', 'dnf', h);
});

test('elasticsearch download: exact artifact URLs with .sha512 beside them', async () => {
  const b = 'https://artifacts.elastic.co/downloads/elasticsearch/elasticsearch-8.17.0';
  const cases: [string, string][] = [['debian-12', `${b}-linux-x86_64.tar.gz`], ['fedora-40', `${b}-linux-x86_64.tar.gz`], ['macos-arm64', `${b}-darwin-aarch64.tar.gz`], ['windows-x64', `${b}-windows-x86_64.zip`]];
  for (const [h, url] of cases) assertVerifiedDownload(await plan(elasticsearch, '8', 'download', h), url, `${url}.sha512`, 'sha512');
});

test('elasticsearch brew is refused with the reason (the tap stops at 7.x) on every host', async () => {
  for (const h of Object.keys(SAMPLE_HOSTS)) assert.equal((await planError(elasticsearch, '8', 'brew', h)).code, 'UNSUPPORTED_PLATFORM');
  assert.match((await planError(elasticsearch, '8', 'brew', 'macos-arm64')).message, /7\.x/);
});

test('elasticsearch container keeps security on and the password in the env file', async () => {
  for (const h of Object.keys(SAMPLE_HOSTS)) {
    const p = await plan(elasticsearch, '8', 'container', h);
    assertContainer(p, 'elasticsearch', 'docker.elastic.co/elasticsearch/elasticsearch:8.17.0', 9200, '/usr/share/elasticsearch/data');
    assert.ok(commands(p)[1]!.includes('xpack.security.enabled=true'));
    assert.equal((p.steps[1] as Extract<PlanStep, { kind: 'engine-step' }>).params['secrets'], 'ELASTIC_PASSWORD=admin');
  }
});

// ---------------- InfluxDB ----------------

test('influxdb info and default sources', () => {
  assert.deepEqual(influxdb.info.versions, [{ version: '1.6', latest: '1.6.7' }, { version: '2' }]);
  assert.equal(influxdb.info.defaultPort, 8086);
  assert.deepEqual(influxdb.info.terms, { database: 'database', table: 'measurement' });
  assert.deepEqual(Object.fromEntries(Object.entries(SAMPLE_HOSTS).map(([k, h]) => [k, influxdb.info.defaultSource(h, '2')])), {
    'debian-12': 'apt', 'ubuntu-24.04': 'apt', 'fedora-40': 'dnf', 'rhel-9': 'dnf', 'macos-arm64': 'brew', 'windows-x64': 'download',
  });
});

test('influxdb apt, dnf, brew', async () => {
  const a = await plan(influxdb, '2', 'apt', 'ubuntu-24.04');
  assert.deepEqual(writes(a).map((w) => [w.path, w.content]), [['/etc/apt/sources.list.d/influxdata.list', 'deb [signed-by=/usr/share/keyrings/influxdata-archive.asc] https://repos.influxdata.com/debian stable main\n']]);
  assert.deepEqual(commands(a)[2], ['curl', '-fsSL', '-o', '/usr/share/keyrings/influxdata-archive.asc', 'https://repos.influxdata.com/influxdata-archive.key']);
  assert.deepEqual(commands(a).at(-1), ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', 'influxdb2', 'influxdb2-cli']);
  const d = await plan(influxdb, '2', 'dnf', 'rhel-9');
  assert.deepEqual(writes(d).map((w) => [w.path, w.content]), [['/etc/yum.repos.d/influxdata.repo',
    '[influxdata]\nname = InfluxData Repository - Stable\nbaseurl = https://repos.influxdata.com/stable/$basearch/main\nenabled = 1\ngpgcheck = 1\ngpgkey = https://repos.influxdata.com/influxdata-archive.key\n']]);
  assert.deepEqual(commands(d), [['dnf', 'install', '-y', 'influxdb2', 'influxdb2-cli']]);
  assert.deepEqual(commands(await plan(influxdb, '2', 'brew', 'macos-arm64')), [['brew', 'install', 'influxdb', 'influxdb-cli']]);
  for (const h of ['debian-12', 'ubuntu-24.04', 'fedora-40', 'rhel-9', 'windows-x64']) await planError(influxdb, '2', 'brew', h);
  for (const h of ['fedora-40', 'rhel-9', 'macos-arm64', 'windows-x64']) await planError(influxdb, '2', 'apt', h);
  for (const h of ['debian-12', 'ubuntu-24.04', 'macos-arm64', 'windows-x64']) await planError(influxdb, '2', 'dnf', h);
});

test('influxdb 1.6: Debian\'s own packages, the package service kept off the network; other sources name apt', async () => {
  const a = await plan(influxdb, '1.6', 'apt', 'debian-12');
  assert.deepEqual(commands(a), [
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'update'],
    ['apt-get', '-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '--no-install-recommends', 'influxdb', 'influxdb-client'],
  ]);
  assert.equal(writes(a).length, 0, 'no third-party repository');
  assert.ok(a.steps.some((s) => s.kind === 'engine-step' && s.action === 'release-distro-service'));
  assert.equal(a.binDir, '/usr/bin');
  for (const [source, h] of [['dnf', 'rhel-9'], ['brew', 'macos-arm64'], ['download', 'debian-12'], ['container', 'debian-12']] as const) {
    assert.match((await planError(influxdb, '1.6', source, h)).message, /InfluxDB 1\.6 is not offered from --source/);
  }
  assert.equal(influxdb.info.defaultSource(SAMPLE_HOSTS['macos-arm64']!, '1.6'), 'apt');
});

test('influxdb download: exact URLs with .sha256 beside them', async () => {
  const b = 'https://download.influxdata.com/influxdb/releases/influxdb2-2.7.11';
  const cases: [string, string][] = [['debian-12', `${b}_linux_amd64.tar.gz`], ['rhel-9', `${b}_linux_amd64.tar.gz`], ['macos-arm64', `${b}_darwin_amd64.tar.gz`], ['windows-x64', `${b}-windows.zip`]];
  for (const [h, url] of cases) assertVerifiedDownload(await plan(influxdb, '2', 'download', h), url, `${url}.sha256`, 'sha256');
});

test('influxdb container: password and operator token only in the env file', async () => {
  for (const h of Object.keys(SAMPLE_HOSTS)) {
    const p = await plan(influxdb, '2', 'container', h);
    assertContainer(p, 'influxdb', 'docker.io/library/influxdb:2.7.11', 8086, '/var/lib/influxdb2');
    assert.equal((p.steps[1] as Extract<PlanStep, { kind: 'engine-step' }>).params['secrets'], 'DOCKER_INFLUXDB_INIT_PASSWORD=admin,DOCKER_INFLUXDB_INIT_ADMIN_TOKEN=token');
  }
});

test('elasticsearch and influxdb operations are absent with plain statements', () => {
  assert.throws(() => need(elasticsearch, 'constraints'), /no constraints/);
  assert.throws(() => need(influxdb, 'constraints'), /no constraints/);
  assert.throws(() => need(influxdb, 'vacuum'), /no VACUUM/);
});

// ---------------- the vendor steps themselves ----------------

test('verify-checksum accepts the published digest and deletes the archive on mismatch', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-sum-'));
  const file = join(dir, 'a.tgz');
  writeFileSync(file, 'archive bytes');
  const good = createHash('sha512').update('archive bytes').digest('hex');
  writeFileSync(join(dir, 'a.tgz.sha512'), `${good}  a.tgz\n`);
  assert.equal(await runVendorStep('verify-checksum', { file, checksumFile: join(dir, 'a.tgz.sha512'), algorithm: 'sha512' }, () => undefined), true);
  assert.ok(existsSync(file));
  writeFileSync(join(dir, 'a.tgz.sha512'), `${'0'.repeat(128)}  a.tgz\n`);
  await assert.rejects(runVendorStep('verify-checksum', { file, checksumFile: join(dir, 'a.tgz.sha512'), algorithm: 'sha512' }, () => undefined), (e: Error & { code?: string }) => e.code === 'INTEGRITY_MISMATCH');
  assert.ok(!existsSync(file), 'a mismatching archive is deleted, never unpacked');
  assert.equal(parseChecksumFile('nothing here', 'sha256'), undefined);
  assert.equal(parseChecksumFile(`${'ab'.repeat(32)} *x.zip`, 'sha256'), 'ab'.repeat(32));
});

test('write-container-env writes a 0600 file with a generated password that is stored, and reuses it', async () => {
  const file = join(process.env['PORTUNIX_HOME']!, 'instances', 'mongodb', 'envtest', 'container.env');
  const params = { engine: 'mongodb', instance: 'envtest', file, secrets: 'MONGO_INITDB_ROOT_PASSWORD=admin' };
  await runVendorStep('write-container-env', params, () => undefined);
  const first = readFileSync(file, 'utf8');
  assert.match(first, /^MONGO_INITDB_ROOT_PASSWORD=[A-Za-z0-9]{32}\n$/);
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  await runVendorStep('write-container-env', params, () => undefined);
  assert.equal(readFileSync(file, 'utf8'), first, 'the stored password is reused');
});

test('mongodb container: the full install plan agrees with its note (no portunix-db instance, no service user)', async () => {
  const { install } = await import('../../src/core/ops/lifecycle.js');
  for (const host of ['debian-12', 'fedora-40', 'macos-arm64']) {
    const r = await install({ type: 'mongodb', source: 'container', dryRun: true, host: { ...SAMPLE_HOSTS[host]!, isRoot: true } });
    const kinds = r.plan.steps.map((s) => s.kind);
    assert.ok(!kinds.includes('init-instance') && !kinds.includes('ensure-service-user'), `${host}: ${kinds.join(', ')}`);
    assert.ok(r.plan.steps.some((s) => s.kind === 'command' && s.argv[0] === 'docker' && s.argv[1] === 'run'), host);
    assert.ok(r.plan.notes.some((n) => /does not supervise, inspect or back up container instances/.test(n)), host);
  }
  // the managed sources still initialise an instance
  const apt = await install({ type: 'mongodb', source: 'apt', dryRun: true, host: { ...SAMPLE_HOSTS['debian-12']!, isRoot: true } });
  assert.ok(apt.plan.steps.some((s) => s.kind === 'init-instance'));
});
