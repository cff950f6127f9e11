import { spawn } from 'node:child_process';
import { watch as watchPath, type FSWatcher } from 'node:fs';
import { chown, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { closePooledConnections } from '../pool.js';
import { dirname } from 'node:path';
import { DbError } from '../errors.js';
import { need, has } from '../../engines/need.js';
import type { Engine, InstanceContext } from '../../engines/contract.js';

export type ProcessState = 'running' | 'stopped' | 'crashed' | 'unresponsive';

export interface ProcessStatus {
  state: ProcessState;
  pid?: number;
  startedAt?: string;
  uptimeSeconds?: number;
  /** The last lines of the server log, when the server crashed or would not start. */
  logTail?: string[];
}

interface PidRecord {
  pid: number;
  started_at: string;
  program: string;
}

const DEFAULT_READY_TIMEOUT_MS = 90_000;

function readyTimeout(engine: Engine): number {
  const env = process.env['PORTUNIX_DB_START_TIMEOUT_MS'];
  return env ? Number(env) : engine.info.startTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
}

export async function readPidRecord(pidFile: string): Promise<PidRecord | undefined> {
  try {
    return JSON.parse(await readFile(pidFile, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** Alive, and still the program we started (pids get reused). */
export async function isOurProcess(record: PidRecord): Promise<boolean> {
  try {
    process.kill(record.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = await readFile(`/proc/${record.pid}/stat`, 'utf8');
    // a zombie (Z) has died; its parent simply has not reaped it yet
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') return false;
    const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8');
    const base = record.program.split('/').pop() ?? record.program;
    return cmdline.includes(base);
  } catch {
    return process.platform !== 'linux';
  }
}

export async function tailFile(file: string, lines: number): Promise<string[]> {
  try {
    const fh = await open(file, 'r');
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, 256 * 1024);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      const all = buf.toString('utf8').split('\n');
      if (all[all.length - 1] === '') all.pop();
      return all.slice(-lines);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
}

export async function processStatus(engine: Engine, ctx: InstanceContext): Promise<ProcessStatus> {
  const record = await readPidRecord(ctx.paths.pidFile);
  if (!record) return { state: 'stopped' };
  if (!(await isOurProcess(record))) {
    return { state: 'crashed', pid: record.pid, startedAt: record.started_at, logTail: await tailFile(ctx.paths.logFile, 15) };
  }
  const uptimeSeconds = Math.max(0, Math.round((Date.now() - Date.parse(record.started_at)) / 1000));
  const ready = await acceptsConnections(engine, ctx, record.pid);
  return { state: ready ? 'running' : 'unresponsive', pid: record.pid, startedAt: record.started_at, uptimeSeconds };
}

/**
 * Whether the server accepts connections: the engine's own word when it can give it without
 * a connection (readyState: no driver, no TLS handshake), else a real connection (isReady).
 */
export async function acceptsConnections(engine: Engine, ctx: InstanceContext, pid: number): Promise<boolean> {
  if (has(engine, 'readyState')) {
    const said = await need(engine, 'readyState')(ctx, pid).catch(() => undefined);
    if (said !== undefined) return said;
  }
  return has(engine, 'isReady') ? need(engine, 'isReady')(ctx).catch(() => false) : true;
}

/** What announces a change of the server's state: the engine's files (readyWatch), and its log. */
function watchedPaths(engine: Engine, ctx: InstanceContext): string[] {
  return [...(has(engine, 'readyWatch') ? need(engine, 'readyWatch')(ctx) : []), ctx.paths.logFile];
}

/**
 * Sleeps until woken, or until a timeout: woken by a change of any watched path (fs.watch) or
 * by wake() (e.g. the child's exit). A wake that comes while nobody sleeps is kept for the next
 * sleep, so no change between two checks is lost. The timeout stays as a safety net: for
 * platforms or file systems whose watches miss events, and engines that announce nothing.
 */
export function wakeOn(paths: string[]): { sleep(ms: number): Promise<void>; wake(): void; close(): void } {
  let pending = false;
  let waiting: (() => void) | undefined;
  const wake = () => {
    if (waiting) waiting();
    else pending = true;
  };
  const watchers: FSWatcher[] = [];
  for (const path of paths) {
    try {
      watchers.push(watchPath(path, { persistent: false }, wake).on('error', () => undefined));
    } catch {
      /* not there (yet): the timeout covers it */
    }
  }
  return {
    wake,
    sleep: (ms) => {
      if (pending) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiting = undefined;
          resolve();
        };
        const timer = setTimeout(done, ms);
        waiting = done;
      });
    },
    close: () => watchers.forEach((w) => w.close()),
  };
}

export async function portInUse(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(true));
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(false)));
  });
}

