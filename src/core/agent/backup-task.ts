/**
 * Scheduled backups as an agent task: every tick it backs up what is due (auto_backup and
 * backup_schedule of each instance) through runDue, the same code `backup due --run` uses.
 * Skipped (stopped, crashed) instances and failures raise alerts, once per change, so the
 * audit log and the hook hear about them without one alert per tick. A failed database's alert
 * has the key the sampler's backup-failed condition has; with shared `claims`, only the first
 * of the two to see the failure alerts.
 */
import { runDue } from '../ops/backup-schedule.js';
import { backupAlertKey, type AlertClaims } from './alert-claims.js';
import type { AgentAlert, AgentTask } from './task.js';

const OWNER = 'scheduled-backups';

export function scheduledBackupsTask(settings: { tickMs: number; claims?: AlertClaims }): AgentTask {
  /** alert key -> the last problem alerted, so a lasting one is alerted once. */
  const alerted = new Map<string, string>();
  return {
    name: OWNER,
    nextRun: (now, last) => (last ? new Date(last.getTime() + settings.tickMs) : now),
    async run(ctx) {
      const report = await runDue({ via: 'agent', progress: () => undefined, signal: ctx.signal });
      const problems = new Map<string, AgentAlert & { engine: string; instance: string }>();
      for (const s of report.skipped) problems.set(`backup-skipped:${s.engine}/${s.instance}`, { kind: 'backup-skipped', engine: s.engine, instance: s.instance, message: `scheduled backup skipped: ${s.reason}` });
      for (const r of report.results) {
        if (r.ok) {
          if (!r.covered_by_instance_backup) ctx.log.info(`backed up ${r.engine}/${r.instance} ${r.database}: ${r.file}`);
          continue;
        }
        // an instance backup that failed is alerted once, for the database it was taken of
        if (r.covered_by_instance_backup) continue;
        const kind = r.error?.code === 'VERIFY_FAILED' ? 'verify-failed' : 'backup-failed';
        problems.set(backupAlertKey(kind, r.engine, r.instance, r.database), { kind, engine: r.engine, instance: r.instance, message: `scheduled backup of ${r.database} failed: ${r.error?.message ?? 'failed'}` });
      }
      for (const [key, p] of problems) {
        if (alerted.get(key) === p.message) continue;
        alerted.set(key, p.message);
        if (settings.claims && !settings.claims.claim(key, OWNER)) continue;
        await ctx.alert(p);
      }
      for (const key of [...alerted.keys()]) {
        if (problems.has(key)) continue;
        alerted.delete(key);
        settings.claims?.release(key, OWNER);
      }
    },
  };
}
