/**
 * Every failure a user can cause is a DbError: a code, a message that names the cause,
 * and a hint that names the fix. Faces turn it into exit codes (CLI) or isError results (MCP).
 */
export type ErrorCode =
  | 'USAGE'
  | 'UNKNOWN_ENGINE'
  | 'UNKNOWN_SOURCE'
  | 'UNKNOWN_VERSION'
  | 'UNKNOWN_COMMAND'
  | 'INVALID_IDENTIFIER'
  | 'INVALID_CONFIG'
  | 'NOT_INSTALLED'
  | 'ALREADY_EXISTS'
  | 'NOT_FOUND'
  | 'NOT_RUNNING'
  | 'PORT_IN_USE'
  | 'DATA_DIR_CONFLICT'
  | 'NOT_APPLICABLE'
  | 'UNSUPPORTED_PLATFORM'
  | 'CONFIRMATION_REQUIRED'
  | 'PERMISSION_DENIED'
  | 'DISK_FULL'
  | 'BACKUP_CORRUPT'
  | 'BACKUP_TAMPERED'
  | 'AUDIT_FAILED'
  | 'VERIFY_FAILED'
  | 'RESTORE_FAILED'
  | 'START_FAILED'
  | 'COMMAND_FAILED'
  | 'DOWNLOAD_FAILED'
  | 'INTEGRITY_MISMATCH'
  | 'CHECKSUM_REQUIRED'
  | 'ARCHIVE_CORRUPT'
  | 'ARCHIVE_UNSAFE'
  | 'WRONG_ENGINE'
  | 'VERSION_MISMATCH'
  | 'AUTH_FAILED'
  | 'CONNECTION_FAILED'
  | 'CONNECTION_LOST'
  | 'QUERY_FAILED'
  | 'TIMEOUT'
  | 'SECRET_STORE'
  | 'NEEDS_ROOT'
  | 'FORBIDDEN'
  | 'UPSTREAM_FAILED'
  | 'PROBLEMS_FOUND'
  | 'INTERNAL';

export class DbError extends Error {
  constructor(
    message: string,
    readonly code: ErrorCode = 'INTERNAL',
    readonly hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'DbError';
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}), ...(this.details ? { details: this.details } : {}) };
  }
}

export class UsageError extends DbError {
  constructor(message: string, code: ErrorCode = 'USAGE', hint?: string) {
    super(message, code, hint);
    this.name = 'UsageError';
  }
}

/** A capability this engine does not have. The message names what to use instead. */
export class NotApplicableError extends DbError {
  constructor(message: string, hint?: string) {
    super(message, 'NOT_APPLICABLE', hint);
    this.name = 'NotApplicableError';
  }
}

/** CLI exit codes: 1 generic failure, 2 usage, 3 not found/not installed, 4 not running, 5 not applicable. */
export function exitCodeFor(err: unknown): number {
  return err instanceof DbError ? exitCodeForCode(err.code) : 1;
}

/** The one mapping from error code to exit code; every command (and `mcp call`) goes through it. */
export function exitCodeForCode(code: string): number {
  switch (code as ErrorCode) {
    case 'USAGE':
    case 'UNKNOWN_ENGINE':
    case 'UNKNOWN_SOURCE':
    case 'UNKNOWN_VERSION':
    case 'UNKNOWN_COMMAND':
    case 'INVALID_IDENTIFIER':
    case 'CONFIRMATION_REQUIRED':
      return 2;
    case 'NOT_INSTALLED':
    case 'NOT_FOUND':
      return 3;
    case 'NOT_RUNNING':
      return 4;
    case 'NOT_APPLICABLE':
      return 5;
    default:
      return 1;
  }
}

/** Turns anything thrown into a DbError without leaking stack traces to users. */
export function toDbError(err: unknown): DbError {
  if (err instanceof DbError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const message = e && typeof e.message === 'string' ? e.message : String(err);
  switch (e?.code) {
    case 'ENOSPC':
      return new DbError(`The disk is full: ${message}`, 'DISK_FULL', 'Free some space or choose another destination.');
    case 'EACCES':
    case 'EPERM':
      return new DbError(`Permission denied: ${message}`, 'PERMISSION_DENIED', 'Choose a path you can write to, or fix its permissions.');
    case 'ENOENT':
      return new DbError(`Not found: ${message}`, 'NOT_FOUND');
    case 'ECONNREFUSED':
      return new DbError(`Connection refused: ${message}`, 'CONNECTION_FAILED', 'Is the server running? Check `portunix-db status`.');
    default:
      return new DbError(message, 'INTERNAL');
  }
}

/** What client programs and drivers say when the server went away under them (libpq, MariaDB/MySQL, node drivers). */
const LOST_CONNECTION = [
  /server closed the connection unexpectedly/i,
  /terminating connection due to/i,
  /could not receive data from server/i,
  /no connection to the server/i,
  /connection to server .* failed/i,
  /Connection terminated unexpectedly/i,
  /Lost connection to (MySQL|MariaDB)? ?server/i,
  /server has gone away/i,
  /unexpected eof while reading/i,
  /SSL SYSCALL error/i,
  /SSL connection has been closed unexpectedly/i,
  /\bEOF detected\b/i,
  /Can't connect to (local )?(MySQL|MariaDB) server/i,
  /Connection lost: The server closed the connection/i,
  /\bECONNRESET\b/,
  /\bECONNREFUSED\b/,
  /\bEPIPE\b/,
];

/**
 * When `err` says the server connection broke (the server died or was stopped mid-operation),
 * a CONNECTION_LOST error that says so in plain words instead of the client's own text (which
 * quotes the query it was running); otherwise undefined.
 */
export function connectionLost(err: unknown, during: string, hint: string): DbError | undefined {
  const message = err instanceof Error ? err.message : String(err);
  if (!LOST_CONNECTION.some((re) => re.test(message))) return undefined;
  return new DbError(`The connection to the server was lost during ${during} (the server stopped or crashed).`, 'CONNECTION_LOST', hint);
}

/** Runs a backup step of instance `ctx`; a broken server connection comes out as CONNECTION_LOST (see connectionLost). */
export async function dumpOrLost<T>(ctx: { engine: string; name: string }, during: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const how = ctx.name === 'main' ? '' : ` --instance ${ctx.name}`;
    throw connectionLost(err, `${during} on ${ctx.engine}/${ctx.name}`, `No backup was kept. Check \`portunix-db status ${ctx.engine}${how}\` and the server log (\`portunix-db logs ${ctx.engine}${how}\`), start it, and take the backup again.`) ?? err;
  }
}
