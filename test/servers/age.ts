/**
 * The standard `age` and `age-keygen` tools (FiloSottile/age, Go), for the test that a user can
 * decrypt a backup without portunix-db: Debian's own `age` package, fetched with
 * `apt-get download` (apt checks it against the signed archive) and unpacked with `dpkg-deb -x`
 * into the cache. Nothing is installed system-wide, so no root is needed once apt's package
 * lists are there. Not a database server: `engine` says so.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cached, log, sh, type TestServerModule } from './cache.js';

/** Debian 12 (bookworm) ships age 1.1.1. */
const PACKAGE = 'age=1.1.1-1+b3';

async function download(dir: string): Promise<void> {
  try {
    await sh(['apt-get', 'download', PACKAGE], { cwd: dir, timeoutMs: 10 * 60_000 });
  } catch (err) {
    // stale lists name a file the mirror no longer has: refresh once (needs root) and retry
    if (process.getuid?.() !== 0) throw err;
    log('age: apt-get update');
    await sh(['apt-get', 'update'], { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 10 * 60_000 });
    await sh(['apt-get', 'download', PACKAGE], { cwd: dir, timeoutMs: 10 * 60_000 });
  }
}

export const server: TestServerModule = {
  name: 'age',
  async provision() {
    const dir = await cached(`debian-${PACKAGE.replace('=', '-').replace('+', '_')}`, async (tmp) => {
      await download(tmp);
      const deb = readdirSync(tmp).find((f) => f.endsWith('.deb'));
      if (!deb) throw new Error('apt-get downloaded no .deb');
      await sh(['dpkg-deb', '-x', join(tmp, deb), join(tmp, 'root')]);
      for (const tool of ['age', 'age-keygen']) if (!existsSync(join(tmp, 'root', 'usr', 'bin', tool))) throw new Error(`the package holds no usr/bin/${tool}`);
    });
    const binDir = join(dir, 'root', 'usr', 'bin');
    const version = (await sh([join(binDir, 'age'), '--version'])).trim();
    if (!/^v?1\.1\./.test(version)) throw new Error(`expected age 1.1.x, got: ${version}`);
    return { name: 'age', engine: 'age CLI (not a database)', version, binDir, extra: { age: join(binDir, 'age'), ageKeygen: join(binDir, 'age-keygen'), source: `Debian's age package (apt-get download ${PACKAGE})` } };
  },
};
