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
  | 'QUERY_FAILED'
  | 'TIMEOUT'
  | 'SECRET_STORE'
  | 'NEEDS_ROOT'
  | 'FORBIDDEN'
  | 'UPSTREAM_FAILED'
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
