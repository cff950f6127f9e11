import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, chmodSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** tsc's output of the CLI, dist/src/cli/main.js. */
export const CLI_SRC = join(DIST, 'src', 'cli', 'main.js');
/** The shipped esbuild bundle, dist/bundle/portunix-db.mjs (`npm run build` makes both). */
export const CLI_BUNDLE = join(DIST, 'bundle', 'portunix-db.mjs');

/**
 * The CLI the tests run: the shipped bundle (what users run, and it starts in about half the
 * CPU time of tsc's many modules; CLI start-up is most of an integration file's time), when it
 * was built after tsc's output; PORTUNIX_TEST_CLI=src runs tsc's output instead (source maps,
 * quicker to rebuild with `tsc` alone).
 */
export function pickCli(choice = process.env['PORTUNIX_TEST_CLI']): string {
  if (choice === 'src') return CLI_SRC;
  try {
    return statSync(CLI_BUNDLE).mtimeMs >= statSync(CLI_SRC).mtimeMs ? CLI_BUNDLE : CLI_SRC;
  } catch {
    return CLI_SRC;
  }
}

export const CLI = pickCli();

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

/** PORTUNIX_TEST_CLI_LOG=FILE: one JSON line per CLI run (test file, command, ms), to see where a suite's time goes. */
function logCall(args: string[], ms: number): void {
  const file = process.env['PORTUNIX_TEST_CLI_LOG'];
  if (file) appendFileSync(file, JSON.stringify({ file: process.argv[1], args: args.slice(0, 3), ms }) + '\n');
}

/** `env` is merged over this process's environment; a key given as undefined is removed from the child's. */
/** `command` replaces `node dist/src/cli/main.js` (e.g. an installed plugin's launcher); `cwd` is where it runs. */
/** `onStderr` is called with all of stderr so far each time more arrives (to act while the command runs). */
export function runCli(args: string[], options: { home: string; input?: string; env?: Record<string, string | undefined>; timeoutMs?: number; command?: string[]; cwd?: string; onStderr?: (soFar: string) => void }): Promise<CliResult> {
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
    const started = Date.now();
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      options.onStderr?.(stderr);
    });
    child.on('error', reject);
    child.stdin.end(options.input ?? '');
    child.on('close', (code) => {
      clearTimeout(timer);
      logCall(args, Date.now() - started);
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
