/**
 * Issue 9's leftovers, performed as an outside party would: a restore killed with kill -9
 * half-way (PostgreSQL and MariaDB), a server killed while pg_dump / mariadb-dump runs, a
 * `verify` killed while its scratch server runs, `start` and `stop` fired at the same moment,
 * permission drift, stale pid files and locks, an edited audit log, a bad config entry and a
 * deleted data dir, all found (and where safe repaired) by `doctor`. PostgreSQL 15 (apt),
 * MariaDB 10.11 (apt), Redis 7.0 (apt) and SQLite, installed by the tool in a fresh home.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { CLI, cliOk, runCli, type CliResult } from '../helpers/cli.js';
import { tryFileLock } from '../../src/core/file-lock.js';
import pg from 'pg';
import { freePort } from '../helpers/mcp.js';

// a fresh home the service user can traverse
const home = mkdtempSync('/tmp/hardening2-');
chmodSync(home, 0o755);
const opts = { home };
const env = { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file', NO_COLOR: '1' };

function code(r: CliResult): string | undefined {
  return r.json?.error?.code ?? /"code":\s*"([A-Z_]+)"/.exec(r.stdout + r.stderr)?.[1];
}

/** The CLI as a child this test can kill; `done` resolves with its result. */
function spawnCli(args: string[]): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.on('close', (c) => {
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: c ?? 137, stdout, stderr, json });
    }),
  );
  return { child, done };
}

/** Polls `probe` until it answers something truthy; fails naming `what` (and the child's output) if the child ends first. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, child?: { done: Promise<CliResult> }): Promise<T> {
  let ended: CliResult | undefined;
  void child?.done.then((r) => (ended = r));
  for (let i = 0; i < 2400; i++) {
    const v = await probe().catch(() => undefined);
    if (v) return v;
    if (ended) throw new Error(`the command ended before ${what}: exit ${ended.code}\n${ended.stdout}\n${ended.stderr}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

// URLs fetched once: every `url` call is a command on the instance, and the next command is what drops orphans
const urls: Record<string, string> = {};

async function mariadb(text: string, database = ''): Promise<any[]> {
  const mysql = await import('mysql2/promise');
  const u = new URL(urls['mariadb']!);
  const ca = u.searchParams.get('ssl-ca');
  u.search = '';
  if (database) u.pathname = `/${database}`;
  const conn = await mysql.createConnection({ uri: u.toString(), multipleStatements: true, ...(ca ? { ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } } : {}) });
  try {
    return (await conn.query(text))[0] as any[];
  } finally {
    await conn.end();
  }
}

async function pgConnect(database: string): Promise<pg.Client> {
  const u = new URL(urls['postgresql']!);
  u.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  return c;
}

async function pgq<T extends pg.QueryResultRow>(database: string, text: string): Promise<T[]> {
  const c = await pgConnect(database);
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function statusOf(engine: string, instance = 'main'): Promise<{ state: string; pid?: number }> {
  return (await cliOk(['status', engine, '--instance', instance, '--json'], opts)).json[0];
}

function stagingRecords(): string[] {
  const dir = join(home, 'state', 'restores');
  return existsSync(dir) ? readdirSync(dir) : [];
}

function auditEntries(): any[] {
  return readFileSync(join(home, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** The pid of a process that has exited (nobody holds it now). */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

function doctorCheck(r: CliResult, name: string): { ok: boolean; problems: string[]; fixed: string[] } {
  const c = r.json?.checks?.find((x: { check: string }) => x.check === name);
  assert.ok(c, `doctor has a "${name}" check: ${r.stdout}${r.stderr}`);
  return c;
}

