/**
 * `backup schedule --install/--uninstall` (with a fake `crontab` on PATH: this machine has no
 * cron) and the per-instance schedule health of `backup status` / `status`, through the built
 * CLI on SQLite (embedded source) in a fresh PORTUNIX_HOME.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';

const home = freshHome('sched-install');
const opts = { home };
const cli = (args: string[], code = 0, env?: Record<string, string>) => cliOk([...args, '--json'], { ...opts, ...(env ? { env } : {}) }, code);
const bin = mkdtempSync(join(tmpdir(), 'pdb-fake-cron-'));
const tab = join(bin, 'tab');
const withCron = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
const audit = () => readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; ok: boolean; detail?: string });

interface Health { overdue: boolean; reason: string; verify_failed: boolean; retained: { count: number; size_bytes: number }; last_verify?: { ok: boolean }; last_good_backup?: { database: string } }
const healthOf = (rows: { database: string; schedule?: Health }[]) => rows.find((r) => r.schedule)?.schedule;

before(async () => {
  writeFileSync(join(bin, 'crontab'), `#!/bin/sh\ncase "$1" in\n  -l) if [ -f '${tab}' ]; then cat '${tab}'; else echo "no crontab for you" >&2; exit 1; fi ;;\n  -) cat > '${tab}' ;;\n  *) exit 2 ;;\nesac\n`);
  chmodSync(join(bin, 'crontab'), 0o755);
  const s = await cli(['install', 'sqlite', '--source', 'embedded']);
  await cli(['create', 'app', '--type', 'sqlite']);
  const db = new Database(join(s.json.data_dir as string, 'app.db'));
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES (\'a\'), (\'b\')');
  db.close();
});

test('--install --dry-run plans without touching anything; --install writes a marked crontab block once and keeps other entries; --uninstall removes only it; both audited', async () => {
  writeFileSync(tab, '0 4 * * * /usr/local/bin/someone-else\n');
  const plan = await cli(['backup', 'schedule', 'sqlite', '--install', '--dry-run', '--scheduler', 'cron'], 0, withCron);
  assert.equal(plan.json.dry_run, true);
  assert.equal(plan.json.env.PORTUNIX_HOME, home);
  assert.deepEqual(plan.json.command.slice(2), ['backup', 'due', '--run', '--quiet']);
  assert.equal(readFileSync(tab, 'utf8'), '0 4 * * * /usr/local/bin/someone-else\n');
  for (let i = 0; i < 2; i++) await cli(['backup', 'schedule', 'sqlite', '--install', '--scheduler', 'cron'], 0, withCron);
  const text = readFileSync(tab, 'utf8');
  assert.equal(text.split('\n')[0], '0 4 * * * /usr/local/bin/someone-else');
  assert.equal(text.match(/backup due --run --quiet/g)?.length, 1, text);
  assert.ok(text.includes(`PORTUNIX_HOME=${home} `), text);
  await cli(['backup', 'schedule', 'sqlite', '--uninstall', '--scheduler', 'cron'], 0, withCron);
  assert.equal(readFileSync(tab, 'utf8'), '0 4 * * * /usr/local/bin/someone-else\n');
  const events = audit().filter((e) => e.action.startsWith('backup-schedule-'));
  assert.deepEqual(events.map((e) => `${e.action} ${e.ok}`), ['backup-schedule-install true', 'backup-schedule-install true', 'backup-schedule-uninstall true']);
  // other platforms only plan; a wrong scheduler for the platform is refused
  const win = await cli(['backup', 'schedule', 'sqlite', '--install', '--dry-run', '--platform', 'windows']);
  assert.equal(win.json.scheduler, 'schtasks');
  assert.equal((await cli(['backup', 'schedule', 'sqlite', '--install', '--platform', 'macos'], 2)).json.error.code, 'USAGE');
  assert.equal((await cli(['backup', 'schedule', 'sqlite', '--install', '--scheduler', 'launchd'], 2)).json.error.code, 'USAGE');
  assert.equal(existsSync(join(home, 'backup-due.cmd')), false);
});

test('attack: a PORTUNIX_HOME with % is refused for cron and nothing is written', async () => {
  const pct = `${home}-100%`;
  const r = await runCli(['backup', 'schedule', 'sqlite', '--install', '--scheduler', 'cron', '--json'], { home: pct, env: withCron });
  assert.notEqual(r.code, 0);
  assert.equal(readFileSync(tab, 'utf8'), '0 4 * * * /usr/local/bin/someone-else\n');
});

test('backup status: overdue before the first scheduled backup, on schedule after, with the last verify and the size kept; status marks the overdue instance', async () => {
  await cli(['backup', 'schedule', 'sqlite', '--every', 'daily']);
  const before = healthOf((await cli(['backup', 'status'])).json);
  assert.equal(before?.overdue, true);
  assert.equal(before?.reason, 'no good backup yet');
  const st = await runCli(['status'], opts);
  assert.match(st.stdout, /warning: sqlite\/main: backup OVERDUE \(no good backup yet\)/);
  const run = await cli(['backup', 'due', '--run', '--verify']);
  assert.equal(run.json.backed_up, 1);
  const after = healthOf((await cli(['backup', 'status'])).json);
  assert.equal(after?.overdue, false, after?.reason);
  assert.equal(after?.last_good_backup?.database, 'app');
  assert.equal(after?.last_verify?.ok, true);
  assert.equal(after?.retained.count, 1);
  assert.ok((after?.retained.size_bytes ?? 0) > 0);
  assert.doesNotMatch((await runCli(['status'], opts)).stdout, /OVERDUE/);
});
