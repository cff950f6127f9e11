import { UsageError } from './errors.js';

/**
 * `backup --compress METHOD[:LEVEL]` (and the MCP `compress`): how a dump tool compresses what it
 * writes. The value is checked here, whole, before any engine sees it: it ends up in a dump
 * tool's argv, so nothing but a known method and a number in its range gets through.
 */
export type CompressionMethod = 'gzip' | 'lz4' | 'zstd' | 'none';

export interface Compression {
  method: CompressionMethod;
  /** Absent: the method's own default level. Never set for `none`. */
  level?: number;
}

/** The levels each method takes (zlib 1-9, LZ4 1-12, Zstandard 1-22), as pg_dump 16+ accepts them. */
export const COMPRESSION_LEVELS: Record<Exclude<CompressionMethod, 'none'>, readonly [number, number]> = {
  gzip: [1, 9],
  lz4: [1, 12],
  zstd: [1, 22],
};

const SHAPE = /^(gzip|lz4|zstd|none)(?::(\d{1,2}))?$/;

export function parseCompression(value: unknown): Compression | undefined {
  if (value === undefined) return undefined;
  const text = typeof value === 'string' ? value.trim().toLowerCase() : '';
  const m = SHAPE.exec(text);
  const hint = 'Use gzip, gzip:1 to gzip:9, lz4[:1-12], zstd[:1-22] or none, e.g. --compress gzip:6.';
  if (!m) throw new UsageError(`compress must be METHOD or METHOD:LEVEL (got ${JSON.stringify(value)}).`, 'USAGE', hint);
  const method = m[1] as CompressionMethod;
  if (m[2] === undefined) return { method };
  if (method === 'none') throw new UsageError('compress none takes no level.', 'USAGE', hint);
  const level = Number(m[2]);
  const [low, high] = COMPRESSION_LEVELS[method];
  if (level < low || level > high) throw new UsageError(`${method} levels run from ${low} to ${high} (got ${level}).`, 'USAGE', hint);
  return { method, level };
}

/** The text form, as a manifest records it: "gzip:1", "zstd", "none". */
export function formatCompression(c: Compression): string {
  return c.level === undefined ? c.method : `${c.method}:${c.level}`;
}
