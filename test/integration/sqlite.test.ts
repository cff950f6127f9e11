/**
 * SQLite end to end through the built CLI (and the MCP server over stdio): installed with the
 * tool itself (`install sqlite --source apt`) into a fresh PORTUNIX_HOME.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';

const home = freshHome('sqlite');
const opts = { home };
const run = (args: string[], expect = 0) => cliOk([...args, '--json'], opts, expect);
let dataDir = '';
let writer: ChildProcess | undefined;

const SCHEMA = `
  CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('asset', 'liability')));
  CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    tx INTEGER NOT NULL,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE RESTRICT,
    amount INTEGER NOT NULL,
    memo TEXT DEFAULT 'none, really',
    CONSTRAINT nonzero CHECK (amount <> 0 AND memo <> 'CHECK (x)')
  );
  CREATE INDEX ledger_tx ON ledger(tx);
  CREATE INDEX ledger_tx_dup ON ledger(tx);
  CREATE VIEW balances AS SELECT account_id, SUM(amount) AS balance FROM ledger GROUP BY account_id;
  INSERT INTO accounts(name, kind) VALUES ('cash', 'asset'), ('loan', 'liability');
`;

/** Every transaction writes a +n/-n pair: a consistent snapshot has an even row count and a zero sum. */
function invariant(file: string): { rows: number; sum: number; integrity: string } {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare('SELECT COUNT(*) AS rows, COALESCE(SUM(amount), 0) AS sum FROM ledger').get() as { rows: number; sum: number };
    return { ...r, integrity: String(db.pragma('integrity_check', { simple: true })) };
  } finally {
    db.close();
  }
}

function liveRows(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true, timeout: 10_000 });
  try {
    return Number(db.prepare('SELECT COUNT(*) FROM ledger').pluck().get());
  } finally {
    db.close();
  }
}

before(async () => {
  const r = await run(['install', 'sqlite', '--source', 'apt']);
  assert.equal(r.json.engine, 'sqlite');
  assert.equal(r.json.source, 'apt');
  dataDir = r.json.data_dir;
  assert.ok(existsSync(dataDir));
});

