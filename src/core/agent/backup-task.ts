/**
 * Scheduled backups as an agent task: every tick it backs up what is due (auto_backup and
 * backup_schedule of each instance) through runDue, the same code `backup due --run` uses.
 * Skipped (stopped, crashed) instances and failures raise alerts, once per change, so the
 * audit log and the hook hear about them without one alert per tick.
 */
import { runDue } from '../ops/backup-schedule.js';
import type { AgentTask } from './task.js';

export function scheduledBackupsTask(settings: { tickMs: number }): AgentTask {
  /** engine/instance -> the last problem alerted, so a lasting one is alerted once. */
  const alerted = new Map<string, string>();
  return {
    name: 'scheduled-backups',
    nextRun: (now, last) => (last ? new Date(last.getTime() + settings.tickMs) : now),
    async run(ctx) {
      const report = await runDue({ via: 'agent', progress: () => undefined, signal: ctx.signal });
      const problems = new Map<string, { kind: 'backup-skipped' | 'backup-failed' | 'verify-failed'; engine: string; instance: string; message: string }>();
      for (const s of report.skipped) problems.set(`${s.engine}/${s.instance}`, { kind: 'backup-skipped', engine: s.engine, instance: s.instance, message: `scheduled backup skipped: ${s.reason}` });
      for (const r of report.results) {
        const key = `${r.engine}/${r.instance}`;
        if (r.ok) {
          if (!r.covered_by_instance_backup) ctx.log.info(`backed up ${key} ${r.database}: ${r.file}`);
          continue;
        }
        problems.set(key, { kind: r.error?.code === 'VERIFY_FAILED' ? 'verify-failed' : 'backup-failed', engine: r.engine, instance: r.instance, message: `scheduled backup of ${r.database} failed: ${r.error?.message ?? 'failed'}` });
      }
      for (const [key, p] of problems) {
        if (alerted.get(key) === p.message) continue;
        alerted.set(key, p.message);
        await ctx.alert(p);
      }
      for (const key of [...alerted.keys()]) if (!problems.has(key)) alerted.delete(key);
    },
  };
}
