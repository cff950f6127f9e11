import { DbError } from '../../core/errors.js';
import { isDebianLike, isRedHatLike } from '../../core/install/host.js';
import type { HostPlatform, InstallPlan, InstallRequest, PlanStep } from '../../core/install/plan.js';
import { aptGet } from '../../core/install/plan.js';
import type { SourceId } from '../ids.js';
import type { InstallOps } from '../contract.js';
import { findShell } from './instance.js';

/**
 * The engine itself runs in-process (better-sqlite3); installing SQLite means making sure the
 * `sqlite3` command-line shell exists, through the host's package manager.
 */
export function defaultSource(host: HostPlatform): SourceId {
  if (host.os === 'darwin') return 'brew';
  if (host.os === 'windows') return 'winget';
  if (isDebianLike(host)) return 'apt';
  if (isRedHatLike(host)) return 'dnf';
  return 'embedded';
}

function platformOf(host: HostPlatform): InstallPlan['platform'] {
  return { os: host.os, arch: host.arch, ...(host.distro ? { distro: `${host.distro.id}-${host.distro.versionId}` } : {}) };
}

function wrongHost(source: SourceId, host: HostPlatform): DbError {
  const where = host.distro ? `${host.distro.id} ${host.distro.versionId}` : host.os;
  return new DbError(`The ${source} source does not work on ${where}.`, 'UNSUPPORTED_PLATFORM', `Use --source ${defaultSource(host)} here (or --source embedded: the engine needs no package; only the sqlite3 shell is missing).`);
}

export function sqlitePlan(request: InstallRequest, host: HostPlatform): InstallPlan {
  const base = { engine: request.engine, version: request.version, source: request.source, platform: platformOf(host) };
  const notes = ['SQLite runs inside portunix-db (better-sqlite3); the package only provides the sqlite3 command-line shell.'];
  let steps: PlanStep[];
  let binDir: string | undefined;
  switch (request.source) {
    case 'apt':
      if (!isDebianLike(host)) throw wrongHost('apt', host);
      steps = [
        { kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true, optional: true },
        { kind: 'command', description: 'Install the sqlite3 shell', argv: aptGet('install', '-y', '--no-install-recommends', 'sqlite3'), sudo: true },
      ];
      binDir = '/usr/bin';
      break;
    case 'dnf':
      if (!isRedHatLike(host)) throw wrongHost('dnf', host);
      steps = [{ kind: 'command', description: 'Install the sqlite3 shell', argv: ['dnf', 'install', '-y', 'sqlite'], sudo: true }];
      binDir = '/usr/bin';
      break;
    case 'brew':
      if (host.os !== 'darwin' && host.os !== 'linux') throw wrongHost('brew', host);
      steps = [{ kind: 'command', description: 'Install the sqlite3 shell (keg-only formula)', argv: ['brew', 'install', 'sqlite'] }];
      binDir = host.os === 'darwin' ? (host.arch === 'arm64' ? '/opt/homebrew/opt/sqlite/bin' : '/usr/local/opt/sqlite/bin') : '/home/linuxbrew/.linuxbrew/opt/sqlite/bin';
      notes.push('Homebrew installs sqlite keg-only; portunix-db uses its sqlite3 from the keg.');
      break;
    case 'winget':
      if (host.os !== 'windows') throw wrongHost('winget', host);
      steps = [{ kind: 'command', description: 'Install the sqlite3 shell', argv: ['winget', 'install', '--id', 'SQLite.SQLite', '--exact', '--silent', '--accept-package-agreements', '--accept-source-agreements'] }];
      notes.push('winget puts sqlite3.exe on PATH for new shells.');
      break;
    case 'embedded':
      steps = [];
      notes.push('Nothing to install: the engine is built in. Install the sqlite3 shell later with another --source if you want it.');
      break;
    default:
      throw new DbError(`SQLite cannot be installed from ${request.source}.`, 'UNKNOWN_SOURCE', `Sources for SQLite: apt, dnf, brew, winget, embedded.`);
  }
  return { ...base, steps, ...(binDir ? { binDir } : {}), notes };
}

export const install: InstallOps = {
  async plan(request, host) {
    return sqlitePlan(request, host);
  },
  async detect() {
    const shell = findShell();
    if (!shell) return undefined;
    const { dirname } = await import('node:path');
    return { binDir: dirname(shell), source: 'embedded' };
  },
};
