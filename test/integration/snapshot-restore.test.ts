/**
 * Issue 15, friction 1: a PostgreSQL physical snapshot holds the whole instance. On PostgreSQL 16
 * from the portable binaries (which ship no pg_dump, and this machine's pg_dump is 15), `backup`
 * takes one. Then:
 * - before an in-place restore, the CLI (and MCP db_restore's confirmation error) says what it
 *   replaces: the instance, its databases and roles by name, its changed settings, back to the
 *   snapshot's time; only --force (or a "yes" on a terminal) goes ahead, and the report says the same;
 * - `restore --target other` refuses and names --as-instance;
 * - `restore --as-instance NAME` makes a second running instance (own data dir, port, certificate,
 *   password) with the snapshot's data, and the original is untouched;
 * - bad --as-instance names (existing, path-like, malformed) are refused before anything is made.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CLI, cliOk, freshHome, runCli } from '../helpers/cli.js';
import { sealedBackup } from '../helpers/backup.js';
import { call, freePort, stdioClient, text } from '../helpers/mcp.js';
import { pgQuery } from '../helpers/pg.js';

const home = freshHome('snaprestore');
const opts = { home };
let snapshot = '';
let mcp: Client | undefined;

const dbNames = async (instance: string) => (await pgQuery<{ d: string }>(home, instance, 'postgres', 'SELECT datname AS d FROM pg_database WHERE NOT datistemplate ORDER BY 1')).map((r) => r.d);
const orders = async (instance: string) => Number((await pgQuery<{ n: string }>(home, instance, 'shop', 'SELECT count(*) AS n FROM orders'))[0]!.n);

describe('postgresql 16: a whole-instance snapshot says what it replaces, and restores beside the original', () => {
  before(async () => {
    const port = await freePort();
    await cliOk(['install', 'postgresql', '--version', '16', '--source', 'portable', '--port', String(port), '-q'], opts);
    await cliOk(['create', 'shop', '--type', 'postgresql', '-q'], opts);
    await cliOk(['user', 'create', 'shop_app', '--type', 'postgresql', '--password-stdin', '-q'], { home, input: 'app-secret-1\n' });
    await cliOk(['config', 'set', 'postgresql', 'work_mem', '24MB', '-q'], opts);
    await pgQuery(home, 'main', 'shop', "CREATE TABLE orders (id serial PRIMARY KEY, note text); INSERT INTO orders (note) SELECT 'o' || g FROM generate_series(1, 500) g");
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts);
    assert.equal(b.json.manifest.scope, 'instance', `expected a physical snapshot (no pg_dump 16 here): ${b.json.manifest.method}`);
    snapshot = b.json.file;
    const contents = b.json.manifest.contents;
    assert.ok(contents, 'the manifest says what the snapshot holds');
    assert.ok(contents.databases.includes('shop') && contents.databases.includes('postgres'), JSON.stringify(contents));
    assert.ok(contents.roles.includes('shop_app'), JSON.stringify(contents));
    assert.ok(contents.settings.includes('work_mem = 24MB'), JSON.stringify(contents));
    assert.ok(contents.taken_at, 'and when its data is from');
    // after the snapshot: a new database, a new role, another setting, more rows
    await cliOk(['create', 'later', '--type', 'postgresql', '-q'], opts);
    await cliOk(['user', 'create', 'late_user', '--type', 'postgresql', '--password-stdin', '-q'], { home, input: 'late-secret-1\n' });
    await cliOk(['config', 'set', 'postgresql', 'maintenance_work_mem', '96MB', '-q'], opts);
    await pgQuery(home, 'main', 'shop', "INSERT INTO orders (note) SELECT 'late' || g FROM generate_series(1, 100) g");
  });

  after(async () => {
    await mcp?.close().catch(() => undefined);
    for (const instance of ['copy1', 'main']) await runCli(['stop', 'postgresql', '--instance', instance, '-q'], opts);
  });

  it('without --force, says exactly what it would replace and changes nothing', async () => {
    const r = await runCli(['restore', snapshot, '--json'], opts);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    const e = r.json.error;
    assert.equal(e.code, 'CONFIRMATION_REQUIRED');
    const time = JSON.parse(readFileSync(`${snapshot}.manifest.json`, 'utf8')).contents.taken_at as string;
    assert.match(e.message, /replaces the whole instance postgresql\/main/);
    assert.ok(e.message.includes('databases later, postgres, shop;'), e.message);
    assert.match(e.message, /roles [^;]*late_user[^;]*shop_app/);
    assert.ok(e.message.includes('maintenance_work_mem = 96MB') && e.message.includes('work_mem = 24MB'), e.message);
    assert.ok(e.message.includes(`with the snapshot of ${time}`), e.message);
    assert.match(e.hint, /--force/);
    assert.match(e.hint, /--as-instance NAME/);
    assert.deepEqual(e.details.replaces.databases, ['later', 'postgres', 'shop']);
    assert.ok(!e.details.snapshot.databases.includes('later'));
    // on a terminal (a pty from script(1)) it is a question; answering "n" changes nothing
    const tty = await runCli([], { home, input: 'n\n', command: ['script', '-qec', `${process.execPath} ${CLI} restore ${snapshot}`, '/dev/null'] });
    assert.match(tty.stdout, /replaces the whole instance postgresql\/main[^\n]*\n?Go ahead\? \[y\/N\]/, tty.stdout);
    assert.equal(tty.code, 2, tty.stdout);
    assert.deepEqual(await dbNames('main'), ['later', 'postgres', 'shop'], 'nothing changed');
    // the human form says the same
    const human = await runCli(['restore', snapshot], opts);
    assert.equal(human.code, 2);
    assert.match(human.stderr, /replaces the whole instance postgresql\/main .*databases later, postgres, shop/);
  });

  it('restore --target on a snapshot refuses and offers --as-instance', async () => {
    const r = await runCli(['restore', snapshot, '--target', 'shop_copy', '--json'], opts);
    assert.equal(r.code, 2);
    assert.equal(r.json.error.code, 'USAGE');
    assert.match(r.json.error.message, /holds the whole postgresql instance postgresql\/main, so it cannot be restored into one database "shop_copy"/);
    assert.match(r.json.error.hint, /--as-instance NAME/);
  });

  it("MCP db_restore's confirmation error carries the same description", async () => {
    mcp = await stdioClient(home, ['--allow-write']);
    const r = await call(mcp, 'db_restore', { file: snapshot });
    assert.equal(r.isError, true);
    const t = text(r);
    assert.match(t, /CONFIRMATION_REQUIRED/);
    assert.match(t, /replaces the whole instance postgresql\/main .*databases later, postgres, shop; roles [^;]*late_user/);
    assert.match(t, /confirm": true/);
    // bad as_instance names are refused through MCP too, before anything is made
    const bad = await call(mcp, 'db_restore', { file: snapshot, as_instance: '../escape', confirm: true });
    assert.equal(bad.isError, true);
    assert.match(text(bad), /Invalid instance name/);
    // and a port without as_instance, or one that is not a port, changes nothing either
    const portAlone = await call(mcp, 'db_restore', { file: snapshot, port: 5999, confirm: true });
    assert.equal(portAlone.isError, true);
    assert.match(text(portAlone), /port of the new instance that --as-instance/);
    const notAPort = await call(mcp, 'db_restore', { file: snapshot, as_instance: 'copy7', port: 70000, confirm: true });
    assert.equal(notAPort.isError, true);
    assert.ok(!existsSync(join(home, 'instances', 'postgresql', 'copy7')));
  });

  it('--encrypt: the snapshot archive goes through age as it is written (no plaintext file ever appears) and verifies', async () => {
    const sealed = await sealedBackup(['shop', '--type', 'postgresql'], join(home, 'sealed'), opts);
    assert.match(sealed.file, /\.tar\.gz\.age$/);
    const v = await cliOk(['backup', 'verify', sealed.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
  });

  it('--as-instance NAME refuses existing, path-like and malformed names before making anything', async () => {
    const before = readFileSync(join(home, 'config.json'), 'utf8');
    for (const [name, code] of [['main', 'ALREADY_EXISTS'], ['../escape', 'USAGE'], ['/tmp/abs', 'USAGE'], ['Copy', 'USAGE'], ['x;rm -rf', 'USAGE'], ['', 'USAGE'], ['a'.repeat(40), 'USAGE']] as const) {
      const r = await runCli(['restore', snapshot, `--as-instance=${name}`, '--json'], opts);
      assert.notEqual(r.code, 0, `--as-instance ${JSON.stringify(name)} was accepted`);
      assert.equal(r.json?.error?.code, code, `${JSON.stringify(name)}: ${r.stdout}${r.stderr}`);
    }
    // --port: only with --as-instance, a real port, and not one already taken (the original's)
    const mainPort = (await cliOk(['status', 'postgresql', '--json'], opts)).json;
    const taken = String(((mainPort.instances ?? mainPort) as { instance: string; port: number }[]).find((i) => i.instance === 'main')!.port);
    for (const [args, code, pattern] of [
      [['--port', '5999'], 'USAGE', /--port is the port of the new instance that --as-instance/],
      [['--as-instance', 'copy8', '--port', '0'], 'USAGE', /not a TCP port/],
      [['--as-instance', 'copy8', '--port', '70000'], 'USAGE', /not a TCP port/],
      [['--as-instance', 'copy8', '--port', taken], 'PORT_IN_USE', new RegExp(taken)],
    ] as const) {
      const r = await runCli(['restore', snapshot, ...args, '--force', '--json'], opts);
      assert.equal(r.json?.error?.code, code, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.json.error.message, pattern);
    }
    assert.equal(readFileSync(join(home, 'config.json'), 'utf8'), before, 'no instance was registered');
    assert.ok(!existsSync(join(home, 'instances', 'postgresql', 'escape')) && !existsSync('/tmp/abs') && !existsSync(join(home, 'instances', 'postgresql', 'copy8')));
    // a one-database backup cannot become an instance
    await cliOk(['install', 'sqlite', '--source', 'embedded', '-q'], opts);
    await cliOk(['create', 'notes', '--type', 'sqlite', '-q'], opts);
    const dump = await cliOk(['backup', 'notes', '--type', 'sqlite', '--json'], opts);
    const r = await runCli(['restore', dump.json.file, '--as-instance', 'copy9', '--json'], opts);
    assert.equal(r.code, 2);
    assert.match(r.json.error.message, /only a whole-instance snapshot can become a new instance/);
  });

  it('--as-instance makes a second running instance with the snapshot, and the original is untouched', async () => {
    const port = await freePort();
    const r = await cliOk(['restore', snapshot, '--as-instance', 'copy1', '--port', String(port), '--json'], opts);
    assert.equal(r.json.instance, 'copy1');
    assert.match(r.json.summary, new RegExp(`on port ${port}:`), 'on the port asked for');
    assert.match(r.json.summary, /as the new instance postgresql\/copy1 on port \d+: databases postgres, shop; roles [^;]*shop_app/);
    assert.match(r.json.summary, /postgresql\/main was not touched/);
    const status = await cliOk(['status', 'postgresql', '--json'], opts);
    const byName = Object.fromEntries((status.json.instances ?? status.json).map((i: { instance: string }) => [i.instance, i]));
    assert.equal(byName.copy1.state, 'running');
    assert.equal(byName.main.state, 'running');
    assert.notEqual(byName.copy1.port, byName.main.port);
    assert.notEqual(byName.copy1.data_dir, byName.main.data_dir);
    // the snapshot's data and roles, not what came later
    assert.deepEqual(await dbNames('copy1'), ['postgres', 'shop']);
    assert.equal(await orders('copy1'), 500);
    const roles = (await pgQuery<{ r: string }>(home, 'copy1', 'postgres', "SELECT rolname AS r FROM pg_roles WHERE rolname IN ('shop_app', 'late_user')")).map((x) => x.r);
    assert.deepEqual(roles, ['shop_app']);
    const wm = await pgQuery<{ w: string }>(home, 'copy1', 'postgres', "SELECT current_setting('work_mem') AS w");
    assert.equal(wm[0]!.w, '24MB');
    // its own certificate and its own superuser password
    const cert = (i: string) => readFileSync(join(home, 'instances', 'postgresql', i, 'tls', 'server.crt'), 'utf8');
    assert.notEqual(cert('copy1'), cert('main'));
    const url = async (i: string) => new URL((await cliOk(['url', 'postgresql', '--instance', i, '--show-password', '--json'], opts)).json.url);
    assert.notEqual((await url('copy1')).password, (await url('main')).password);
    assert.equal((await url('copy1')).port, String(byName.copy1.port));
    // the original: everything written after the snapshot is still there
    assert.deepEqual(await dbNames('main'), ['later', 'postgres', 'shop']);
    assert.equal(await orders('main'), 600);
    // and the copy is a name now taken
    const again = await runCli(['restore', snapshot, '--as-instance', 'copy1', '--json'], opts);
    assert.equal(again.json.error.code, 'ALREADY_EXISTS');
    // the copy is a full instance: the read-only account works on it
    const q = await cliOk(['query', 'postgresql', '--instance', 'copy1', '--database', 'shop', 'SELECT count(*) AS n FROM orders', '--json'], opts);
    assert.equal(Number(q.json.rows[0][0]), 500);
  });

  it('--force replaces the whole instance and the report says what it replaced', async () => {
    const r = await cliOk(['restore', snapshot, '--force', '--json'], opts);
    assert.match(r.json.summary, /^Replaced postgresql\/main \(databases later, postgres, shop; roles [^;]*late_user[^)]*maintenance_work_mem = 96MB[^)]*\) with the snapshot of \S+; it now holds databases postgres, shop;/);
    assert.deepEqual(r.json.contents.databases, ['postgres', 'shop']);
    assert.deepEqual(await dbNames('main'), ['postgres', 'shop']);
    assert.equal(await orders('main'), 500);
  });
});
