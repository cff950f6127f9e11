import { DbError, NotApplicableError } from '../../core/errors.js';

/** A database is a file `<name>.db`: the name must be safe as a file name on every OS. */
const DATABASE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Windows reserves these names whatever the extension. */
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;

export const NO_USERS = 'SQLite has no users or grants; protect the database files with file permissions.';

export function validateDatabaseName(name: string): string {
  if (!DATABASE_NAME.test(name) || WINDOWS_RESERVED.test(name)) {
    throw new DbError(
      `Invalid SQLite database name ${JSON.stringify(name)}.`,
      'INVALID_IDENTIFIER',
      'A SQLite database is the file <name>.db in the instance directory: use 1-64 letters, digits, "_" or "-" (no dots, slashes or spaces). To use a file elsewhere, register it with `create <name> --type sqlite --path FILE`.',
    );
  }
  return name;
}

/** Table and column names: any text without control characters, double-quoted with `"` doubled. */
export function quoteIdent(name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name.length === 0 || name.length > 256 || /[\u0000-\u001f]/.test(name)) {
    throw new DbError(`Invalid SQLite identifier ${JSON.stringify(name)}.`, 'INVALID_IDENTIFIER', 'Use a non-empty name of at most 256 characters without control characters.');
  }
  return `"${name.replace(/"/g, '""')}"`;
}

export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  switch (kind) {
    case 'database':
      return validateDatabaseName(name);
    case 'user':
      throw new NotApplicableError(NO_USERS);
    case 'schema':
      if (name.toLowerCase() !== 'main') {
        throw new DbError(`SQLite schema ${JSON.stringify(name)} does not exist.`, 'NOT_FOUND', 'Each SQLite database file has one schema, "main"; leave --schema out, and pick the file with --database.');
      }
      return quoteIdent('main');
    case 'table':
      return quoteIdent(name);
  }
}
