/**
 * Issue 9, performed as an outside party would: an install aimed at another instance's data
 * dir, hand-edited backups (with and without the manifest fixed up), a second OS user reading
 * backups and calling the HTTP MCP server, an operator changing configuration and writing
 * outside the backup roots, bad ports, an edited audit log. PostgreSQL 16 (portable),
 * MariaDB 10.11 (apt), Redis 7.0 (apt) and SQLite, installed by the tool in a fresh home.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CLI, cliOk, freshHome, runCli } from '../helpers/cli.js';
import { pgQuery } from '../helpers/pg.js';
import { freePort } from '../helpers/mcp.js';
import { resignManifest } from '../helpers/backup.js';

const home = freshHome('hardening');
const opts = { home };
const OUTSIDER = 'pdb-outsider';

function code(r: { json: any; stdout: string; stderr: string }): string | undefined {
  return r.json?.error?.code ?? /"code":\s*"([A-Z_]+)"/.exec(r.stdout + r.stderr)?.[1];
}

/** A second, unprivileged OS user, made with useradd, as the attacker. */
function outsider(): { uid: number; gid: number } {
  if (spawnSync('id', ['-u', OUTSIDER]).status !== 0) spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OUTSIDER]);
  return { uid: Number(execFileSync('id', ['-u', OUTSIDER], { encoding: 'utf8' })), gid: Number(execFileSync('id', ['-g', OUTSIDER], { encoding: 'utf8' })) };
}

/** What the outsider gets when reading the file: its bytes, or the error. */
function outsiderReads(file: string): { ok: boolean; err: string } {
  const r = spawnSync('cat', [file], { ...outsider(), encoding: 'buffer' });
  return { ok: r.status === 0, err: r.stderr.toString() };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function sha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Rewrites a backup as an attacker who can write the backup folder: new bytes, manifest sha256 and size fixed up. */
function tamper(file: string, edit: (sql: string) => string): void {
  const sql = gunzipSync(readFileSync(file)).toString('utf8');
  const bytes = gzipSync(Buffer.from(edit(sql)));
  writeFileSync(file, bytes);
  const m = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
  m.sha256 = createHash('sha256').update(bytes).digest('hex');
  m.size_bytes = bytes.length;
  writeFileSync(`${file}.manifest.json`, JSON.stringify(m, null, 2));
}

async function mariadb(url: string, text: string): Promise<any[]> {
  const mysql = await import('mysql2/promise');
  const u = new URL(url);
  const ca = u.searchParams.get('ssl-ca');
  u.search = '';
  const conn = await mysql.createConnection({ uri: u.toString(), multipleStatements: true, ...(ca ? { ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } } : {}) });
  try {
    return (await conn.query(text))[0] as any[];
  } finally {
    await conn.end();
  }
}

const EVIL = "\nCREATE USER 'evil'@'%' IDENTIFIED BY 'evil-password-123';\nGRANT ALL ON *.* TO 'evil'@'%' WITH GRANT OPTION;\n-- Dump completed\n";

