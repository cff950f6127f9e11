/**
 * The integration test runner scripts/test.sh uses: test files run N at a time (each in its own
 * `node --test` process), the longest first by the durations of the last run, so the slowest
 * files do not end up alone at the end. With --provision it also provisions the test servers
 * (test/servers/provision.js) and starts the files that need none meanwhile; a file that calls
 * testServer() waits until provisioning has finished.
 *
 * Each file's spec output is printed whole when it ends (never interleaved), then a summary:
 * every file with ok/FAILED, its counts and wall time, and the name of every failing test.
 * A file that failed (not timed out) runs once more, alone (PORTUNIX_TEST_RETRIES=0: never; at
 * most 3 files): a pass on that run is named in the summary with the first run's failures.
 * Exit code 1 when a file failed twice, timed out, or provisioning failed.
 *
 *   node dist/test/runner.js [--jobs N] [--provision] dist/test/integration/*.test.js
 *
 * While more than one file runs, a new one starts only when the 1-minute load average is at most
 * PORTUNIX_TEST_MAX_LOAD (default 3 x the CPU count): on a machine busy with other work the
 * files run fewer at a time instead of timing out on slow server starts.
 *
 * Environment: PORTUNIX_TEST_JOBS (default 3), PORTUNIX_TEST_FILE_TIMEOUT_S (default 2400),
 * PORTUNIX_DB_PROGRESS_INTERVAL (seconds between "still running" lines, default 60 here),
 * PORTUNIX_TEST_TIMINGS (where durations are kept; default beside the test server cache).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheRoot } from './servers/cache.js';

interface FileResult {
  file: string;
  name: string;
  ok: boolean;
  seconds: number;
  pass: number;
  fail: number;
  skipped: number;
  failures: string[];
  /** the first line of each failure's error, beside `failures` */
  reasons?: string[];
  why?: string;
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Seconds each file took in a warm run (2 cores, concurrency 1, before this runner): the order
 * used until this machine has its own timings.
 */
const KNOWN: Record<string, number> = {
  'elasticsearch.test.js': 210,
  'mariadb.test.js': 190,
  'redis.test.js': 167,
  'influxdb.test.js': 109,
  'postgresql-versions.test.js': 97,
  'hardening.test.js': 97,
};

function parseArgs(argv: string[]): { jobs: number; provision: boolean; files: string[] } {
  let jobs = Number(process.env['PORTUNIX_TEST_JOBS'] ?? 3);
  let provision = false;
  const files: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--provision') provision = true;
    else if (a === '--jobs') jobs = Number(argv[++i]);
    else if (a.startsWith('--jobs=')) jobs = Number(a.slice(7));
    else files.push(resolve(a));
  }
  if (!Number.isInteger(jobs) || jobs < 1) throw new Error(`--jobs / PORTUNIX_TEST_JOBS must be a whole number >= 1 (got ${jobs})`);
  return { jobs, provision, files };
}

function timingsFile(): string {
  return process.env['PORTUNIX_TEST_TIMINGS'] ?? join(dirname(cacheRoot()), 'integration-timings.json');
}

function readTimings(): Record<string, number> {
  try {
    return JSON.parse(readFileSync(timingsFile(), 'utf8')) as Record<string, number>;
  } catch {
    return {};
  }
}

function saveTimings(results: FileResult[]): void {
  const all = readTimings();
  for (const r of results) if (r.ok) all[r.name] = Math.round(r.seconds);
  try {
    mkdirSync(dirname(timingsFile()), { recursive: true });
    writeFileSync(timingsFile(), JSON.stringify(all, null, 2) + '\n');
  } catch {
    /* timings only order the next run */
  }
}

