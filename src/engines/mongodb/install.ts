import { DbError } from '../../core/errors.js';
import { homePaths } from '../../core/home.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { planBySource } from '../../core/install/plan.js';
import { aptRepoSteps, containerSteps, dnfRepoSteps, hostLabel, platformSummary, runVendorStep, unsupported, verifiedDownloadSteps } from '../../core/install/vendor-steps.js';
import type { InstallOps, LocalBinaries, VersionInfo } from '../contract.js';
import { fullVersion, parseVersionOutput } from './servers.js';
import type { SourceId } from '../ids.js';

export const MONGODB_VERSIONS: VersionInfo[] = [
  { version: '6.0', eol: '2025-07-31' },
  { version: '7.0', eol: '2027-08-31' },
];

/** The exact release vendor downloads and container images are pinned to (checked to exist on fastdl.mongodb.org). */
export const MONGODB_RELEASES: Record<string, string> = { '6.0': '6.0.16', '7.0': '7.0.14' };

export const MONGODB_SOURCES: SourceId[] = ['apt', 'dnf', 'brew', 'winget', 'download', 'container'];

/** Distribution releases MongoDB publishes packages and tarballs for, per server line. */
const DEBIAN: Record<string, { codename: string; lines: string[]; tarball: string }> = {
  '11': { codename: 'bullseye', lines: ['6.0', '7.0'], tarball: 'debian11' },
  '12': { codename: 'bookworm', lines: ['7.0'], tarball: 'debian12' },
};
const UBUNTU: Record<string, { codename: string; lines: string[]; tarball: string }> = {
  '20.04': { codename: 'focal', lines: ['6.0', '7.0'], tarball: 'ubuntu2004' },
  '22.04': { codename: 'jammy', lines: ['6.0', '7.0'], tarball: 'ubuntu2204' },
};
const RHEL: Record<string, { lines: string[]; tarball: string; tarballArm: string }> = {
  '8': { lines: ['6.0', '7.0'], tarball: 'rhel80', tarballArm: 'rhel82' },
  '9': { lines: ['6.0', '7.0'], tarball: 'rhel90', tarballArm: 'rhel90' },
};

const CONTAINER_HINT = 'Use --source container (the official mongo image), or a supported distribution.';

function supportedList(): string {
  return 'Debian 11 (6.0, 7.0), Debian 12 (7.0), Ubuntu 20.04/22.04 (6.0, 7.0), RHEL-compatible 8/9 (6.0, 7.0)';
}

function notPublished(req: InstallRequest, host: HostPlatform, what: string): DbError {
  return unsupported(`MongoDB ${req.version} ${what} is not published for ${hostLabel(host)}. MongoDB publishes Linux packages for ${supportedList()}.`, CONTAINER_HINT);
}

function debianEntry(req: InstallRequest, host: HostPlatform, what: string) {
  const d = host.distro!;
  const entry = d.id === 'ubuntu' ? UBUNTU[d.versionId] : d.id === 'debian' ? DEBIAN[d.versionId.split('.')[0]!] : undefined;
  if (!entry || !entry.lines.includes(req.version)) throw notPublished(req, host, what);
  return { ...entry, ubuntu: d.id === 'ubuntu' };
}

function rhelEntry(req: InstallRequest, host: HostPlatform, what: string) {
  const d = host.distro!;
  if (d.id === 'fedora') throw unsupported(`MongoDB does not publish packages or tarballs for Fedora (MongoDB ${req.version} ${what}).`, CONTAINER_HINT);
  const major = d.versionId.split('.')[0]!;
  const entry = RHEL[major];
  if (!entry || !entry.lines.includes(req.version)) throw notPublished(req, host, what);
  return { ...entry, major };
}

function base(req: InstallRequest, host: HostPlatform, source: SourceId, steps: PlanStep[], notes: string[], binDir?: string): InstallPlan {
  return { engine: req.engine, version: req.version, source, platform: platformSummary(host), steps, ...(binDir ? { binDir } : {}), notes };
}

export const LIFECYCLE_NOTE = 'portunix-db then runs its own mongod for the instance (127.0.0.1 only, authorization on, TLS required with the instance\'s certificate); the package\'s own service is not used.';
const CONTAINER_NOTE = 'The container runs mongod itself: portunix-db does not supervise, inspect or back up container instances; for a managed instance use --source apt/dnf/brew/download, --archive or --bin-dir.';

function aptPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isDebianLike(host)) throw unsupported(`--source apt needs Debian or Ubuntu; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source dnf or container.' : 'Use --source download or container.');
  const e = debianEntry(req, host, 'apt repository');
  const keyring = `/usr/share/keyrings/mongodb-server-${req.version}.asc`;
  const steps = aptRepoSteps({
    label: `MongoDB ${req.version}`,
    keyUrl: `https://pgp.mongodb.com/server-${req.version}.asc`,
    keyring,
    listFile: `/etc/apt/sources.list.d/mongodb-org-${req.version}.list`,
    repo: e.ubuntu
      ? `https://repo.mongodb.org/apt/ubuntu ${e.codename}/mongodb-org/${req.version} multiverse`
      : `https://repo.mongodb.org/apt/debian ${e.codename}/mongodb-org/${req.version} main`,
    ...(e.ubuntu ? { options: 'arch=amd64,arm64' } : {}),
    packages: ['mongodb-org'],
  });
  return base(req, host, 'apt', steps, ['The package registers a mongod systemd unit on port 27017; portunix-db instances use their own data dir and port.', LIFECYCLE_NOTE], '/usr/bin');
}

export function mongoDnfRepo(version: string, rhelMajor: string): string {
  return [
    `[mongodb-org-${version}]`,
    'name=MongoDB Repository',
    `baseurl=https://repo.mongodb.org/yum/redhat/${rhelMajor}/mongodb-org/${version}/$basearch/`,
    'gpgcheck=1',
    'enabled=1',
    `gpgkey=https://pgp.mongodb.com/server-${version}.asc`,
    '',
  ].join('\n');
}

function dnfPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isRedHatLike(host)) throw unsupported(`--source dnf needs RHEL-compatible Linux; this host is ${hostLabel(host)}.`, host.os === 'linux' ? 'Use --source apt or container.' : 'Use --source download or container.');
  const e = rhelEntry(req, host, 'dnf repository');
  const steps = dnfRepoSteps({ label: `MongoDB ${req.version}`, repoFile: `/etc/yum.repos.d/mongodb-org-${req.version}.repo`, content: mongoDnfRepo(req.version, e.major), packages: ['mongodb-org'] });
  return base(req, host, 'dnf', steps, [LIFECYCLE_NOTE], '/usr/bin');
}

function brewPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'darwin') throw unsupported('--source brew is for macOS.', host.os === 'windows' ? 'Use --source download, winget or container.' : 'Use --source apt, dnf, download or container.');
  const prefix = host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local';
  const formula = `mongodb/brew/mongodb-community@${req.version}`;
  return base(
    req,
    host,
    'brew',
    [
      { kind: 'command', description: "Add MongoDB's Homebrew tap", argv: ['brew', 'tap', 'mongodb/brew'] },
      { kind: 'command', description: `Install ${formula}`, argv: ['brew', 'install', formula] },
    ],
    ['Do not also run `brew services start`: that starts a second mongod on port 27017.', LIFECYCLE_NOTE],
    `${prefix}/opt/mongodb-community@${req.version}/bin`,
  );
}

function wingetPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'windows') throw unsupported('--source winget is for Windows.', 'Use --source download or container.');
  const release = MONGODB_RELEASES[req.version]!;
  return base(
    req,
    host,
    'winget',
    [{ kind: 'command', description: `Install MongoDB Server ${release} with winget`, argv: ['winget', 'install', '--id', 'MongoDB.Server', '--exact', '--version', release, '--silent', '--accept-source-agreements', '--accept-package-agreements'] }],
    ['If winget does not list this exact version (`winget show MongoDB.Server --versions`), use --source download, which is checksum-verified.', 'The MSI registers a Windows service on port 27017; portunix-db instances use their own port.', LIFECYCLE_NOTE],
    `C:\\Program Files\\MongoDB\\Server\\${req.version}\\bin`,
  );
}

