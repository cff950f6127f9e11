/**
 * Scheduled backups through the built CLI: `backup schedule` and `backup due [--run] [--verify]`
 * against SQLite (database-scoped backups, two databases) and Redis 7.0 (instance-scoped RDB),
 * both installed by the tool itself from Debian's packages into a fresh PORTUNIX_HOME.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';

const home = freshHome('schedule');
const opts = { home };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);
let sqliteDir = '';

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

/** Writes keys into Redis keyspaces over TLS pinned to the instance's certificate. */
async function redisWrite(port: number, keyspaces: Record<number, number>): Promise<void> {
  const url = (await cli(['url', 'redis', '--show-password'])).json.url as string;
  const password = decodeURIComponent(new URL(url).password);
  const ca = readFileSync(join(home, 'instances', 'redis', 'main', 'tls', 'server.crt'), 'utf8');
  const { createClient } = await import('redis');
  for (const [db, n] of Object.entries(keyspaces)) {
    const client = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, reconnectStrategy: false, connectTimeout: 5000 } as any, username: 'default', password, database: Number(db), RESP: 2 });
    client.on('error', () => undefined);
    await client.connect();
    for (let i = 0; i < n; i++) await client.sendCommand(['SET', `k${i}`, `v${i}`]);
    await client.close();
  }
}

function sqliteTable(file: string, rows: number): void {
  const db = new Database(file);
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
  for (let i = 0; i < rows; i++) ins.run(`row ${i}`);
  db.close();
}

interface DueDb { database: string; due: boolean; reason: string; last_backup?: { file: string; scope: string } }
interface DueInst { engine: string; instance: string; schedule: string; state: string; reason?: string; databases: DueDb[] }

const dueMap = (json: { instances: DueInst[] }) => Object.fromEntries(json.instances.map((i) => [`${i.engine}/${i.instance}`, i.state === 'checked' ? Object.fromEntries(i.databases.map((d) => [d.database, d.due])) : i.state]));

before(async () => {
  const s = await cli(['install', 'sqlite', '--source', 'apt']);
  sqliteDir = s.json.data_dir;
  for (const [name, rows] of [['app1', 3], ['app2', 5]] as const) {
    await cli(['create', name, '--type', 'sqlite']);
    sqliteTable(join(sqliteDir, `${name}.db`), rows);
  }
  const port = await freePort();
  await cli(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(port)]);
  await redisWrite(port, { 0: 4, 3: 2 });
});

