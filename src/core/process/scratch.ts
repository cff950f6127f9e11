import { spawn, type ChildProcess } from 'node:child_process';
import type { InstanceContext } from '../../engines/contract.js';
import { sleep } from './supervisor.js';

/** A throwaway server process (scratch copy, bootstrap) the caller watches and always kills. */
export interface ScratchProcess {
  child: ChildProcess;
  /** The tail of its stdout and stderr. */
  output(): string;
  /** undefined while it runs; its exit code (or -1 when it could not start) once it ended. */
  exited(): number | null | undefined;
  /** SIGTERM, then SIGKILL after graceMs; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `argv` as the instance's service user with the instance's library path, output kept in memory. */
export function spawnScratch(ctx: InstanceContext, argv: string[], cwd: string): ScratchProcess {
  const [program, ...args] = argv;
  const child = spawn(program!, args, {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(ctx.config.lib_dir ? { LD_LIBRARY_PATH: ctx.config.lib_dir } : {}) },
    ...(ctx.runAs ? { uid: ctx.runAs.uid, gid: ctx.runAs.gid } : {}),
  });
  let output = '';
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  child.on('error', (err) => {
    output += String(err.message);
    exited = -1;
  });
  const keep = (d: Buffer) => (output = (output + d.toString()).slice(-8000));
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    child,
    output: () => output,
    exited: () => exited,
    async stop(graceMs = 0) {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once('exit', r));
      child.kill(graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
      if (graceMs > 0 && !(await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]))) child.kill('SIGKILL');
      await gone;
    },
  };
}
