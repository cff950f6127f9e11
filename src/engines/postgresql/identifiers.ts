import { validatePgIdentifier } from './client.js';

/** Quotes an identifier by PostgreSQL's rules; throws INVALID_IDENTIFIER when it is not acceptable. */
export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  return validatePgIdentifier(kind, name);
}
