import { DbError, exitCodeFor, toDbError } from '../core/errors.js';

export interface GlobalFlags {
  json?: boolean;
  quiet?: boolean;
}

/** Plain aligned columns: compact, copy-pasteable, no box drawing. */
export function table(input: readonly object[], columns?: string[]): string {
  const rows = input as Record<string, unknown>[];
  if (rows.length === 0) return '(none)';
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: unknown): string => {
    if (v === undefined || v === null) return '-';
    if (Array.isArray(v)) return v.join(',');
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  };
  const matrix = [cols.map((c) => c.toUpperCase()), ...rows.map((r) => cols.map((c) => cell(r[c])))];
  const widths = cols.map((_, i) => Math.min(60, Math.max(...matrix.map((row) => row[i]!.length))));
  return matrix
    .map((row) =>
      row
        .map((v, i) => (v.length > widths[i]! ? v.slice(0, widths[i]! - 1) + '…' : v.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function keyValues(obj: Record<string, unknown>): string {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('\n');
}

export function bytes(n: number | undefined): string {
  if (n === undefined) return '-';
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function duration(seconds: number | undefined): string {
  if (seconds === undefined) return '-';
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h${Math.floor((seconds % 3600) / 60)}m`;
  return `${Math.floor(seconds / 86400)}d${Math.floor((seconds % 86400) / 3600)}h`;
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
