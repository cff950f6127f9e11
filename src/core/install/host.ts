import { readFileSync } from 'node:fs';
import type { HostPlatform } from './plan.js';
import { isRoot } from '../process/service-user.js';

function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return out;
}

export function detectHost(): HostPlatform {
  const os = process.platform === 'win32' ? 'windows' : process.platform === 'darwin' ? 'darwin' : 'linux';
  const arch = process.arch === 'arm64' ? 'arm64' : 'x64';
  const host: HostPlatform = { os, arch, isRoot: isRoot() };
  if (os === 'linux') {
    try {
      const rel = parseOsRelease(readFileSync('/etc/os-release', 'utf8'));
      host.distro = { id: rel['ID'] ?? 'linux', idLike: (rel['ID_LIKE'] ?? '').split(/\s+/).filter(Boolean), versionId: rel['VERSION_ID'] ?? '', ...(rel['VERSION_CODENAME'] ? { codename: rel['VERSION_CODENAME'] } : {}) };
    } catch {
      /* no os-release: a minimal container */
    }
  }
  return host;
}

export function isDebianLike(host: HostPlatform): boolean {
  return !!host.distro && (host.distro.id === 'debian' || host.distro.id === 'ubuntu' || host.distro.idLike.includes('debian'));
}

export function isRedHatLike(host: HostPlatform): boolean {
  return !!host.distro && ['fedora', 'rhel', 'centos', 'rocky', 'almalinux', 'ol'].some((d) => host.distro!.id === d || host.distro!.idLike.includes(d));
}

/** Fixed hosts for plan tests and for `--platform` dry runs. */
export const SAMPLE_HOSTS: Record<string, HostPlatform> = {
  'debian-12': { os: 'linux', arch: 'x64', isRoot: true, distro: { id: 'debian', idLike: [], versionId: '12', codename: 'bookworm' } },
  'ubuntu-24.04': { os: 'linux', arch: 'x64', isRoot: false, distro: { id: 'ubuntu', idLike: ['debian'], versionId: '24.04', codename: 'noble' } },
  'fedora-40': { os: 'linux', arch: 'x64', isRoot: false, distro: { id: 'fedora', idLike: [], versionId: '40' } },
  'rhel-9': { os: 'linux', arch: 'x64', isRoot: false, distro: { id: 'rhel', idLike: ['fedora'], versionId: '9.4' } },
  'macos-arm64': { os: 'darwin', arch: 'arm64', isRoot: false },
  'windows-x64': { os: 'windows', arch: 'x64', isRoot: false },
};
