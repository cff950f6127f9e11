import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DbError } from '../errors.js';
import { run } from '../process/exec.js';
import { isRoot, serviceUser } from '../process/service-user.js';
import type { Engine, Progress } from '../../engines/contract.js';
import { npmGet } from './npm-config.js';
import { describeStep, type InstallPlan, type PlanStep } from './plan.js';
import { fileDigest } from './digest.js';
import { runLocalStep } from './local.js';

export { fileDigest };

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

async function download(step: Extract<PlanStep, { kind: 'download' }>, progress: Progress): Promise<void> {
  const verify = async (file: string) => {
    if (!step.integrity) return true;
    const { algorithm, digest, encoding } = step.integrity;
    const expected = digest.replace(/^sha\d+-/, '');
    return (await fileDigest(file, algorithm, encoding)) === expected;
  };
  if ((await exists(step.dest)) && (await verify(step.dest))) {
    progress(`cached: ${step.dest}`);
    return;
  }
  await mkdir(dirname(step.dest), { recursive: true });
  const partial = `${step.dest}.partial`;
  const res = await npmGet(step.url, { timeoutMs: 60_000 });
  const total = Number(res.headers['content-length'] ?? 0);
  let received = 0;
  let lastShown = 0;
  const body = res;
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (Date.now() - lastShown > 1000) {
      lastShown = Date.now();
      progress(total ? `downloading ${Math.round((received / total) * 100)}% (${(received / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB)` : `downloading ${(received / 1e6).toFixed(1)} MB`);
    }
  });
  await pipeline(body, createWriteStream(partial));
  if (!(await verify(partial))) {
    await rm(partial, { force: true });
    throw new DbError(`Integrity check failed for ${step.url}: the file does not match the registry's ${step.integrity!.algorithm} hash.`, 'INTEGRITY_MISMATCH', 'Nothing was unpacked. Retry; if it persists, the mirror is serving a bad file.');
  }
  await rename(partial, step.dest);
  progress(`downloaded and verified ${step.integrity ? step.integrity.algorithm : '(no checksum)'}: ${step.dest}`);
}

/**
 * Package managers hold locks while another run (unattended upgrades, a second install) works;
 * apt-get's DPkg::Lock::Timeout covers the dpkg lock but not the package-list lock of `update`.
 * So a command that failed only on a lock is retried for up to five minutes.
 */
async function runWaitingForLocks(argv: string[], opts: Parameters<typeof run>[1], progress: Progress): Promise<void> {
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    try {
      await run(argv, opts);
      return;
    } catch (err) {
      const locked = /Could not get lock|Unable to lock|waiting for cache lock|another process is using/i.test((err as Error).message);
      if (!locked || Date.now() > deadline) throw err;
      progress('another package manager holds its lock; waiting...');
      await new Promise((r) => setTimeout(r, 3000));
    }
  }
}

export interface ExecuteOptions {
  engine: Engine;
  progress: Progress;
  /** Runs `init-instance` steps; supplied by the install operation. */
  initInstance: (step: Extract<PlanStep, { kind: 'init-instance' }>) => Promise<void>;
}

export async function executePlan(plan: InstallPlan, options: ExecuteOptions): Promise<void> {
  if (plan.manualOnly) {
    const manual = plan.steps.filter((s): s is Extract<PlanStep, { kind: 'manual' }> => s.kind === 'manual');
    throw new DbError(`${plan.engine} ${plan.version} via ${plan.source} cannot be installed automatically on ${plan.platform.os}.`, 'UNSUPPORTED_PLATFORM', manual.flatMap((m) => m.instructions).join(' '));
  }
  const total = plan.steps.length;
  for (const [i, step] of plan.steps.entries()) {
    options.progress(`[${i + 1}/${total}] ${step.description}`);
    switch (step.kind) {
      case 'command': {
        const argv = step.sudo && !isRoot() ? ['sudo', ...step.argv] : step.argv;
        try {
          await runWaitingForLocks(argv, { env: { DEBIAN_FRONTEND: 'noninteractive', ...(step.env ?? {}) }, timeoutMs: 20 * 60_000 }, options.progress);
        } catch (err) {
          if (!step.optional) throw new DbError(`Install step failed: ${describeStep(step)}\n${(err as Error).message}`, 'COMMAND_FAILED', 'Fix the cause above and run the install again; finished steps are skipped or cheap to repeat.');
        }
        break;
      }
      case 'download':
        await download(step, options.progress);
        break;
      case 'extract':
        await mkdir(step.dest, { recursive: true });
        await run(['tar', '-xzf', step.archive, '-C', step.dest, ...(step.stripComponents ? [`--strip-components=${step.stripComponents}`] : [])]);
        break;
      case 'write-file':
        await mkdir(dirname(step.path), { recursive: true });
        await writeFile(step.path, step.content, { mode: step.mode ?? 0o644 });
        break;
      case 'ensure-service-user':
        serviceUser(true, step.user);
        break;
      case 'engine-step':
        if (!options.engine.install.runStep) throw new DbError(`${plan.engine} has no install step "${step.action}"`, 'INTERNAL');
        await options.engine.install.runStep(step.action, step.params, options.progress);
        break;
      case 'init-instance':
        await options.initInstance(step);
        break;
      case 'verify-archive':
      case 'unpack-archive':
      case 'adopt-binaries':
        await runLocalStep(options.engine, step, options.progress);
        break;
      case 'manual':
        options.progress(step.instructions.join('\n'));
        break;
    }
  }
}
