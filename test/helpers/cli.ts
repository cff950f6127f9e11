import { spawn } from 'node:child_process';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/test/helpers -> dist/src/cli/main.js */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is JSON. */
  json: any;
}

/** A fresh PORTUNIX_HOME. Readable by the service user, which needs to traverse it when tests run as root. */
export function freshHome(label = 'home'): string {
  const dir = mkdtempSync(join(tmpdir(), `pdb-${label}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** `env` is merged over this process's environment; a key given as undefined is removed from the child's. */
/** `command` replaces `node dist/src/cli/main.js` (e.g. an installed plugin's launcher); `cwd` is where it runs. */
export function runCli(args: string[], options: { home: string; input?: string; env?: Record<string, string | undefined>; timeoutMs?: number; command?: string[]; cwd?: string }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = { ...process.env, PORTUNIX_HOME: options.home, PORTUNIX_DB_SECRET_BACKEND: process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'file', NO_COLOR: '1', ...(options.env ?? {}) };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const [cmd, ...prefix] = options.command ?? [process.execPath, CLI];
    const child = spawn(cmd!, [...prefix, ...args], {
      env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.stdin.end(options.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      let json: unknown;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? 1, stdout, stderr, json });
    });
  });
}

/** Runs the CLI and fails with its output when the exit code is not the expected one. */
export async function cliOk(args: string[], options: Parameters<typeof runCli>[1], expectCode = 0): Promise<CliResult> {
  const r = await runCli(args, options);
  if (r.code !== expectCode) {
    throw new Error(`portunix-db ${args.join(' ')} exited ${r.code} (expected ${expectCode})\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return r;
}
