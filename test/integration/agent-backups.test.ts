/**
 * Issue 17 end to end through the built CLI, against real servers the tool installs into one
 * fresh PORTUNIX_HOME (PostgreSQL 16, MariaDB 10.11 and Redis 7.0 from apt, SQLite):
 * the monitor agent on a one-minute cron makes backups with no command, retention prunes after
 * each scheduled backup and keeps the newest good, a stopped instance is skipped loudly (hook,
 * audit, `backup due --quiet`), encrypted backups restore and verify and refuse a wrong key, and
 * a kill -9 of the agent in the middle of a scheduled backup leaves nothing that looks good.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { setRedisKey } from '../helpers/redis.js';
import { until } from '../helpers/wait.js';

const home = freshHome('agent-backups');
const env = { PORTUNIX_DB_AGENT_TICK_MS: '300' };
const opts = { home, env, timeoutMs: 600_000 };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);
const hookOut = join(home, 'alerts.jsonl');
const ENGINES = ['postgresql', 'mariadb', 'redis', 'sqlite'] as const;
let sqliteDir = '';

interface Entry { file: string; engine: string; database: string; finished_at: string }
const list = async (): Promise<Entry[]> => (await cli(['backup', 'list'])).json;
const audit = () => (existsSync(join(home, 'audit.log')) ? readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []);

before(async () => {
  const s = await cli(['install', 'sqlite', '--source', 'apt']);
  sqliteDir = s.json.data_dir;
  await cli(['create', 'app', '--type', 'sqlite']);
  const db = new Database(join(sqliteDir, 'app.db'));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('plaintext-marker-1'), ('plaintext-marker-2')");
  db.close();
  const redisPort = await freePort();
  await cli(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(redisPort)]);
  await setRedisKey(home, redisPort, 'k', 'v');
  await cli(['install', 'mariadb', '--version', '10.11', '--source', 'apt', '--port', String(await freePort())]);
  await cli(['create', 'app', '--type', 'mariadb']);
  await cli(['install', 'postgresql', '--version', '16', '--port', String(await freePort())]);
  await cli(['create', 'app', '--type', 'postgresql']);
});

after(async () => {
  await runCli(['monitor', 'stop'], opts).catch(() => undefined);
  for (const e of ['postgresql', 'mariadb', 'redis']) await runCli(['stop', e], opts).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

test('schedules refuse bad cron strings, zones and rules, and name the problem', async () => {
  for (const [args, re] of [
    [['--every', '@reboot'], /five-field cron/],
    [['--every', '* * * * * *'], /five-field cron/],
    [['--every', '$(touch /tmp/agent-backups-pwned) * * * *'], /five-field cron/],
    [['--every', 'daily', '--tz', '../../etc/passwd'], /time zone/],
    [['--every', 'daily', '--keep-last', '0'], /keep_last/],
    [['--every', 'daily', '--verify-every', 'sometimes'], /verify-every/],
  ] as const) {
    const r = await runCli(['backup', 'schedule', 'sqlite', ...args, '--json'], opts);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.json.error.message, re);
  }
  assert.equal(existsSync('/tmp/agent-backups-pwned'), false);
  const bad = await runCli(['monitor', '--on-alert', 'a\nb', '--json'], opts);
  assert.equal(bad.code, 2);
  const prune = await runCli(['backup', 'prune', '--max-size', '-5', '--json'], opts);
  assert.notEqual(prune.code, 0);
});

test('the agent on a one-minute cron backs up every engine with no command, and prunes to keep_last after each run', async () => {
  for (const e of ENGINES) await cli(['backup', 'schedule', e, '--every', '* * * * *', '--keep-last', '1', ...(e === 'sqlite' ? ['--encrypt'] : [])]);
  const started = await cli(['monitor', '--detach', '--on-alert', `cat >> ${hookOut}`]);
  assert.equal(started.json.state, 'running');
  // the first round runs at once (nothing backed up yet); the next one at the next minute
  // a round backs up four engines one after another (PostgreSQL's snapshot proves itself in a
  // scratch server): on a loaded 2-core machine two rounds can take minutes, so wait up to 7
  const ROUNDS_MS = 420_000;
  const first = await until('a first backup of every engine', list, (l) => ENGINES.every((e) => l.some((b) => b.engine === e)), ROUNDS_MS);
  const prunedAll = await until('a scheduled prune of every engine', async () => audit().filter((a) => a.action === 'backup-prune' && a.via === 'agent'), (p) => ENGINES.every((e) => p.some((a) => a.engine === e)), ROUNDS_MS);
  assert.ok(prunedAll.length >= 4);
  // a round's prune follows its backups, so the first backups go once the next round has made newer ones
  const firstFile = (e: string) => first.find((b) => b.engine === e)!.file;
  const now = await until('the first backup of every engine pruned after a newer one', list, (l) => ENGINES.every((e) => !l.some((b) => b.file === firstFile(e))), ROUNDS_MS);
  for (const e of ENGINES) {
    const mine = now.filter((b) => b.engine === e);
    assert.ok(mine.length >= 1, `${e}: the newest good backup stays`);
  }
  const sqliteNewest = now.find((b) => b.engine === 'sqlite')!;
  assert.match(sqliteNewest.file, /\.age$/);
  assert.ok(audit().some((a) => a.action === 'backup' && a.via === 'agent' && a.ok));
  const status = await cli(['monitor', 'status']);
  assert.equal(status.json.state, 'running');
  assert.ok(status.json.tasks['scheduled-backups'].last_run);
});

test('a stopped instance is skipped loudly: hook, audit, and `backup due --run --quiet`', async () => {
  await cli(['stop', 'redis']);
  const alerts = await until('a backup-skipped alert', async () => (existsSync(hookOut) ? readFileSync(hookOut, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []), (a) => a.some((x) => x.kind === 'backup-skipped' && x.engine === 'redis'));
  assert.match(alerts.find((x) => x.kind === 'backup-skipped').message, /stopped|crashed/);
  assert.ok(audit().some((a) => a.action === 'agent-alert' && a.via === 'agent' && a.target === 'backup-skipped' && a.engine === 'redis'));
  await cli(['monitor', 'stop']);
  const quiet = await runCli(['backup', 'due', '--run', '--quiet'], opts);
  assert.match(quiet.stdout, /SKIPPED redis\/main: .*(stopped|crashed)/);
  await cli(['start', 'redis']);
});

test('an encrypted backup verifies and restores; its bytes hold no plaintext; a wrong key is refused and nothing is touched', async () => {
  const enc = (await list()).find((b) => b.engine === 'sqlite')!;
  assert.equal(readFileSync(enc.file).includes('plaintext-marker'), false);
  assert.ok(readFileSync(enc.file).subarray(0, 22).toString() === 'age-encryption.org/v1\n');
  const v = await cli(['backup', 'verify', enc.file]);
  assert.equal(v.json.ok, true);
  await cli(['restore', enc.file, '--target', 'app_copy']);
  const copy = new Database(join(sqliteDir, 'app_copy.db'), { readonly: true });
  assert.equal((copy.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 2);
  copy.close();
  // the recovery key is printed once, with a warning on stderr
  const key = await runCli(['backup', 'key', 'export'], opts);
  assert.equal(key.code, 0);
  assert.match(key.stdout, /^# portunix-db backup key, public key: age1/);
  assert.match(key.stderr, /WARNING/);
  assert.equal((await runCli(['backup', 'key', 'export'], opts)).code, 2);
  // a wrong key: this home's keyring replaced by another identity (through the secret store the tool uses)
  const { Decrypter: _d, generateX25519Identity } = await import('age-encryption');
  const wrong = await generateX25519Identity();
  const secrets = await import('../../src/core/secrets.js');
  const homeBefore = process.env['PORTUNIX_HOME'];
  process.env['PORTUNIX_HOME'] = home;
  process.env['PORTUNIX_DB_SECRET_BACKEND'] ??= 'file';
  secrets.resetSecretStore();
  const { homePaths } = await import('../../src/core/home.js');
  const keyName = `${homePaths.secrets()}::backup/age-identities`;
  const right = await secrets.getSecretStore().get(keyName);
  await secrets.getSecretStore().set(keyName, JSON.stringify([wrong]));
  try {
    const before = readFileSync(join(sqliteDir, 'app_copy.db'));
    const r = await runCli(['restore', enc.file, '--target', 'app_copy', '--force', '--json'], opts);
    assert.notEqual(r.code, 0);
    assert.equal(r.json.error.code, 'AUTH_FAILED');
    assert.match(r.json.error.message, /cannot be decrypted/);
    assert.deepEqual(readFileSync(join(sqliteDir, 'app_copy.db')), before, 'the target is untouched');
    assert.deepEqual(readdirSync(dirname(enc.file)).filter((n) => n.startsWith('.decrypt-')), [], 'no plaintext left behind');
    // the recovery key brings it back
    const imp = await runCli(['backup', 'key', 'import', '--json'], { ...opts, input: key.stdout });
    assert.equal(imp.json.added, true);
    assert.equal((await cli(['backup', 'verify', enc.file])).json.ok, true);
  } finally {
    await secrets.getSecretStore().set(keyName, right!);
    if (homeBefore === undefined) delete process.env['PORTUNIX_HOME'];
    else process.env['PORTUNIX_HOME'] = homeBefore;
    secrets.resetSecretStore();
  }
});

test('retention never prunes the newest verified-good backup, and prune --dry-run removes nothing', async () => {
  await cli(['backup', 'schedule', 'sqlite', '--every', 'off']);
  const a = await cli(['backup', 'app', '--type', 'sqlite']);
  await cli(['backup', 'verify', a.json.file]);
  await cli(['backup', 'app', '--type', 'sqlite']);
  await cli(['backup', 'app', '--type', 'sqlite']);
  const dry = await cli(['backup', 'prune', '--type', 'sqlite', '--keep-last', '1', '--dry-run']);
  assert.equal(dry.json.dry_run, true);
  const wouldGo = dry.json.chains.flatMap((c: { remove: { file: string }[] }) => c.remove.map((r) => r.file));
  assert.ok(wouldGo.length >= 1);
  assert.ok(!wouldGo.includes(a.json.file), 'the verified one is not planned to go');
  for (const f of wouldGo) assert.ok(existsSync(f), 'dry run removed nothing');
  const real = await cli(['backup', 'prune', '--type', 'sqlite', '--keep-last', '1']);
  assert.equal(real.json.removed, wouldGo.length);
  const left = (await list()).filter((b) => b.engine === 'sqlite').map((b) => b.file);
  assert.equal(left.length, 2);
  assert.ok(left.includes(a.json.file));
  assert.ok(audit().filter((e) => e.action === 'backup-prune' && e.via === 'cli').length >= wouldGo.length);
});

test('kill -9 of the agent during a scheduled backup leaves nothing that looks good; the next agent takes over', async () => {
  await cli(['create', 'late', '--type', 'sqlite']);
  await cli(['backup', 'schedule', 'sqlite', '--every', 'daily']);
  const launcher = join(dirname(fileURLToPath(import.meta.url)), '..', 'helpers', 'cli-stalling-backup.js');
  const child = spawn(process.execPath, [launcher, 'monitor'], { env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'file', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('stalled')) resolve();
    });
    child.on('exit', () => reject(new Error(`agent exited: ${stderr}`)));
  });
  child.kill('SIGKILL');
  await new Promise((r) => child.once('close', r));
  assert.equal((await list()).filter((b) => b.database === 'late').length, 0, 'no backup of "late" is listed');
  assert.equal((await cli(['monitor', 'status'])).json.state, 'crashed');
  await cli(['monitor', '--detach']);
  await until('the next agent backs up "late"', list, (l) => l.some((b) => b.database === 'late'));
  await cli(['monitor', 'stop']);
});
