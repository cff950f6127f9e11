import { InvalidArgumentError } from 'commander';
import type { GlobalFlags } from '../output.js';

export type Flags = GlobalFlags;

export function intOption(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not a whole number.`);
  return n;
}

export function listOption(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}
