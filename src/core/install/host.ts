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

const CODENAMES: Record<string, string> = { 'debian-11': 'bullseye', 'debian-12': 'bookworm', 'debian-13': 'trixie', 'ubuntu-20.04': 'focal', 'ubuntu-22.04': 'jammy', 'ubuntu-24.04': 'noble' };
const SHORT: Record<string, string> = { macos: 'macos-arm64', mac: 'macos-arm64', darwin: 'macos-arm64', osx: 'macos-arm64', windows: 'windows-x64', win: 'windows-x64', win64: 'windows-x64', debian: 'debian-12', ubuntu: 'ubuntu-24.04', fedora: 'fedora-40', rhel: 'rhel-9', linux: 'debian-12' };

/** The forms `--platform` accepts, for help and errors. */
export const PLATFORM_FORMS = `${Object.keys(SAMPLE_HOSTS).join(', ')}; also macos, macos-x64, windows, debian[-N], ubuntu[-YY.MM], fedora[-N], rhel[-N], rocky-N, alma-N`;

/**
 * A `--platform` name as users type it: the sample keys, short forms (macos, windows, ubuntu)
 * and other releases of the known distributions (ubuntu-22.04, debian-11, rhel-8).
 */
export function platformHost(name: string): HostPlatform | undefined {
  const key = name.trim().toLowerCase().replace(/_/g, '-');
  const canonical = SHORT[key] ?? key;
  if (SAMPLE_HOSTS[canonical]) return SAMPLE_HOSTS[canonical];
  if (canonical === 'macos-x64' || canonical === 'macos-intel') return { os: 'darwin', arch: 'x64', isRoot: false };
  if (canonical === 'windows-arm64') return { os: 'windows', arch: 'arm64', isRoot: false };
  const m = /^(debian|ubuntu|fedora|rhel|rocky|alma|almalinux)-?(\d+(?:\.\d+)?)$/.exec(canonical);
  if (!m) return undefined;
  const [, id, versionId] = m as unknown as [string, string, string];
  if (id === 'debian' || id === 'ubuntu') {
    const codename = CODENAMES[`${id}-${versionId}`];
    return { os: 'linux', arch: 'x64', isRoot: false, distro: { id, idLike: id === 'ubuntu' ? ['debian'] : [], versionId, ...(codename ? { codename } : {}) } };
  }
  const distroId = id === 'alma' ? 'almalinux' : id;
  return { os: 'linux', arch: 'x64', isRoot: false, distro: { id: distroId, idLike: distroId === 'fedora' ? [] : ['rhel', 'fedora'], versionId } };
}
