/**
 * Issue 17, "a missed window runs once", through the real agent (`portunix-db monitor`): a
 * database whose last good backup is five days old, on a daily cron, has missed five slots
 * while no agent ran. The agent makes one backup at start, not five, and then waits for the
 * next slot. SQLite (embedded); the old backup is a real one whose manifest times are moved
 * back and re-signed with the home's key (resignManifest), as a backup made five days ago is.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { resignManifest } from '../helpers/backup.js';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const home = freshHome('agent-missed');
const opts = { home, env: { PORTUNIX_DB_AGENT_TICK_MS: '300' }, timeoutMs: 300_000 };
const cli = (args: string[]) => cliOk([...args, '--json'], opts);
const DAY = 86_400_000;

interface Entry { file: string; database: string; finished_at: string }
const backupsOfApp = async (): Promise<Entry[]> => ((await cli(['backup', 'list', '--type', 'sqlite'])).json as Entry[]).filter((b) => b.database === 'app');
const agentBackups = () => (existsSync(join(home, 'audit.log')) ? readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []).filter((a) => a.action === 'backup' && a.via === 'agent' && a.target === 'app');

before(async () => {
  const s = await cli(['install', 'sqlite', '--source', 'embedded']);
  await cli(['create', 'app', '--type', 'sqlite']);
  const db = new Database(join(s.json.data_dir, 'app.db'));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('a'), ('b')");
  db.close();
});

after(async () => {
  await runCli(['monitor', 'stop'], opts).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

test('five missed daily slots: the agent backs up once at start, then waits for the next slot', async () => {
  // a real backup, moved five days back (and re-signed, as its own backup would be)
  const old = (await cli(['backup', 'app', '--type', 'sqlite'])).json.file as string;
  const manifest = JSON.parse(readFileSync(`${old}.manifest.json`, 'utf8'));
  const now = Date.now();
  manifest.started_at = new Date(now - 5 * DAY - 1000).toISOString();
  manifest.finished_at = new Date(now - 5 * DAY).toISOString();
  writeFileSync(`${old}.manifest.json`, JSON.stringify(manifest));
  await resignManifest(home, old);
  // daily at the hour half a day from now (UTC): five slots passed since that backup, and the next one is hours away
  const hour = (new Date(now).getUTCHours() + 12) % 24;
  await cli(['backup', 'schedule', 'sqlite', '--every', `0 ${hour} * * *`, '--tz', 'UTC']);
  const before = (await cli(['backup', 'due'])).json;
  const dueBefore = before.instances[0].databases.find((d: { database: string }) => d.database === 'app');
  assert.equal(dueBefore.due, true, JSON.stringify(before));
  assert.ok(Date.parse(dueBefore.due_at) < now - 4 * DAY, `due since the first missed slot: ${dueBefore.due_at}`);
  assert.equal(agentBackups().length, 0);

  await cli(['monitor', '--detach']);
  const afterRun = await until('the agent backs up app', backupsOfApp, (l) => l.length >= 2);
  const made = afterRun.filter((b) => b.file !== old).sort((a, b) => a.finished_at.localeCompare(b.finished_at))[0]!;
  // more rounds of the scheduled-backups task after that backup: none backs up again
  const rounds = new Set<string>();
  await until(
    'three more rounds of the scheduled-backups task',
    async () => {
      const last = (await cli(['monitor', 'status'])).json.tasks?.['scheduled-backups']?.last_run as string | undefined;
      if (last && Date.parse(last) > Date.parse(made.finished_at)) rounds.add(last);
      return rounds.size;
    },
    (n) => n >= 3,
  );
  assert.equal((await backupsOfApp()).length, 2, 'one backup for five missed slots');
  assert.equal(agentBackups().filter((a) => a.ok).length, 1);
  assert.equal(agentBackups().length, 1, 'no failed attempts either');
  // and the next run is the next slot, in the future
  const dueAfter = (await cli(['backup', 'due'])).json.instances[0].databases.find((d: { database: string }) => d.database === 'app');
  assert.equal(dueAfter.due, false, JSON.stringify(dueAfter));
  assert.ok(Date.parse(dueAfter.due_at) > Date.now(), `next slot ahead: ${dueAfter.due_at}`);
  assert.equal(new Date(dueAfter.due_at).getUTCHours(), hour);
  await cli(['monitor', 'stop']);
});
