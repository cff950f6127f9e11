import { DbError } from '../../core/errors.js';

/**
 * Index and data stream names by Elasticsearch's rules (lowercase; none of \ / * ? " < > | , #
 * space or colon; not starting with - _ +; not . or ..; at most 255 bytes), and stricter: no
 * leading dot, because dot-names are hidden and system indices that portunix-db leaves alone.
 * Names go into URL paths only after this check, and encoded.
 */
const INDEX = /^[a-z0-9][a-z0-9._-]{0,254}$/;
/** Native-realm user names: letters, digits and _ . - @ (the security API's rule, kept to ASCII). */
const USER = /^[A-Za-z_][A-Za-z0-9_.@-]{0,506}$/;
/** A field path in a mapping: dotted names. */
const FIELD = /^[A-Za-z0-9_@][A-Za-z0-9_@.-]{0,254}$/;

export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  if (kind === 'database' || kind === 'schema') {
    if (!INDEX.test(name) || Buffer.byteLength(name) > 255 || /\.\.|^\.+$/.test(name)) {
      throw new DbError(
        `"${name}" is not a valid Elasticsearch index name.`,
        'INVALID_IDENTIFIER',
        'Use lower-case letters, digits, "-", "_" and "." (not first, no ".."), at most 255 characters. Hidden and system indices (starting with ".") are not managed by portunix-db.',
      );
    }
    return name;
  }
  if (kind === 'user') {
    if (!USER.test(name)) throw new DbError(`"${name}" is not a valid Elasticsearch user name.`, 'INVALID_IDENTIFIER', 'Use letters, digits, "_", ".", "-" or "@", starting with a letter or "_".');
    return name;
  }
  if (name === '_mapping' || name === '_id' || name === '_source') return name;
  if (!FIELD.test(name) || /\.\./.test(name)) throw new DbError(`"${name}" is not a field of an Elasticsearch mapping.`, 'INVALID_IDENTIFIER', 'Give a field path such as "user.name", or "_mapping" for the whole mapping.');
  return name;
}

/** A validated index name as a URL path segment. */
export function seg(name: string): string {
  return encodeURIComponent(validateIdentifier('database', name));
}
