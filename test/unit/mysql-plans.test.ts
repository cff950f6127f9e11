/**
 * MySQL family without a server: install plans on every SAMPLE_HOST and source, engine info,
 * identifier and privilege validation, the generated option file, and small pure helpers.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_HOSTS } from '../../src/core/install/host.js';
import type { ArtifactResolver, InstallPlan, InstallRequest, PlanStep } from '../../src/core/install/plan.js';
import { describeStep } from '../../src/core/install/plan.js';
import { DbError } from '../../src/core/errors.js';
import { versionNotice } from '../../src/core/versions.js';
import { engine as mysql } from '../../src/engines/mysql/index.js';
import { engine as mariadb } from '../../src/engines/mariadb/index.js';
import { validateMysqlIdentifier, validatePrivileges, validateCharsetName } from '../../src/engines/mysql-family/identifiers.js';
import { parseExtraSettings, renderOptionFile, rootPasswordSql } from '../../src/engines/mysql-family/instance.js';
import { sqlValue } from '../../src/engines/mysql-family/config.js';
import { FLAVOURS } from '../../src/engines/mysql-family/client.js';
import type { Engine, InstanceContext } from '../../src/engines/contract.js';
import type { SourceId } from '../../src/engines/ids.js';

const resolver: ArtifactResolver = { npmPackage: () => Promise.reject(new Error('MySQL-family plans must not need the npm registry')) };

function req(e: Engine, version: string, source: SourceId): InstallRequest {
  return { engine: e.info.id, version, source, instance: 'main', port: 3306, dataDir: '/tmp/my-data' };
}
const cmds = (steps: PlanStep[]) => steps.map(describeStep);
const host = (k: string) => SAMPLE_HOSTS[k]!;

afterEach(() => {
  delete process.env['PORTUNIX_DB_MYSQL_TARBALL_SHA256'];
});

test('engine info: versions with EOL dates and latest patches, port 3306, sources', () => {
  assert.deepEqual(Object.fromEntries(mysql.info.versions.map((v) => [v.version, v.eol])), { '8.0': '2026-04-30', '8.4': '2032-04-30' });
  assert.deepEqual(Object.fromEntries(mariadb.info.versions.map((v) => [v.version, v.eol])), { '10.11': '2028-02-16', '11.4': '2029-05-29' });
  for (const e of [mysql, mariadb]) {
    assert.equal(e.info.defaultPort, 3306);
    assert.equal(e.info.family, 'mysql');
    assert.ok(e.info.versions.every((v) => v.latest && v.latest.startsWith(v.version + '.')));
  }
  assert.deepEqual(mysql.info.sources, ['apt', 'dnf', 'brew', 'winget', 'download']);
  assert.deepEqual(mariadb.info.sources, ['apt', 'dnf', 'brew', 'winget']);
  assert.equal(versionNotice(mysql.info, '8.0', '8.0.40', new Date('2026-06-01')).eol, true);
  assert.equal(versionNotice(mysql.info, '8.4', '8.4.6', new Date('2026-06-01')).eol, false);
});

test('every contract operation a server engine needs is present', () => {
  const ops = ['initialize', 'launchSpec', 'isReady', 'shutdown', 'serverVersion', 'connectionUrl', 'listDatabases', 'createDatabase', 'dropDatabase', 'listUsers', 'createUser', 'deleteUser', 'grant', 'revoke', 'databaseSizes', 'listTables', 'schema', 'tableInfo', 'indexes', 'constraints', 'connections', 'performance', 'health', 'enableStatements', 'backup', 'restore', 'fingerprint', 'configList', 'configGet', 'configSet', 'vacuum', 'validateIdentifier'] as const;
  for (const e of [mysql, mariadb]) for (const op of ops) assert.equal(typeof e[op], 'function', `${e.info.id}.${op}`);
  assert.match(mariadb.unsupported.embeddedStatus ?? '', /server/);
});

test('default source per host', () => {
  for (const e of [mysql, mariadb]) {
    const v = e.info.defaultVersion;
    assert.equal(e.info.defaultSource(host('debian-12'), v), 'apt');
    assert.equal(e.info.defaultSource(host('ubuntu-24.04'), v), 'apt');
    assert.equal(e.info.defaultSource(host('fedora-40'), v), 'dnf');
    assert.equal(e.info.defaultSource(host('rhel-9'), v), 'dnf');
    assert.equal(e.info.defaultSource(host('macos-arm64'), v), 'brew');
    assert.equal(e.info.defaultSource(host('windows-x64'), v), 'winget');
  }
});

test("apt MariaDB 10.11 on Debian 12 / Ubuntu 24.04: the distribution's mariadb-server, service guarded", async () => {
  for (const k of ['debian-12', 'ubuntu-24.04']) {
    const plan = await mariadb.install.plan(req(mariadb, '10.11', 'apt'), host(k), resolver);
    const c = cmds(plan.steps);
    assert.equal(plan.binDir, '/usr/sbin');
    assert.ok(c.some((x) => x.includes('apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends mariadb-server mariadb-client')), c.join('\n'));
    assert.ok(!c.some((x) => x.includes('dlm.mariadb.com')), 'no vendor repo for the distro line');
    const idxRecord = plan.steps.findIndex((s) => s.kind === 'engine-step' && s.action === 'record-distro-service');
    const idxInstall = plan.steps.findIndex((s) => s.kind === 'command' && s.argv.includes('mariadb-server'));
    const idxStop = plan.steps.findIndex((s) => s.kind === 'engine-step' && s.action === 'stop-distro-service');
    assert.ok(idxRecord >= 0 && idxRecord < idxInstall && idxInstall < idxStop, 'the package service is recorded before and stopped after the install');
    assert.ok(plan.steps.filter((s) => s.kind === 'command').every((s) => s.kind === 'command' && s.sudo));
  }
});

test('apt MariaDB 11.4: the MariaDB repository, signed, for the right distro and suite', async () => {
  const plan = await mariadb.install.plan(req(mariadb, '11.4', 'apt'), host('ubuntu-24.04'), resolver);
  const repo = plan.steps.find((s): s is Extract<PlanStep, { kind: 'write-file' }> => s.kind === 'write-file');
  assert.ok(repo);
  assert.match(repo.content, /URIs: https:\/\/dlm\.mariadb\.com\/repo\/mariadb-server\/11\.4\/repo\/ubuntu/);
  assert.match(repo.content, /Suites: noble/);
  assert.match(repo.content, /Signed-By: \/etc\/apt\/keyrings\/mariadb-keyring\.pgp/);
  const c = cmds(plan.steps);
  assert.ok(c.findIndex((x) => x.includes('mariadb_release_signing_key')) < c.findIndex((x) => x.includes('install -y --no-install-recommends mariadb-server')));
});

test('apt MySQL 8.0 / 8.4: the MySQL APT repository component', async () => {
  for (const [v, component] of [['8.0', 'mysql-8.0'], ['8.4', 'mysql-8.4-lts']] as const) {
    const plan = await mysql.install.plan(req(mysql, v, 'apt'), host('debian-12'), resolver);
    const repo = plan.steps.find((s): s is Extract<PlanStep, { kind: 'write-file' }> => s.kind === 'write-file')!;
    assert.match(repo.content, /URIs: http:\/\/repo\.mysql\.com\/apt\/debian/);
    assert.match(repo.content, new RegExp(`Components: ${component}\\n`));
    assert.match(repo.content, /Suites: bookworm/);
    assert.ok(cmds(plan.steps).some((x) => x.includes('mysql-community-server mysql-community-client')));
    assert.equal(plan.binDir, '/usr/sbin');
    assert.ok(plan.steps.some((s) => s.kind === 'engine-step' && s.action === 'stop-distro-service' && s.params['service'] === 'mysql'));
  }
});

test('dnf: vendor repositories on Fedora 40 and RHEL 9', async () => {
  const m = await mysql.install.plan(req(mysql, '8.4', 'dnf'), host('rhel-9'), resolver);
  const mrepo = m.steps.find((s): s is Extract<PlanStep, { kind: 'write-file' }> => s.kind === 'write-file')!;
  assert.match(mrepo.content, /repo\.mysql\.com\/yum\/mysql-8\.4-community\/el\/9\//);
  assert.ok(cmds(m.steps).some((x) => x === 'sudo dnf install -y mysql-community-server mysql-community-client'));
  assert.ok(m.steps.some((s) => s.kind === 'command' && s.argv.join(' ') === 'dnf -y module disable mysql' && s.optional));
  const f = await mysql.install.plan(req(mysql, '8.0', 'dnf'), host('fedora-40'), resolver);
  assert.match((f.steps.find((s) => s.kind === 'write-file') as Extract<PlanStep, { kind: 'write-file' }>).content, /mysql-8\.0-community\/fc\/40\//);
  const r = await mariadb.install.plan(req(mariadb, '11.4', 'dnf'), host('fedora-40'), resolver);
  assert.match((r.steps.find((s) => s.kind === 'write-file') as Extract<PlanStep, { kind: 'write-file' }>).content, /rpm\.mariadb\.org\/11\.4\/fedora\/\$releasever\/\$basearch/);
  assert.ok(cmds(r.steps).some((x) => x.includes('dnf install -y MariaDB-server MariaDB-client')));
  const rh = await mariadb.install.plan(req(mariadb, '10.11', 'dnf'), host('rhel-9'), resolver);
  assert.match((rh.steps.find((s) => s.kind === 'write-file') as Extract<PlanStep, { kind: 'write-file' }>).content, /10\.11\/rhel\//);
  for (const p of [m, f, r, rh]) assert.equal(p.binDir, '/usr/sbin');
});

test('brew: the versioned formulae, binaries under opt/', async () => {
  const cases: [Engine, string, string][] = [[mysql, '8.0', 'mysql@8.0'], [mysql, '8.4', 'mysql@8.4'], [mariadb, '10.11', 'mariadb@10.11'], [mariadb, '11.4', 'mariadb@11.4']];
  for (const [e, v, formula] of cases) {
    const plan = await e.install.plan(req(e, v, 'brew'), host('macos-arm64'), resolver);
    assert.deepEqual(cmds(plan.steps), [`brew install ${formula}`]);
    assert.equal(plan.binDir, `/opt/homebrew/opt/${formula}/bin`);
  }
});

test('winget: Oracle.MySQL and MariaDB.Server, pinned to the known patch', async () => {
  const m = await mysql.install.plan(req(mysql, '8.4', 'winget'), host('windows-x64'), resolver);
  const step = m.steps[0] as Extract<PlanStep, { kind: 'command' }>;
  assert.deepEqual(step.argv.slice(0, 6), ['winget', 'install', '--id', 'Oracle.MySQL', '--exact', '--version']);
  assert.match(step.argv[6]!, /^8\.4\.\d+$/);
  assert.match(m.binDir!, /MySQL Server 8\.4\\bin$/);
  const r = await mariadb.install.plan(req(mariadb, '11.4', 'winget'), host('windows-x64'), resolver);
  assert.ok((r.steps[0] as Extract<PlanStep, { kind: 'command' }>).argv.includes('MariaDB.Server'));
  assert.match(r.binDir!, /MariaDB 11\.4\\bin$/);
});

test('download: the MySQL generic tarball is verified (sha256) before it is unpacked', async () => {
  const digest = 'a'.repeat(64);
  process.env['PORTUNIX_DB_MYSQL_TARBALL_SHA256'] = digest;
  for (const k of ['debian-12', 'fedora-40']) {
    const plan = await mysql.install.plan(req(mysql, '8.4', 'download'), host(k), resolver);
    assert.ok(!plan.manualOnly);
    const dl = plan.steps.findIndex((s) => s.kind === 'download');
    const ex = plan.steps.findIndex((s) => s.kind === 'engine-step' && s.action === 'extract-tar-xz');
    assert.ok(dl >= 0 && ex > dl, 'download (with its integrity check) comes before extraction');
    const d = plan.steps[dl] as Extract<PlanStep, { kind: 'download' }>;
    assert.deepEqual(d.integrity, { algorithm: 'sha256', digest, encoding: 'hex' });
    assert.match(d.url, /^https:\/\/cdn\.mysql\.com\/Downloads\/MySQL-8\.4\/mysql-8\.4\.\d+-linux-glibc2\.28-x86_64\.tar\.xz$/);
    assert.match(plan.binDir!, /binaries\/mysql\/8\.4\/bin$/);
  }
  delete process.env['PORTUNIX_DB_MYSQL_TARBALL_SHA256'];
  const unpinned: InstallPlan = await mysql.install.plan(req(mysql, '8.0', 'download'), host('debian-12'), resolver);
  assert.equal(unpinned.manualOnly, true, 'no digest: nothing is downloaded or unpacked');
  assert.ok(!unpinned.steps.some((s) => s.kind === 'download' || s.kind === 'extract' || s.kind === 'engine-step'));
});

test('sources that do not fit the host are refused with a pointer', async () => {
  const bad: [Engine, string, SourceId, string][] = [
    [mariadb, '10.11', 'apt', 'fedora-40'],
    [mysql, '8.4', 'dnf', 'debian-12'],
    [mysql, '8.4', 'winget', 'macos-arm64'],
    [mariadb, '11.4', 'brew', 'windows-x64'],
    [mysql, '8.4', 'download', 'macos-arm64'],
    [mariadb, '10.11', 'download', 'debian-12'],
  ];
  for (const [e, v, s, k] of bad) {
    await assert.rejects(e.install.plan(req(e, v, s), host(k), resolver), (err: unknown) => err instanceof DbError && !!err.hint, `${e.info.id} ${s} on ${k}`);
  }
});

test('identifiers: validated and backtick-quoted; injection is rejected', () => {
  assert.equal(validateMysqlIdentifier('database', 'shop'), '`shop`');
  assert.equal(validateMysqlIdentifier('table', 'order_items-2'), '`order_items-2`');
  assert.equal(validateMysqlIdentifier('user', 'app.reader'), "'app.reader'@'%'");
  for (const bad of ['x`; DROP DATABASE mysql; --', "a'b", 'a b', '', '1abc', 'a;b', 'x'.repeat(65), 'a\nb', 'a"b', 'a`b']) {
    assert.throws(() => validateMysqlIdentifier('database', bad), (e: unknown) => e instanceof DbError && e.code === 'INVALID_IDENTIFIER', JSON.stringify(bad));
  }
  for (const bad of ["bob'@'%", 'bob@localhost', 'a b']) assert.throws(() => validateMysqlIdentifier('user', bad), /Invalid/);
  assert.equal(mysql.validateIdentifier!('table', 't1'), '`t1`');
});

test('privileges: whitelisted and normalised; server-wide ones refused on a database', () => {
  assert.deepEqual(validatePrivileges(['select', 'insert', 'create_view'], 'shop'), ['SELECT', 'INSERT', 'CREATE VIEW']);
  assert.deepEqual(validatePrivileges(['all'], 'shop'), ['ALL PRIVILEGES']);
  assert.deepEqual(validatePrivileges([], 'shop'), ['ALL PRIVILEGES']);
  assert.throws(() => validatePrivileges(['SELECT; DROP DATABASE mysql'], 'shop'), (e: unknown) => e instanceof DbError && e.code === 'USAGE');
  assert.throws(() => validatePrivileges(['SUPER'], undefined), /Unknown privilege/);
  assert.throws(() => validatePrivileges(['PROCESS'], 'shop'), /server-wide/);
  assert.deepEqual(validatePrivileges(['process'], undefined), ['PROCESS']);
  assert.equal(validateCharsetName('charset', 'utf8mb4'), 'utf8mb4');
  assert.throws(() => validateCharsetName('collation', 'utf8mb4_bin; DROP'), /Invalid collation/);
});

test('option file: own port, loopback, socket and pid in the run dir, log, datadir, user when root', () => {
  const text = renderOptionFile({ flavour: FLAVOURS.mariadb, port: 13306, dataDir: '/d/data', runDir: '/d/run', logFile: '/d/server.log', user: 'portunix-db', extra: { max_connections: '200' } });
  for (const line of ['[mysqld]', 'datadir=/d/data', 'port=13306', 'bind-address=127.0.0.1', 'socket=/d/run/mysqld.sock', 'pid-file=/d/run/mysqld.pid', 'log-error=/d/server.log', 'user=portunix-db']) {
    assert.ok(text.split('\n').includes(line), `missing ${line}\n${text}`);
  }
  assert.deepEqual(parseExtraSettings(text), { max_connections: '200' });
  const noRoot = renderOptionFile({ flavour: FLAVOURS.mysql, port: 3306, dataDir: '/d', runDir: '/r', logFile: '/l' });
  assert.ok(!/^user=/m.test(noRoot));
  assert.ok(!/password/i.test(text), 'the option file holds no password');
  assert.deepEqual(parseExtraSettings(noRoot), {});
});

test('root password SQL covers every root account and quotes the password', () => {
  const sql = rootPasswordSql('Abc123xyz');
  for (const h of ['localhost', '127.0.0.1', '::1']) assert.ok(sql.includes(`ALTER USER 'root'@'${h}' IDENTIFIED BY 'Abc123xyz';`));
});

test('config values: integers and size suffixes become numbers', () => {
  assert.equal(sqlValue('200'), 200);
  assert.equal(sqlValue('64M'), 64 * 1024 * 1024);
  assert.equal(sqlValue('1G'), 1024 ** 3);
  assert.equal(sqlValue('ON'), 'ON');
});

test('connection URL masks the password unless asked', () => {
  // an instance without a certificate (paths that do not exist): no TLS parameters
  const ctx = { config: { port: 13306 }, paths: { root: '/nonexistent/portunix-db/i', dataDir: '/nonexistent/portunix-db/i/data' } } as unknown as InstanceContext;
  assert.equal(mariadb.connectionUrl!(ctx, { showPassword: false, password: 'sekret99' }), 'mysql://root:***@127.0.0.1:13306/');
  assert.equal(mariadb.connectionUrl!(ctx, { database: 'shop', showPassword: true, password: 'sekret99' }), 'mysql://root:sekret99@127.0.0.1:13306/shop');
});
