import { DbError } from '../../core/errors.js';

/**
 * MySQL/MariaDB identifiers: validated against a conservative pattern, then always
 * backtick-quoted. A backtick, quote, semicolon, space or control character never reaches SQL.
 */
const IDENT = /^[A-Za-z_][A-Za-z0-9_$-]{0,63}$/;
/** Account names: no "@", no quotes; the host part is chosen by the engine. */
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,79}$/;

export type IdentKind = 'database' | 'table' | 'user' | 'schema';

export function validateMysqlIdentifier(kind: IdentKind, name: string): string {
  const ok = kind === 'user' ? USER.test(name) : IDENT.test(name) && !(kind === 'database' && name.length > 64);
  if (!ok) {
    throw new DbError(
      `Invalid MySQL/MariaDB ${kind} name ${JSON.stringify(name)}.`,
      'INVALID_IDENTIFIER',
      kind === 'user'
        ? 'Use 1-80 characters: letters, digits, "_", "." or "-", starting with a letter or "_".'
        : 'Use 1-64 characters: letters, digits, "_", "$" or "-", starting with a letter or "_".',
    );
  }
  return kind === 'user' ? accountName(name) : quoteIdent(name);
}

export function quoteIdent(name: string): string {
  return '`' + name.replace(/`/g, '``') + '`';
}

/** A string literal for values we validated ourselves (never user free text in SQL). */
export function quoteString(value: string): string {
  return "'" + value.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

/** The host part portunix-db uses for users it creates: '%' (the server listens on 127.0.0.1 only). */
export const USER_HOST = '%';

export function accountName(user: string, host = USER_HOST): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

/** Privileges users may grant through the tool (static privileges of MySQL 8 and MariaDB 10.11+). */
export const PRIVILEGES = [
  'ALL',
  'ALL PRIVILEGES',
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'DROP',
  'ALTER',
  'INDEX',
  'REFERENCES',
  'CREATE VIEW',
  'SHOW VIEW',
  'CREATE ROUTINE',
  'ALTER ROUTINE',
  'EXECUTE',
  'TRIGGER',
  'EVENT',
  'CREATE TEMPORARY TABLES',
  'LOCK TABLES',
  'PROCESS',
  'RELOAD',
  'SHOW DATABASES',
  'REPLICATION CLIENT',
  'REPLICATION SLAVE',
  'CREATE USER',
  'USAGE',
] as const;

/** Server-wide privileges that only make sense ON *.* */
const GLOBAL_ONLY = new Set(['PROCESS', 'RELOAD', 'SHOW DATABASES', 'REPLICATION CLIENT', 'REPLICATION SLAVE', 'CREATE USER']);

/** Normalises ("select", "create_view", "ALL") and checks against the whitelist. */
export function validatePrivileges(privileges: string[], database: string | undefined): string[] {
  if (privileges.length === 0) return ['ALL PRIVILEGES'];
  const out: string[] = [];
  for (const raw of privileges) {
    const p = raw.trim().toUpperCase().replace(/[_\s]+/g, ' ');
    if (!(PRIVILEGES as readonly string[]).includes(p)) {
      throw new DbError(`Unknown privilege ${JSON.stringify(raw)}.`, 'USAGE', `Use one of: ${PRIVILEGES.join(', ')}.`);
    }
    if (database && GLOBAL_ONLY.has(p)) {
      throw new DbError(`Privilege ${p} is server-wide and cannot be granted on one database.`, 'USAGE', 'Leave out --database to grant it on the whole server.');
    }
    const norm = p === 'ALL' ? 'ALL PRIVILEGES' : p;
    if (!out.includes(norm)) out.push(norm);
  }
  return out;
}

const CHARSET = /^[a-z0-9_]{1,64}$/i;

/** Character set and collation names are plain words; anything else is refused. */
export function validateCharsetName(kind: 'charset' | 'collation', value: string): string {
  if (!CHARSET.test(value)) {
    throw new DbError(`Invalid ${kind} ${JSON.stringify(value)}.`, 'USAGE', kind === 'charset' ? 'Use a name such as utf8mb4 or latin1.' : 'Use a name such as utf8mb4_unicode_ci.');
  }
  return value;
}
