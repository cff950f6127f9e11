/** Backup health per scheduled instance (status, backup status, db_backup_status): a pure function over kept backups, verifications and an injected "now". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeBackupHealth, healthLine, healthMarker, type HealthBackup } from '../../src/core/ops/backup-schedule.js';

const NOW = new Date('2026-03-10T12:00:00.000Z');
const H = 60 * 60 * 1000;
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();
const b = (database: string, agoMs: number, over: Partial<HealthBackup> = {}): HealthBackup => ({ engine: 'sqlite', instance: 'main', database, scope: 'database', finished_at: ago(agoMs), file: `/b/${database}-${agoMs}`, size_bytes: 100, ...over });
const inst = { engine: 'sqlite' as const, instance: 'main', schedule: 'daily' };
const none = new Map<string, { ok: boolean; at: string; error?: string }>();

test('an interval schedule is overdue past 1.5 intervals of the stalest database, not before', () => {
  const fresh = computeBackupHealth(inst, [b('a', 35 * H), b('a', 2 * H), b('c', 30 * H)], none, NOW);
  assert.equal(fresh.overdue, false, fresh.reason);
  assert.equal(fresh.last_good_backup?.database, 'c');
  assert.equal(fresh.last_good_backup?.age_seconds, 30 * 3600);
  assert.equal(fresh.overdue_at, new Date(NOW.getTime() - 30 * H + 36 * H).toISOString());
  const late = computeBackupHealth(inst, [b('a', 2 * H), b('c', 37 * H)], none, NOW);
  assert.equal(late.overdue, true);
  assert.match(late.reason, /^c: last good backup is older than 1\.5 × daily$/);
  assert.equal(computeBackupHealth({ ...inst, schedule: 'hourly' }, [b('a', 2 * H)], none, NOW).overdue, true);
  assert.equal(computeBackupHealth({ ...inst, schedule: 'weekly' }, [b('a', 9 * 24 * H)], none, NOW).overdue, false);
  // other instances' backups do not count
  assert.equal(computeBackupHealth(inst, [b('a', H, { instance: 'other' })], none, NOW).overdue, true);
});

test('never backed up is overdue; the retained count and size cover every kept backup', () => {
  const h = computeBackupHealth(inst, [], none, NOW);
  assert.equal(h.overdue, true);
  assert.equal(h.reason, 'no good backup yet');
  assert.deepEqual(h.retained, { count: 0, size_bytes: 0 });
  const k = computeBackupHealth(inst, [b('a', H, { size_bytes: 10 }), b('a', 2 * H, { size_bytes: 32 }), b('x', H, { engine: 'redis', size_bytes: 999 })], none, NOW);
  assert.deepEqual(k.retained, { count: 2, size_bytes: 42 });
});

test('a cron schedule is overdue once its next slot (plus 15 min grace) passed without a backup', () => {
  const cron = { ...inst, schedule: '0 3 * * *' };
  // last backup yesterday 03:00; the slot today 03:00 passed at NOW (12:00)
  const missed = computeBackupHealth(cron, [b('a', 33 * H)], none, NOW);
  assert.equal(missed.overdue, true);
  assert.equal(missed.overdue_at, '2026-03-10T03:15:00.000Z');
  // backed up at 03:00 today: next slot tomorrow
  const ok = computeBackupHealth(cron, [b('a', 9 * H)], none, NOW);
  assert.equal(ok.overdue, false);
  assert.equal(ok.overdue_at, '2026-03-11T03:15:00.000Z');
  // within the grace after the slot: not yet overdue
  const grace = computeBackupHealth(cron, [b('a', 24 * H + 10 * 60 * 1000)], none, new Date('2026-03-10T03:10:00.000Z'));
  assert.equal(grace.overdue, false);
});

test('the last verify and its age; a backup whose verify failed is not good and is flagged', () => {
  const good = b('a', 3 * H);
  const bad = b('a', H);
  const v = new Map([[good.file, { ok: true, at: ago(2 * H) }], [bad.file, { ok: false, at: ago(H / 2), error: 'row count differs' }]]);
  const h = computeBackupHealth(inst, [good, bad], v, NOW);
  assert.equal(h.verify_failed, true);
  assert.deepEqual(h.last_verify, { file: bad.file, at: ago(H / 2), ok: false, age_seconds: 1800, error: 'row count differs' });
  assert.equal(h.last_good_backup?.file, good.file, 'the failed one is not the last good backup');
  assert.equal(healthMarker(h), 'sqlite/main: last verify FAILED: row count differs');
  const onlyBad = computeBackupHealth(inst, [bad], v, NOW);
  assert.equal(onlyBad.overdue, true);
  assert.equal(onlyBad.reason, 'a has no good backup');
  assert.match(healthMarker(onlyBad)!, /^sqlite\/main: backup OVERDUE \(a has no good backup\); last verify FAILED/);
  const fine = computeBackupHealth(inst, [good], v, NOW);
  assert.equal(healthMarker(fine), undefined);
  assert.match(healthLine(fine), /^sqlite\/main \(daily\): on schedule; last verify ok .*; kept 1 \(100 B\)$/);
});

test('an instance-wide backup (Redis RDB) covers every database of its instance', () => {
  const r = { engine: 'redis' as const, instance: 'main', schedule: 'daily' };
  const h = computeBackupHealth(r, [b('0', 2 * H, { engine: 'redis', scope: 'instance' })], none, NOW);
  assert.equal(h.overdue, false, h.reason);
});