/** The fastdl.mongodb.org archive for this host, or a clear error. */
export function mongoArchiveUrl(req: InstallRequest, host: HostPlatform): string {
  const release = MONGODB_RELEASES[req.version]!;
  if (host.os === 'darwin') return `https://fastdl.mongodb.org/osx/mongodb-macos-${host.arch === 'arm64' ? 'arm64' : 'x86_64'}-${release}.tgz`;
  if (host.os === 'windows') {
    if (host.arch !== 'x64') throw unsupported('MongoDB for Windows is published for x64 only.', CONTAINER_HINT);
    return `https://fastdl.mongodb.org/windows/mongodb-windows-x86_64-${release}.zip`;
  }
  if (!host.distro) throw unsupported('Cannot tell which Linux distribution this is (no /etc/os-release), so the matching MongoDB tarball is unknown.', CONTAINER_HINT);
  const arch = host.arch === 'arm64' ? 'aarch64' : 'x86_64';
  let platform: string;
  if (isDebianLike(host)) {
    const e = debianEntry(req, host, 'tarball');
    if (host.arch === 'arm64' && !e.ubuntu) throw unsupported('MongoDB publishes arm64 Linux tarballs for Ubuntu and RHEL, not Debian.', CONTAINER_HINT);
    platform = e.tarball;
  } else if (isRedHatLike(host)) {
    const e = rhelEntry(req, host, 'tarball');
    platform = host.arch === 'arm64' ? e.tarballArm : e.tarball;
  } else {
    throw notPublished(req, host, 'tarball');
  }
  return `https://fastdl.mongodb.org/linux/mongodb-linux-${arch}-${platform}-${release}.tgz`;
}

function downloadPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const url = mongoArchiveUrl(req, host);
  const release = MONGODB_RELEASES[req.version]!;
  const dest = homePaths.binaries('mongodb', release);
  const steps = verifiedDownloadSteps({ label: `MongoDB ${release} (${host.os} ${host.arch})`, url, checksumUrl: `${url}.sha256`, algorithm: 'sha256', engine: 'mongodb', dest, stripComponents: 1 });
  const notes = ['The archive holds mongod and mongos only; mongosh and the database tools (mongodump) are separate downloads.', LIFECYCLE_NOTE];
  if (host.os === 'windows') notes.unshift('The .zip is unpacked with the bsdtar that ships with Windows 10 and later.');
  return base(req, host, 'download', steps, notes, `${dest}/bin`);
}

function containerPlan(req: InstallRequest, host: HostPlatform): InstallPlan {
  const release = MONGODB_RELEASES[req.version]!;
  const steps = containerSteps({
    engine: 'mongodb',
    instance: req.instance,
    image: `docker.io/library/mongo:${release}`,
    hostPort: req.port ?? 27017,
    containerPort: 27017,
    volumeTarget: '/data/db',
    env: { MONGO_INITDB_ROOT_USERNAME: 'admin' },
    secretEnv: { MONGO_INITDB_ROOT_PASSWORD: 'admin' },
  });
  return { ...base(req, host, 'container', steps, ['The admin password is generated, kept in the secret store, and reaches the container only through the 0600 --env-file.', CONTAINER_NOTE]), selfRunning: true };
}

export function mongoDefaultSource(host: HostPlatform, _version: string): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'windows') return 'download';
  if (isDebianLike(host)) return 'apt';
  if (isRedHatLike(host) && host.distro?.id !== 'fedora') return 'dnf';
  return 'container';
}

/**
 * `--archive` (a mongod tarball) and `--bin-dir`: the folder holds mongod, and optionally the
 * database tools and mongosh. The version is what `mongod --version` prints; a FerretDB binary
 * (installed as, or linked to, `mongod`) is recognised by its own --version output and recorded
 * as the MongoDB version it emulates plus its FerretDB version, e.g. "7.0.42 (FerretDB 1.24.2)".
 */
export const localBinaries: LocalBinaries = {
  required: ['mongod'],
  optional: ['mongodump', 'mongorestore', 'mongosh'],
  async version(_binDir, run) {
    const out = await run(['mongod', '--version']);
    const id = parseVersionOutput(out);
    if (!id) throw new DbError(`mongod --version printed no MongoDB or FerretDB version: ${out.trim().slice(0, 200)}`, 'COMMAND_FAILED', 'Point --bin-dir at the bin folder of a MongoDB server (or a FerretDB build). Nothing was installed.');
    return fullVersion(id);
  },
};

export const install: InstallOps = {
  localBinaries,
  plan: planBySource('MongoDB', { apt: aptPlan, dnf: dnfPlan, brew: brewPlan, winget: wingetPlan, download: downloadPlan, container: containerPlan }),
  async runStep(action, params, progress) {
    if (await runVendorStep(action, params, progress)) return;
    throw new DbError(`Unknown MongoDB install step ${action}`, 'INTERNAL');
  },
};
