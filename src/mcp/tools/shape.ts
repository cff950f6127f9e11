/** Helpers for core results whose shape is a plain record (backup and maintenance outcomes). */
import type { Cell } from '../format.js';

/** A list of records from an array, or from the first array-valued field of an object. */
export function asRecords(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter(isRecord);
  if (isRecord(value)) {
    for (const key of ['items', 'databases', 'entries', 'backups']) {
      const v = value[key];
      if (Array.isArray(v)) return v.filter(isRecord);
    }
    return [value];
  }
  return [];
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The first present scalar among keys, looking one level into nested records too ("last.at"). */
export function pick(obj: Record<string, unknown>, ...keys: string[]): Cell {
  for (const k of keys) {
    const v = obj[k];
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  }
  for (const v of Object.values(obj)) {
    if (isRecord(v)) {
      const inner = pick(v, ...keys);
      if (inner !== undefined) return inner;
    }
  }
  return undefined;
}
