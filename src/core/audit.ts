import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { homePaths } from './home.js';
import { withFileLock } from './file-lock.js';
import { DbError } from './errors.js';

/**
 * Sensitive operations (installs, drops, restores, grants, config changes, every state-changing
 * MCP call) append one JSON line each. The lines form a hash chain: each carries the hash of the
 * one before it and its own hash over its content, so an edited, inserted or deleted line breaks
 * the chain at that point (`portunix-db audit verify`). An operation whose record cannot be
 * written fails with AUDIT_FAILED.
 */
export interface AuditEvent {
  action: string;
  engine?: string;
  instance?: string;
  target?: string;
  via: 'cli' | 'mcp' | 'agent';
  ok: boolean;
  detail?: string;
  /** A query's text (never its results). */
  query?: string;
  upstream?: string;
}

const GENESIS = '0'.repeat(64);

function hashOf(entry: Record<string, unknown>): string {
  const { hash: _h, ...rest } = entry;
  return createHash('sha256').update(JSON.stringify(rest)).digest('hex');
}

/** The hash of the log's last line (read from its tail), or the genesis value for an empty log. */
async function lastHash(file: string): Promise<string> {
  const fh = await open(file, 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!fh) return GENESIS;
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const last = buf.toString('utf8').split('\n').filter(Boolean).pop();
    if (!last) return GENESIS;
    const parsed = JSON.parse(last) as { hash?: unknown };
    return typeof parsed.hash === 'string' ? parsed.hash : createHash('sha256').update(last).digest('hex');
  } finally {
    await fh.close();
  }
}

export async function audit(event: AuditEvent): Promise<void> {
  const file = homePaths.audit();
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await withFileLock(`${file}.lock`, async () => {
      const entry: Record<string, unknown> = { at: new Date().toISOString(), user: safeUser(), pid: process.pid, ...event, prev: await lastHash(file) };
      entry['hash'] = hashOf(entry);
      await appendFile(file, JSON.stringify(entry) + '\n', { mode: 0o600 });
    });
  } catch (err) {
    throw new DbError(`Could not write the audit log ${file}: ${(err as Error).message}. The operation "${event.action}" is reported as failed because it could not be recorded.`, 'AUDIT_FAILED', `Make ${file} writable (and its folder), then check what "${event.action}" changed.`);
  }
}

export interface AuditVerifyResult {
  file: string;
  ok: boolean;
  entries: number;
  /** 1-based line number of the first entry that breaks the chain. */
  first_broken?: { line: number; reason: string; entry?: string };
}

/** Walks the chain from the start; names the first line that is edited, inserted or follows a deleted one. */
export async function verifyAudit(file = homePaths.audit()): Promise<AuditVerifyResult> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, ok: true, entries: 0 };
    throw err;
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  let prev = GENESIS;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const broken = (reason: string): AuditVerifyResult => ({ file, ok: false, entries: lines.length, first_broken: { line: i + 1, reason, entry: line.slice(0, 300) } });
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return broken('not a JSON line');
    }
    if (typeof entry['hash'] !== 'string' || typeof entry['prev'] !== 'string') return broken('no hash chain fields (written by an older version, or forged)');
    if (entry['prev'] !== prev) return broken('its "prev" does not match the entry before it (a line was deleted, inserted or reordered)');
    if (hashOf(entry) !== entry['hash']) return broken('its content does not match its hash (the line was edited)');
    prev = entry['hash'];
  }
  return { file, ok: true, entries: lines.length };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
