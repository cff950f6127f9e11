import { DbError } from './errors.js';

/** A TCP port a server can listen on: an integer 1-65535. Checked where it enters, never stored bad. */
export function validatePort(port: unknown, what = '--port'): number {
  const n = typeof port === 'string' && /^\d+$/.test(port.trim()) ? Number(port) : port;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 65535) {
    throw new DbError(`${what} ${String(port)} is not a TCP port.`, 'USAGE', 'Pass a whole number from 1 to 65535 (or leave it out to pick a free one).');
  }
  return n;
}
