import { DbError } from '../../core/errors.js';

/** Databases the server owns; portunix-db never creates, drops, backs up or restores into them. */
export const SYSTEM_DATABASES = new Set(['admin', 'local', 'config']);

// MongoDB (and FerretDB) database names: no / \ . space " $ * < > : | ? or NUL, under 64 bytes
const DATABASE = /^[A-Za-z0-9_-]{1,63}$/;
const USER = /^[A-Za-z][A-Za-z0-9_.@-]{0,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * MongoDB has no quoting: names go into commands as BSON strings, never into query text, so
 * "injection" means a name that changes what a command does. Refused here: `$` (operators and
 * `$cmd`-style namespaces), dots in database names (they split namespaces), `system.` prefixes,
 * control characters, and anything shaped like an object.
 */
export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  if (typeof name !== 'string') throw new DbError('A name must be a string.', 'INVALID_IDENTIFIER');
  switch (kind) {
    case 'database':
      if (!DATABASE.test(name)) {
        throw new DbError(
          `"${name.slice(0, 80)}" is not a database name portunix-db accepts for MongoDB.`,
          'INVALID_IDENTIFIER',
          'Use 1-63 characters: letters, digits, "_" or "-" (MongoDB forbids / \\ . " $ * < > : | ? and spaces in database names).',
        );
      }
      return name;
    case 'table':
    case 'schema':
      if (name.length === 0 || Buffer.byteLength(name) > 200 || CONTROL.test(name) || name.includes('$') || name.startsWith('system.') || name.startsWith('.') || name.endsWith('.')) {
        throw new DbError(
          `"${name.slice(0, 80)}" is not a collection name portunix-db accepts for MongoDB.`,
          'INVALID_IDENTIFIER',
          'Use 1-200 bytes without "$" or control characters, not starting with "system." and not starting or ending with ".".',
        );
      }
      return name;
    case 'user':
      if (!USER.test(name)) {
        throw new DbError(`Invalid MongoDB user name "${name.slice(0, 80)}".`, 'INVALID_IDENTIFIER', 'Use 1-64 characters: letters, digits, "_", ".", "@" or "-", starting with a letter.');
      }
      return name;
  }
}

/** Refuses admin, local and config for operations that would damage the server itself. */
export function userDatabase(name: string, action: string): string {
  validateIdentifier('database', name);
  if (SYSTEM_DATABASES.has(name)) {
    throw new DbError(`"${name}" is a MongoDB system database; portunix-db does not ${action} it.`, 'FORBIDDEN', 'Use a database of your own.');
  }
  return name;
}
