/**
 * Input and output pieces every tool shares, so that names and limits read the same everywhere.
 * The common parameters (type, instance, database, limit, cursor) carry no description: the
 * server's instructions explain them once, instead of every tool in tools/list repeating them.
 */
import { z } from 'zod';
import { MAX_LIMIT } from '../core/paging.js';

/**
 * First line of defence only: the engine validates and quotes identifiers by its own rules
 * (validateIdentifier). This rejects what is never a name in any engine we support.
 */
const NO_SQL_METACHARACTERS = /^[^\x00-\x1f\x7f"'`;\\]+$/;

export function identifier(what: string): z.ZodString {
  return z
    .string()
    .min(1)
    .max(128)
    .regex(NO_SQL_METACHARACTERS, `${what} must be a plain name: no quotes, backticks, semicolons, backslashes or control characters`);
}

/**
 * A database name, or a number where the engine numbers its databases (a Redis keyspace: 0,
 * as JSON clients naturally send it, means "0"). Numbers are turned into their decimal string;
 * the engine then validates it like any other name.
 */
export const databaseParam = z
  .union([identifier('database'), z.number().int().min(0).max(2 ** 31 - 1)])
  .transform((v) => String(v));

export const engineParam = z.string().min(1).max(32);
export const instanceParam = z
  .string()
  .min(1)
  .max(32)
  .regex(/^[a-z][a-z0-9_-]*$/, 'instance names are lower-case letters, digits, "-" or "_"')
  .optional();

export const target = { type: engineParam, instance: instanceParam };

export const paging = {
  limit: z.number().int().min(1).max(MAX_LIMIT).optional(),
  cursor: z.string().min(1).max(400).optional(),
};

/** Page fields every list result carries. */
export const pageOutput = {
  total: z.number().int(),
  truncated: z.boolean(),
  next_cursor: z.string().optional(),
};

export const where = {
  engine: z.string(),
  instance: z.string(),
};

/** Copies defined, non-null values only (optional output fields must be absent, not null). */
export function defined<T extends object>(obj: T): { [K in keyof T]: Exclude<T[K], null> } {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined && v !== null) out[k] = v;
  return out as never;
}

// ---------- item shapes shared by several tools (they mirror src/engines/contract.ts) ----------

export const databaseItem = z.object({
  name: z.string(),
  sizeBytes: z.number().optional(),
  owner: z.string().optional(),
  encoding: z.string().optional(),
  collation: z.string().optional(),
  keys: z.number().optional(),
  path: z.string().optional(),
});

export const tableItem = z.object({
  schema: z.string().optional(),
  name: z.string(),
  kind: z.string(),
  rows: z.number().optional(),
  rowsEstimated: z.boolean().optional(),
  sizeBytes: z.number().optional(),
  details: z.record(z.string(), z.unknown()).optional().describe('Engine-specific facts (TimescaleDB: chunks, compression, policies)'),
});

