/**
 * Headless Chromium for the dashboard's browser test: Debian's own `chromium` package, installed
 * with apt (the machine's package registry), driven by playwright-core with `executablePath` set
 * to Debian's binary (playwright's own browser downloads are not used). Idempotent: nothing is
 * fetched when /usr/bin/chromium exists. Not a database server: `engine` says so.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { log, sh, type TestServerModule } from './cache.js';

export const CHROMIUM = '/usr/bin/chromium';
const APT_LISTS = '/var/lib/apt/lists';

/** apt's package lists are there and younger than a day (else `apt-get update` first). */
function listsFresh(): boolean {
  try {
    const s = statSync(APT_LISTS);
    const any = existsSync(join(APT_LISTS, 'lock')) && s.mtimeMs > Date.now() - 24 * 3600_000;
    return any;
  } catch {
    return false;
  }
}

/** Installs Debian's chromium when it is missing; returns the binary's path. */
export async function provisionChromium(): Promise<string> {
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() !== 0) throw new Error(`${CHROMIUM} is missing and installing it needs root: run \`apt-get install -y chromium\` as root`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  if (!listsFresh()) {
    log('chromium: apt-get update');
    await sh(['apt-get', 'update'], { env, timeoutMs: 10 * 60_000 });
  }
  log('chromium: apt-get install -y chromium (Debian package)');
  try {
    await sh(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'], { env, timeoutMs: 20 * 60_000 });
  } catch {
    // stale lists name package versions the mirror no longer has: refresh once and retry
    await sh(['apt-get', 'update'], { env, timeoutMs: 10 * 60_000 });
    await sh(['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'], { env, timeoutMs: 20 * 60_000 });
  }
  if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium but ${CHROMIUM} is not there`);
  return CHROMIUM;
}

export const server: TestServerModule = {
  name: 'chromium',
  async provision() {
    const path = await provisionChromium();
    const out = await sh([path, '--version']);
    const version = /(\d+(?:\.\d+)+)/.exec(out)?.[1] ?? out.trim();
    return { name: 'chromium', engine: 'browser (not a database)', version, extra: { executablePath: path, source: "Debian's chromium package (apt)" } };
  },
};