describe('hardening (issue 9)', () => {
  let pgData = '';
  let mariaUrl = '';
  before(async () => {
    outsider();
    const pg = await cliOk(['install', 'postgresql', '--version', '16', '--port', String(await freePort()), '--json'], { home, timeoutMs: 600_000 });
    pgData = pg.json.data_dir;
    await cliOk(['install', 'mariadb', '--source', 'apt', '--port', String(await freePort()), '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(await freePort()), '-q'], { home, timeoutMs: 600_000 });
    await cliOk(['install', 'sqlite', '--source', 'apt', '-q'], opts);
    mariaUrl = (await cliOk(['url', 'mariadb', '--show-password', '--json'], opts)).json.url;
  });
  after(async () => {
    for (const t of ['postgresql', 'mariadb', 'redis']) await runCli(['stop', t], opts);
  });

  it('1. an install cannot take over another instance data dir (itself, inside it, above it, by marker or symlink); a file is no data dir', async () => {
    const key = join(pgData, 'server.key');
    const before = { key: sha(key), marker: readFileSync(join(pgData, '.portunix-db'), 'utf8') };
    const link = join(mkdtempSync(join(tmpdir(), 'pdb-link-')), 'pg');
    symlinkSync(pgData, link);
    const marked = mkdtempSync(join(tmpdir(), 'pdb-marked-'));
    writeFileSync(join(marked, '.portunix-db'), JSON.stringify({ engine: 'postgresql', instance: 'elsewhere' }));
    writeFileSync(join(marked, 'PG_VERSION'), '16\n');
    const attacks = [pgData, join(pgData, 'sub'), dirname(pgData), link, marked, join(marked, 'deeper')];
    for (const dir of attacks) {
      const r = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'r9', '--data-dir', dir, '--no-start', '--port', String(await freePort()), '--json'], opts);
      assert.notEqual(r.code, 0, `install into ${dir} must fail`);
      assert.equal(code(r), 'DATA_DIR_CONFLICT', `${dir}: ${r.stdout}${r.stderr}`);
    }
    assert.equal(sha(key), before.key, "PostgreSQL's server.key is untouched");
    assert.equal(readFileSync(join(pgData, '.portunix-db'), 'utf8'), before.marker);
    assert.equal((await pgQuery<{ one: number }>(home, 'main', 'postgres', 'SELECT 1 AS one'))[0]!.one, 1, 'PostgreSQL still answers');
    assert.equal((await cliOk(['status', 'redis', '--json'], opts)).json.some((s: { instance: string }) => s.instance === 'r9'), false);
    const file = join(marked, 'PG_VERSION');
    const f = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'r8', '--data-dir', file, '--no-start', '--json'], opts);
    assert.equal(code(f), 'DATA_DIR_CONFLICT', 'a file as data dir is a clear error, not INTERNAL');
  });

  it('2. backup verify never runs backup SQL on the live server; an edited backup is refused by verify and restore; restore checks fingerprints', async () => {
    await cliOk(['create', 'shop', '--type', 'mariadb'], opts);
    await mariadb(mariaUrl.replace(/\/\?/, '/shop?'), 'CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(40)); INSERT INTO items VALUES (1, "apple"), (2, "pear"), (3, "plum");');
    const evilUsers = async () => (await mariadb(mariaUrl, "SELECT User FROM mysql.user WHERE User = 'evil'")).length;

    // the attack from the issue: SQL appended, sha256 and size in the manifest recomputed
    const a = (await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts)).json.file as string;
    tamper(a, (sql) => sql + EVIL);
    const v = await runCli(['backup', 'verify', a, '--json'], opts);
    assert.notEqual(v.code, 0);
    assert.equal(code(v), 'BACKUP_TAMPERED', v.stdout);
    const r = await runCli(['restore', a, '--target', 'shop_copy', '--json'], opts);
    assert.equal(code(r), 'BACKUP_TAMPERED', r.stdout);
    assert.equal(await evilUsers(), 0, 'no user was created on the live server');
    assert.equal((await mariadb(mariaUrl, "SHOW DATABASES LIKE 'shop_copy'")).length, 0);

    // an edited manifest alone (a row count) is refused too
    const b = (await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts)).json.file as string;
    const m = JSON.parse(readFileSync(`${b}.manifest.json`, 'utf8'));
    m.tables[0].rows = 99;
    writeFileSync(`${b}.manifest.json`, JSON.stringify(m));
    assert.equal(code(await runCli(['backup', 'verify', b, '--json'], opts)), 'BACKUP_TAMPERED');

    // even a backup that passes the HMAC (re-signed with this home's key) runs only in a scratch server during verify
    const c = (await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts)).json.file as string;
    tamper(c, (sql) => sql + EVIL);
    await resignManifest(home, c);
    const vc = await cliOk(['backup', 'verify', c, '--json'], opts);
    assert.match(vc.json.method, /scratch MariaDB server \(not the live one\)/);
    assert.equal(await evilUsers(), 0, 'verify ran the backup on a scratch server, not the live one');
    assert.deepEqual(readdirSync(join(home, 'scratch')), [], 'the scratch server was removed');
    assert.equal(mode(join(home, 'scratch')), 0o711);

    // a data edit that passes the HMAC: restore loads it, compares with the manifest, and says it does not match
    const d = (await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts)).json.file as string;
    tamper(d, (sql) => sql.replace("'pear'", "'PEAR'"));
    await resignManifest(home, d);
    const rd = await runCli(['restore', d, '--target', 'shop_edit', '--json'], opts);
    assert.notEqual(rd.code, 0);
    assert.equal(code(rd), 'RESTORE_FAILED', rd.stdout);
    assert.match(rd.json.error.message, /does not match the backup's manifest: items: content checksum differs/);
  });

  it('3. every engine writes backups 0600 in 0700 folders; a second OS user can read none of them', async () => {
    await pgQuery(home, 'main', 'postgres', 'CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t VALUES (1)');
    await cliOk(['create', 'app', '--type', 'sqlite'], opts);
    const files = [
      (await cliOk(['backup', 'postgres', '--type', 'postgresql', '--json'], { home, timeoutMs: 600_000 })).json.file as string,
      (await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts)).json.file as string,
      (await cliOk(['backup', '0', '--type', 'redis', '--json'], opts)).json.file as string,
      (await cliOk(['backup', 'app', '--type', 'sqlite', '--json'], opts)).json.file as string,
    ];
    for (const f of files) {
      for (const p of [f, `${f}.manifest.json`]) {
        assert.equal(mode(p), 0o600, `${p} is ${mode(p).toString(8)}`);
        const r = outsiderReads(p);
        assert.equal(r.ok, false, `${OUTSIDER} read ${p}`);
        assert.match(r.err, /Permission denied/);
      }
      assert.equal(mode(dirname(f)), 0o700, `${dirname(f)} is ${mode(dirname(f)).toString(8)}`);
    }
    // a fresh destination the tool makes is 0700 too
    const dest = join(home, 'backups', 'extra', 'deep');
    const e = (await cliOk(['backup', 'app', '--type', 'sqlite', '--destination', dest, '--json'], opts)).json.file as string;
    assert.equal(mode(dest), 0o700);
    assert.equal(mode(e), 0o600);
  });

  it('4. HTTP MCP always needs a bearer token, made 0600 on first serve; another user without it is refused; mcp config carries it', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [CLI, 'mcp', 'serve', '--transport', 'http', '--port', String(port), '--allow-write'], { env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: 'file' }, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    try {
      for (let i = 0; i < 300 && !log.includes('listening on'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(log, /listening on/, log);
      const tokenFile = join(home, 'mcp-http.token');
      assert.ok(log.includes(tokenFile), 'the token file path is printed');
      assert.equal(mode(tokenFile), 0o600);
      assert.equal(outsiderReads(tokenFile).ok, false);
      const init = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'x', version: '1' } } });
      const curl = (extra: string[]) =>
        spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'content-type: application/json', '-H', 'accept: application/json, text/event-stream', ...extra, '--data', init, `http://127.0.0.1:${port}/mcp`], { ...outsider(), encoding: 'utf8' }).stdout;
      assert.equal(curl([]), '401', 'another local user without the token is refused');
      assert.equal(curl(['-H', 'authorization: Bearer wrong-token-wrong-token']), '401');
      const token = readFileSync(tokenFile, 'utf8').trim();
      assert.equal(curl(['-H', `authorization: Bearer ${token}`]), '200', 'with the token it works');
      const cfg = await cliOk(['mcp', 'config', 'claude-code', '--url', `http://127.0.0.1:${port}/mcp`, '--json'], opts);
      assert.equal(cfg.json.snippet.mcpServers['portunix-db'].headers.Authorization, `Bearer ${token}`);
      assert.equal(cfg.json.snippet.mcpServers['portunix-db'].type, 'http');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('5. an operator cannot change configuration or write outside the backup roots; state-changing MCP calls are audited', async () => {
    const call = (role: string, tool: string, args: object) => runCli(['mcp', 'call', tool, '--allow-write', '--role', role, '--json', JSON.stringify(args)], opts);
    const perf = await call('operator', 'db_performance', { type: 'postgresql', enable_statements: true });
    assert.notEqual(perf.code, 0);
    assert.match(perf.stdout, /FORBIDDEN.*admin role/);
    const spl = await pgQuery<{ v: string }>(home, 'main', 'postgres', "SELECT setting AS v FROM pg_settings WHERE name = 'shared_preload_libraries'");
    assert.doesNotMatch(spl[0]!.v, /pg_stat_statements/);
    const outside = await call('operator', 'db_backup_create', { type: 'sqlite', database: 'app', destination: '../../x' });
    assert.match(outside.stdout, /FORBIDDEN/);
    assert.equal(existsSync(join(home, 'backups', 'x')), false);
    assert.equal(existsSync(join(home, 'x')), false);
    // a symlink inside the backup dir that points out of it is no way out either
    const backupDir = join(home, 'backups', 'sqlite', 'main');
    symlinkSync(tmpdir(), join(backupDir, 'out'));
    assert.match((await call('operator', 'db_backup_create', { type: 'sqlite', database: 'app', destination: 'out' })).stdout, /FORBIDDEN/);
    const inside = await call('operator', 'db_backup_create', { type: 'sqlite', database: 'app', destination: 'sub' });
    assert.equal(inside.code, 0, inside.stdout + inside.stderr);
    const log = readFileSync(join(home, 'audit.log'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    assert.ok(log.some((e) => e.action === 'db_performance' && e.via === 'mcp' && e.ok === false), 'the refused config change is audited');
    assert.ok(log.some((e) => e.action === 'db_backup_create' && e.via === 'mcp' && e.ok === true));
    assert.ok(log.some((e) => e.action === 'db_backup_create' && e.via === 'mcp' && e.ok === false));
  });

  it('6. ports are checked at input; a config with a bad entry still allows status and uninstall of the valid instances', async () => {
    for (const port of ['0', '70000', 'abc']) {
      const r = await runCli(['install', 'redis', '--version=7.0', '--source', 'apt', '--instance', 'badport', '--port', port, '--json'], opts);
      assert.notEqual(r.code, 0);
      assert.notEqual(code(r), 'INTERNAL', r.stdout + r.stderr);
    }
    await cliOk(['install', 'sqlite', '--instance', 'spare', '-q'], opts);
    const file = join(home, 'config.json');
    const config = JSON.parse(readFileSync(file, 'utf8'));
    const good = readFileSync(file, 'utf8');
    config.databases.redis.instances = { broken: { ...config.databases.redis, port: 70000 } };
    delete config.databases.redis.instances.broken.instances;
    writeFileSync(file, JSON.stringify(config, null, 2));
    try {
      const st = await cliOk(['status', '--json'], opts);
      const broken = st.json.find((s: { instance: string }) => s.instance === 'broken');
      assert.equal(broken.state, 'invalid');
      assert.match(broken.problem, /databases\.redis\.instances\.broken/);
      assert.equal(st.json.find((s: { engine: string; instance: string }) => s.engine === 'postgresql' && s.instance === 'main').state, 'running');
      await cliOk(['uninstall', 'sqlite', '--instance', 'spare', '--json'], opts);
      const after = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(after.databases.sqlite.instances?.spare, undefined);
      assert.equal(after.databases.redis.instances.broken.port, 70000, 'the bad entry is left for the user to fix');
    } finally {
      const fixed = JSON.parse(readFileSync(file, 'utf8'));
      delete fixed.databases.redis.instances;
      writeFileSync(file, JSON.stringify(fixed, null, 2));
      assert.ok(good.length > 0);
    }
  });

  it('parallel backups get unique names and each restores', async () => {
    const runs = await Promise.all([1, 2, 3].map(() => cliOk(['backup', 'app', '--type', 'sqlite', '--json'], opts)));
    const names = runs.map((r) => r.json.file as string);
    assert.equal(new Set(names).size, 3, names.join(' '));
    for (const f of names) assert.equal((await cliOk(['backup', 'verify', f, '--json'], opts)).json.ok, true);
  });

  it('7. the audit log is a hash chain: an edited or deleted line is named; an operation that cannot be audited fails', async () => {
    const ok = await cliOk(['audit', 'verify', '--json'], opts);
    assert.equal(ok.json.ok, true);
    assert.ok(ok.json.entries > 5);
    const file = join(home, 'audit.log');
    const original = readFileSync(file, 'utf8');
    const lines = original.split('\n').filter(Boolean);
    try {
      const edited = [...lines];
      edited[2] = edited[2]!.replace(/"pid":\d+/, '"pid":1');
      assert.notEqual(edited[2], lines[2]);
      writeFileSync(file, edited.join('\n') + '\n');
      const e = await runCli(['audit', 'verify', '--json'], opts);
      assert.notEqual(e.code, 0);
      assert.equal(e.json.ok, false);
      assert.equal(e.json.first_broken.line, 3);
      writeFileSync(file, [...lines.slice(0, 1), ...lines.slice(2)].join('\n') + '\n');
      const d = await runCli(['audit', 'verify', '--json'], opts);
      assert.notEqual(d.code, 0);
      assert.equal(d.json.first_broken.line, 2, 'the entry after the deleted one is named');
      // the log cannot be written: the sensitive operation fails, it does not pass unrecorded
      rmSync(file);
      mkdirSync(file);
      const b = await runCli(['backup', 'app', '--type', 'sqlite', '--json'], opts);
      assert.notEqual(b.code, 0);
      assert.equal(code(b), 'AUDIT_FAILED', b.stdout);
    } finally {
      rmSync(file, { recursive: true, force: true });
      writeFileSync(file, original, { mode: 0o600 });
    }
    assert.equal(basename(file), 'audit.log');
  });
});
