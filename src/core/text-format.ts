/** Compact text for people and assistants alike: short aligned tables, never pretty-printed JSON. Both faces use it. */

export type Cell = string | number | boolean | null | undefined;

const MAX_CELL = 60;

function cell(v: Cell, max = MAX_CELL): string {
  if (v === undefined || v === null || v === '') return '-';
  const s = typeof v === 'number' ? String(v) : String(v).replace(/\s+/g, ' ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Rows as an aligned table with a header line. `fullLastColumn` keeps e.g. file paths whole. */
export function table(headers: string[], rows: Cell[][], options: { fullLastColumn?: boolean } = {}): string {
  if (rows.length === 0) return '(none)';
  const last = headers.length - 1;
  const text = rows.map((r) => headers.map((_, i) => cell(r[i], options.fullLastColumn && i === last ? Infinity : MAX_CELL)));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...text.map(line)].join('\n');
}

/** "key: value" pairs on one line. */
export function pairs(obj: Record<string, Cell>): string {
  return Object.entries(obj)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${k}: ${cell(v)}`)
    .join(', ');
}

export function bytes(n: number | undefined | null): string | undefined {
  if (n === undefined || n === null) return undefined;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

export function duration(seconds: number | undefined): string | undefined {
  if (seconds === undefined) return undefined;
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** The footer every paged result ends with. */
export function pageFooter(p: { items: unknown[]; total: number; truncated: boolean; next_cursor?: string }, noun: string): string {
  if (!p.truncated) return `${p.total} ${noun}`;
  return `showing ${p.items.length} of ${p.total} ${noun}; more with cursor: "${p.next_cursor}"`;
}

/** Objects as a table; columns default to every key seen, headers upper-cased. */
export function objectTable(input: readonly object[], columns?: string[], options: { fullLastColumn?: boolean } = {}): string {
  const rows = input as Record<string, unknown>[];
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const toCell = (v: unknown): Cell => (Array.isArray(v) ? v.join(',') : v !== null && typeof v === 'object' ? JSON.stringify(v) : (v as Cell));
  return table(
    cols.map((c) => c.toUpperCase()),
    rows.map((r) => cols.map((c) => toCell(r[c]))),
    options,
  );
}

/** Engine-specific details as one short line of text. */
export function detailsText(details: Record<string, unknown> | undefined, max = 300): string | undefined {
  if (!details) return undefined;
  const text = JSON.stringify(details);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
