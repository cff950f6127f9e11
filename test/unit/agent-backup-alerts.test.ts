/**
 * A failed scheduled backup raises one alert, not two: the scheduled-backups task sees it at once
 * and the sampler sees it in the backup history (condition backup-failed). The agent's own two
 * tasks (agentTasks) run in-process against a home whose SQLite database is not a database, so
 * every backup of it fails for real; each order of the two tasks is tried, and the tasks without
 * shared claims show the duplicate this prevents.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentTasks } from '../../src/core/agent/registry.js';
import { scheduledBackupsTask } from '../../src/core/agent/backup-task.js';
import { samplerTask } from '../../src/core/monitor/sampler.js';
import { AlertClaims } from '../../src/core/agent/alert-claims.js';
import { createBackup } from '../../src/core/ops/backup.js';
import type { AgentAlert, AgentContext, AgentTask } from '../../src/core/agent/task.js';

const homes: string[] = [];
after(() => {
  for (const h of homes) rmSync(h, { recursive: true, force: true });
});

/** A home with one scheduled SQLite instance whose database `app` is garbage. */
function brokenHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'pdb-agent-alerts-'));
  homes.push(home);
  const data = join(home, 'instances', 'sqlite', 'main', 'data');
  mkdirSync(data, { recursive: true, mode: 0o700 });
  mkdirSync(join(home, 'backups', 'sqlite', 'main'), { recursive: true, mode: 0o700 });
  writeFileSync(join(data, 'app.db'), 'this is not a SQLite database\n'.repeat(20), { mode: 0o600 });
  const sqlite = { version: '3', host: '127.0.0.1', data_dir: data, backup_dir: join(home, 'backups', 'sqlite', 'main'), auto_backup: true, backup_schedule: 'daily', source: 'embedded', created_at: new Date().toISOString() };
  writeFileSync(join(home, 'config.json'), JSON.stringify({ databases: { sqlite } }, null, 2), { mode: 0o600 });
  process.env['PORTUNIX_HOME'] = home;
  process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';
  return home;
}

function context(home: string, alerts: AgentAlert[]): AgentContext {
  return { home, log: { info: () => undefined, warn: () => undefined }, signal: new AbortController().signal, alert: async (a) => void alerts.push(a) };
}

const failures = (alerts: AgentAlert[]) => alerts.filter((a) => a.kind === 'backup-failed');
const closeAll = (tasks: AgentTask[]) => tasks.forEach((t) => (t as { close?: () => void }).close?.());

test('the agent\'s tasks: backups first, then the sampler: one backup-failed alert, from the backup task, and it stays one', async () => {
  const home = brokenHome();
  const alerts: AgentAlert[] = [];
  const ctx = context(home, alerts);
  const tasks = agentTasks({ tickMs: 1000 });
  const [backups, sampler] = tasks as [AgentTask, AgentTask];
  try {
    await backups.run(ctx);
    assert.equal(failures(alerts).length, 1, JSON.stringify(alerts));
    assert.match(failures(alerts)[0]!.message, /scheduled backup of app failed/);
    await sampler.run(ctx);
    // a second round of each: the failure lasts, nothing new is alerted
    await backups.run(ctx);
    await sampler.run(ctx);
    assert.equal(failures(alerts).length, 1, JSON.stringify(failures(alerts)));
  } finally {
    closeAll(tasks);
  }
});

test('the sampler first (a failed attempt already in the history), then the backup task: one alert, from the sampler', async () => {
  const home = brokenHome();
  await assert.rejects(createBackup({ type: 'sqlite', database: 'app', progress: () => undefined }));
  const alerts: AgentAlert[] = [];
  const ctx = context(home, alerts);
  const tasks = agentTasks({ tickMs: 1000 });
  const [backups, sampler] = tasks as [AgentTask, AgentTask];
  try {
    await sampler.run(ctx);
    assert.equal(failures(alerts).length, 1, JSON.stringify(alerts));
    assert.match(failures(alerts)[0]!.message, /sqlite\/main\/app: the last backup .* failed/);
    await backups.run(ctx);
    await sampler.run(ctx);
    assert.equal(failures(alerts).length, 1, JSON.stringify(failures(alerts)));
  } finally {
    closeAll(tasks);
  }
});

test('without shared claims the two tasks alert the same failure twice (what agentTasks prevents)', async () => {
  const home = brokenHome();
  const alerts: AgentAlert[] = [];
  const ctx = context(home, alerts);
  const backups = scheduledBackupsTask({ tickMs: 1000 });
  const sampler = samplerTask();
  try {
    await backups.run(ctx);
    await sampler.run(ctx);
    assert.equal(failures(alerts).length, 2, JSON.stringify(failures(alerts)));
  } finally {
    sampler.close();
  }
});

test('claims: the first owner delivers, the other stays quiet until it is released; only the holder releases', () => {
  const c = new AlertClaims();
  assert.equal(c.claim('k', 'a'), true);
  assert.equal(c.claim('k', 'a'), true, 'its holder may alert a change');
  assert.equal(c.claim('k', 'b'), false);
  c.release('k', 'b');
  assert.equal(c.claim('k', 'b'), false, 'b cannot release what a holds');
  c.release('k', 'a');
  assert.equal(c.claim('k', 'b'), true);
});
