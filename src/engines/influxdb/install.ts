import { DbError } from '../../core/errors.js';
import { homePaths } from '../../core/home.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { planBySource } from '../../core/install/plan.js';
import { aptRepoSteps, containerSteps, dnfRepoSteps, hostLabel, platformSummary, runVendorStep, unsupported, verifiedDownloadSteps } from '../../core/install/vendor-steps.js';
import type { InstallOps, VersionInfo } from '../contract.js';
import type { SourceId } from '../ids.js';

/** InfluxDB OSS 2.x; no end-of-life date is given because InfluxData has not published one we know of. */
export const INFLUXDB_VERSIONS: VersionInfo[] = [{ version: '2' }];

/** Release that downloads and container images are pinned to (apt/dnf/brew install the newest 2.x they carry). */
export const INFLUXDB_RELEASES: Record<string, string> = { '2': '2.7.11' };

export const INFLUXDB_SOURCES: SourceId[] = ['apt', 'dnf', 'brew', 'download', 'container'];

export const LIFECYCLE_NOTE = 'portunix-db installs InfluxDB but does not yet run or manage InfluxDB instances; after installing, start it yourself: `influxd --http-bind-address 127.0.0.1:8086 --bolt-path <dir>/influxd.bolt --engine-path <dir>/engine`, then `influx setup`.';

const KEY_URL = 'https://repos.influxdata.com/influxdata-archive.key';

function base(req: InstallRequest, host: HostPlatform, source: SourceId, steps: PlanStep[], notes: string[], binDir?: string): InstallPlan {
  return { engine: req.engine, version: req.version, source, platform: platformSummary(host), steps, ...(binDir ? { binDir } : {}), notes };
}

function aptPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isDebianLike(host)) throw unsupported(`--source apt needs Debian or Ubuntu; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source dnf, download or container.' : 'Use --source download or container.');
  const steps = aptRepoSteps({
    label: 'InfluxData',
    keyUrl: KEY_URL,
    keyring: '/usr/share/keyrings/influxdata-archive.asc',
    listFile: '/etc/apt/sources.list.d/influxdata.list',
    repo: 'https://repos.influxdata.com/debian stable main',
    packages: ['influxdb2', 'influxdb2-cli'],
  });
  return base(req, host, 'apt', steps, ['influxdb2 is the 2.x server; influxdb2-cli is the separate `influx` client.', LIFECYCLE_NOTE], '/usr/bin');
}

export const INFLUX_DNF_REPO = [
  '[influxdata]',
  'name = InfluxData Repository - Stable',
  'baseurl = https://repos.influxdata.com/stable/$basearch/main',
  'enabled = 1',
  'gpgcheck = 1',
  `gpgkey = ${KEY_URL}`,
  '',
].join('\n');

function dnfPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isRedHatLike(host)) throw unsupported(`--source dnf needs Fedora or RHEL-compatible Linux; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source apt, download or container.' : 'Use --source download or container.');
  const steps = dnfRepoSteps({ label: 'InfluxData', repoFile: '/etc/yum.repos.d/influxdata.repo', content: INFLUX_DNF_REPO, packages: ['influxdb2', 'influxdb2-cli'] });
  return base(req, host, 'dnf', steps, [LIFECYCLE_NOTE], '/usr/bin');
}

function brewPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'darwin') throw unsupported('--source brew is for macOS.', host.os === 'windows' ? 'Use --source download or container.' : 'Use --source apt, dnf, download or container.');
  const prefix = host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local';
  return base(
    req,
    host,
    'brew',
    [{ kind: 'command', description: 'Install InfluxDB 2 and the influx CLI with Homebrew', argv: ['brew', 'install', 'influxdb', 'influxdb-cli'] }],
    ['InfluxData documents `brew install influxdb` for InfluxDB v2; check `influxd version` says 2.x after installing.', LIFECYCLE_NOTE],
    `${prefix}/bin`,
  );
}

export function influxArchiveUrl(req: InstallRequest, host: HostPlatform): string {
  const release = INFLUXDB_RELEASES[req.version]!;
  const baseUrl = 'https://download.influxdata.com/influxdb/releases';
  if (host.os === 'windows') {
    if (host.arch !== 'x64') throw unsupported('InfluxDB for Windows is published for x64 only.', 'Use --source container.');
    return `${baseUrl}/influxdb2-${release}-windows.zip`;
  }
  // macOS builds are amd64 only; Apple silicon runs them under Rosetta 2.
  if (host.os === 'darwin') return `${baseUrl}/influxdb2-${release}_darwin_amd64.tar.gz`;
  return `${baseUrl}/influxdb2-${release}_linux_${host.arch === 'arm64' ? 'arm64' : 'amd64'}.tar.gz`;
}

function downloadPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const release = INFLUXDB_RELEASES[req.version]!;
  const url = influxArchiveUrl(req, host);
  const dest = homePaths.binaries('influxdb', release);
  const steps = verifiedDownloadSteps({ label: `InfluxDB ${release} (${host.os} ${host.arch})`, url, checksumUrl: `${url}.sha256`, algorithm: 'sha256', engine: 'influxdb', dest, stripComponents: 1 });
  const notes = ['The archive holds influxd only; the influx CLI is a separate download (influxdb2-client).', LIFECYCLE_NOTE];
  if (host.os === 'darwin' && host.arch === 'arm64') notes.unshift('InfluxData publishes macOS builds for amd64 only; on Apple silicon they run under Rosetta 2.');
  if (host.os === 'windows') notes.unshift('The .zip is unpacked with the bsdtar that ships with Windows 10 and later.');
  return base(req, host, 'download', steps, notes, host.os === 'linux' ? `${dest}/usr/bin` : dest);
}

function containerPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const release = INFLUXDB_RELEASES[req.version]!;
  const steps = containerSteps({
    engine: 'influxdb',
    instance: req.instance,
    image: `docker.io/library/influxdb:${release}`,
    hostPort: req.port ?? 8086,
    containerPort: 8086,
    volumeTarget: '/var/lib/influxdb2',
    env: { DOCKER_INFLUXDB_INIT_MODE: 'setup', DOCKER_INFLUXDB_INIT_USERNAME: 'admin', DOCKER_INFLUXDB_INIT_ORG: 'portunix', DOCKER_INFLUXDB_INIT_BUCKET: 'default' },
    secretEnv: { DOCKER_INFLUXDB_INIT_PASSWORD: 'admin', DOCKER_INFLUXDB_INIT_ADMIN_TOKEN: 'token' },
  });
  return base(req, host, 'container', steps, ['The admin password and operator token are generated, kept in the secret store, and reach the container only through the 0600 --env-file.', LIFECYCLE_NOTE]);
}

export function influxDefaultSource(host: HostPlatform, _version: string): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'linux' && isDebianLike(host)) return 'apt';
  if (host.os === 'linux' && isRedHatLike(host)) return 'dnf';
  return 'download';
}

export const install: InstallOps = {
  plan: planBySource('InfluxDB', { apt: aptPlan, dnf: dnfPlan, brew: brewPlan, download: downloadPlan, container: containerPlan }),
  async runStep(action, params, progress) {
    if (await runVendorStep(action, params, progress)) return;
    throw new DbError(`Unknown InfluxDB install step ${action}`, 'INTERNAL');
  },
};
