/**
 * The backup schedule grammar: `hourly`, `daily`, `weekly` (at least once per interval, counted
 * from the last good backup) or a five-field cron expression (at each slot, parsed by croner),
 * read in an IANA time zone, with a deterministic jitter so many instances do not start at once.
 */
import { createHash } from 'node:crypto';
import { Cron } from 'croner';
import { DbError } from './errors.js';

export type ScheduleInterval = 'hourly' | 'daily' | 'weekly';
export const INTERVAL_MS: Record<ScheduleInterval, number> = {
  hourly: 60 * 60 * 1000,
  daily: 24 * 60 * 60 * 1000,
  weekly: 7 * 24 * 60 * 60 * 1000,
};
const KEYWORDS = Object.keys(INTERVAL_MS) as ScheduleInterval[];

/** Five fields of digits, names and * / , - only: no seconds field (a backup a second), no @reboot, no shell text. */
const CRON_SHAPE = /^[0-9A-Za-z*/,-]+( [0-9A-Za-z*/,-]+){4}$/;

export function isInterval(value: string): value is ScheduleInterval {
  return (KEYWORDS as string[]).includes(value);
}

function cronOf(expr: string, timezone?: string): Cron {
  return new Cron(expr, { paused: true, ...(timezone ? { timezone } : {}) });
}

/** Why `value` is not a schedule, or undefined when it is one (a keyword, or a cron expression that fires). */
export function scheduleProblem(value: string): string | undefined {
  if (isInterval(value)) return undefined;
  if (value.length > 100 || !CRON_SHAPE.test(value)) return `"${value.slice(0, 100)}" is not hourly, daily, weekly or a five-field cron expression (minute hour day-of-month month day-of-week)`;
  try {
    if (!cronOf(value).nextRun(new Date())) return `the cron expression "${value}" never fires`;
  } catch (err) {
    return `"${value}" is not a valid cron expression: ${(err as Error).message.replace(/^CronPattern: /, '')}`;
  }
  return undefined;
}

export function checkSchedule(value: string, what = 'backup schedule'): string {
  const problem = scheduleProblem(value);
  if (problem) throw new DbError(`Invalid ${what}: ${problem}.`, 'USAGE', 'Use hourly, daily, weekly, or cron like "30 2 * * *" (02:30 every day) or "0 3 * * 0" (Sundays 03:00).');
  return value;
}

export function timezoneProblem(tz: string): string | undefined {
  if (tz.length > 64 || !/^[A-Za-z0-9_+\-/]+$/.test(tz)) return `"${tz.slice(0, 64)}" is not an IANA time zone name`;
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return undefined;
  } catch {
    return `"${tz}" is not a time zone this system knows (use a name like Europe/Prague or UTC)`;
  }
}

export interface TimingOptions {
  timezone?: string;
  jitter_seconds?: number;
}

/** A stable offset in [0, jitter] for this instance and slot: the same at every check, different between instances. */
export function jitterMs(key: string, slot: Date, jitterSeconds = 0): number {
  if (!jitterSeconds) return 0;
  const h = createHash('sha256').update(`${key}@${slot.toISOString()}`).digest();
  return h.readUInt32BE(0) % (jitterSeconds * 1000 + 1);
}

/**
 * When the next backup is due, given the last good one: never backed up is due at once; an
 * interval counts from the last one; a cron schedule is due at the first slot after the last one
 * (so slots missed while the machine was off are run once, not once each). Plus the jitter.
 */
export function dueAt(schedule: string, last: Date | undefined, key: string, options: TimingOptions = {}): Date {
  if (!last || Number.isNaN(last.getTime())) return new Date(0);
  let slot: Date;
  if (isInterval(schedule)) slot = new Date(last.getTime() + INTERVAL_MS[schedule]);
  else slot = cronOf(schedule, options.timezone).nextRun(last) ?? new Date(8.64e15);
  return new Date(slot.getTime() + jitterMs(key, slot, options.jitter_seconds));
}
