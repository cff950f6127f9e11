/**
 * The long-running agent (`portunix-db monitor`): one per PORTUNIX_HOME (a pid file taken with
 * an exclusive create), a loop per task that sleeps until the task's nextRun (re-asking at
 * least every tick), services started before the tasks and stopped after them, and a clean
 * shutdown on SIGTERM/SIGINT that aborts ctx.signal so long work ends early.
 */
import { spawn } from 'node:child_process';
import { mkdir, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError } from '../errors.js';
import { homePaths, toolHome } from '../home.js';
import { audit } from '../audit.js';
import { isOurProcess, readPidRecord } from '../process/supervisor.js';
import type { AgentAlert, AgentContext, AgentLog, AgentService, AgentTask } from './task.js';

export const agentPaths = {
  pidFile: () => join(homePaths.state(), 'agent.pid'),
  logFile: () => join(homePaths.state(), 'agent.log'),
  statusFile: () => join(homePaths.state(), 'agent-status.json'),
};

/** How long the loop sleeps at most before it asks the tasks again (PORTUNIX_DB_AGENT_TICK_MS shortens it, e.g. in tests). */
export function agentTickMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['PORTUNIX_DB_AGENT_TICK_MS'];
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isInteger(n) && n >= 100 && n <= 3_600_000 ? n : 30_000;
}

export interface AgentPidRecord {
  pid: number;
  started_at: string;
  program: string;
  home: string;
}

export interface TaskState {
  last_run?: string;
  last_ok?: boolean;
  last_error?: string;
  next_run?: string;
  running?: boolean;
}

export interface AgentStatusFile {
  pid: number;
  started_at: string;
  updated_at: string;
  tasks: Record<string, TaskState>;
  services: { name: string; describe: string }[];
}

/** Takes the one-agent-per-home pid file, or says which agent holds it. A dead holder's file is taken over. */
export async function claimAgentPidFile(record: AgentPidRecord): Promise<() => Promise<void>> {
  const file = agentPaths.pidFile();
  await mkdir(homePaths.state(), { recursive: true, mode: 0o700 });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fh = await open(file, 'wx', 0o600);
      await fh.writeFile(JSON.stringify(record) + '\n');
      await fh.close();
      return async () => {
        const now = await readPidRecord(file);
        if (now?.pid === record.pid) await rm(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = await readPidRecord(file);
      if (holder && (await isOurProcess(holder))) {
        throw new DbError(`A monitor agent already runs for ${toolHome()} (pid ${holder.pid}, since ${holder.started_at}).`, 'ALREADY_EXISTS', 'See it with `portunix-db monitor status`; stop it with `portunix-db monitor stop`.');
      }
      // the holder died (kill -9, power loss): its pid file is stale
      await rm(file, { force: true });
    }
  }
  throw new DbError(`Could not take the agent pid file ${file}.`, 'COMMAND_FAILED', 'Remove it if no agent runs, then retry.');
}

function stamp(): string {
  return new Date().toISOString();
}

export function consoleLog(write: (line: string) => void = (l) => process.stderr.write(l)): AgentLog {
  return {
    info: (m) => write(`${stamp()} info  ${m}\n`),
    warn: (m) => write(`${stamp()} WARN  ${m}\n`),
  };
}

/** Abortable sleep: resolves early (never rejects) when the signal aborts. */
export function sleepFor(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, Math.max(0, ms));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

const HOOK_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;

/**
 * Runs the user's hook command for one alert. The command line is the user's own (`--on-alert`);
 * the alert itself never goes into it: it arrives as environment variables and JSON on stdin, so
 * a database or message text cannot inject shell syntax.
 */