describe('hardening, part 2 (issue 9 leftovers)', () => {
  let redisPort = 0;
  before(async () => {
    await cliOk(['install', 'postgresql', '--version', '15', '--source', 'apt', '--port', String(await freePort()), '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['install', 'mariadb', '--source', 'apt', '--port', String(await freePort()), '-q'], { home, timeoutMs: 600_000 });
    redisPort = await freePort();
    await cliOk(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(redisPort), '-q'], { home, timeoutMs: 600_000 });
    for (const e of ['postgresql', 'mariadb']) urls[e] = (await cliOk(['url', e, '--show-password', '--json'], opts)).json.url;
    await cliOk(['create', 'shop', '--type', 'postgresql', '-q'], opts);
    // every row loaded into a database other than shop (a restore's) costs 100 ms: the restore takes 20 s, longer than any command the test runs meanwhile
    await pgq('shop', `
      CREATE FUNCTION slow(i int) RETURNS boolean LANGUAGE sql AS $$ SELECT CASE WHEN current_database() = 'shop' THEN true ELSE pg_sleep(0.1) IS NOT NULL END $$;
      CREATE TABLE items (id int PRIMARY KEY CHECK (slow(id)), name text);
      INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 200) g;`);
    await cliOk(['create', 'big', '--type', 'mariadb', '-q'], opts);
    await mariadb("CREATE TABLE t (id INT PRIMARY KEY, pad VARCHAR(200)); INSERT INTO t SELECT seq, REPEAT('x', 150) FROM seq_1_to_300000;", 'big');
  });
  after(async () => {
    for (const t of ['postgresql', 'mariadb', 'redis']) await runCli(['stop', t], opts);
  });

  it('a PostgreSQL restore killed mid-load: its shop__restore_ database stays while the owner runs, and the next command drops it', async () => {
    const file = (await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts)).json.file as string;
    const staging = async () => (await pgq<{ d: string }>('postgres', "SELECT datname AS d FROM pg_database WHERE datname LIKE 'shop\\_\\_restore\\_%'")).map((r) => r.d);
    const run = spawnCli(['restore', file, '--force', '--json']);
    const [name] = await waitFor('the staging database exists', async () => ((await staging()).length ? await staging() : undefined), run);
    assert.match(name!, /^shop__restore_[0-9a-f]{6}$/);
    // another command while the restore runs: the owner is alive, nothing is dropped
    await cliOk(['list', '--type', 'postgresql', '--json'], opts);
    assert.deepEqual(await staging(), [name], 'a staging database whose owner runs is left alone');
    assert.equal(stagingRecords().length, 1, 'the staging database is recorded');
    run.child.kill('SIGKILL');
    await run.done;
    assert.deepEqual(await staging(), [name], 'the killed restore left its staging database behind');
    // the next command on the instance drops it, and says so
    await cliOk(['list', '--type', 'postgresql', '--json'], opts);
    assert.deepEqual(await staging(), []);
    assert.deepEqual(stagingRecords(), []);
    assert.equal((await pgq<{ n: string }>('shop', 'SELECT count(*) AS n FROM items'))[0]!.n, '200', 'shop itself was never touched');
    assert.ok(auditEntries().some((e) => e.action === 'cleanup' && e.target === name && e.ok === true), 'the drop is audited');
  });

  it('a MariaDB restore --target killed mid-load: doctor names the half-loaded database, doctor --fix drops it', async () => {
    const file = (await cliOk(['backup', 'big', '--type', 'mariadb', '--json'], opts)).json.file as string;
    const exists = async () => (await mariadb("SHOW DATABASES LIKE 'big\\_copy'")).length > 0;
    const run = spawnCli(['restore', file, '--target', 'big_copy', '--json']);
    await waitFor('big_copy exists', exists, run);
    run.child.kill('SIGKILL');
    const killed = await run.done;
    assert.notEqual(killed.code, 0, 'the restore was killed before it finished');
    await new Promise((r) => setTimeout(r, 500)); // the mariadb client ends once its input does
    assert.equal(await exists(), true, 'the killed restore left a partial big_copy');
    assert.ok((await mariadb('SELECT COUNT(*) AS n FROM t', 'big_copy').catch(() => [{ n: 0 }]))[0].n < 300000, 'big_copy holds a partial load');
    const d = await runCli(['doctor', '--json'], opts);
    assert.notEqual(d.code, 0, 'doctor exits non-zero while the orphan is there');
    const check = doctorCheck(d, 'restore staging databases');
    assert.equal(check.ok, false);
    assert.match(check.problems.join('\n'), /big_copy on mariadb\/main, left by a killed restore/);
    assert.equal(await exists(), true, 'doctor without --fix changes nothing');
    const f = await runCli(['doctor', '--fix', '--json'], opts);
    const fixed = doctorCheck(f, 'restore staging databases');
    assert.equal(fixed.ok, true, f.stdout);
    assert.match(fixed.fixed.join('\n'), /dropped the partial database big_copy/);
    assert.equal(await exists(), false);
    assert.ok(auditEntries().some((e) => e.action === 'cleanup' && e.target === 'big_copy'));
  });

  it('PostgreSQL dies during pg_dump: CONNECTION_LOST in plain words (no query text), no file kept', async () => {
    const dir = join(home, 'backups', 'postgresql', 'main');
    const before = readdirSync(dir).sort();
    const listed = (await cliOk(['backup', 'list', '--type', 'postgresql', '--json'], opts)).json.length;
    // a session holds a lock on items, so pg_dump waits on it; then the server is killed under it
    const locker = await pgConnect('shop');
    const watcher = await pgConnect('postgres'); // outside the locker's transaction, whose pg_stat_activity is a snapshot
    for (const c of [locker, watcher]) c.on('error', () => undefined);
    await locker.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE');
    const run = spawnCli(['backup', 'shop', '--type', 'postgresql', '--json']);
    try {
      await waitFor('pg_dump waits on the lock', async () => (await watcher.query("SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND (application_name = 'pg_dump' OR query LIKE 'LOCK TABLE%')")).rowCount, run);
      process.kill((await statusOf('postgresql')).pid!, 'SIGKILL');
      const r = await run.done;
      assert.notEqual(r.code, 0);
      assert.equal(code(r), 'CONNECTION_LOST', r.stdout + r.stderr);
      assert.match(r.json.error.message, /connection to the server was lost during pg_dump of shop on postgresql\/main/);
      assert.doesNotMatch(r.stdout + r.stderr, /LOCK TABLE|Query was|query failed/i, "pg_dump's query text is not shown");
      assert.match(r.json.error.hint, /No backup was kept/);
    } finally {
      for (const c of [locker, watcher]) await c.end().catch(() => undefined);
      run.child.kill('SIGKILL');
      await waitFor('postgresql starts again', async () => (await runCli(['start', 'postgresql', '--json'], opts)).code === 0);
    }
    assert.deepEqual(readdirSync(dir).sort(), before, 'no file (final or partial) is left in the backup folder');
    assert.equal((await cliOk(['backup', 'list', '--type', 'postgresql', '--json'], opts)).json.length, listed, 'nothing new is listed');
  });

  it('MariaDB dies during mariadb-dump: CONNECTION_LOST in plain words, no file kept', async () => {
    const dir = join(home, 'backups', 'mariadb', 'main');
    const before = readdirSync(dir).sort();
    const run = spawnCli(['backup', 'big', '--type', 'mariadb', '--json']);
    const cli = run.child.pid!;
    // hold the CLI still once mariadb-dump runs: its pipe fills and the dump's SELECT stays open on the server
    await waitFor('mariadb-dump runs', async () => /mariadb-dump|mysqldump/.test(spawnSync('ps', ['--ppid', String(cli), '-o', 'comm='], { encoding: 'utf8' }).stdout), run);
    process.kill(cli, 'SIGSTOP');
    try {
      await waitFor('the dump reads t', async () => (await mariadb("SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT /*!40001 SQL_NO_CACHE */%'")).length > 0);
      process.kill((await statusOf('mariadb')).pid!, 'SIGKILL');
    } finally {
      process.kill(cli, 'SIGCONT');
    }
    const r = await run.done;
    await waitFor('mariadb starts again', async () => (await runCli(['start', 'mariadb', '--json'], opts)).code === 0);
    assert.notEqual(r.code, 0);
    assert.equal(code(r), 'CONNECTION_LOST', r.stdout + r.stderr);
    assert.match(r.json.error.message, /connection to the server was lost during mariadb-dump of big on mariadb\/main/);
    assert.doesNotMatch(r.stdout + r.stderr, /SQL_NO_CACHE|Error 2013|errno/i);
    assert.deepEqual(readdirSync(dir).sort(), before, 'no file (final or partial) is left in the backup folder');
  });

  it('start and stop at the same moment: the second waits and says so; the instance ends running or stopped, its pid file matching', async () => {
    for (let round = 0; round < 4; round++) {
      const [a, b] = round % 2 ? [['stop', 'redis'], ['start', 'redis']] : [['start', 'redis'], ['stop', 'redis']];
      const results = await Promise.all([runCli([...a!, '--json'], opts), runCli([...b!, '--json'], opts)]);
      for (const r of results) {
        assert.equal(r.code, 0, r.stdout + r.stderr);
        assert.notEqual(code(r), 'INTERNAL');
      }
      const st = await statusOf('redis');
      assert.ok(st.state === 'running' || st.state === 'stopped', `round ${round}: ${st.state}`);
      const pidFile = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).databases.redis.pid_file ?? join(home, 'instances', 'redis', 'main', 'run', 'server.pid');
      if (st.state === 'running') {
        const pid = JSON.parse(readFileSync(pidFile, 'utf8')).pid as number;
        assert.equal(pid, st.pid, `round ${round}: the pid file names the running server`);
        assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /redis-server/);
        assert.equal(await portAnswers(redisPort), true);
      } else {
        assert.equal(existsSync(pidFile), false, `round ${round}: stopped leaves no pid file`);
        assert.equal(await portAnswers(redisPort), false, `round ${round}: stopped, and nothing listens on the port`);
      }
      assert.equal(existsSync(join(home, 'instances', 'redis', 'main', 'lifecycle.lock')), false, 'the lock is released');
    }
    // whether those pairs overlap depends on the machine's load; this one always does: the test
    // holds the instance's lifecycle lock, as a running start would, and stop must wait for it
    await cliOk(['start', 'redis', '-q'], opts);
    const release = await tryFileLock(join(home, 'instances', 'redis', 'main', 'lifecycle.lock'));
    assert.ok(release, 'the lock is free between commands');
    let saidWaiting: () => void = () => undefined;
    const waiting = new Promise<void>((resolve) => (saidWaiting = resolve));
    const WAITS = new RegExp(`another portunix-db command \\(pid ${process.pid}\\) is starting or stopping redis/main; waiting for it to finish`);
    const stopping = runCli(['stop', 'redis', '--json'], { ...opts, onStderr: (soFar) => WAITS.test(soFar) && saidWaiting() });
    try {
      await waiting;
      assert.equal(await portAnswers(redisPort), true, 'nothing is stopped while the other command holds the lock');
    } finally {
      await release!();
    }
    const stopped = await stopping;
    assert.equal(stopped.code, 0, stopped.stdout + stopped.stderr);
    assert.equal((await statusOf('redis')).state, 'stopped', 'and it stops once the lock is released');
    assert.equal(await portAnswers(redisPort), false);
    await cliOk(['start', 'redis', '-q'], opts);
  });

  it('errors that were INTERNAL: port 70000, a data dir that is a file, a bad MCP cursor, db_status __proto__, useradd missing from PATH', async () => {
    const port = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'p7', '--port', '70000', '--json'], opts);
    assert.equal(code(port), 'USAGE', port.stdout + port.stderr);
    const file = join(home, 'a-file');
    writeFileSync(file, 'x');
    const asFile = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'f1', '--data-dir', file, '--no-start', '--port', String(await freePort()), '--json'], opts);
    assert.equal(code(asFile), 'DATA_DIR_CONFLICT', asFile.stdout + asFile.stderr);
    const cursor = await runCli(['mcp', 'call', 'db_tables', '--json', JSON.stringify({ type: 'postgresql', database: 'shop', cursor: 'not-a-cursor' })], opts);
    assert.match(cursor.stdout, /\[USAGE\]: Invalid cursor/);
    const proto = await runCli(['mcp', 'call', 'db_status', '--json', JSON.stringify({ type: '__proto__' })], opts);
    assert.match(proto.stdout, /\[UNKNOWN_ENGINE\]: Unknown engine \\"__proto__\\"/);
    // the service user exists; useradd (in /usr/sbin) is not on PATH: not needed, no error
    const noSbin = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'nosbin', '--port', String(await freePort()), '--json'], { home, env: { PATH: '/usr/bin:/bin' } });
    assert.equal(noSbin.code, 0, noSbin.stdout + noSbin.stderr);
    await cliOk(['uninstall', 'redis', '--instance', 'nosbin', '-q'], opts);
    for (const r of [port, asFile, cursor, proto, noSbin]) assert.doesNotMatch(r.stdout + r.stderr, /INTERNAL|at .*\.js:\d+/);
  });

  it('doctor: a killed verify leaves a scratch server; permission drift; a stale pid file and lock; a broken audit chain; a bad config entry; a missing data dir. --fix repairs what it can, audited', async () => {
    const file = (await cliOk(['backup', 'big', '--type', 'mariadb', '--json'], opts)).json.file as string;
    // permission drift on a backup and its folder, the token file and the audit log
    chmodSync(file, 0o644);
    chmodSync(dirname(file), 0o755);
    writeFileSync(join(home, 'mcp-http.token'), 'x'.repeat(43) + '\n', { mode: 0o644 });
    chmodSync(join(home, 'mcp-http.token'), 0o644);
    // a crashed server (stale pid file) and a lock whose holder is dead
    process.kill((await statusOf('redis')).pid!, 'SIGKILL');
    await waitFor('redis is gone', async () => (await statusOf('redis')).state === 'crashed');
    const lock = join(home, 'instances', 'redis', 'main', 'lifecycle.lock');
    writeFileSync(lock, String(deadPid()));
    // a bad config entry, an instance whose data dir is gone
    await cliOk(['install', 'sqlite', '--source', 'apt', '--instance', 'gone', '-q'], opts);
    const gone = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).databases.sqlite.instances.gone.data_dir as string;
    rmSync(gone, { recursive: true, force: true });
    const configFile = join(home, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8'));
    config.databases.mariadb.instances = { ...(config.databases.mariadb.instances ?? {}), broken: { ...config.databases.mariadb, port: 70000 } };
    delete config.databases.mariadb.instances.broken.instances;
    writeFileSync(configFile, JSON.stringify(config, null, 2));
    // an edited audit line
    const auditFile = join(home, 'audit.log');
    const original = readFileSync(auditFile, 'utf8');
    const lines = original.split('\n').filter(Boolean);
    lines[1] = lines[1]!.replace(/"pid":\d+/, '"pid":1');
    writeFileSync(auditFile, lines.join('\n') + '\n');

    // last, so no other command cleans it first: kill -9 of `backup verify` while its scratch MariaDB server runs
    const run = spawnCli(['backup', 'verify', file, '--json']);
    const scratchPid = await waitFor(
      'the scratch server runs',
      async () => {
        const dir = join(home, 'state', 'scratch');
        for (const n of existsSync(dir) ? readdirSync(dir) : []) {
          const rec = JSON.parse(readFileSync(join(dir, n), 'utf8'));
          if (existsSync(rec.pid_file)) return JSON.parse(readFileSync(rec.pid_file, 'utf8')).pid as number;
        }
        return undefined;
      },
      run,
    );
    run.child.kill('SIGKILL');
    await run.done;
    assert.equal(existsSync(`/proc/${scratchPid}`), true, 'the scratch server outlived the killed verify');

    const d = await runCli(['doctor', '--json'], opts);
    assert.notEqual(d.code, 0);
    assert.equal(d.json.ok, false);
    assert.match(doctorCheck(d, 'scratch servers').problems.join('\n'), /scratch mariadb server at .*, left by a killed command/);
    const perms = doctorCheck(d, 'permissions').problems.join('\n');
    for (const p of [file, dirname(file), join(home, 'mcp-http.token')]) assert.ok(perms.includes(`${p} is `), `${p} is named: ${perms}`);
    const pids = doctorCheck(d, 'pid files and locks').problems.join('\n');
    assert.match(pids, /redis\/main: pid file .* which is not running/);
    assert.ok(pids.includes(`stale lock ${lock}`), pids);
    assert.match(doctorCheck(d, 'audit log').problems.join('\n'), /broken at line 2/);
    assert.match(doctorCheck(d, 'config').problems.join('\n'), /databases\.mariadb\.instances\.broken/);
    assert.match(doctorCheck(d, 'data dirs').problems.join('\n'), /sqlite\/gone: its data dir .* is missing/);
    assert.equal(doctorCheck(d, 'secrets').ok, true);
    assert.equal(existsSync(`/proc/${scratchPid}`), true, 'doctor without --fix changes nothing');
    assert.equal(statSync(file).mode & 0o777, 0o644);

    const auditBefore = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).length;
    const f = await runCli(['doctor', '--fix', '--json'], opts);
    assert.notEqual(f.code, 0, 'what cannot be repaired (audit chain, config, data dir) keeps the exit code non-zero');
    for (const name of ['scratch servers', 'permissions', 'pid files and locks']) assert.equal(doctorCheck(f, name).ok, true, `${name}: ${f.stdout}`);
    for (const name of ['audit log', 'config', 'data dirs']) assert.equal(doctorCheck(f, name).ok, false);
    await waitFor('the orphaned scratch server is stopped', async () => !existsSync(`/proc/${scratchPid}`) || /^\S+ \S+ Z/.test(readFileSync(`/proc/${scratchPid}/stat`, 'utf8').replace(/\(.*\)/, 'x')));
    assert.deepEqual(readdirSync(join(home, 'scratch')), []);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(dirname(file)).mode & 0o777, 0o700);
    assert.equal(statSync(join(home, 'mcp-http.token')).mode & 0o777, 0o600);
    assert.equal(existsSync(lock), false);
    assert.equal((await statusOf('redis')).state, 'stopped', 'the stale pid file is gone: stopped, not crashed');
    const added = readFileSync(auditFile, 'utf8').split('\n').filter(Boolean).slice(auditBefore).map((l) => JSON.parse(l));
    const repairs = [...doctorCheck(f, 'scratch servers').fixed, ...doctorCheck(f, 'permissions').fixed, ...doctorCheck(f, 'pid files and locks').fixed];
    assert.ok(repairs.length >= 6, repairs.join('\n'));
    assert.equal(added.filter((e) => e.action === 'doctor' && e.ok === true).length, repairs.length, 'every repair is audited');

    // what doctor cannot repair, put right by hand: then it is all clear
    writeFileSync(auditFile, original, { mode: 0o600 });
    const fixedConfig = JSON.parse(readFileSync(configFile, 'utf8'));
    delete fixedConfig.databases.mariadb.instances.broken;
    writeFileSync(configFile, JSON.stringify(fixedConfig, null, 2));
    await cliOk(['uninstall', 'sqlite', '--instance', 'gone', '-q'], opts);
    // (the audit log was put back as it was before this test's repairs; those lines are in `added`)
    const clear = await runCli(['doctor', '--json'], opts);
    assert.equal(clear.code, 0, clear.stdout + clear.stderr);
    assert.equal(clear.json.ok, true);
    await cliOk(['start', 'redis', '-q'], opts);
  });
});
