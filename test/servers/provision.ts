/**
 * Provisions every test server (or the ones named on the command line): each module in this
 * folder that exports `server: TestServerModule`. Results go to provisioned.json in the cache,
 * which the tests read through testServer(). Run by scripts/test.sh before the integration tests.
 *
 *   node dist/test/servers/provision.js            # all
 *   node dist/test/servers/provision.js ferretdb   # one
 */
import { readdir, writeFile, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withFileLock } from '../../src/core/file-lock.js';
import { cacheRoot, log, provisionedFile, readProvisioned, type ProvisionedServer, type TestServerModule } from './cache.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOT_MODULES = new Set(['cache.js', 'provision.js']);

async function modules(): Promise<TestServerModule[]> {
  const found: TestServerModule[] = [];
  for (const file of (await readdir(here)).sort()) {
    if (!file.endsWith('.js') || NOT_MODULES.has(file)) continue;
    const mod = (await import(pathToFileURL(join(here, file)).href)) as { server?: TestServerModule };
    if (mod.server) found.push(mod.server);
  }
  return found;
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const all = await modules();
  const chosen = wanted.length ? all.filter((m) => wanted.includes(m.name)) : all;
  for (const w of wanted) if (!all.some((m) => m.name === w)) throw new Error(`no test server module named ${w}; known: ${all.map((m) => m.name).join(', ')}`);
  await mkdir(cacheRoot(), { recursive: true });
  const results: Record<string, ProvisionedServer | { error: string }> = {};
  let failed = 0;
  // two at a time: most time is spent in registry clients and compilers, and there are 2 cores
  const queue = [...chosen];
  const worker = async () => {
    for (let m = queue.shift(); m; m = queue.shift()) {
      const started = Date.now();
      try {
        results[m.name] = await m.provision();
        log(`${m.name}: ready (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      } catch (err) {
        failed++;
        results[m.name] = { error: (err as Error).message.slice(0, 2000) };
        log(`${m.name}: FAILED after ${((Date.now() - started) / 1000).toFixed(1)} s: ${(err as Error).message}`);
      }
      // other provisioning runs may be writing too: merge into what is on disk now, under a lock
      const entry = results[m.name]!;
      const name = m.name;
      await withFileLock(`${provisionedFile()}.lock`, async () => {
        const latest = await readProvisioned();
        latest[name] = entry;
        await writeFile(provisionedFile(), JSON.stringify(latest, null, 2) + '\n');
      }, 120_000);
    }
  };
  await Promise.all([worker(), worker()]);
  log(`${chosen.length - failed} of ${chosen.length} test servers ready; recorded in ${provisionedFile()}`);
  if (failed) process.exitCode = 1;
}

await main();