after(async () => {
  await runCli(['stop', 'redis', '--json'], opts).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

test('nothing is scheduled by default; schedule daily turns it on in the config', async () => {
  const none = await cli(['backup', 'due']);
  assert.deepEqual(none.json.instances, []);
  assert.equal(none.json.due, 0);

  const r = await cli(['backup', 'schedule', 'sqlite', '--every', 'daily']);
  assert.deepEqual([r.json.engine, r.json.instance, r.json.auto_backup, r.json.backup_schedule], ['sqlite', 'main', true, 'daily']);
  await cli(['backup', 'schedule', 'redis', '--every', 'daily']);
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
  assert.deepEqual([config.databases.redis.auto_backup, config.databases.redis.backup_schedule], [true, 'daily']);
  assert.deepEqual([config.databases.sqlite.auto_backup, config.databases.sqlite.backup_schedule], [true, 'daily']);

  const bad = await cli(['backup', 'schedule', 'redis', '--every', 'monthly'], 2);
  assert.equal(bad.json.error.code, 'USAGE');
  const missing = await cli(['backup', 'schedule', 'redis', '--instance', 'nope', '--every', 'daily'], 3);
  assert.equal(missing.json.error.code, 'NOT_INSTALLED');
});

test('backup due lists every database without a backup, and backs up nothing', async () => {
  const r = await cli(['backup', 'due']);
  assert.deepEqual(dueMap(r.json), { 'redis/main': { '0': true, '3': true }, 'sqlite/main': { app1: true, app2: true } });
  assert.equal(r.json.due, 4);
  assert.equal((await cli(['backup', 'list'])).json.length, 0);
  const human = await cliOk(['backup', 'due'], opts);
  assert.match(human.stdout, /4 database\(s\) due/);
});

test('due --run --verify backs up each database once; Redis gets one instance backup for both keyspaces', async () => {
  const r = await cli(['backup', 'due', '--run', '--verify']);
  assert.equal(r.json.ok, true);
  assert.equal(r.json.failed, 0);
  assert.equal(r.json.backed_up, 3, 'two SQLite files and one Redis RDB');
  const byKey = Object.fromEntries(r.json.results.map((x: { engine: string; database: string }) => [`${x.engine}/${x.database}`, x]));
  assert.deepEqual(Object.keys(byKey).sort(), ['redis/0', 'redis/3', 'sqlite/app1', 'sqlite/app2']);
  for (const x of Object.values(byKey) as { ok: boolean; verify?: { ok: boolean } }[]) assert.equal(x.ok && x.verify?.ok, true);
  assert.equal(byKey['redis/3'].covered_by_instance_backup, true);
  assert.equal(byKey['redis/3'].file, byKey['redis/0'].file);
  assert.equal(byKey['redis/0'].covered_by_instance_backup, undefined);

  const redisBackups = (await cli(['backup', 'list', '--type', 'redis'])).json;
  assert.equal(redisBackups.length, 1);
  assert.equal(redisBackups[0].scope, 'instance');
  const sqliteBackups = (await cli(['backup', 'list', '--type', 'sqlite'])).json;
  assert.deepEqual(sqliteBackups.map((b: { database: string }) => b.database).sort(), ['app1', 'app2']);
  assert.deepEqual(sqliteBackups.map((b: { tables: number }) => b.tables), [1, 1]);

  // the same history and verification records as a manual backup
  const status = (await cli(['backup', 'status'])).json as { engine: string; database: string; last_backup?: { file: string }; last_verify?: { ok: boolean } }[];
  for (const s of status) assert.equal(s.last_verify?.ok, true, `${s.engine}/${s.database} verified`);
  assert.equal(status.find((s) => s.engine === 'redis')?.last_backup?.file, redisBackups[0].file);
});

test('a second due --run does nothing: every last good backup is within the interval', async () => {
  const due = await cli(['backup', 'due']);
  assert.deepEqual(dueMap(due.json), { 'redis/main': { '0': false, '3': false }, 'sqlite/main': { app1: false, app2: false } });
  const redis3 = due.json.instances.find((i: DueInst) => i.engine === 'redis').databases.find((d: DueDb) => d.database === '3');
  assert.equal(redis3.last_backup.scope, 'instance');
  const r = await cli(['backup', 'due', '--run']);
  assert.deepEqual([r.json.ok, r.json.backed_up, r.json.results.length], [true, 0, 0]);
  assert.equal((await cli(['backup', 'list'])).json.length, 3);
  const quiet = await cliOk(['backup', 'due', '--run', '--quiet'], opts);
  assert.equal(quiet.stdout, '', 'a quiet run with nothing to do prints nothing (no cron mail)');
});

test('one failing database does not stop the others, and the exit code says so', async () => {
  writeFileSync(join(sqliteDir, 'broken.db'), 'this is not a database, just text that is long enough to not look empty\n'.repeat(100));
  await cli(['create', 'zlate', '--type', 'sqlite']);
  sqliteTable(join(sqliteDir, 'zlate.db'), 2);
  const r = await runCli(['backup', 'due', '--run', '--json'], opts);
  assert.notEqual(r.code, 0);
  assert.equal(r.json.ok, false);
  assert.equal(r.json.failed, 1);
  const byDb = Object.fromEntries(r.json.results.map((x: { database: string }) => [x.database, x]));
  assert.deepEqual(Object.keys(byDb).sort(), ['broken', 'zlate']);
  assert.equal(byDb.broken.ok, false);
  assert.ok(byDb.broken.error.message.length > 0);
  assert.equal(byDb.zlate.ok, true);
  rmSync(join(sqliteDir, 'broken.db'));
});

test('a stopped Redis is skipped with the reason, not an error', async () => {
  await cli(['stop', 'redis']);
  const due = await cli(['backup', 'due']);
  const redis = due.json.instances.find((i: DueInst) => i.engine === 'redis');
  assert.equal(redis.state, 'skipped');
  assert.match(redis.reason, /stopped/);
  const r = await cli(['backup', 'due', '--run']);
  assert.equal(r.json.ok, true);
  assert.deepEqual(r.json.skipped.map((s: { engine: string }) => s.engine), ['redis']);
  assert.match(r.json.skipped[0].reason, /portunix-db start redis/);
});

test('--every off removes them from the schedule', async () => {
  for (const engine of ['sqlite', 'redis']) {
    const r = await cli(['backup', 'schedule', engine, '--every', 'off']);
    assert.deepEqual([r.json.auto_backup, r.json.backup_schedule], [false, 'manual']);
  }
  const due = await cli(['backup', 'due']);
  assert.deepEqual(due.json.instances, []);
  const config = JSON.parse(readFileSync(join(home, 'config.json'), 'utf8'));
  assert.deepEqual([config.databases.redis.auto_backup, config.databases.redis.backup_schedule], [false, 'manual']);
});
