/**
 * `start`, `stop` and `restart`: apart from install's machinery, so these commands load only
 * the supervisor, the instance and its engine.
 */
import { join } from 'node:path';
import { withFileLock } from '../file-lock.js';
import { startServer, stopServer, type ProcessState } from '../process/supervisor.js';
import { need } from '../../engines/need.js';
import type { EngineId } from '../../engines/ids.js';
import type { Progress } from '../../engines/contract.js';
import { openInstance, type Target } from './instances.js';

export interface StartOutcome {
  engine: EngineId;
  instance: string;
  state: ProcessState;
  already_running: boolean;
  recovered_from_crash: boolean;
  pid?: number;
  port?: number;
  message: string;
}

/** One start or stop at a time per instance: a second caller waits for the first, then sees its result. */
function withInstanceLock<T>(ctx: { paths: { root: string }; engine: string; name: string; progress: Progress }, fn: () => Promise<T>): Promise<T> {
  return withFileLock(join(ctx.paths.root, 'lifecycle.lock'), fn, 5 * 60_000, (pid) => ctx.progress(`another portunix-db command${pid ? ` (pid ${pid})` : ''} is starting or stopping ${ctx.engine}/${ctx.name}; waiting for it to finish`));
}

export async function start(target: Target): Promise<StartOutcome> {
  const { engine, ctx } = await openInstance(target);
  const r = await withInstanceLock(ctx, () => startServer(engine, ctx));
  const id = `${ctx.engine}/${ctx.name}`;
  return {
    engine: ctx.engine,
    instance: ctx.name,
    state: r.status.state,
    already_running: r.alreadyRunning,
    recovered_from_crash: r.recoveredFromCrash,
    ...(r.status.pid !== undefined ? { pid: r.status.pid } : {}),
    ...(ctx.config.port !== undefined ? { port: ctx.config.port } : {}),
    message: r.alreadyRunning ? `${id} is already running (pid ${r.status.pid}).` : r.recoveredFromCrash ? `${id} had crashed; it is running again (pid ${r.status.pid}).` : `${id} is running on 127.0.0.1:${ctx.config.port} (pid ${r.status.pid}).`,
  };
}

export async function stop(target: Target): Promise<{ engine: EngineId; instance: string; already_stopped: boolean; was_crashed: boolean; forced: boolean; message: string }> {
  const { engine, ctx } = await openInstance(target);
  need(engine, 'launchSpec');
  const r = await withInstanceLock(ctx, () => stopServer(engine, ctx));
  const id = `${ctx.engine}/${ctx.name}`;
  return {
    engine: ctx.engine,
    instance: ctx.name,
    already_stopped: r.alreadyStopped,
    was_crashed: r.wasCrashed,
    forced: r.forced,
    message: r.wasCrashed ? `${id} was not running (it had crashed); cleaned up its pid file.` : r.alreadyStopped ? `${id} is already stopped.` : `${id} stopped${r.forced ? ' (forced with SIGKILL after the timeout)' : ''}.`,
  };
}

export async function restart(target: Target): Promise<StartOutcome> {
  await stop(target);
  return start(target);
}