/** Asks the OS for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface StartResult {
  alreadyRunning: boolean;
  recoveredFromCrash: boolean;
  status: ProcessStatus;
}

/**
 * Spawns the server detached with its output in the instance log, records its pid, and
 * returns only once the engine says it accepts connections.
 */
export async function startServer(engine: Engine, ctx: InstanceContext): Promise<StartResult> {
  const before = await processStatus(engine, ctx);
  if (before.state === 'running') return { alreadyRunning: true, recoveredFromCrash: false, status: before };
  if (before.state === 'unresponsive') {
    throw new DbError(`${ctx.engine}/${ctx.name} has a process (pid ${before.pid}) that does not answer.`, 'START_FAILED', `Stop it with \`portunix-db stop ${ctx.engine} --instance ${ctx.name}\`, then start again.`);
  }
  const port = ctx.config.port;
  if (port !== undefined && (await portInUse(port))) {
    throw new DbError(`Port ${port} on 127.0.0.1 is already in use by another program.`, 'PORT_IN_USE', `Stop that program, or re-install the instance with another --port.`);
  }
  const spec = await need(engine, 'launchSpec')(ctx);
  await mkdir(dirname(ctx.paths.pidFile), { recursive: true });
  await mkdir(dirname(ctx.paths.logFile), { recursive: true });
  const log = await open(ctx.paths.logFile, 'a', 0o640);
  if (ctx.runAs) await chown(ctx.paths.logFile, ctx.runAs.uid, ctx.runAs.gid).catch(() => undefined);
  const startOffset = (await log.stat()).size;
  const [program, ...args] = spec.argv;
  if (!program) throw new DbError('launchSpec returned no program', 'INTERNAL');
  const libEnv = ctx.config.lib_dir ? { LD_LIBRARY_PATH: ctx.config.lib_dir } : {};
  const child = spawn(program, args, {
    detached: true,
    stdio: ['ignore', log.fd, log.fd],
    cwd: spec.cwd ?? ctx.paths.root,
    env: { ...process.env, ...libEnv, ...(spec.env ?? {}) },
    ...(ctx.runAs ? { uid: ctx.runAs.uid, gid: ctx.runAs.gid } : {}),
  });
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const waker = wakeOn(watchedPaths(engine, ctx));
  child.on('exit', (code, signal) => {
    exited = { code, signal };
    waker.wake();
  });
  const spawnError = await new Promise<Error | undefined>((resolve) => {
    child.once('error', resolve);
    child.once('spawn', () => resolve(undefined));
  });
  await log.close();
  if (spawnError || child.pid === undefined) {
    waker.close();
    throw new DbError(`Could not start ${program}: ${spawnError?.message ?? 'no pid'}`, 'START_FAILED', 'Check that the engine is installed: `portunix-db install ' + ctx.engine + '`.');
  }
  const record: PidRecord = { pid: child.pid, started_at: new Date().toISOString(), program };
  await writeFile(ctx.paths.pidFile, JSON.stringify(record) + '\n');
  child.unref();

  try {
    return await waitUntilReady(engine, ctx, child.pid, waker, () => exited, before.state === 'crashed', startOffset);
  } finally {
    waker.close();
  }
}

/**
 * Waits for the server to accept connections, waking on its own announcements (wakeOn) and
 * checking the cheap way when the engine has one; the timer (backing off from 10 or 25 ms to
 * 250 or 200 ms) only backs that up, and paces engines that must be asked over a connection.
 */