/** Whether the file (or a test helper it imports) asks for a provisioned test server. */
function needsTestServer(file: string): boolean {
  const text = readFileSync(file, 'utf8');
  if (/\btestServer\(/.test(text)) return true;
  for (const m of text.matchAll(/from '(\.\.\/helpers\/[^']+\.js)'/g)) {
    const helper = resolve(dirname(file), m[1]!);
    if (existsSync(helper) && /\btestServer\(/.test(readFileSync(helper, 'utf8'))) return true;
  }
  return false;
}

/** Counts and the names of the failing tests (leaves only, as "describe > test") from TAP. */
export function parseTap(tap: string): { pass: number; fail: number; skipped: number; failures: string[]; reasons: string[] } {
  const stack: string[] = [];
  const childFailed: boolean[] = [];
  const failures: string[] = [];
  // the first line of each failure's error, so a CI log that keeps only the summary still says why
  const reasons: string[] = [];
  let wantReason = -1;
  const num = (label: string) => Number(new RegExp(`^# ${label} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  const lines = tap.split('\n');
  for (const [i, line] of lines.entries()) {
    if (wantReason >= 0) {
      const err = /^\s*error: (.*)$/.exec(line);
      if (err) {
        const inline = err[1]!.trim();
        const text = /^[|>][-+]?$/.test(inline) ? (lines[i + 1] ?? '').trim() : inline.replace(/^'(.*)'$/, '$1');
        reasons[wantReason] = text.slice(0, 300);
        wantReason = -1;
        continue;
      }
      if (/^\s*\.\.\.$/.test(line)) wantReason = -1;
    }
    const sub = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (sub) {
      const level = sub[1]!.length / 4;
      stack.length = level;
      stack[level] = sub[2]!;
      childFailed.length = level + 1;
      childFailed[level + 1] = false;
      continue;
    }
    const res = /^(\s*)(not ok|ok) \d+ - (.*?)(?: # (?:SKIP|TODO).*)?$/.exec(line);
    if (!res) continue;
    const level = res[1]!.length / 4;
    if (res[2] === 'not ok') {
      if (!childFailed[level + 1]) {
        failures.push([...stack.slice(0, level), res[3]!].join(' > '));
        reasons.push('');
        wantReason = reasons.length - 1;
      }
      childFailed[level] = true;
    }
    childFailed[level + 1] = false;
  }
  return { pass: num('pass'), fail: num('fail') + num('cancelled'), skipped: num('skipped'), failures, reasons };
}

function runFile(file: string, outDir: string, timeoutS: number): Promise<FileResult> {
  const name = basename(file);
  const spec = join(outDir, `${name}.spec.txt`);
  const tap = join(outDir, `${name}.tap`);
  const started = Date.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=spec', `--test-reporter-destination=${spec}`, '--test-reporter=tap', `--test-reporter-destination=${tap}`, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let extra = '';
    child.stdout!.on('data', (d: Buffer) => (extra += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (extra += d.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (Date.now() - started) / 1000;
      const tapText = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
      const counts = parseTap(tapText);
      const ok = code === 0 && !timedOut;
      const why = timedOut ? `timed out after ${timeoutS} s (PORTUNIX_TEST_FILE_TIMEOUT_S)` : ok ? undefined : `exited ${code ?? signal}`;
      const specText = existsSync(spec) ? readFileSync(spec, 'utf8') : '';
      process.stdout.write(`\n── ${name}: ${ok ? 'ok' : 'FAILED'} (${seconds.toFixed(0)} s)\n${specText}${extra ? `${extra}\n` : ''}`);
      done({ file, name, ok, seconds, ...counts, ...(why ? { why } : {}) });
    });
  });
}

async function main(): Promise<void> {
  const { jobs, provision, files } = parseArgs(process.argv.slice(2));
  if (!files.length) throw new Error('no test files given');
  const timeoutS = Number(process.env['PORTUNIX_TEST_FILE_TIMEOUT_S'] ?? 2400);
  const interval = Number(process.env['PORTUNIX_DB_PROGRESS_INTERVAL'] ?? 60);
  const outDir = mkdtempSync(join(tmpdir(), 'pdb-test-output-'));
  const timings = readTimings();
  const expected = (f: string) => timings[basename(f)] ?? KNOWN[basename(f)] ?? 60;
  const pending = files.map((file) => ({ file, needs: needsTestServer(file), expect: expected(file) })).sort((a, b) => b.expect - a.expect);

  let provisioned = !provision;
  let provisionOk = true;
  let provisionDone = Promise.resolve();
  if (provision) {
    process.stderr.write('==> test servers (fetched from registries, cached; see test/servers/), while the files that need none start\n');
    const started = Date.now();
    const p = spawn(process.execPath, [join(here, 'servers', 'provision.js')], { stdio: ['ignore', 'inherit', 'inherit'] });
    provisionDone = new Promise((done) =>
      p.on('close', (code) => {
        provisionOk = code === 0;
        provisioned = true;
        const took = ((Date.now() - started) / 1000).toFixed(0);
        process.stderr.write(provisionOk ? `==> test servers ready (${took} s)\n` : `==> test server provisioning FAILED (exit ${code}, ${took} s); see [test-servers] above\n`);
        done();
      }),
    );
  }

  process.stderr.write(`==> integration tests (real servers, installed by the tool): ${files.length} files, ${jobs} at a time; output per file as each ends (also in ${outDir})\n`);
  const running = new Map<string, number>();
  const maxLoad = Number(process.env['PORTUNIX_TEST_MAX_LOAD'] ?? 3 * availableParallelism());
  let throttled = false;
  let ended: () => void = () => undefined;
  let anyEnded = new Promise<void>((r) => (ended = r));
  const results: FileResult[] = [];
  const wall = Date.now();
  const heartbeat = setInterval(() => {
    const now = Date.now();
    const list = [...running].map(([n, t]) => `${n} ${((now - t) / 1000).toFixed(0)} s`).join(', ');
    process.stderr.write(`    ... ${results.length} of ${files.length} files done; running: ${list || '(waiting for the test servers)'}\n`);
  }, interval * 1000);

  const worker = async (): Promise<void> => {
    for (;;) {
      const i = pending.findIndex((p) => provisioned || !p.needs);
      if (i < 0) {
        if (!pending.length) return;
        await provisionDone; // only files that need the test servers are left
        continue;
      }
      // a loaded machine (other work, or our own files) gets fewer files at once: a slow server
      // start under heavy load times out, so a new file waits while the load is high
      if (running.size > 0 && loadavg()[0]! > maxLoad) {
        if (!throttled) process.stderr.write(`    ... load average ${loadavg()[0]!.toFixed(1)} is above ${maxLoad} (PORTUNIX_TEST_MAX_LOAD): the next file waits until it drops or a running one ends\n`);
        throttled = true;
        await Promise.race([new Promise((r) => setTimeout(r, 10_000)), anyEnded]);
        continue;
      }
      throttled = false;
      const [next] = pending.splice(i, 1);
      const name = basename(next!.file);
      running.set(name, Date.now());
      const r = await runFile(next!.file, outDir, timeoutS);
      running.delete(name);
      results.push(r);
      ended();
      anyEnded = new Promise<void>((r) => (ended = r));
      process.stderr.write(`==> ${results.length}/${files.length} ${name}: ${r.ok ? 'ok' : 'FAILED'} in ${r.seconds.toFixed(0)} s${running.size ? ` (running: ${[...running.keys()].join(', ')})` : ''}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));

  // A file that failed gets one more run, alone on the machine: a failure that came from three
  // loaded files at once on 2 cores then passes. Such a pass is named in the summary with its
  // first failure, never hidden; a file that fails twice fails the run.
  const retries = Number(process.env['PORTUNIX_TEST_RETRIES'] ?? 1);
  const firstTry = results.filter((r) => !r.ok && !r.why?.startsWith('timed out')); // a timeout would cost its whole budget again
  const flaky: { name: string; first: FileResult }[] = [];
  if (retries > 0 && firstTry.length && firstTry.length <= 3) {
    const retryDir = join(outDir, 'retry');
    mkdirSync(retryDir, { recursive: true });
    for (const first of firstTry) {
      process.stderr.write(`==> ${first.name} failed; running it once more, alone\n`);
      running.set(first.name, Date.now());
      const again = await runFile(first.file, retryDir, timeoutS);
      running.delete(first.name);
      process.stderr.write(`==> ${first.name} on its second run: ${again.ok ? 'ok' : 'FAILED'} in ${again.seconds.toFixed(0)} s\n`);
      results[results.indexOf(first)] = again;
      if (again.ok) flaky.push({ name: first.name, first });
    }
  }
  clearInterval(heartbeat);
  saveTimings(results);

  const failed = results.filter((r) => !r.ok);
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = [`\n==> integration summary: ${results.length} files in ${((Date.now() - wall) / 1000).toFixed(0)} s wall, ${jobs} at a time`];
  for (const r of [...results].sort((a, b) => b.seconds - a.seconds)) {
    lines.push(`  ${r.ok ? 'ok    ' : 'FAILED'} ${r.seconds.toFixed(0).padStart(5)} s  ${r.name.padEnd(width)}  ${r.pass} passed${r.fail ? `, ${r.fail} failed` : ''}${r.skipped ? `, ${r.skipped} skipped` : ''}${r.why ? `  (${r.why})` : ''}`);
  }
  if (!provisionOk) lines.push('  test server provisioning FAILED (see [test-servers] lines above)');
  if (flaky.length) {
    lines.push(`==> ${flaky.length} file(s) passed only on a second run (alone); their first failures:`);
    for (const { name, first } of flaky) {
      lines.push(`  ${name} (first run: ${first.pass} passed, ${first.fail} failed${first.why ? `, ${first.why}` : ''})`);
      for (const [i, t] of first.failures.entries()) lines.push(`    ✖ ${t}${first.reasons?.[i] ? `\n        ↳ ${first.reasons[i]}` : ''}`);
    }
  }
  if (failed.length) {
    lines.push(`==> ${failed.length} file(s) failed; failing tests:`);
    for (const r of failed) {
      lines.push(`  ${r.name}`);
      if (!r.failures.length) lines.push(`    ✖ ${r.why ?? 'no test reported a failure; see its output above'}`);
      for (const [i, t] of r.failures.entries()) {
        lines.push(`    ✖ ${t}`);
        if (r.reasons?.[i]) lines.push(`        ↳ ${r.reasons[i]}`);
      }
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (failed.length || !provisionOk) process.exitCode = 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
