import { DbError } from './errors.js';

/**
 * Bounded results: a cap on items and on bytes. A cut result says it is cut and gives the
 * cursor for the next page. Cursors are opaque (base64 offsets) so they can change later.
 */
export interface Page<T> {
  items: T[];
  total: number;
  truncated: boolean;
  next_cursor?: string;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;
export const DEFAULT_MAX_BYTES = 64 * 1024;

export function encodeCursor(offset: number): string {
  return Buffer.from(`o:${offset}`).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number {
  if (!cursor) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^o:(\d+)$/.exec(text);
  if (!m) throw new DbError(`Invalid cursor "${cursor.slice(0, 200)}".`, 'USAGE', 'Pass the next_cursor value from the previous page, or leave cursor out for the first page.');
  return Number(m[1]);
}

export function page<T>(all: readonly T[], options: { limit?: number; cursor?: string; maxBytes?: number } = {}): Page<T> {
  const limit = Math.min(Math.max(1, options.limit ?? DEFAULT_LIMIT), MAX_LIMIT);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const start = decodeCursor(options.cursor);
  const items: T[] = [];
  let bytes = 0;
  let i = start;
  for (; i < all.length && items.length < limit; i++) {
    const size = Buffer.byteLength(JSON.stringify(all[i]));
    if (items.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    items.push(all[i]!);
  }
  const truncated = i < all.length;
  return { items, total: all.length, truncated, ...(truncated ? { next_cursor: encodeCursor(i) } : {}) };
}

/** Cuts long text (queries in connection lists) and says so. */
export function clip(text: string | undefined | null, max = 200): string | undefined {
  if (text == null) return undefined;
  return text.length > max ? text.slice(0, max) + `… (+${text.length - max} chars)` : text;
}