async function waitUntilReady(engine: Engine, ctx: InstanceContext, pid: number, waker: ReturnType<typeof wakeOn>, exitedNow: () => { code: number | null; signal: NodeJS.Signals | null } | undefined, recovered: boolean, startOffset: number): Promise<StartResult> {
  const cheap = has(engine, 'readyState');
  const timeoutMs = readyTimeout(engine);
  const deadline = Date.now() + timeoutMs;
  let lastProgress = Date.now();
  let delay = cheap ? 10 : 25;
  for (;;) {
    const exited = exitedNow();
    if (exited) {
      await rm(ctx.paths.pidFile, { force: true });
      const tail = (await logSince(ctx.paths.logFile, startOffset)).slice(-15);
      throw new DbError(
        `${ctx.engine}/${ctx.name} exited during start-up (${exited.signal ?? `exit ${exited.code}`}).${tail.length ? `\nLast log lines:\n${tail.join('\n')}` : ''}`,
        'START_FAILED',
        `Read the full log with \`portunix-db logs ${ctx.engine} --instance ${ctx.name}\`.`,
        { logTail: tail },
      );
    }
    if (await acceptsConnections(engine, ctx, pid)) break;
    if (Date.now() > deadline) {
      // a server we started and cannot reach must not be left running behind the user's back
      signal(pid, 'SIGTERM');
      await sleep(2000);
      if (!exitedNow()) signal(pid, 'SIGKILL');
      await rm(ctx.paths.pidFile, { force: true });
      throw new DbError(`${ctx.engine}/${ctx.name} did not accept connections within ${timeoutMs / 1000} s.`, 'TIMEOUT', `Look at \`portunix-db logs ${ctx.engine} --instance ${ctx.name}\`.`);
    }
    if (Date.now() - lastProgress > 5000) {
      ctx.progress(`waiting for ${ctx.engine}/${ctx.name} to accept connections...`);
      lastProgress = Date.now();
    }
    await waker.sleep(Math.min(delay, Math.max(0, deadline - Date.now())));
    delay = Math.min(delay * 2, cheap ? 250 : 200);
  }
  return { alreadyRunning: false, recoveredFromCrash: recovered, status: await processStatus(engine, ctx) };
}

async function logSince(file: string, offset: number): Promise<string[]> {
  try {
    const text = await readFile(file, 'utf8');
    return text.slice(offset).split('\n').filter((l) => l.trim() !== '');
  } catch {
    return [];
  }
}

export interface StopResult {
  alreadyStopped: boolean;
  wasCrashed: boolean;
  forced: boolean;
}

export async function stopServer(engine: Engine, ctx: InstanceContext, timeoutMs = 60_000): Promise<StopResult> {
  // this process's pooled sessions would hold the server's shutdown (and then fail)
  await closePooledConnections(ctx.engine, ctx.name);
  const record = await readPidRecord(ctx.paths.pidFile);
  if (!record) return { alreadyStopped: true, wasCrashed: false, forced: false };
  if (!(await isOurProcess(record))) {
    await rm(ctx.paths.pidFile, { force: true });
    return { alreadyStopped: true, wasCrashed: true, forced: false };
  }
  if (has(engine, 'shutdown')) {
    await need(engine, 'shutdown')(ctx).catch(() => signal(record.pid, 'SIGTERM'));
  } else {
    signal(record.pid, 'SIGTERM');
  }
  const deadline = Date.now() + timeoutMs;
  let forced = false;
  // the server's own files tell when it goes (PostgreSQL removes postmaster.pid as it exits)
  const waker = wakeOn(watchedPaths(engine, ctx));
  let delay = 5;
  try {
    while (await isOurProcess(record)) {
      if (Date.now() > deadline && !forced) {
        signal(record.pid, 'SIGKILL');
        forced = true;
      }
      await waker.sleep(delay);
      delay = Math.min(delay * 2, 100);
    }
  } finally {
    waker.close();
  }
  await rm(ctx.paths.pidFile, { force: true });
  return { alreadyStopped: false, wasCrashed: false, forced };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
