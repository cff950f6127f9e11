/**
 * The monitor's sampling task: every `interval` one round over all instances (collect.ts),
 * stored in the sample store, with alerts raised once per condition (until it clears) through
 * the agent's ctx.alert (audited, handed to --on-alert).
 */
import type { AgentContext, AgentTask } from '../agent/task.js';
import { UsageError } from '../errors.js';
import { allBackupStatus, sampleRound, type PreviousCounters } from './collect.js';
import { SampleStore } from './store.js';
import type { BackupStatusEntry } from '../ops/backup.js';
import type { AlertClaims } from '../agent/alert-claims.js';

export const DEFAULT_INTERVAL_MS = 15_000;
export const MIN_INTERVAL_MS = 1_000;
export const MAX_INTERVAL_MS = 3600_000;
/** `backup status` reads every manifest: it is refreshed at most this often. */
const BACKUP_REFRESH_MS = 60_000;
const PRUNE_EVERY_MS = 60_000;

/**
 * `--interval`: a number of seconds, or a number with ms, s, m or h ("500ms", "15s", "1m"),
 * between 1 s and 1 h.
 */
export function parseInterval(value: string): number {
  const m = /^(\d{1,7})(ms|s|m|h)?$/.exec(value.trim());
  const hint = 'Give seconds or a unit: --interval 15, 15s, 500ms, 1m (between 1s and 1h).';
  if (!m) throw new UsageError(`"${value}" is not an interval.`, 'USAGE', hint);
  const n = Number(m[1]);
  const ms = n * ({ ms: 1, s: 1000, m: 60_000, h: 3600_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (ms < MIN_INTERVAL_MS || ms > MAX_INTERVAL_MS) throw new UsageError(`The interval ${value} is outside 1s..1h.`, 'USAGE', hint);
  return ms;
}

export interface SamplerOptions {
  intervalMs?: number;
  /** For tests: a store file elsewhere, or a size bound. */
  storeFile?: string;
  maxBytes?: number;
  /** Shared with the scheduled-backups task: a failed backup it already alerted is not alerted again. */
  claims?: AlertClaims;
}

export function samplerTask(options: SamplerOptions = {}): AgentTask & { close(): void } {
  const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const previous: PreviousCounters = new Map();
  let store: SampleStore | undefined;
  let backups: { at: number; entries: BackupStatusEntry[] } | undefined;
  let lastPrune = 0;
  const close = () => {
    store?.close();
    store = undefined;
  };
  return {
    name: 'sample',
    nextRun(now, lastRun) {
      return lastRun ? new Date(lastRun.getTime() + interval) : now;
    },
    async run(ctx: AgentContext) {
      if (!store) {
        store = await SampleStore.open({ ...(options.storeFile ? { file: options.storeFile } : {}), ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}) });
        ctx.signal.addEventListener('abort', close, { once: true });
      }
      const now = Date.now();
      if (!backups || now - backups.at >= BACKUP_REFRESH_MS) {
        try {
          backups = { at: now, entries: await allBackupStatus() };
        } catch (err) {
          ctx.log.warn(`sample: backup status failed: ${(err as Error).message}`);
        }
      }
      const round = await sampleRound(previous, backups?.entries);
      if (ctx.signal.aborted) return;
      store!.record(round.at, round.snapshots, round.points, interval);
      const { raised, resolved } = store!.reconcileAlerts(round.conditions, round.at);
      for (const r of resolved) {
        options.claims?.release(r.key, 'sample');
        ctx.log.info(`cleared: ${r.message}`);
      }
      for (const c of raised) {
        const { key, ...alert } = c;
        // still recorded in the store (and shown as open); only the second delivery is left out
        if (options.claims && !options.claims.claim(key, 'sample')) continue;
        await ctx.alert(alert).catch((err: Error) => ctx.log.warn(`alert ${c.kind} could not be delivered: ${err.message}`));
      }
      if (round.at - lastPrune >= PRUNE_EVERY_MS) {
        store!.prune(round.at);
        lastPrune = round.at;
      }
    },
    close,
  };
}
