import { DbError } from '../../core/errors.js';

/**
 * InfluxQL identifiers are double-quoted. The tool's own names (databases, buckets, users,
 * retention policies it creates) are kept to a plain alphabet; names read back from the server
 * (measurements written by line protocol) may hold more, but never a quote, a backslash or a
 * control character, so a quoted identifier can never be closed early. Nothing is pasted
 * unquoted into InfluxQL or Flux.
 */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
// eslint-disable-next-line no-control-regex
const UNSAFE = /["'\\\u0000-\u001f\u007f`]/;

export function validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string {
  if (kind === 'table' || kind === 'schema') {
    if (name.length === 0 || name.length > 255 || UNSAFE.test(name)) {
      throw new DbError(
        `Invalid InfluxDB ${kind === 'table' ? 'measurement or retention policy' : 'retention policy'} name ${JSON.stringify(name)}.`,
        'INVALID_IDENTIFIER',
        'Use 1-255 characters without quotes, backslashes, backticks or control characters.',
      );
    }
    return quoteIdent(name);
  }
  if (!NAME.test(name)) {
    throw new DbError(
      `Invalid InfluxDB ${kind === 'database' ? 'database/bucket' : 'user'} name ${JSON.stringify(name)}.`,
      'INVALID_IDENTIFIER',
      'Use 1-64 characters: letters, digits, "_" or "-", starting with a letter or "_".',
    );
  }
  return quoteIdent(name);
}

/** A double-quoted InfluxQL identifier; the name was validated to hold no quote or backslash. */
export function quoteIdent(name: string): string {
  if (UNSAFE.test(name)) throw new DbError(`Refusing the identifier ${JSON.stringify(name)}: it holds a quote, backslash or control character.`, 'INVALID_IDENTIFIER');
  return `"${name}"`;
}

/** A single-quoted InfluxQL string literal (passwords): backslashes and quotes escaped, no control characters. */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new DbError('Refusing a string with control characters.', 'USAGE');
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A Flux string literal: double-quoted with `\\`, `"` and `${` escaped. */
export function fluxString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) throw new DbError('Refusing a Flux string with control characters.', 'USAGE');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\$\{/g, '\\${')}"`;
}
