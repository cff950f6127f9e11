/** Schedules (keywords, cron, time zones, jitter, missed slots) and retention decisions: pure functions with an injected "now". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSchedule, dueAt, jitterMs, scheduleProblem, timezoneProblem } from '../../src/core/schedule.js';
import { planRetention, type RetentionInput } from '../../src/core/ops/backup-prune.js';
import { configSchema } from '../../src/core/config-schema.js';

test('keywords and five-field cron expressions are schedules; anything else is refused with the reason', () => {
  for (const ok of ['hourly', 'daily', 'weekly', '* * * * *', '30 2 * * *', '0 3 * * 0', '*/15 * * * MON-FRI']) assert.equal(scheduleProblem(ok), undefined, ok);
  const attacks = ['monthly', '', '@reboot', '* * * * * *', '0 0 31 2 *', '$(touch /tmp/x) * * * *', '* * * * *; rm -rf /', '* * * * *\n* * * * *', 'x'.repeat(500), '61 * * * *', '* * * *'];
  for (const bad of attacks) assert.ok(scheduleProblem(bad), `refused: ${JSON.stringify(bad.slice(0, 40))}`);
  assert.match(scheduleProblem('0 0 31 2 *')!, /never fires/);
  assert.throws(() => checkSchedule('@reboot'), (e: Error & { code?: string }) => e.code === 'USAGE');
});

test('time zones: IANA names only', () => {
  assert.equal(timezoneProblem('Europe/Prague'), undefined);
  assert.equal(timezoneProblem('UTC'), undefined);
  for (const bad of ['Mars/Olympus', '../../etc/passwd', 'Europe/Prague; rm', '']) assert.ok(timezoneProblem(bad), bad);
});

test('the config refuses a bad schedule, zone or retention rule', () => {
  const inst = (over: Record<string, unknown>) => ({ databases: { sqlite: { version: '3', data_dir: '/d', backup_dir: '/b', ...over } } });
  assert.ok(configSchema.safeParse(inst({ backup_schedule: '*/5 * * * *', backup_options: { timezone: 'Europe/Prague', jitter_seconds: 60, encrypt: true, verify_every: 'weekly', retention: { keep_last: 3, keep_daily: 7 } } })).success);
  for (const bad of [{ backup_schedule: '@reboot' }, { backup_options: { timezone: 'Nowhere/X' } }, { backup_options: { retention: { keep_last: 0 } } }, { backup_options: { retention: { keep_last: -1 } } }, { backup_options: { retention: { max_total_bytes: 1.5 } } }, { backup_options: { jitter_seconds: 10 ** 9 } }, { backup_options: { retention: { nope: 1 } } }]) {
    assert.equal(configSchema.safeParse(inst(bad)).success, false, JSON.stringify(bad));
  }
});

test('cron: due at the first slot after the last good backup; missed slots run once', () => {
  const last = new Date('2026-03-10T02:30:05Z');
  // daily at 02:30 UTC: next due the next day at 02:30
  assert.equal(dueAt('30 2 * * *', last, 'k').toISOString(), '2026-03-11T02:30:00.000Z');
  // a machine off for a week: one due time in the past, so one run at start, not seven
  const due = dueAt('30 2 * * *', last, 'k');
  const afterWeek = new Date('2026-03-17T12:00:00Z');
  assert.ok(due <= afterWeek);
  // after that single run, the next is the next slot after it
  assert.equal(dueAt('30 2 * * *', afterWeek, 'k').toISOString(), '2026-03-18T02:30:00.000Z');
  // the time zone moves the slot: 02:30 in Prague (UTC+1 in March before DST) is 01:30 UTC
  assert.equal(dueAt('30 2 * * *', last, 'k', { timezone: 'Europe/Prague' }).toISOString(), '2026-03-11T01:30:00.000Z');
  // never backed up: due now
  assert.equal(dueAt('30 2 * * *', undefined, 'k').getTime(), 0);
  // keywords count from the last backup
  assert.equal(dueAt('hourly', last, 'k').getTime(), last.getTime() + 3_600_000);
});