export function runAlertHook(command: string, alert: AgentAlert, log: AgentLog, timeoutMs = HOOK_TIMEOUT_MS): Promise<{ code: number | null }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORTUNIX_DB_ALERT_KIND: alert.kind,
      PORTUNIX_DB_ALERT_MESSAGE: alert.message,
      PORTUNIX_DB_ALERT_ENGINE: alert.engine ?? '',
      PORTUNIX_DB_ALERT_INSTANCE: alert.instance ?? '',
      PORTUNIX_DB_ALERT_DETAIL: alert.detail ?? '',
    };
    const shell = process.platform === 'win32' ? { file: process.env['ComSpec'] ?? 'cmd.exe', args: ['/d', '/s', '/c', command] } : { file: '/bin/sh', args: ['-c', command] };
    const posix = process.platform !== 'win32';
    // its own process group on POSIX, so a timeout kills what the hook started too
    const child = spawn(shell.file, shell.args, { env, stdio: ['pipe', 'ignore', 'pipe'], detached: posix, windowsVerbatimArguments: !posix });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    const timer = setTimeout(() => {
      try {
        if (posix && child.pid) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      log.warn(`alert hook could not start: ${err.message}`);
      resolve({ code: null });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) log.warn(`alert hook exited ${code ?? 'by a signal (timed out?)'}${stderr.trim() ? `: ${stderr.trim().split('\n').pop()}` : ''}`);
      resolve({ code });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify({ at: stamp(), ...alert }) + '\n');
  });
}

export interface AgentOptions {
  tasks: readonly AgentTask[];
  services?: readonly AgentService[];
  /** Shell command run for every alert (`--on-alert`). */
  onAlert?: string;
  log?: AgentLog;
  tickMs?: number;
  /** Stops the agent when aborted (besides SIGTERM/SIGINT). */
  signal?: AbortSignal;
  /** Installs SIGTERM/SIGINT handlers (the CLI does; in-process tests do not). */
  handleSignals?: boolean;
}

