import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { DbError } from '../errors.js';
import type { ExecResult, RunAs } from '../../engines/contract.js';

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  input?: string | Buffer;
  runAs?: RunAs | null;
  timeoutMs?: number;
  stdoutFile?: string;
  /** Where stdout goes (e.g. a hashing file writer); the child is stopped if it fails. */
  stdout?: NodeJS.WritableStream;
  allowFailure?: boolean;
  /** Words that must never appear in error messages (passwords). */
  redact?: string[];
}

const MAX_CAPTURE = 4 * 1024 * 1024;

/**
 * Runs a program without a shell. Arguments never carry secrets (callers pass those
 * through env or 0600 files); stderr is returned, redacted, on failure.
 */
export function run(argv: string[], options: RunOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) throw new DbError('run: empty command', 'INTERNAL');
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { ...process.env, ...(options.env ?? {}) },
      stdio: ['pipe', options.stdoutFile ? 'pipe' : 'pipe', 'pipe'],
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = options.timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, options.timeoutMs) : undefined;
    let fileDone: Promise<void> = Promise.resolve();
    if (options.stdoutFile) {
      const out = createWriteStream(options.stdoutFile, { mode: 0o600 });
      fileDone = new Promise((res, rej) => { out.on('finish', () => res()); out.on('error', rej); });
      child.stdout.pipe(out);
    } else if (options.stdout) {
      const out = options.stdout;
      // a destination that fails (disk full) stops the child instead of leaving it blocked on a full pipe
      out.on('error', () => child.kill('SIGTERM'));
      fileDone = new Promise((res) => child.stdout.on('close', () => res()));
      child.stdout.pipe(out);
    } else {
      child.stdout.on('data', (d: Buffer) => { if (stdout.length < MAX_CAPTURE) stdout += d.toString(); });
    }
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < MAX_CAPTURE) stderr += d.toString(); });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (timer) clearTimeout(timer);
      if (err.code === 'ENOENT') reject(new DbError(`Program not found: ${cmd}`, 'NOT_INSTALLED', 'Install it first, e.g. with `portunix-db install <engine>`.'));
      else reject(new DbError(`Could not run ${cmd}: ${err.message}`, 'COMMAND_FAILED'));
    });
    child.stdin.on('error', () => undefined);
    if (options.input !== undefined) child.stdin.end(options.input);
    else child.stdin.end();
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      fileDone.then(() => {
        const result = { code: code ?? (signal ? 128 : 1), stdout, stderr: redact(stderr, options.redact) };
        if (timedOut) return reject(new DbError(`${cmd} timed out after ${options.timeoutMs} ms`, 'TIMEOUT'));
        if (result.code !== 0 && !options.allowFailure) {
          const tail = result.stderr.trim().split('\n').slice(-8).join('\n');
          const diskFull = /No space left on device/i.test(tail);
          return reject(new DbError(`${cmd.split('/').pop()} failed (exit ${result.code})${tail ? `: ${tail}` : ''}`, diskFull ? 'DISK_FULL' : 'COMMAND_FAILED'));
        }
        resolvePromise(result);
      }, reject);
    });
  });
}

export function redact(text: string, secrets: string[] | undefined): string {
  let out = text;
  for (const s of secrets ?? []) if (s && s.length >= 4) out = out.split(s).join('********');
  return out;
}