test('jitter is stable for one instance and slot, within the window, and spreads instances', () => {
  const slot = new Date('2026-03-11T02:30:00Z');
  assert.equal(jitterMs('a', slot, 600), jitterMs('a', slot, 600));
  const values = ['a', 'b', 'c', 'd', 'e'].map((k) => jitterMs(k, slot, 600));
  for (const v of values) assert.ok(v >= 0 && v <= 600_000);
  assert.ok(new Set(values).size > 1);
  assert.equal(jitterMs('a', slot, 0), 0);
});

const day = (n: number, hour = 3) => new Date(Date.UTC(2026, 2, n, hour)).toISOString();
const NOW = new Date(Date.UTC(2026, 2, 31, 12));
const b = (file: string, finished_at: string, over: Partial<RetentionInput> = {}): RetentionInput => ({ file, finished_at, size_bytes: 100, ...over });
const removed = (p: ReturnType<typeof planRetention>) => p.remove.map((r) => r.file).sort();

test('keep_last N keeps the newest N good ones', () => {
  const chain = [b('a', day(1)), b('b', day(2)), b('c', day(3)), b('d', day(4))];
  assert.deepEqual(removed(planRetention(chain, { keep_last: 2 }, NOW)), ['a', 'b']);
});

test('never removes the newest verified-good backup, nor anything newer than the newest good one', () => {
  const chain = [b('old-verified', day(1), { verified: true }), b('b', day(2)), b('c', day(3)), b('bad-newest', day(4), { verified: false })];
  const p = planRetention(chain, { keep_last: 1 }, NOW);
  assert.deepEqual(removed(p), ['b']);
  assert.ok(p.keep.find((k) => k.file === 'bad-newest')!.reasons.includes('newer than the newest good backup'));
  assert.ok(p.keep.find((k) => k.file === 'old-verified')!.reasons.includes('the newest verified-good backup'));
});

test('no good backup at all: nothing is removed', () => {
  const chain = [b('x', day(1), { verified: false }), b('y', day(2), { verified: false })];
  assert.deepEqual(removed(planRetention(chain, { keep_last: 1, max_age_days: 1 }, NOW)), []);
});

test('GFS keeps the newest of each day, week and month', () => {
  const chain = [b('d1a', day(1, 1)), b('d1b', day(1, 5)), b('d2', day(2)), b('d9', day(9)), b('d16', day(16)), b('d30a', day(30, 1)), b('d30b', day(30, 5))];
  const p = planRetention(chain, { keep_daily: 2, keep_weekly: 3 }, NOW);
  // days: 30 (d30b), 16 (d16); weeks: W14 (d30b), W12 (d16), W11 (d9)
  assert.deepEqual(removed(p), ['d1a', 'd1b', 'd2', 'd30a']);
  const monthly = planRetention(chain.concat(b('feb', new Date(Date.UTC(2026, 1, 20)).toISOString())), { keep_monthly: 2 }, NOW);
  assert.deepEqual(removed(monthly), ['d16', 'd1a', 'd1b', 'd2', 'd30a', 'd9']);
});

test('max_age_days and max_total_bytes remove the oldest; the newest good stays whatever its age or size', () => {
  const chain = [b('a', day(1)), b('b', day(20)), b('c', day(29))];
  assert.deepEqual(removed(planRetention(chain, { max_age_days: 5 }, NOW)), ['a', 'b']);
  assert.deepEqual(removed(planRetention(chain, { max_age_days: 0.001 }, NOW)), ['a', 'b']);
  assert.deepEqual(removed(planRetention(chain, { max_total_bytes: 250 }, NOW)), ['a']);
  assert.deepEqual(removed(planRetention([b('big', day(29), { size_bytes: 10 ** 9 })], { max_total_bytes: 1 }, NOW)), []);
});