/** Runs until stopped. Resolves after every task has ended its round and every service has stopped. */
export async function runAgent(options: AgentOptions): Promise<void> {
  const log = options.log ?? consoleLog();
  const tick = options.tickMs ?? agentTickMs();
  const controller = new AbortController();
  const stop = (why: string) => {
    if (controller.signal.aborted) return;
    log.info(`stopping (${why})`);
    controller.abort();
  };
  options.signal?.addEventListener('abort', () => stop('asked to'), { once: true });
  const onSigterm = () => stop('SIGTERM');
  const onSigint = () => stop('SIGINT');
  if (options.handleSignals) {
    process.on('SIGTERM', onSigterm);
    process.on('SIGINT', onSigint);
  }
  const started = stamp();
  const release = await claimAgentPidFile({ pid: process.pid, started_at: started, program: process.argv[1] ?? process.execPath, home: toolHome() });
  const status: AgentStatusFile = { pid: process.pid, started_at: started, updated_at: started, tasks: {}, services: [] };
  const saveStatus = async () => {
    status.updated_at = stamp();
    const tmp = `${agentPaths.statusFile()}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(status, null, 2) + '\n', { mode: 0o600 });
    await rename(tmp, agentPaths.statusFile());
  };
  const ctx: AgentContext = {
    home: toolHome(),
    log,
    signal: controller.signal,
    async alert(event) {
      log.warn(`alert ${event.kind}${event.engine ? ` ${event.engine}/${event.instance ?? 'main'}` : ''}: ${event.message}`);
      await audit({ action: 'agent-alert', ...(event.engine ? { engine: event.engine } : {}), ...(event.instance ? { instance: event.instance } : {}), target: event.kind, via: 'agent', ok: false, detail: event.detail ? `${event.message} (${event.detail})` : event.message }).catch((err: Error) => log.warn(err.message));
      if (options.onAlert) await runAlertHook(options.onAlert, event, log);
    },
  };
  const stops: { name: string; stop(): Promise<void> }[] = [];
  try {
    await audit({ action: 'agent-start', via: 'agent', ok: true, detail: `pid ${process.pid}; tasks: ${options.tasks.map((t) => t.name).join(', ') || 'none'}` });
    for (const service of options.services ?? []) {
      const s = await service.start(ctx);
      stops.push({ name: service.name, stop: s.stop });
      status.services.push({ name: service.name, describe: s.describe });
      log.info(`${service.name}: ${s.describe}`);
    }
    await saveStatus();
    log.info(`agent running (pid ${process.pid}) for ${toolHome()}; tasks: ${options.tasks.map((t) => t.name).join(', ') || 'none'}`);
    const loops = Promise.all(options.tasks.map((task) => taskLoop(task, ctx, tick, status, saveStatus)));
    // once stopped, work in progress gets a grace period to end (a backup removes its partial file at once)
    const grace = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => setTimeout(resolve, STOP_GRACE_MS).unref(), { once: true }));
    await Promise.race([loops, grace]);
  } finally {
    for (const s of stops.reverse()) await s.stop().catch((err: Error) => log.warn(`${s.name} did not stop cleanly: ${err.message}`));
    await rm(agentPaths.statusFile(), { force: true });
    await release();
    if (options.handleSignals) {
      process.off('SIGTERM', onSigterm);
      process.off('SIGINT', onSigint);
    }
    await audit({ action: 'agent-stop', via: 'agent', ok: true, detail: `pid ${process.pid}` }).catch(() => undefined);
    log.info('agent stopped');
  }
}

async function taskLoop(task: AgentTask, ctx: AgentContext, tick: number, status: AgentStatusFile, save: () => Promise<void>): Promise<void> {
  let lastRun: Date | undefined;
  const state: TaskState = (status.tasks[task.name] = {});
  while (!ctx.signal.aborted) {
    const now = new Date();
    const next = task.nextRun(now, lastRun);
    const nextIso = next?.toISOString();
    if (nextIso !== state.next_run) {
      if (nextIso) state.next_run = nextIso;
      else delete state.next_run;
      await save().catch(() => undefined);
    }
    if (!next || next.getTime() > now.getTime()) {
      // sleep to the task's time, but never longer than a tick: schedules and config change
      await sleepFor(next ? Math.min(next.getTime() - now.getTime(), tick) : tick, ctx.signal);
      continue;
    }
    lastRun = now;
    state.running = true;
    state.last_run = now.toISOString();
    await save().catch(() => undefined);
    try {
      await task.run(ctx);
      state.last_ok = true;
      delete state.last_error;
    } catch (err) {
      state.last_ok = false;
      state.last_error = (err as Error).message;
      ctx.log.warn(`${task.name}: ${(err as Error).message}`);
    }
    state.running = false;
    await save().catch(() => undefined);
  }
}

export interface AgentStatus {
  state: 'running' | 'stopped' | 'crashed';
  pid?: number;
  started_at?: string;
  uptime_seconds?: number;
  log_file: string;
  tasks?: Record<string, TaskState>;
  services?: { name: string; describe: string }[];
  message: string;
}

export async function agentStatus(): Promise<AgentStatus> {
  const record = (await readPidRecord(agentPaths.pidFile())) as AgentPidRecord | undefined;
  const log_file = agentPaths.logFile();
  if (!record) return { state: 'stopped', log_file, message: 'No monitor agent runs. Start one with `portunix-db monitor --detach`.' };
  if (!(await isOurProcess(record))) return { state: 'crashed', pid: record.pid, started_at: record.started_at, log_file, message: `The monitor agent (pid ${record.pid}) died without stopping; its log is ${log_file}. Start it again with \`portunix-db monitor --detach\`.` };
  const file = await readFile(agentPaths.statusFile(), 'utf8').then((t) => JSON.parse(t) as AgentStatusFile, () => undefined);
  return {
    state: 'running',
    pid: record.pid,
    started_at: record.started_at,
    uptime_seconds: Math.max(0, Math.round((Date.now() - Date.parse(record.started_at)) / 1000)),
    log_file,
    ...(file ? { tasks: file.tasks, services: file.services } : {}),
    message: `The monitor agent runs (pid ${record.pid}).`,
  };
}

/** SIGTERM to the agent, then waits for it to end (SIGKILL after the timeout). */
export async function stopAgent(timeoutMs = 60_000): Promise<{ stopped: boolean; was: AgentStatus['state']; forced: boolean; message: string }> {
  const record = (await readPidRecord(agentPaths.pidFile())) as AgentPidRecord | undefined;
  if (!record) return { stopped: false, was: 'stopped', forced: false, message: 'No monitor agent was running.' };
  if (!(await isOurProcess(record))) {
    await rm(agentPaths.pidFile(), { force: true });
    return { stopped: false, was: 'crashed', forced: false, message: `The monitor agent (pid ${record.pid}) had already died; its pid file is removed.` };
  }
  process.kill(record.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  let forced = false;
  while (await isOurProcess(record)) {
    if (Date.now() > deadline && !forced) {
      try {
        process.kill(record.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      forced = true;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await rm(agentPaths.pidFile(), { force: true });
  return { stopped: true, was: 'running', forced, message: `Stopped the monitor agent (pid ${record.pid})${forced ? ' with SIGKILL after it did not stop in time' : ''}.` };
}
