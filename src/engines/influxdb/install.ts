import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { run } from '../../core/process/exec.js';
import { portInUse } from '../../core/process/supervisor.js';
import { homePaths } from '../../core/home.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { aptGet, planBySource } from '../../core/install/plan.js';
import { aptRepoSteps, containerSteps, dnfRepoSteps, hostLabel, platformSummary, runVendorStep, unsupported, verifiedDownloadSteps } from '../../core/install/vendor-steps.js';
import type { InstallOps, VersionInfo } from '../contract.js';
import type { SourceId } from '../ids.js';

/**
 * Which API each version line speaks: this table is the only place that knows. 1.6 is the line
 * Debian packages itself (bookworm: 1.6.7); 2 is InfluxDB OSS 2.x. No end-of-life dates are
 * given because InfluxData has not published ones we know of.
 */
export type InfluxApi = 'influxql' | 'v2';
export const INFLUXDB_LINES: (VersionInfo & { api: InfluxApi })[] = [
  { version: '1.6', latest: '1.6.7', api: 'influxql' },
  { version: '2', api: 'v2' },
];
export const INFLUXDB_VERSIONS: VersionInfo[] = INFLUXDB_LINES.map(({ api: _api, ...v }) => v);

/** The API a version line speaks (a version we do not know of: by its major number). */
export function apiOf(version: string): InfluxApi {
  return INFLUXDB_LINES.find((l) => l.version === version)?.api ?? (version.startsWith('1') ? 'influxql' : 'v2');
}

/** Release that downloads and container images are pinned to (apt/dnf/brew install the newest 2.x they carry). */
export const INFLUXDB_RELEASES: Record<string, string> = { '2': '2.7.11' };

export const INFLUXDB_SOURCES: SourceId[] = ['apt', 'dnf', 'brew', 'download', 'container'];

export const LIFECYCLE_NOTE = 'portunix-db runs its own influxd instance (loopback only, HTTPS with the instance certificate, data in the instance directory); on first start it is set up with org portunix, bucket default, user admin and an operator token kept in the secret store.';

/** Debian's own InfluxDB packages: the 1.6 line (bookworm ships 1.6.7). */
const DEBIAN_PACKAGES = ['influxdb', 'influxdb-client'];

const KEY_URL = 'https://repos.influxdata.com/influxdata-archive.key';

function base(req: InstallRequest, host: HostPlatform, source: SourceId, steps: PlanStep[], notes: string[], binDir?: string): InstallPlan {
  return { engine: req.engine, version: req.version, source, platform: platformSummary(host), steps, ...(binDir ? { binDir } : {}), notes };
}

function debianPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const steps: PlanStep[] = [
    { kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true },
    { kind: 'command', description: `Install ${host.distro?.id ?? 'Debian'}'s own InfluxDB 1.x packages (influxd and the influx shell)`, argv: aptGet('install', '-y', '--no-install-recommends', ...DEBIAN_PACKAGES), sudo: true },
    { kind: 'engine-step', description: "Keep the package's own influxdb service off the network (it listens on all interfaces by default); portunix-db runs its own instance", engine: 'influxdb', action: 'release-distro-service', params: { port: String(req.port ?? 8086) } },
  ];
  return base(req, host, 'apt', steps, [
    `InfluxDB ${req.version} comes from the distribution's own influxdb package (Debian 12 bookworm: 1.6.7); \`portunix-db status influxdb\` shows the version that runs.`,
    "portunix-db's instance is separate from the package's service: its own influxdb.conf (HTTP and the backup RPC on 127.0.0.1, auth on, HTTPS with the instance certificate), data directory and port.",
  ], '/usr/bin');
}

function aptPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isDebianLike(host)) throw unsupported(`--source apt needs Debian or Ubuntu; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source dnf, download or container.' : 'Use --source download or container.');
  if (apiOf(req.version) === 'influxql') return debianPlan(req, host);
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

/** InfluxDB 1.6 comes only from Debian's own packages here: every other source names them. */
function only2(source: SourceId, plan: (req: InstallRequest, host: HostPlatform) => InstallPlan) {
  return (req: InstallRequest, host: HostPlatform): InstallPlan => {
    if (apiOf(req.version) === 'influxql') {
      throw unsupported(`InfluxDB ${req.version} is not offered from --source ${source}.`, 'InfluxDB 1.6 installs from Debian/Ubuntu packages (--source apt); other 1.x builds can be adopted from a folder; or choose --version 2.');
    }
    return plan(req, host);
  };
}

export function influxDefaultSource(host: HostPlatform, version: string): SourceId {
  if (apiOf(version) === 'influxql') return 'apt';
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'linux' && isDebianLike(host)) return 'apt';
  if (host.os === 'linux' && isRedHatLike(host)) return 'dnf';
  return 'download';
}

export const install: InstallOps = {
  plan: planBySource('InfluxDB', { apt: aptPlan, dnf: only2('dnf', dnfPlan), brew: only2('brew', brewPlan), download: only2('download', downloadPlan), container: only2('container', containerPlan) }),
  async runStep(action, params, progress) {
    if (await runVendorStep(action, params, progress)) return;
    if (action === 'release-distro-service') return releaseDistroService(params, progress);
    throw new DbError(`Unknown InfluxDB install step ${action}`, 'INTERNAL');
  },
  localBinaries: {
    required: ['influxd'],
    optional: ['influx'],
    async version(binDir, runIt) {
      return parseInfluxdVersion(await runIt([join(binDir, 'influxd'), 'version']));
    },
  },
  async detect(version, host) {
    if (host.os !== 'linux') return undefined;
    const bin = '/usr/bin/influxd';
    if (!(await access(bin).then(() => true, () => false))) return undefined;
    const r = await run([bin, 'version'], { allowFailure: true }).catch(() => undefined);
    const full = r ? parseInfluxdVersion(r.stdout) : 'unknown';
    if (full === 'unknown' || !(full === version || full.startsWith(`${version}.`))) return undefined;
    return { binDir: '/usr/bin', source: isRedHatLike(host) ? 'dnf' : 'apt' };
  },
};

/** "InfluxDB v1.6.7~rc0 (git: unknown unknown)", "InfluxDB v2.7.11 (git: ...) build_date: ..." -> "1.6.7", "2.7.11". Pure, for tests. */
export function parseInfluxdVersion(text: string): string {
  return /InfluxDB\s+v?(\d+\.\d+(?:\.\d+)?)/.exec(text)?.[1] ?? 'unknown';
}

/** The package's own influxdb service, only when it now holds the port this install chose. */
async function releaseDistroService(params: Record<string, string>, progress: (m: string) => void): Promise<void> {
  const port = Number(params['port'] ?? 8086);
  if (!(await portInUse(port))) return;
  const active = await run(['systemctl', 'is-active', '--quiet', 'influxdb'], { allowFailure: true }).catch(() => undefined);
  if (!active || active.code !== 0) return;
  progress(`the package started its own influxdb service on port ${port}; stopping and disabling it so portunix-db's instance can use the port`);
  await run(['systemctl', 'disable', '--now', 'influxdb'], { allowFailure: true }).catch(() => undefined);
}
