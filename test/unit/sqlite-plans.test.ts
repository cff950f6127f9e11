import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_HOSTS } from '../../src/core/install/host.js';
import type { InstallRequest } from '../../src/core/install/plan.js';
import { describeStep } from '../../src/core/install/plan.js';
import { engine } from '../../src/engines/sqlite/index.js';
import type { SourceId } from '../../src/engines/ids.js';

const resolver = { npmPackage: async () => { throw new Error('SQLite plans never use the npm registry'); } };
const req = (source: SourceId): InstallRequest => ({ engine: 'sqlite', version: '3', source, instance: 'main', dataDir: '/tmp/x/data' });
const plan = (source: SourceId, host: keyof typeof SAMPLE_HOSTS) => engine.install.plan(req(source), SAMPLE_HOSTS[host]!, resolver);
const commands = async (source: SourceId, host: keyof typeof SAMPLE_HOSTS) => (await plan(source, host)).steps.map(describeStep);

test('sqlite: default source per host', () => {
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['debian-12']!, '3'), 'apt');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['ubuntu-24.04']!, '3'), 'apt');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['fedora-40']!, '3'), 'dnf');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['rhel-9']!, '3'), 'dnf');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['macos-arm64']!, '3'), 'brew');
  assert.equal(engine.info.defaultSource(SAMPLE_HOSTS['windows-x64']!, '3'), 'winget');
  assert.equal(engine.info.kind, 'embedded');
  assert.equal(engine.info.defaultPort, undefined);
  assert.deepEqual(engine.info.terms, { database: 'database file', table: 'table' });
});

test('sqlite: apt installs the sqlite3 package (debian, ubuntu), waiting for the dpkg lock', async () => {
  for (const host of ['debian-12', 'ubuntu-24.04'] as const) {
    const p = await plan('apt', host);
    const install = p.steps.find((s) => s.kind === 'command' && s.argv.includes('install'));
    assert.ok(install && install.kind === 'command');
    assert.deepEqual(install.argv.slice(-3), ['-y', '--no-install-recommends', 'sqlite3']);
    assert.ok(install.argv.includes('DPkg::Lock::Timeout=600'));
    assert.equal(install.sudo, true);
    const update = p.steps[0]!;
    assert.ok(update.kind === 'command' && update.argv.includes('update') && update.optional === true);
    assert.equal(p.binDir, '/usr/bin');
    assert.equal(p.manualOnly, undefined);
  }
  // ubuntu runs as a normal user: the step asks for sudo
  assert.match((await commands('apt', 'ubuntu-24.04'))[1]!, /^sudo apt-get .* install -y --no-install-recommends sqlite3$/);
});

test('sqlite: dnf installs the sqlite package (fedora, rhel)', async () => {
  for (const host of ['fedora-40', 'rhel-9'] as const) {
    assert.deepEqual(await commands('dnf', host), ['sudo dnf install -y sqlite']);
    assert.equal((await plan('dnf', host)).binDir, '/usr/bin');
  }
});

test('sqlite: brew installs the keg-only sqlite formula', async () => {
  const p = await plan('brew', 'macos-arm64');
  assert.deepEqual(p.steps.map(describeStep), ['brew install sqlite']);
  assert.equal(p.binDir, '/opt/homebrew/opt/sqlite/bin');
  const intel = await engine.install.plan(req('brew'), { ...SAMPLE_HOSTS['macos-arm64']!, arch: 'x64' }, resolver);
  assert.equal(intel.binDir, '/usr/local/opt/sqlite/bin');
});

test('sqlite: winget installs SQLite.SQLite', async () => {
  const p = await plan('winget', 'windows-x64');
  assert.equal(p.steps.length, 1);
  const s = p.steps[0]!;
  assert.ok(s.kind === 'command');
  assert.deepEqual(s.argv.slice(0, 5), ['winget', 'install', '--id', 'SQLite.SQLite', '--exact']);
  assert.equal(p.manualOnly, undefined);
});

test('sqlite: embedded needs nothing on any host', async () => {
  for (const host of Object.keys(SAMPLE_HOSTS)) {
    const p = await plan('embedded', host);
    assert.deepEqual(p.steps, []);
    assert.match(p.notes.join(' '), /Nothing to install/);
  }
});

test('sqlite: a source that does not fit the host is refused with the right one named', async () => {
  await assert.rejects(plan('apt', 'fedora-40'), (e: Error & { code?: string; hint?: string }) => e.code === 'UNSUPPORTED_PLATFORM' && /--source dnf/.test(e.hint ?? ''));
  await assert.rejects(plan('dnf', 'debian-12'), (e: Error & { code?: string; hint?: string }) => e.code === 'UNSUPPORTED_PLATFORM' && /--source apt/.test(e.hint ?? ''));
  await assert.rejects(plan('winget', 'macos-arm64'), (e: Error & { code?: string }) => e.code === 'UNSUPPORTED_PLATFORM');
  await assert.rejects(plan('apt', 'windows-x64'), (e: Error & { code?: string; hint?: string }) => e.code === 'UNSUPPORTED_PLATFORM' && /winget/.test(e.hint ?? ''));
  await assert.rejects(plan('portable', 'debian-12'), (e: Error & { code?: string }) => e.code === 'UNKNOWN_SOURCE');
});
