import { DbError } from './errors.js';

/**
 * Bounded results: a cap on items and on bytes. A cut result says it is cut and gives the
 * cursor for the next page. Cursors are opaque (base64url): an offset into a list the caller
 * already holds ("o:N"), or, where the engine pages in its catalog query (keyset paging), the
 * last item's key ("k:" + a JSON array of strings), so the next page is the rows after it in the
 * catalog's own order: nothing re-reads the earlier pages, and a table created or dropped meanwhile
 * neither repeats nor skips the others.
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

function invalidCursor(cursor: string): DbError {
  return new DbError(`Invalid cursor "${cursor.slice(0, 200)}".`, 'USAGE', 'Pass the next_cursor value from the previous page, or leave cursor out for the first page.');
}

export function decodeCursor(cursor: string | undefined): number {
  if (!cursor) return 0;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const m = /^o:(\d+)$/.exec(text);
  if (!m) throw invalidCursor(cursor);
  return Number(m[1]);
}

/** Longest key part a keyset cursor carries (catalog names are far shorter: PostgreSQL's are 63 bytes). */
const MAX_KEY_PART = 256;

export function encodeKeyCursor(key: readonly string[]): string {
  return Buffer.from(`k:${JSON.stringify(key)}`).toString('base64url');
}

/** The key a keyset cursor carries: exactly `width` strings, or a USAGE error. Undefined for the first page. */
export function decodeKeyCursor(cursor: string | undefined, width: number): string[] | undefined {
  if (!cursor) return undefined;
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!text.startsWith('k:') || Buffer.from(text).toString('base64url') !== cursor.replace(/=+$/, '')) throw invalidCursor(cursor);
  let key: unknown;
  try {
    key = JSON.parse(text.slice(2));
  } catch {
    throw invalidCursor(cursor);
  }
  if (!Array.isArray(key) || key.length !== width || !key.every((k) => typeof k === 'string' && k.length <= MAX_KEY_PART && !k.includes('\0'))) throw invalidCursor(cursor);
  return key as string[];
}

/** The items per page a request asks for, within 1..MAX_LIMIT. */
export function pageLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, limit ?? DEFAULT_LIMIT), MAX_LIMIT);
}

/**
 * Cuts one keyset page: `rows` are the rows after the cursor, in key order, as the engine read
 * them (it reads one more than the limit, so a page that fills the limit knows whether more follow);
 * `total` counts every row. The same item and byte caps as `page`.
 */
export function keysetPage<T>(rows: readonly T[], total: number, keyOf: (item: T) => string[], options: { limit?: number; maxBytes?: number } = {}): Page<T> {
  const limit = pageLimit(options.limit);
  const { items, next } = fill(rows, 0, limit, options.maxBytes ?? DEFAULT_MAX_BYTES);
  const truncated = next < rows.length;
  const last = items[items.length - 1];
  return { items, total, truncated, ...(truncated && last !== undefined ? { next_cursor: encodeKeyCursor(keyOf(last)) } : {}) };
}

/** Items from `start` up to the limit and the byte cap (always at least one), and where it stopped. */
function fill<T>(all: readonly T[], start: number, limit: number, maxBytes: number): { items: T[]; next: number } {
  const items: T[] = [];
  let bytes = 0;
  let i = start;
  for (; i < all.length && items.length < limit; i++) {
    const size = Buffer.byteLength(JSON.stringify(all[i]));
    if (items.length > 0 && bytes + size > maxBytes) break;
    bytes += size;
    items.push(all[i]!);
  }
  return { items, next: i };
}

export function page<T>(all: readonly T[], options: { limit?: number; cursor?: string; maxBytes?: number } = {}): Page<T> {
  const { items, next } = fill(all, decodeCursor(options.cursor), pageLimit(options.limit), options.maxBytes ?? DEFAULT_MAX_BYTES);
  const truncated = next < all.length;
  return { items, total: all.length, truncated, ...(truncated ? { next_cursor: encodeCursor(next) } : {}) };
}

/** Cuts long text (queries in connection lists) and says so. */
export function clip(text: string | undefined | null, max = 200): string | undefined {
  if (text == null) return undefined;
  return text.length > max ? text.slice(0, max) + `… (+${text.length - max} chars)` : text;
}
