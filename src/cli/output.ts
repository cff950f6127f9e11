import { DbError, exitCodeFor, toDbError } from '../core/errors.js';

export interface GlobalFlags {
  json?: boolean;
  quiet?: boolean;
}

export { objectTable as table, pairs } from '../core/text-format.js';
import { bytes as bytesOrUndefined, duration as durationOrUndefined } from '../core/text-format.js';

export function bytes(n: number | undefined): string {
  return bytesOrUndefined(n) ?? '-';
}

export function duration(seconds: number | undefined): string {
  return durationOrUndefined(seconds) ?? '-';
}

export function keyValues(obj: Record<string, unknown>): string {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('\n');
}

/**
 * Runs a command body: with --json exactly one JSON document goes to stdout (the result, or
 * {"error": {...}}); otherwise the human rendering. Failures set a non-zero exit code and
 * never print a stack trace (set PORTUNIX_DB_DEBUG=1 for one).
 */
export async function emit<T>(flags: GlobalFlags, body: () => Promise<T>, human: (result: T) => string, failed?: (result: T) => DbError | undefined): Promise<void> {
  try {
    const result = await body();
    if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else {
      const text = human(result);
      if (text) process.stdout.write(text.endsWith('\n') ? text : text + '\n');
    }
    const failure = failed?.(result);
    if (failure) {
      if (!flags.json) printError(failure);
      process.exitCode = exitCodeFor(failure);
    }
  } catch (err) {
    const e = toDbError(err);
    if (process.env['PORTUNIX_DB_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    if (flags.json) process.stdout.write(JSON.stringify({ error: e.toJSON() }, null, 2) + '\n');
    else printError(e);
    process.exitCode = exitCodeFor(e);
  }
}

export function printError(e: DbError): void {
  process.stderr.write(`error: ${e.message}\n`);
  if (e.hint) process.stderr.write(`hint:  ${e.hint}\n`);
}
