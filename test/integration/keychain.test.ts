/**
 * The OS keychain path of the secret store, for real on Linux: a private D-Bus session bus with
 * gnome-keyring's Secret Service (an unlocked login keyring made for this test only), the built
 * CLI installing a portable PostgreSQL with PORTUNIX_DB_SECRET_BACKEND unset (auto) and =keychain,
 * and secret-tool (an independent Secret Service client) finding the admin password there, while
 * no secrets.enc is written. Without a Secret Service (no bus, a bus without one, a bus that never
 * answers) =keychain fails with SECRET_STORE and its hint, and auto falls back to the encrypted file.
 *
 * Needs gnome-keyring, dbus-daemon and libsecret-tools (secret-tool); installs them with apt-get
 * when missing (CI runs as root on Debian 12). Nothing global changes: the bus, the keyring
 * daemon and the keyring files live in a temp dir and the daemons are killed in after().
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createDecipheriv } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';

const PACKAGES = ['gnome-keyring', 'dbus-daemon', 'libsecret-tools'];
const PROGRAMS = ['/usr/bin/gnome-keyring-daemon', '/usr/bin/dbus-daemon', '/usr/bin/secret-tool'];

function ensurePackages(): void {
  if (PROGRAMS.every((p) => existsSync(p))) return;
  const run = () =>
    spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=600', 'install', '-y', '-q', '--no-install-recommends', ...PACKAGES], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      encoding: 'utf8',
      timeout: 600_000,
    });
  let r = run();
  if (r.status !== 0 && /Unable to locate package|has no installation candidate/.test(r.stderr ?? '')) {
    // a fresh machine without package lists
    spawnSync('apt-get', ['update', '-q'], { encoding: 'utf8', timeout: 600_000 });
    r = run();
  }
  assert.equal(r.status, 0, `apt-get install ${PACKAGES.join(' ')} failed:\n${r.stderr}`);
  for (const p of PROGRAMS) assert.ok(existsSync(p), `${p} after apt-get install`);
}

/** A session bus of our own: its socket lives in `dir`, it activates no services. */
function startBus(dir: string): { child: ChildProcess; address: string } {
  const socket = join(dir, 'bus');
  const conf = join(dir, 'bus.conf');
  writeFileSync(
    conf,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
`,
  );
  const child = spawn('/usr/bin/dbus-daemon', [`--config-file=${conf}`, '--nofork'], { stdio: 'ignore' });
  return { child, address: `unix:path=${socket}` };
}

function secretTool(address: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('/usr/bin/secret-tool', args, {
    env: { ...process.env, DBUS_SESSION_BUS_ADDRESS: address },
    input: input ?? '',
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Waits until the bus socket exists and the Secret Service stores, returns and clears an item. */
async function waitForSecretService(address: string, socket: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 200; i++) {
    if (existsSync(socket)) {
      const attrs = ['service', 'portunix-db-test', 'username', 'ready'];
      const stored = secretTool(address, ['store', '--label=ready', ...attrs], 'yes');
      if (stored.status === 0 && secretTool(address, ['lookup', ...attrs]).stdout === 'yes') {
        assert.equal(secretTool(address, ['clear', ...attrs]).status, 0);
        return;
      }
      last = stored.stderr;
    }
    await sleep(100);
  }
  throw new Error(`the Secret Service did not come up on ${address}: ${last}`);
}

/** The secrets in the encrypted file (keyfile mode), decrypted the way the store does it. */
function fileSecrets(home: string): Record<string, string> {
  const payload = JSON.parse(readFileSync(join(home, 'secrets', 'secrets.enc'), 'utf8')) as { kdf: string; iv: string; tag: string; data: string };
  assert.equal(payload.kdf, 'keyfile');
  const key = Buffer.from(readFileSync(join(home, 'secrets', 'master.key'), 'utf8').trim(), 'base64');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(payload.iv, 'base64'));
  d.setAuthTag(Buffer.from(payload.tag, 'base64'));
  return JSON.parse(Buffer.concat([d.update(Buffer.from(payload.data, 'base64')), d.final()]).toString('utf8')) as Record<string, string>;
}

function passwordOf(url: string): string {
  return decodeURIComponent(new URL(url).password);
}

describe('secret store: the OS keychain (Secret Service over a private D-Bus session)', { skip: process.platform !== 'linux' ? 'the Secret Service test is for Linux' : false }, () => {
  let dir: string;
  let home: string;
  let bus: ChildProcess | undefined;
  let emptyBus: ChildProcess | undefined;
  let keyring: ChildProcess | undefined;
  let silent: Server | undefined;
  let address: string;
  let emptyAddress: string;
  let silentAddress: string;
  let mainPort: number;
  let fbPort: number;
  const installed: { instance: string; env: Record<string, string | undefined> }[] = [];

  /** The CLI's environment inside the keychain session: PORTUNIX_DB_SECRET_BACKEND unset (auto). */
  const inSession = () => ({ PORTUNIX_DB_SECRET_BACKEND: undefined, DBUS_SESSION_BUS_ADDRESS: address });
  /** No session bus at all. */
  const noBus = (backend?: string) => ({ PORTUNIX_DB_SECRET_BACKEND: backend, DBUS_SESSION_BUS_ADDRESS: undefined });
  const account = (instance: string) => `${home}/secrets::postgresql/${instance}/admin`;

  before(async () => {
    ensurePackages();
    dir = mkdtempSync(join(tmpdir(), 'pdb-keychain-'));
    for (const d of ['run', 'data', 'empty', 'silent']) mkdirSync(join(dir, d), { mode: 0o700 });
    home = freshHome('keychain');

    const b = startBus(dir);
    bus = b.child;
    address = b.address;
    // gnome-keyring-daemon --unlock reads the login keyring's password from stdin and creates the
    // keyring unlocked when it does not exist; --foreground keeps it our child, to kill in after()
    keyring = spawn('/usr/bin/gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
      env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, 'data'), XDG_RUNTIME_DIR: join(dir, 'run'), DBUS_SESSION_BUS_ADDRESS: address },
      stdio: ['pipe', 'ignore', 'ignore'],
    });
    keyring.stdin!.end('test-login-password');
    await waitForSecretService(address, join(dir, 'bus'));

    const e = startBus(join(dir, 'empty'));
    emptyBus = e.child;
    emptyAddress = e.address;
    for (let i = 0; i < 100 && !existsSync(join(dir, 'empty', 'bus')); i++) await sleep(100);

    // a socket that accepts connections and never answers: a hung bus
    const silentSocket = join(dir, 'silent', 'bus');
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent!.listen(silentSocket, resolve));
    silentAddress = `unix:path=${silentSocket}`;

    mainPort = await freePort();
    fbPort = await freePort();
  });

  after(async () => {
    for (const { instance, env } of installed) {
      await runCli(['stop', 'postgresql', '--instance', instance, '--json'], { home, env }).catch(() => undefined);
    }
    for (const child of [keyring, bus, emptyBus]) {
      if (child && child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([gone, sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    silent?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('auto: install keeps the admin password in the keychain, writes no secrets.enc, and the server accepts it', async () => {
    installed.push({ instance: 'main', env: inSession() });
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(mainPort), '--json'], { home, env: inSession() });
    const url = (await cliOk(['url', 'postgresql', '--show-password', '--json'], { home, env: inSession() })).json.url as string;
    const password = passwordOf(url);
    assert.ok(password.length >= 16, `a generated password in ${url}`);

    // an independent Secret Service client finds exactly that password under service portunix-db
    const lookup = secretTool(address, ['lookup', 'service', 'portunix-db', 'username', account('main')]);
    assert.equal(lookup.status, 0, `secret-tool lookup: ${lookup.stderr}`);
    assert.equal(lookup.stdout, password);
    const search = secretTool(address, ['search', '--all', 'service', 'portunix-db']);
    assert.equal(search.status, 0, search.stderr);
    // secret-tool prints the label and secret on stdout, the attributes on stderr
    const listing = search.stdout + search.stderr;
    assert.deepEqual(listing.split('\n').filter((l) => l.startsWith('attribute.username = ')).sort(), [`attribute.username = ${account('main')}`, `attribute.username = ${account('main').replace(/\/admin$/, '/readonly')}`].sort(), `the admin and the read-only account, no probe left behind:\n${listing}`);
    assert.match(listing, new RegExp(`^secret = ${password}$`, 'm'));

    // the file store was never used
    assert.equal(existsSync(join(home, 'secrets', 'secrets.enc')), false, 'no secrets.enc');
    assert.equal(existsSync(join(home, 'secrets', 'master.key')), false, 'no master.key');

    // the password is the real one: the server accepts it (over the URL's verified TLS)
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      const rows = (await client.query<{ u: string }>('SELECT current_user AS u')).rows;
      assert.equal(rows[0]?.u, 'postgres');
    } finally {
      await client.end();
    }
  });

  it('=keychain reads the same entry; auto and keychain agree', async () => {
    const forced = (await cliOk(['url', 'postgresql', '--show-password', '--json'], { home, env: { ...inSession(), PORTUNIX_DB_SECRET_BACKEND: 'keychain' } })).json.url as string;
    const auto = (await cliOk(['url', 'postgresql', '--show-password', '--json'], { home, env: { ...inSession(), PORTUNIX_DB_SECRET_BACKEND: 'auto' } })).json.url as string;
    const inKeychain = secretTool(address, ['lookup', 'service', 'portunix-db', 'username', account('main')]).stdout;
    assert.equal(passwordOf(forced), inKeychain);
    assert.equal(passwordOf(auto), inKeychain);
    assert.equal(existsSync(join(home, 'secrets', 'secrets.enc')), false, 'still no secrets.enc');
  });

  it('=keychain without a usable Secret Service fails with SECRET_STORE and a hint (no bus, a bus without one, a bus that never answers)', async () => {
    const cases: [string, Record<string, string | undefined>, RegExp][] = [
      ['no session bus', noBus('keychain'), /DBUS_SESSION_BUS_ADDRESS|D-?Bus/i],
      ['a bus without a Secret Service', { PORTUNIX_DB_SECRET_BACKEND: 'keychain', DBUS_SESSION_BUS_ADDRESS: emptyAddress }, /org\.freedesktop\.secrets|ServiceUnknown|not provided/i],
      ['a bus that never answers', { PORTUNIX_DB_SECRET_BACKEND: 'keychain', DBUS_SESSION_BUS_ADDRESS: silentAddress }, /no answer within/],
    ];
    const password = secretTool(address, ['lookup', 'service', 'portunix-db', 'username', account('main')]).stdout;
    assert.ok(password);
    for (const [what, env, reason] of cases) {
      const r = await runCli(['url', 'postgresql', '--show-password', '--json'], { home, env, timeoutMs: 120_000 });
      assert.notEqual(r.code, 0, `${what}: exits non-zero\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.json?.error?.code, 'SECRET_STORE', `${what}: ${r.stdout}\n${r.stderr}`);
      assert.match(r.json.error.message, /OS keychain is not available/, what);
      assert.match(r.json.error.message, reason, what);
      assert.match(r.json.error.hint, /Secret Service/, what);
      assert.match(r.json.error.hint, /PORTUNIX_DB_SECRET_BACKEND/, what);
      assert.ok(!(r.stdout + r.stderr).includes(password), `${what}: no password printed`);
    }
    assert.equal(existsSync(join(home, 'secrets', 'secrets.enc')), false, 'a refused keychain does not fall back to the file');
  });

  it('an unknown PORTUNIX_DB_SECRET_BACKEND is refused with a hint instead of silently meaning auto', async () => {
    const r = await runCli(['url', 'postgresql', '--show-password', '--json'], { home, env: { ...inSession(), PORTUNIX_DB_SECRET_BACKEND: 'keyring' } });
    assert.notEqual(r.code, 0);
    assert.equal(r.json?.error?.code, 'SECRET_STORE', r.stdout);
    assert.match(r.json.error.hint, /auto.*keychain.*file/);
  });

  it('auto without a Secret Service falls back to the encrypted file; the keychain does not get that password', async () => {
    installed.push({ instance: 'fb', env: noBus() });
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--instance', 'fb', '--port', String(fbPort), '--json'], { home, env: noBus() });
    const url = (await cliOk(['url', 'postgresql', '--instance', 'fb', '--show-password', '--json'], { home, env: noBus() })).json.url as string;
    const password = passwordOf(url);

    assert.ok(existsSync(join(home, 'secrets', 'secrets.enc')), 'secrets.enc written');
    assert.ok(!readFileSync(join(home, 'secrets', 'secrets.enc'), 'utf8').includes(password), 'not in clear');
    const inFile = fileSecrets(home);
    assert.equal(inFile[account('fb')], password, 'the fallback instance password is in the file');
    assert.equal(inFile[account('main')], undefined, 'the keychain instance password is not in the file');

    const lookup = secretTool(address, ['lookup', 'service', 'portunix-db', 'username', account('fb')]);
    assert.notEqual(lookup.status, 0, 'no keychain item for the fallback instance');
    assert.equal(lookup.stdout, '');

    // auto also falls back (instead of hanging) on a bus that never answers, and on a bus without a Secret Service
    for (const bad of [silentAddress, emptyAddress]) {
      const r = await cliOk(['url', 'postgresql', '--instance', 'fb', '--show-password', '--json'], { home, env: { PORTUNIX_DB_SECRET_BACKEND: undefined, DBUS_SESSION_BUS_ADDRESS: bad }, timeoutMs: 120_000 });
      assert.equal(passwordOf(r.json.url), password, bad);
    }

    // the fallback server accepts the password from the file
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
    await client.connect();
    await client.end();
  });
});
