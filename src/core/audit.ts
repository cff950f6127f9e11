import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';
import { homePaths } from './home.js';

/** Sensitive operations (drops, restores, grants, config changes) append one JSON line each. */
export async function audit(event: { action: string; engine?: string; instance?: string; target?: string; via: 'cli' | 'mcp'; ok: boolean; detail?: string; /** A query's text (never its results). */ query?: string; upstream?: string }): Promise<void> {
  const line = JSON.stringify({ at: new Date().toISOString(), user: safeUser(), pid: process.pid, ...event }) + '\n';
  try {
    await mkdir(dirname(homePaths.audit()), { recursive: true });
    await appendFile(homePaths.audit(), line, { mode: 0o600 });
  } catch {
    /* auditing must never break the operation it records */
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}
