import { DbError } from '../errors.js';
import type { ArtifactResolver } from './plan.js';

function registryUrl(): string {
  const url = process.env['npm_config_registry'] ?? process.env['NPM_CONFIG_REGISTRY'] ?? 'https://registry.npmjs.org/';
  return url.endsWith('/') ? url : url + '/';
}

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x).localeCompare(String(y));
  }
  return 0;
}

/** Resolves "16" to the newest 16.x of a package, with its tarball and integrity hash. */
export const npmResolver: ArtifactResolver = {
  async npmPackage(name, versionRange) {
    const url = registryUrl() + name.replace('/', '%2f');
    let doc: { versions?: Record<string, { dist: { tarball: string; integrity: string } }> };
    try {
      const res = await fetch(url, { headers: { accept: 'application/vnd.npm.install-v1+json' }, signal: AbortSignal.timeout(30_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      doc = (await res.json()) as typeof doc;
    } catch (err) {
      throw new DbError(`Could not read ${name} from the npm registry: ${(err as Error).message}`, 'DOWNLOAD_FAILED', 'Check the network or npm_config_registry.');
    }
    const candidates = Object.keys(doc.versions ?? {}).filter((v) => v === versionRange || v.startsWith(versionRange + '.'));
    candidates.sort(compareVersions);
    const version = candidates[candidates.length - 1];
    if (!version) throw new DbError(`The npm registry has no ${name} for version ${versionRange}.`, 'UNKNOWN_VERSION');
    const dist = doc.versions![version]!.dist;
    return { version, tarball: dist.tarball, integrity: dist.integrity };
  },
};

export { compareVersions };
