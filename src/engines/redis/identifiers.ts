import { DbError } from '../../core/errors.js';

/** Redis servers start with 16 numbered keyspaces (`databases 16` in the generated redis.conf). */
export const KEYSPACE_COUNT = 16;

const USER = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

/**
 * Redis has no SQL and no quoting: a "database" is a keyspace number, a user is an ACL user
 * name. Tables and schemas do not exist; names given for them are accepted (bounded) so that
 * the operation itself can answer with its "not applicable" message, or use them as key prefixes.
 */
export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  switch (kind) {
    case 'database': {
      const n = /^(0|[1-9][0-9]?)$/.test(name) ? Number(name) : NaN;
      if (!Number.isInteger(n) || n < 0 || n >= KEYSPACE_COUNT) {
        throw new DbError(
          `"${name}" is not a Redis keyspace. Redis databases are the numbered keyspaces 0 to ${KEYSPACE_COUNT - 1}.`,
          'INVALID_IDENTIFIER',
          `Pass a keyspace number, e.g. \`0\`. \`portunix-db list --type redis\` shows the keyspaces that hold keys.`,
        );
      }
      return String(n);
    }
    case 'user':
      if (!USER.test(name)) {
        throw new DbError(`Invalid Redis ACL user name "${name}".`, 'INVALID_IDENTIFIER', 'Use 1-64 characters: letters, digits, "_", "-" or ".", starting with a letter.');
      }
      return name;
    case 'table':
    case 'schema':
      // eslint-disable-next-line no-control-regex
      if (name.length === 0 || name.length > 512 || /[\x00-\x1f\x7f]/.test(name)) {
        throw new DbError(`Invalid key prefix "${name.slice(0, 40)}".`, 'INVALID_IDENTIFIER', 'Use 1-512 printable characters.');
      }
      return name;
  }
}

/** Escapes glob characters so a prefix can be used in SCAN MATCH. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
