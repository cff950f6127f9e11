import { DbError } from '../errors.js';
import type { ArtifactResolver } from './plan.js';
import { npmGet, npmSettings } from './npm-config.js';

function registryUrl(): string {
  return npmSettings().registry;
}

/** Like npm's replace-registry-host: tarballs of the public registry are fetched from the configured mirror. */
export function onRegistry(tarball: string, registry: string): string {
  const PUBLIC = 'https://registry.npmjs.org/';
  return tarball.startsWith(PUBLIC) && registry !== PUBLIC ? registry + tarball.slice(PUBLIC.length) : tarball;
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
    const res = await npmGet(url, { headers: { accept: 'application/vnd.npm.install-v1+json' }, timeoutMs: 30_000 });
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    try {
      doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof doc;
    } catch (err) {
      throw new DbError(`The npm registry's answer for ${name} is not JSON (${(err as Error).message}).`, 'DOWNLOAD_FAILED', 'Check `npm config get registry`: it should point at an npm registry, not a web page.');
    }
    const candidates = Object.keys(doc.versions ?? {}).filter((v) => v === versionRange || v.startsWith(versionRange + '.'));
    candidates.sort(compareVersions);
    const version = candidates[candidates.length - 1];
    if (!version) throw new DbError(`The npm registry has no ${name} for version ${versionRange}.`, 'UNKNOWN_VERSION');
    const dist = doc.versions![version]!.dist;
    return { version, tarball: onRegistry(dist.tarball, registryUrl()), integrity: dist.integrity };
  },
};

export { compareVersions };