after(() => {
  if (writer && writer.exitCode === null) writer.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

test('sqlite: installed through apt; status reports the files; the sqlite3 shell exists', async () => {
  const st = await run(['status', 'sqlite']);
  assert.equal(st.json[0].state, 'embedded');
  assert.equal(st.json[0].details.sqlite3_shell, '/usr/bin/sqlite3');
  const dry = await run(['install', 'sqlite', '--source', 'dnf', '--platform', 'fedora-40', '--dry-run']);
  assert.ok(dry.json.plan.steps.some((s: { argv?: string[] }) => s.argv?.join(' ') === 'dnf install -y sqlite'));
});

test('sqlite: create, write, and every inspection command', async () => {
  const c = await run(['create', 'app', '--type', 'sqlite']);
  assert.equal(c.json.created, true);
  await run(['create', 'app', '--type', 'sqlite'], 1).then((r) => assert.equal(r.json.error.code, 'ALREADY_EXISTS'));
  const file = join(dataDir, 'app.db');
  const db = new Database(file);
  db.exec(SCHEMA);
  db.close();

  const st = await run(['status', 'sqlite']);
  const app = st.json[0].details.databases.find((d: { name: string }) => d.name === 'app');
  assert.deepEqual([app.journal_mode, app.page_size, app.integrity], ['wal', 4096, 'ok']);
  assert.ok(app.size_bytes > 0);

  const list = await run(['list', '--type', 'sqlite']);
  assert.deepEqual(list.json[0].databases.map((d: { name: string }) => d.name), ['app']);

  const tables = await run(['tables', 'app', '--type', 'sqlite']);
  assert.deepEqual(tables.json.items.map((t: { name: string; kind: string; rows?: number }) => [t.name, t.kind, t.rows]), [['accounts', 'table', 2], ['balances', 'view', undefined], ['ledger', 'table', 0]]);

  const schema = await run(['schema', 'app', '--type', 'sqlite']);
  assert.deepEqual(schema.json.schemas, [{ name: 'main', tables: 2, views: 1 }]);

  const info = await run(['table-info', 'ledger', '--type', 'sqlite', '--database', 'app']);
  assert.deepEqual(info.json.primaryKey, ['id']);
  assert.deepEqual(info.json.columns.map((col: { name: string }) => col.name), ['id', 'tx', 'account_id', 'amount', 'memo']);
  assert.equal(info.json.columns[4].default, "'none, really'");

  const idx = await run(['indexes', 'app', '--type', 'sqlite']);
  assert.equal(idx.json.items.find((i: { name: string }) => i.name === 'ledger_tx_dup').duplicateOf, 'ledger_tx');
  assert.ok(idx.json.items.some((i: { table: string; unique: boolean; columns: string[] }) => i.table === 'accounts' && i.unique && i.columns[0] === 'name'));

  const cons = await run(['constraints', 'app', '--type', 'sqlite']);
  const items = cons.json.items as { table: string; name: string; type: string; columns: string[]; definition: string; references?: { table: string; columns: string[]; onDelete: string } }[];
  const fk = items.find((x) => x.type === 'foreign key')!;
  assert.deepEqual([fk.table, fk.columns, fk.references!.table, fk.references!.columns, fk.references!.onDelete], ['ledger', ['account_id'], 'accounts', ['id'], 'RESTRICT']);
  assert.deepEqual(items.filter((x) => x.type === 'check').map((x) => [x.table, x.name, x.definition]), [
    ['accounts', 'accounts_check1', "CHECK (kind IN ('asset', 'liability'))"],
    ['ledger', 'nonzero', "CHECK (amount <> 0 AND memo <> 'CHECK (x)')"],
  ]);
  assert.ok(items.some((x) => x.type === 'unique' && x.table === 'accounts' && x.columns[0] === 'name'));

  const size = await run(['size', 'sqlite']);
  assert.ok(size.json.total_bytes > 0);
  const metrics = await run(['metrics', 'sqlite', '--database', 'app']);
  assert.equal(metrics.json.gauges.page_size, 4096);
  assert.equal(typeof metrics.json.gauges.freelist_count, 'number');
  const health = await run(['health', 'sqlite']);
  assert.equal(health.json.healthy, true);
  assert.ok(health.json.checks.some((ch: { name: string; status: string }) => ch.name === 'app: integrity' && ch.status === 'ok'));

  const cfg = await run(['config', 'show', 'sqlite']);
  assert.ok(cfg.json.some((s: { name: string; value: string }) => s.name === 'app.journal_mode' && s.value === 'wal'));
  assert.equal((await run(['config', 'set', 'sqlite', 'app.user_version', '3'])).json.value, '3');
  assert.equal((await run(['config', 'get', 'sqlite', 'user_version'])).json.value, '3', 'a bare key works while there is one database');
  assert.equal((await run(['config', 'set', 'sqlite', 'app.journal_mode', 'memory'], 2)).json.error.code, 'USAGE');

  const url = await run(['url', 'sqlite']);
  assert.equal(url.json.url, `file://${file}`);

  // MCP read tools over real stdio
  const mcp = (tool: string, args: string[]) => cliOk(['mcp', 'call', tool, ...args, '--json'], opts);
  const mt = await mcp('db_tables', ['--type', 'sqlite', '--database', 'app']);
  assert.ok(mt.json.items.some((t: { name: string }) => t.name === 'ledger'));
  const mc = await mcp('db_constraints', ['--type', 'sqlite', '--database', 'app']);
  assert.ok(mc.json.items.some((x: { type: string; name: string }) => x.type === 'check' && x.name === 'nonzero'));
  for (const tool of ['db_schema', 'db_indexes', 'db_size', 'db_status', 'db_list', 'db_performance']) {
    await mcp(tool, ['--type', 'sqlite', ...(['db_schema', 'db_indexes'].includes(tool) ? ['--database', 'app'] : [])]);
  }
  const ti = await mcp('db_table_info', ['--type', 'sqlite', '--database', 'app', '--table', 'accounts']);
  assert.deepEqual(ti.json.primaryKey, ['id']);
  const conn = await runCli(['mcp', 'call', 'db_connections', '--type', 'sqlite', '--json'], opts);
  assert.equal(conn.json.isError, true);
  assert.match(conn.json.error, /NOT_APPLICABLE.*no connection list/);
});

test('sqlite: backup while another process writes is one consistent snapshot; drop, restore, verify', async () => {
  const file = join(dataDir, 'app.db');
  const bs3 = createRequire(import.meta.url).resolve('better-sqlite3');
  const script = `
    const Database = require(process.env.BS3);
    const db = new Database(process.env.DB, { timeout: 30000 });
    const ins = db.prepare('INSERT INTO ledger(tx, account_id, amount) VALUES (?, ?, ?)');
    const pair = db.transaction((tx) => { const n = 1 + (tx % 97); ins.run(tx, 1, n); ins.run(tx, 2, -n); });
    let tx = 0;
    for (;;) { pair(++tx); if (tx === 200) process.stdout.write('ready\\n'); }
  `;
  writer = spawn(process.execPath, ['-e', script], { env: { ...process.env, BS3: bs3, DB: file }, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    writer!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    writer!.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  const before = liveRows(file);
  const b = await run(['backup', 'app', '--type', 'sqlite']);
  const during = liveRows(file);
  // the writer was committing throughout the backup
  assert.ok(during > before, `writes continued during the backup (${before} -> ${during})`);
  writer.kill('SIGKILL');
  await new Promise((r) => writer!.once('exit', r));

  const backupFile = b.json.file as string;
  assert.match(backupFile, /\.sqlite$/);
  assert.equal(b.json.manifest.scope, 'database');
  const snap = invariant(backupFile);
  assert.equal(snap.integrity, 'ok');
  assert.equal(snap.sum, 0, 'no half transaction in the backup');
  assert.equal(snap.rows % 2, 0);
  assert.ok(snap.rows >= before, 'the backup holds at least what was committed before it started');
  const ledger = b.json.manifest.tables.find((t: { name: string }) => t.name === 'ledger');
  assert.equal(ledger.rows, snap.rows);

  const v = await run(['backup', 'verify', backupFile]);
  assert.equal(v.json.ok, true);
  assert.deepEqual(v.json.problems, []);
  // progress on stderr, stage by stage (stdout stays the JSON)
  assert.match(v.stderr, /verify 1\/3: checking the checksum of .*\n(.*\n)*.*verify 2\/3: checksum ok; restoring app into a scratch place[^\n]*\n(.*\n)*.*verify 3\/3: comparing \d+ tables with the manifest/);
  assert.match(v.stderr, new RegExp(`comparing ${b.json.manifest.tables.length} tables`));
  const quiet = await run(['backup', 'verify', backupFile, '--quiet']);
  assert.doesNotMatch(quiet.stderr, /verify 1\/3/);

  await run(['drop', 'app', '--type', 'sqlite'], 2).then((r) => assert.equal(r.json.error.code, 'CONFIRMATION_REQUIRED'));
  await run(['drop', 'app', '--type', 'sqlite', '--force']);
  assert.equal(existsSync(file), false);
  assert.equal(existsSync(`${file}-wal`), false);
  await run(['tables', 'app', '--type', 'sqlite'], 3);

  const r = await run(['restore', backupFile]);
  assert.equal(r.json.target, 'app');
  assert.deepEqual(r.json.tables, b.json.manifest.tables);
  const restored = invariant(file);
  assert.deepEqual([restored.rows, restored.sum, restored.integrity], [snap.rows, 0, 'ok']);
  assert.equal((await run(['tables', 'app', '--type', 'sqlite'])).json.items.find((t: { name: string }) => t.name === 'ledger').rows, snap.rows);

  // restoring over an existing database needs --force, and keeps the old file
  await run(['restore', backupFile], 2).then((x) => assert.equal(x.json.error.code, 'CONFIRMATION_REQUIRED'));
  await run(['restore', backupFile, '--target', 'app_copy']);
  assert.equal(invariant(join(dataDir, 'app_copy.db')).rows, snap.rows);

  const vac = await run(['vacuum', 'app', '--type', 'sqlite', '--full', '--analyze']);
  assert.match(vac.json.actions.join('\n'), /VACUUM[\s\S]*ANALYZE[\s\S]*PRAGMA optimize/);
  const v2 = await run(['backup', 'verify', backupFile]);
  assert.equal(v2.json.ok, true);
  await run(['drop', 'app_copy', '--type', 'sqlite', '--force']);
});

test('sqlite: users, start/stop and connections are not applicable (exit 5 with what to use)', async () => {
  for (const args of [['user', 'list', '--type', 'sqlite'], ['user', 'create', 'bob', '--type', 'sqlite', '--password-stdin'], ['user', 'grant', 'bob', '--type', 'sqlite', '--database', 'app'], ['start', 'sqlite'], ['stop', 'sqlite'], ['restart', 'sqlite'], ['connections', 'sqlite']]) {
    const r = await runCli([...args, '--json'], { ...opts, input: 'a-long-password\n' });
    assert.equal(r.code, 5, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.equal(r.json.error.code, 'NOT_APPLICABLE');
    assert.match(r.json.error.message, /status sqlite|file permissions/);
  }
});

test('sqlite: bad input is refused without side effects', async () => {
  const file = join(dataDir, 'app.db');
  const before = liveRows(file);
  for (const name of ['x"; DROP TABLE t; --', '../etc/passwd', 'a.db', '/tmp/abs']) {
    const r = await run(['create', name, '--type', 'sqlite'], 2);
    assert.equal(r.json.error.code, 'INVALID_IDENTIFIER', name);
    await run(['backup', name, '--type', 'sqlite'], 2);
    await run(['tables', name, '--type', 'sqlite'], 2);
  }
  assert.equal(existsSync('/etc/passwd.db'), false);
  const ti = await run(['table-info', 'ledger"; DROP TABLE ledger; --', '--type', 'sqlite', '--database', 'app'], 3);
  assert.equal(ti.json.error.code, 'NOT_FOUND');
  await run(['vacuum', 'app', '--type', 'sqlite', '--table', 'x"; DROP TABLE ledger; --'], 3);
  assert.equal(liveRows(file), before, 'ledger is intact');
  await run(['config', 'set', 'sqlite', 'app.user_version', '1; DROP TABLE ledger'], 2);
  await run(['config', 'get', 'sqlite', '../etc/passwd.journal_mode'], 2);
  await run(['table-info', 'nope', '--type', 'sqlite', '--database', 'app'], 3).then((r) => assert.match(r.json.error.hint, /tables --type sqlite/));

  // a corrupt backup is detected before restore touches anything
  const b = await run(['backup', 'app', '--type', 'sqlite']);
  const good = b.json.file as string;
  const bad = good.replace(/\.sqlite$/, '-corrupt.sqlite');
  const bytes = readFileSync(good);
  for (let i = 4096; i < bytes.length; i += 101) bytes[i] = bytes[i]! ^ 0x5a;
  writeFileSync(bad, bytes);
  copyFileSync(`${good}.manifest.json`, `${bad}.manifest.json`);
  const r1 = await run(['restore', bad, '--force'], 1);
  assert.equal(r1.json.error.code, 'BACKUP_CORRUPT');
  // a manifest rewritten to match the damaged file fails its HMAC: refused as tampered
  const { createHash } = await import('node:crypto');
  const m = JSON.parse(readFileSync(`${bad}.manifest.json`, 'utf8'));
  m.sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(`${bad}.manifest.json`, JSON.stringify(m));
  const r2 = await run(['restore', bad, '--force'], 1);
  assert.equal(r2.json.error.code, 'BACKUP_TAMPERED');
  const r3 = await runCli(['backup', 'verify', bad, '--json'], opts);
  assert.notEqual(r3.code, 0);
  assert.equal(liveRows(file), before, 'the target was not touched');
  assert.equal(invariant(file).integrity, 'ok');
});
