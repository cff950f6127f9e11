/**
 * PostgreSQL end to end through the built CLI, against real servers the tool installs:
 * 16 and 14 from the npm registry's portable binaries, 15 from Debian's apt.
 * Covers issue 2's "done when": side by side, load data, back up / drop / restore / verify,
 * kill -9 → crashed → start; and every bad input the issue lists.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CLI_SRC as CLI_PATH, cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { pgClient, pgQuery, pgUrl, tlsFacts } from '../helpers/pg.js';
import { renderHba } from '../../src/engines/postgresql/instance.js';
import { kill9 } from '../helpers/wait.js';

const home = freshHome('pg');
const opts = { home };

async function pidOf(instance: string): Promise<number> {
  const r = await cliOk(['status', 'postgresql', '--instance', instance, '--json'], opts);
  return r.json[0].pid;
}

describe('postgresql: install side by side', () => {
  after(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await runCli(['stop', 'postgresql', '--instance', instance], opts);
  });

  it('installs 16 (portable) as the default and it is running', async () => {
    const r = await cliOk(['install', 'postgresql', '--version', '16', '--port', String(await freePort()), '--json'], opts);
    assert.equal(r.json.source, 'portable');
    assert.equal(r.json.state, 'running');
    assert.ok(r.stderr.includes('verified sha512'), 'the download is checked against the registry integrity hash');
  });

  it('installs 15 through apt and 14 portable beside it, each on its own port', async () => {
    await cliOk(['install', 'postgresql', '--version', '15', '--source', 'apt', '--instance', 'pg15', '--port', String(await freePort()), '-q'], opts);
    await cliOk(['install', 'postgresql', '--version', '14', '--source', 'portable', '--instance', 'pg14', '--port', String(await freePort()), '-q'], opts);
    const st = await cliOk(['status', '--json'], opts);
    const byName = Object.fromEntries(st.json.map((s: { instance: string }) => [s.instance, s]));
    assert.equal(byName.main.state, 'running');
    assert.equal(byName.pg15.state, 'running');
    assert.equal(byName.pg14.state, 'running');
    assert.match(byName.main.full_version, /^16\./);
    assert.match(byName.pg15.full_version, /^15\./);
    assert.match(byName.pg14.full_version, /^14\./);
    assert.equal(new Set([byName.main.port, byName.pg15.port, byName.pg14.port]).size, 3);
    assert.equal(new Set([byName.main.data_dir, byName.pg15.data_dir, byName.pg14.data_dir]).size, 3);
    assert.ok(byName.pg14.notice?.eol, 'PostgreSQL 14 is reported as past end of life');
  });

  it('secures instances from the first start: loopback, scram-sha-256, no trust, no password in the config', async () => {
    const dataDir = (await cliOk(['status', 'postgresql', '--json'], opts)).json[0].data_dir as string;
    const hba = readFileSync(join(dataDir, 'pg_hba.conf'), 'utf8').split('\n').filter((l) => l.trim() && !l.startsWith('#'));
    assert.ok(hba.every((l) => l.trim().endsWith('scram-sha-256') || /^hostnossl\s.*\sreject$/.test(l.trim())), hba.join('\n'));
    assert.ok(!hba.some((l) => /^host\s/.test(l)), 'TCP only over TLS');
    const rows = await pgQuery<{ listen: string; enc: string }>(home, 'main', 'postgres', "SELECT current_setting('listen_addresses') AS listen, current_setting('password_encryption') AS enc");
    assert.deepEqual(rows[0], { listen: '127.0.0.1', enc: 'scram-sha-256' });
    const url = await cliOk(['url', 'postgresql', '--json'], opts);
    assert.match(url.json.url, /postgres(ql)?:\/\/postgres:\*+@127\.0\.0\.1:\d+/);
    const withPw = await cliOk(['url', 'postgresql', '--show-password', '--json'], opts);
    const password = new URL(withPw.json.url).password;
    assert.ok(password.length >= 16);
    assert.ok(!readFileSync(join(home, 'config.json'), 'utf8').includes(password), 'the password is not in the config file');
    const audit = existsSync(join(home, 'audit.log')) ? readFileSync(join(home, 'audit.log'), 'utf8') : '';
    assert.ok(!audit.includes(password));
  });
});

describe('postgresql: TLS by default', () => {
  before(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await cliOk(['start', 'postgresql', '--instance', instance, '-q'], opts);
  });
  after(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await runCli(['stop', 'postgresql', '--instance', instance], opts);
  });

  for (const instance of ['main', 'pg15', 'pg14']) {
    it(`${instance}: TCP without TLS is refused, TLS is verified against the pinned certificate, psql takes the URL`, async () => {
      const st = (await cliOk(['status', 'postgresql', '--instance', instance, '--json'], opts)).json[0];
      const facts = await tlsFacts(home, instance, st.port);
      assert.match(facts.plainError, /pg_hba\.conf rejects connection .*no encryption/);
      assert.match(facts.unpinnedError, /self[- ]signed certificate/);
      assert.equal(facts.ssl, true);
      assert.equal(facts.psql, 'psql true');
      const h = await cliOk(['health', 'postgresql', '--instance', instance, '--json'], opts);
      assert.equal(h.json.checks.find((c: { name: string }) => c.name === 'tls')?.status, 'ok', JSON.stringify(h.json.checks));
    });
  }

  it('an instance made before TLS (no certificate) keeps working without it: URL, queries, health, backup, verify', async () => {
    const st = (await cliOk(['status', 'postgresql', '--instance', 'pg15', '--json'], opts)).json[0];
    const dataDir: string = st.data_dir;
    const publicCert = new URL(await pgUrl(home, 'pg15')).searchParams.get('sslrootcert')!;
    await cliOk(['stop', 'postgresql', '--instance', 'pg15', '-q'], opts);
    // what an instance initialised by an earlier portunix-db looks like
    rmSync(join(dataDir, 'server.crt'));
    rmSync(join(dataDir, 'server.key'));
    rmSync(dirname(publicCert), { recursive: true });
    const confFile = join(dataDir, 'portunix.conf');
    writeFileSync(confFile, readFileSync(confFile, 'utf8').split('\n').filter((l) => !/^(ssl|#.*TLS)/.test(l)).join('\n'));
    writeFileSync(join(dataDir, 'pg_hba.conf'), renderHba({ tls: false }));
    await cliOk(['start', 'postgresql', '--instance', 'pg15', '-q'], opts);

    const url = await pgUrl(home, 'pg15');
    assert.doesNotMatch(url, /sslmode/);
    await cliOk(['create', 'legacy', '--type', 'postgresql', '--instance', 'pg15'], opts);
    await pgQuery(home, 'pg15', 'legacy', 'CREATE TABLE t AS SELECT g AS id FROM generate_series(1, 50) g');
    const rows = await pgQuery<{ ssl: boolean }>(home, 'pg15', 'postgres', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    assert.equal(rows[0]!.ssl, false);
    const h = await cliOk(['health', 'postgresql', '--instance', 'pg15', '--json'], opts);
    assert.equal(h.json.healthy, true);
    const tls = h.json.checks.find((c: { name: string }) => c.name === 'tls');
    assert.equal(tls?.status, 'warn');
    assert.match(tls.detail, /not encrypted/);
    const b = await cliOk(['backup', 'legacy', '--type', 'postgresql', '--instance', 'pg15', '--json'], opts);
    assert.match(b.json.manifest.method, /pg_dump custom/);
    const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json));
  });
});

describe('postgresql: admin, backup, restore, verify', () => {
  before(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await cliOk(['start', 'postgresql', '--instance', instance, '-q'], opts);
  });
  after(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await runCli(['stop', 'postgresql', '--instance', instance], opts);
  });

  it('creates a database, a user, and grants', async () => {
    await cliOk(['create', 'shop', '--type', 'postgresql'], opts);
    await cliOk(['user', 'create', 'app', '--type', 'postgresql', '--password-stdin'], { home, input: 'app-secret-pw\n' });
    const g = await cliOk(['user', 'grant', 'app', '--type', 'postgresql', '--database', 'shop', '--privileges', 'connect,read', '--json'], opts);
    assert.ok(g.json.statements.length > 0);
    const users = await cliOk(['user', 'list', '--type', 'postgresql', '--json'], opts);
    assert.ok(users.json.some((u: { name: string }) => u.name === 'app'));
    const list = await cliOk(['list', '--type', 'postgresql', '--json'], opts);
    const main = list.json.find((g2: { instance: string }) => g2.instance === 'main');
    assert.ok(main.databases.some((d: { name: string }) => d.name === 'shop'));
  });

  it('passwords never come from argv', async () => {
    const r = await runCli(['user', 'create', 'app2', '--type', 'postgresql', '--password', 'x'], opts);
    assert.notEqual(r.code, 0);
  });

  for (const [instance, method] of [
    ['main', /physical snapshot/],
    ['pg14', /pg_dump custom/],
  ] as const) {
    it(`backs up, drops, restores and verifies on ${instance} (${method.source})`, async () => {
      if (instance !== 'main') await cliOk(['create', 'shop', '--type', 'postgresql', '--instance', instance], opts);
      const c = await pgClient(home, instance, 'shop');
      await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, joined timestamptz DEFAULT now());
                     CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers(id), total numeric CHECK (total >= 0), note text);
                     INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 300) g;
                     INSERT INTO orders (customer, total, note) SELECT 1 + g % 300, g * 1.5, repeat('x', g % 50) FROM generate_series(1, 2000) g;`);
      await c.end();
      const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', instance, '--json'], opts);
      assert.match(b.json.manifest.method, method);
      assert.equal(b.json.manifest.sha256.length, 64);
      const rows = Object.fromEntries(b.json.manifest.tables.map((t: { name: string; rows: number }) => [t.name, t.rows]));
      assert.deepEqual(rows, { 'public.customers': 300, 'public.orders': 2000 });
      const file = b.json.file as string;
      assert.ok(existsSync(file + '.manifest.json'));

      const listed = await cliOk(['backup', 'list', '--type', 'postgresql', '--json'], opts);
      assert.ok(listed.json.some((e: { file: string }) => e.file === file));

      await cliOk(['drop', 'shop', '--type', 'postgresql', '--instance', instance, '--force'], opts);
      const gone = await cliOk(['list', '--type', 'postgresql', '--json'], opts);
      assert.ok(!gone.json.find((g: { instance: string }) => g.instance === instance).databases.some((d: { name: string }) => d.name === 'shop'));

      const restoreArgs = b.json.manifest.scope === 'instance' ? ['restore', file, '--force', '--json'] : ['restore', file, '--json'];
      const r = await cliOk(restoreArgs, opts);
      assert.equal(r.json.target, 'shop');
      const count = await pgQuery<{ n: string }>(home, instance, 'shop', 'SELECT (SELECT count(*) FROM customers) + (SELECT count(*) FROM orders) AS n');
      assert.equal(Number(count[0]!.n), 2300);

      const v = await cliOk(['backup', 'verify', file, '--json'], opts);
      assert.equal(v.json.ok, true);
      assert.ok(v.json.tables.every((t: { checksum_match: boolean }) => t.checksum_match === true));
    });
  }

  it('restores a logical dump into a new database and replaces an existing one only with --force', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', 'pg14', '--json'], opts);
    const copy = await cliOk(['restore', b.json.file, '--target', 'shop_copy', '--json'], opts);
    assert.match(copy.json.actions.join(' '), /created database shop_copy/);
    const refused = await runCli(['restore', b.json.file, '--json'], opts);
    assert.equal(refused.code, 2);
    assert.equal(refused.json.error.code, 'CONFIRMATION_REQUIRED');
    await pgQuery(home, 'pg14', 'shop', 'DELETE FROM orders');
    await cliOk(['restore', b.json.file, '--force'], opts);
    const n = await pgQuery<{ n: string }>(home, 'pg14', 'shop', 'SELECT count(*) AS n FROM orders');
    assert.equal(Number(n[0]!.n), 2000);
  });

  it('backs up while another session writes: the manifest matches the file exactly', async () => {
    const writer = await pgClient(home, 'pg14', 'shop');
    let stop = false;
    const writing = (async () => {
      while (!stop) await writer.query("INSERT INTO orders (customer, total, note) VALUES (1, 1, 'during backup')");
    })();
    try {
      const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', 'pg14', '--json'], opts);
      const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
      assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    } finally {
      stop = true;
      await writing;
      await writer.end();
    }
  });

  it('db maintenance and inspection answer', async () => {
    const v = await cliOk(['vacuum', 'shop', '--type', 'postgresql', '--analyze', '--json'], opts);
    assert.ok(v.json.actions.length > 0);
    const t = await cliOk(['tables', 'shop', '--type', 'postgresql', '--sizes', '--json'], opts);
    assert.deepEqual(t.json.items.map((x: { name: string }) => x.name).sort(), ['customers', 'orders']);
    const info = await cliOk(['table-info', 'orders', '--database', 'shop', '--type', 'postgresql', '--json'], opts);
    assert.deepEqual(info.json.primaryKey, ['id']);
    const cons = await cliOk(['constraints', 'shop', '--type', 'postgresql', '--json'], opts);
    const fk = cons.json.items.find((x: { type: string }) => x.type === 'foreign key');
    assert.equal(fk.references.table, 'customers');
    assert.ok(cons.json.items.some((x: { type: string }) => x.type === 'check'));
    const health = await cliOk(['health', 'postgresql', '--json'], opts);
    assert.equal(health.json.healthy, true);
    await cliOk(['metrics', 'postgresql', '--json'], opts);
    const m2 = await cliOk(['metrics', 'postgresql', '--json'], opts);
    assert.ok(m2.json.rates, 'the second sample has rates');
    const logs = await cliOk(['logs', 'postgresql', '--lines', '5', '--json'], opts);
    assert.ok(logs.json.lines.length > 0);
  });

  it('config set says when a restart is needed', async () => {
    const live = await cliOk(['config', 'set', 'postgresql', 'work_mem', '8MB', '--json'], opts);
    assert.equal(live.json.applied, 'reload');
    const got = await cliOk(['config', 'get', 'postgresql', 'work_mem', '--json'], opts);
    assert.equal(`${got.json.value}${got.json.unit ?? ''}`, '8192kB');
    const restart = await cliOk(['config', 'set', 'postgresql', 'max_connections', '120', '--json'], opts);
    assert.equal(restart.json.applied, 'restart-required');
    assert.match(restart.json.message, /restart/);
  });
});

describe('postgresql: crash detection and recovery', () => {
  it('reports a kill -9 as crashed with the log tail, and start recovers', async () => {
    await cliOk(['start', 'postgresql', '-q'], opts);
    await kill9(await pidOf('main'));
    const st = await cliOk(['status', 'postgresql', '--instance', 'main', '--json'], opts);
    assert.equal(st.json[0].state, 'crashed');
    assert.ok(st.json[0].log_tail.length > 0);
    const refused = await runCli(['tables', 'shop', '--type', 'postgresql', '--json'], opts);
    assert.equal(refused.code, 4);
    assert.match(refused.json.error.message, /start it with `portunix-db start postgresql`/);
    const s = await cliOk(['start', 'postgresql', '--json'], opts);
    assert.equal(s.json.recovered_from_crash, true);
    const rows = await pgQuery<{ n: string }>(home, 'main', 'shop', 'SELECT count(*) AS n FROM customers');
    assert.equal(Number(rows[0]!.n), 300);
  });

  it('start on a running instance and stop on a stopped one are idempotent', async () => {
    const again = await cliOk(['start', 'postgresql', '--json'], opts);
    assert.equal(again.json.already_running, true);
    await cliOk(['stop', 'postgresql'], opts);
    const twice = await cliOk(['stop', 'postgresql', '--json'], opts);
    assert.equal(twice.json.already_stopped, true);
  });
});

describe('postgresql: bad input', () => {
  before(async () => {
    await cliOk(['start', 'postgresql', '--instance', 'pg14', '-q'], opts);
  });
  after(async () => {
    for (const instance of ['main', 'pg15', 'pg14']) await runCli(['stop', 'postgresql', '--instance', instance], opts);
  });

  it('an unknown engine or version gets a "did you mean"', async () => {
    const e = await runCli(['install', 'postgress', '--dry-run'], opts);
    assert.equal(e.code, 2);
    assert.match(e.stderr, /Did you mean "postgresql"/);
    const v = await runCli(['install', 'postgresql', '--version', '9', '--dry-run', '--json'], opts);
    assert.equal(v.code, 2);
    assert.equal(v.json.error.code, 'UNKNOWN_VERSION');
    const c = await runCli(['instal', 'postgresql'], opts);
    assert.equal(c.code, 2);
    assert.match(c.stderr, /install/);
  });

  it('a port already in use is refused and nothing is registered', async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    try {
      const r = await runCli(['install', 'postgresql', '--version', '16', '--instance', 'busy', '--port', String(port), '--json'], opts);
      assert.equal(r.code, 1);
      assert.equal(r.json.error.code, 'PORT_IN_USE');
      const st = await cliOk(['status', '--json'], opts);
      assert.ok(!st.json.some((s: { instance: string }) => s.instance === 'busy'));
    } finally {
      server.close();
    }
  });

  it('a data dir that exists and is not ours is left alone', async () => {
    const dir = join(home, 'someone-elses');
    mkdirSync(dir);
    writeFileSync(join(dir, 'precious.txt'), 'keep me');
    const r = await runCli(['install', 'postgresql', '--version', '16', '--instance', 'other', '--data-dir', dir, '--json'], opts);
    assert.equal(r.json.error.code, 'DATA_DIR_CONFLICT');
    assert.deepEqual(readdirSync(dir), ['precious.txt']);
  });

  it('an injection attempt in an identifier is rejected and changes nothing', async () => {
    const evil = 'x"; DROP DATABASE postgres; --';
    for (const args of [
      ['create', evil, '--type', 'postgresql', '--instance', 'pg14'],
      ['drop', evil, '--type', 'postgresql', '--instance', 'pg14', '--force'],
      ['tables', evil, '--type', 'postgresql', '--instance', 'pg14'],
      ['table-info', evil, '--database', 'shop', '--type', 'postgresql', '--instance', 'pg14'],
      ['user', 'create', evil, '--type', 'postgresql', '--instance', 'pg14', '--password-stdin'],
      ['backup', evil, '--type', 'postgresql', '--instance', 'pg14'],
    ]) {
      const r = await runCli([...args, '--json'], { home, input: 'pw-123456789' });
      assert.equal(r.code, 2, args.join(' '));
      assert.equal(r.json.error.code, 'INVALID_IDENTIFIER');
    }
    const dbs = await pgQuery<{ datname: string }>(home, 'pg14', 'postgres', 'SELECT datname FROM pg_database');
    assert.ok(dbs.some((d) => d.datname === 'postgres'));
  });

  it('a destination that is not writable fails clearly and leaves nothing behind', async () => {
    const r = await runCli(['backup', 'shop', '--type', 'postgresql', '--instance', 'pg14', '--destination', '/etc/hostname/backups', '--json'], opts);
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'PERMISSION_DENIED');
  });

  it('a full disk fails the backup without a file under the final name or a listed backup', async () => {
    const dir = join(home, 'tiny');
    mkdirSync(dir);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1536k', 'tmpfs', dir]);
    try {
      // the physical snapshot of a portable 16 needs far more than 1.5 MiB
      await cliOk(['start', 'postgresql', '-q'], opts);
      const r = await runCli(['backup', 'shop', '--type', 'postgresql', '--destination', dir, '--json'], opts);
      assert.equal(r.code, 1);
      assert.equal(r.json.error.code, 'DISK_FULL', JSON.stringify(r.json));
      assert.deepEqual(readdirSync(dir), []);
      const status = await cliOk(['backup', 'status', '--type', 'postgresql', '--json'], opts);
      const shop = status.json.find((s: { instance: string; database: string }) => s.instance === 'main' && s.database === 'shop');
      assert.equal(shop.last_attempt.ok, false);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('a backup killed midway leaves no file under its final name and nothing listed as good', async () => {
    const dir = join(home, 'killed');
    const before = (await cliOk(['backup', 'list', '--json'], opts)).json.length;
    const { spawn } = await import('node:child_process');
    const stalling = join(dirname(CLI_PATH), '..', '..', 'test', 'helpers', 'cli-stalling-backup.js');
    const child = spawn(process.execPath, [stalling, 'backup', 'shop', '--type', 'postgresql', '--destination', dir], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file' } });
    // kill it after the data is written and before the file gets its final name: the worst moment
    await new Promise<void>((resolve) => child.stderr.on('data', (d: Buffer) => { if (/stalled/.test(d.toString())) resolve(); }));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('close', r));
    const left = existsSync(dir) ? readdirSync(dir) : [];
    assert.ok(left.every((f) => f.startsWith('.') && /partial/.test(f)), `only hidden .partial leftovers: ${left.join(', ')}`);
    assert.equal((await cliOk(['backup', 'list', '--json'], opts)).json.length, before);
  });

  it('restoring a corrupted backup is refused before anything is touched', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', 'pg14', '--json'], opts);
    appendFileSync(b.json.file, 'garbage');
    const r = await runCli(['restore', b.json.file, '--force', '--json'], opts);
    assert.equal(r.code, 1);
    assert.equal(r.json.error.code, 'BACKUP_CORRUPT');
    const n = await pgQuery<{ n: string }>(home, 'pg14', 'shop', 'SELECT count(*) AS n FROM customers');
    assert.equal(Number(n[0]!.n), 300);
    const v = await runCli(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.error.code, 'BACKUP_CORRUPT');
  });

  it('a bad config file names the file and the key', async () => {
    const cfgFile = join(home, 'config.json');
    const good = readFileSync(cfgFile, 'utf8');
    const cfg = JSON.parse(good);
    cfg.databases.postgresql.port = 'five';
    writeFileSync(cfgFile, JSON.stringify(cfg));
    try {
      // status still answers, and names the bad entry and its key (issue 9: a bad entry must not lock the user out)
      const r = await runCli(['status', '--json'], opts);
      const bad = (r.json as { engine: string; instance: string; state: string; problem?: string }[]).find((s) => s.engine === 'postgresql' && s.instance === 'main');
      assert.equal(bad?.state, 'invalid', r.stdout);
      assert.match(bad?.problem ?? '', /databases\.postgresql/);
    } finally {
      writeFileSync(cfgFile, good);
    }
  });
});
