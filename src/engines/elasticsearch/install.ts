import { DbError } from '../../core/errors.js';
import { homePaths } from '../../core/home.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { planBySource } from '../../core/install/plan.js';
import { aptRepoSteps, containerSteps, dnfRepoSteps, hostLabel, platformSummary, runVendorStep, unsupported, verifiedDownloadSteps } from '../../core/install/vendor-steps.js';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InstallOps, LocalBinaries, VersionInfo } from '../contract.js';
import type { SourceId } from '../ids.js';

/** Elasticsearch 8.x; no end-of-life date is given because we do not know one for certain. */
export const ELASTICSEARCH_VERSIONS: VersionInfo[] = [{ version: '8' }];

/** Release that downloads and container images are pinned to (apt/dnf install the newest 8.x of the repository). */
export const ELASTICSEARCH_RELEASES: Record<string, string> = { '8': '8.17.0' };

export const ELASTICSEARCH_SOURCES: SourceId[] = ['apt', 'dnf', 'brew', 'download', 'container'];

export const LIFECYCLE_NOTE = 'portunix-db then runs it as a single node on 127.0.0.1 with its own config directory (ES_PATH_CONF), heap 512m (`config set elasticsearch heap 1g`), and, for this distribution, security on: HTTPS with its own certificate and a generated elastic password in the secret store.';

function base(req: InstallRequest, host: HostPlatform, source: SourceId, steps: PlanStep[], notes: string[], binDir?: string): InstallPlan {
  return { engine: req.engine, version: req.version, source, platform: platformSummary(host), steps, ...(binDir ? { binDir } : {}), notes };
}

function aptPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isDebianLike(host)) throw unsupported(`--source apt needs Debian or Ubuntu; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source dnf, download or container.' : 'Use --source download or container.');
  const steps = aptRepoSteps({
    label: `Elastic ${req.version}.x`,
    keyUrl: 'https://artifacts.elastic.co/GPG-KEY-elasticsearch',
    keyring: '/usr/share/keyrings/elasticsearch-keyring.asc',
    listFile: `/etc/apt/sources.list.d/elastic-${req.version}.x.list`,
    repo: `https://artifacts.elastic.co/packages/${req.version}.x/apt stable main`,
    packages: ['elasticsearch'],
  });
  return base(req, host, 'apt', steps, ['The package installs the newest 8.x of the Elastic repository and prints the generated password of the elastic user once.', LIFECYCLE_NOTE], '/usr/share/elasticsearch/bin');
}

export function elasticDnfRepo(version: string): string {
  return [
    '[elasticsearch]',
    `name=Elasticsearch repository for ${version}.x packages`,
    `baseurl=https://artifacts.elastic.co/packages/${version}.x/yum`,
    'gpgcheck=1',
    'gpgkey=https://artifacts.elastic.co/GPG-KEY-elasticsearch',
    'enabled=0',
    'autorefresh=1',
    'type=rpm-md',
    '',
  ].join('\n');
}

function dnfPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isRedHatLike(host)) throw unsupported(`--source dnf needs Fedora or RHEL-compatible Linux; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source apt, download or container.' : 'Use --source download or container.');
  const steps = dnfRepoSteps({ label: `Elastic ${req.version}.x`, repoFile: '/etc/yum.repos.d/elasticsearch.repo', content: elasticDnfRepo(req.version), packages: ['elasticsearch'], enableRepo: 'elasticsearch' });
  return base(req, host, 'dnf', steps, ['The repository stays disabled and is enabled for this install only, as Elastic recommends.', LIFECYCLE_NOTE], '/usr/share/elasticsearch/bin');
}

export function elasticArchiveUrl(req: InstallRequest, host: HostPlatform): string {
  const release = ELASTICSEARCH_RELEASES[req.version]!;
  const arch = host.arch === 'arm64' ? 'aarch64' : 'x86_64';
  const baseUrl = 'https://artifacts.elastic.co/downloads/elasticsearch';
  if (host.os === 'windows') {
    if (host.arch !== 'x64') throw unsupported('Elasticsearch for Windows is published for x86_64 only.', 'Use --source container.');
    return `${baseUrl}/elasticsearch-${release}-windows-x86_64.zip`;
  }
  return `${baseUrl}/elasticsearch-${release}-${host.os === 'darwin' ? 'darwin' : 'linux'}-${arch}.tar.gz`;
}

function downloadPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const release = ELASTICSEARCH_RELEASES[req.version]!;
  const url = elasticArchiveUrl(req, host);
  const dest = homePaths.binaries('elasticsearch', release);
  const steps = verifiedDownloadSteps({ label: `Elasticsearch ${release} (${host.os} ${host.arch})`, url, checksumUrl: `${url}.sha512`, algorithm: 'sha512', engine: 'elasticsearch', dest, stripComponents: 1 });
  const notes = ['The archive bundles its own JDK.', LIFECYCLE_NOTE];
  if (host.os === 'windows') notes.unshift('The .zip is unpacked with the bsdtar that ships with Windows 10 and later.');
  return base(req, host, 'download', steps, notes, `${dest}/bin`);
}

function brewPlan(_req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'darwin') throw unsupported('--source brew is for macOS.', 'Use --source download or container.');
  throw unsupported(
    "Elastic's Homebrew tap (elastic/tap/elasticsearch-full) carries Elasticsearch 7.x only; Elasticsearch 8 is not installable with brew.",
    'Use --source download (the macOS tarball, checksum-verified) or --source container.',
  );
}

function containerPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const release = ELASTICSEARCH_RELEASES[req.version]!;
  const steps = containerSteps({
    engine: 'elasticsearch',
    instance: req.instance,
    image: `docker.elastic.co/elasticsearch/elasticsearch:${release}`,
    hostPort: req.port ?? 9200,
    containerPort: 9200,
    volumeTarget: '/usr/share/elasticsearch/data',
    env: { 'discovery.type': 'single-node', 'xpack.security.enabled': 'true', ES_JAVA_OPTS: '-Xms512m -Xmx512m' },
    secretEnv: { ELASTIC_PASSWORD: 'admin' },
  });
  return base(req, host, 'container', steps, ['Security stays on: the elastic user\'s password is generated, kept in the secret store, and reaches the container only through the 0600 --env-file.', LIFECYCLE_NOTE]);
}

export function elasticDefaultSource(host: HostPlatform, _version: string): SourceId {
  if (host.os === 'linux' && isDebianLike(host)) return 'apt';
  if (host.os === 'linux' && isRedHatLike(host)) return 'dnf';
  return 'download';
}

/** `lib/elasticsearch-8.19.21.jar` names the version; reading it needs no JVM (the server's --version would start one). */
export function versionFromLibNames(names: string[]): string | undefined {
  for (const n of names) {
    const m = /^elasticsearch-(\d+\.\d+\.\d+)\.jar$/.exec(n);
    if (m) return m[1];
  }
  return undefined;
}

export const localBinaries: LocalBinaries = {
  required: ['elasticsearch'],
  optional: ['elasticsearch-keystore', 'elasticsearch-reset-password'],
  async version(binDir) {
    const lib = join(dirname(binDir), 'lib');
    const v = versionFromLibNames(await readdir(lib).catch(() => []));
    if (!v) throw new DbError(`${lib} has no elasticsearch-X.Y.Z.jar: this is not an Elasticsearch distribution.`, 'NOT_INSTALLED', 'Give the unpacked tar.gz/zip of Elasticsearch 8 (the folder with bin/, lib/, config/).');
    return v;
  },
};

export const install: InstallOps = {
  localBinaries,
  plan: planBySource('Elasticsearch', { apt: aptPlan, dnf: dnfPlan, brew: brewPlan, download: downloadPlan, container: containerPlan }),
  async runStep(action, params, progress) {
    if (await runVendorStep(action, params, progress)) return;
    throw new DbError(`Unknown Elasticsearch install step ${action}`, 'INTERNAL');
  },
};
