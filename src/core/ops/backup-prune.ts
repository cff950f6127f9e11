/**
 * Retention: which backups of a database to keep (last N, grandfather-father-son daily/weekly/
 * monthly, a maximum age, a maximum total size) and pruning the rest. Never pruned, whatever the
 * rules say: the newest good backup and anything newer, the newest backup whose last
 * verification passed, and a backup that is being restored or verified. Every deletion is audited.
 */
import { rm } from 'node:fs/promises';
import { MANIFEST_SUFFIX } from '../backup-manifest.js';
import { effectiveOptions, loadConfig, listInstances, type Retention } from '../config.js';
import { retentionSchema } from '../config-schema.js';
import { DbError } from '../errors.js';
import { audit } from '../audit.js';
import { parseEngineId } from '../../engines/ids.js';
import { listBackups, latestVerifications, type BackupListEntry } from './backup.js';
import { removeUnlessInUse } from './backup-locks.js';
import type { Via } from './data.js';

export interface RetentionInput {
  file: string;
  finished_at: string;
  size_bytes: number;
  /** The latest verification: undefined when never verified. */
  verified?: boolean;
}

export interface RetentionPlan {
  keep: { file: string; reasons: string[] }[];
  remove: { file: string; size_bytes: number; reasons: string[] }[];
}

function hasRules(r: Retention | undefined): r is Retention {
  return !!r && Object.values(r).some((v) => v !== undefined);
}

/** Calendar buckets in the schedule's time zone (UTC when none). */
function buckets(iso: string, timezone: string | undefined): { day: string; week: string; month: string } {
  const d = new Date(iso);
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: timezone ?? 'UTC', year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(d).map((p) => [p.type, p.value]));
  const day = `${parts['year']}-${parts['month']}-${parts['day']}`;
  // ISO week of that calendar day
  const local = new Date(`${day}T00:00:00Z`);
  const dow = (local.getUTCDay() + 6) % 7;
  const thursday = new Date(local.getTime() + (3 - dow) * 86_400_000);
  const yearStart = new Date(Date.UTC(thursday.getUTCFullYear(), 0, 1));
  const week = `${thursday.getUTCFullYear()}-W${Math.ceil(((thursday.getTime() - yearStart.getTime()) / 86_400_000 + 1) / 7)}`;
  return { day, week, month: day.slice(0, 7) };
}

/** The pure decision for one database's chain of backups. */
export function planRetention(backups: readonly RetentionInput[], rules: Retention, now: Date, timezone?: string): RetentionPlan {
  const sorted = [...backups].sort((a, b) => b.finished_at.localeCompare(a.finished_at));
  const reasons = new Map<string, string[]>(sorted.map((b) => [b.file, []]));
  const protect = new Set<string>();
  const why = (file: string, reason: string) => reasons.get(file)!.push(reason);
  const good = sorted.filter((b) => b.verified !== false);
  const newestGood = good[0];
  if (newestGood) {
    for (const b of sorted) {
      if (b === newestGood) break;
      protect.add(b.file);
      why(b.file, 'newer than the newest good backup');
    }
    protect.add(newestGood.file);
    why(newestGood.file, 'the newest good backup');
  } else for (const b of sorted) (protect.add(b.file), why(b.file, 'there is no good backup to fall back on'));
  const lastVerified = sorted.find((b) => b.verified === true);
  if (lastVerified) {
    protect.add(lastVerified.file);
    why(lastVerified.file, 'the newest verified-good backup');
  }
  const counted = rules.keep_last !== undefined || rules.keep_daily !== undefined || rules.keep_weekly !== undefined || rules.keep_monthly !== undefined;
  const kept = new Set<string>();
  if (!counted) for (const b of good) kept.add(b.file);
  good.slice(0, rules.keep_last ?? 0).forEach((b, i) => (kept.add(b.file), why(b.file, `one of the last ${rules.keep_last} (#${i + 1})`)));
  for (const [rule, label] of [['keep_daily', 'day'], ['keep_weekly', 'week'], ['keep_monthly', 'month']] as const) {
    const n = rules[rule];
    if (!n) continue;
    const seen = new Set<string>();
    for (const b of good) {
      const key = buckets(b.finished_at, timezone)[label];
      if (seen.has(key)) continue;
      if (seen.size >= n) break;
      seen.add(key);
      kept.add(b.file);
      why(b.file, `newest of ${label} ${key} (${rule} ${n})`);
    }
  }
  if (rules.max_age_days !== undefined) {
    const limit = now.getTime() - rules.max_age_days * 86_400_000;
    for (const b of good) if (kept.has(b.file) && Date.parse(b.finished_at) < limit) (kept.delete(b.file), why(b.file, `older than ${rules.max_age_days} days`));
  }
  if (rules.max_total_bytes !== undefined) {
    let total = 0;
    for (const b of sorted) if (protect.has(b.file)) total += b.size_bytes;
    for (const b of good) {
      if (protect.has(b.file) || !kept.has(b.file)) continue;
      if (total + b.size_bytes > rules.max_total_bytes) (kept.delete(b.file), why(b.file, `over max_total_bytes ${rules.max_total_bytes}`));
      else total += b.size_bytes;
    }
  }
  const plan: RetentionPlan = { keep: [], remove: [] };
  for (const b of sorted) {
    const r = reasons.get(b.file)!;
    if (protect.has(b.file) || kept.has(b.file)) plan.keep.push({ file: b.file, reasons: r.length ? r : ['kept by the rules'] });
    else plan.remove.push({ file: b.file, size_bytes: b.size_bytes, reasons: r.length ? r : [b.verified === false ? 'its last verification failed' : 'no rule keeps it'] });
  }
  return plan;
}

export interface PruneOptions {
  type?: string;
  instance?: string;
  database?: string;
  /** Rules for this run, over the configured ones. */
  rules?: Retention;
  dryRun?: boolean;
  via?: Via;
  now?: Date;
}

export interface PruneChain {
  engine: string;
  instance: string;
  database: string;
  rules?: Retention;
  keep: RetentionPlan['keep'];
  remove: (RetentionPlan['remove'][number] & { removed: boolean; skipped?: string })[];
}

export interface PruneReport {
  dry_run: boolean;
  removed: number;
  freed_bytes: number;
  chains: PruneChain[];
  /** engine/instance with no retention rules: nothing of theirs is pruned. */
  no_policy: string[];
}

/** Rules given on the command line or over MCP go through the config's own schema. */
function checkRules(rules: Retention): Retention {
  const parsed = retentionSchema.safeParse(rules);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new DbError(`Invalid retention rule ${issue.path.map(String).join('.') || ''}: ${issue.message}.`, 'USAGE', 'keep_last >= 1; keep_daily/weekly/monthly >= 0; max_age_days > 0; max_total_bytes > 0 (whole numbers except max_age_days).');
  }
  return parsed.data;
}

export async function pruneBackups(options: PruneOptions = {}): Promise<PruneReport> {
  const given = options.rules ? checkRules(options.rules) : undefined;
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const now = options.now ?? new Date();
  const config = await loadConfig();
  const instances = listInstances(config, engineId).filter((i) => !options.instance || i.name === options.instance);
  const [all, verifications] = await Promise.all([listBackups({ ...(engineId ? { type: engineId } : {}), ...(options.instance ? { instance: options.instance } : {}), ...(options.database ? { database: options.database } : {}) }), latestVerifications()]);
  const report: PruneReport = { dry_run: !!options.dryRun, removed: 0, freed_bytes: 0, chains: [], no_policy: [] };
  for (const inst of instances) {
    const opts = effectiveOptions(config, inst.engine, inst.config);
    const rules = { ...opts.retention, ...given };
    const mine = all.filter((b) => b.engine === inst.engine && b.instance === inst.name);
    if (!hasRules(rules)) {
      if (mine.length) report.no_policy.push(`${inst.engine}/${inst.name}`);
      continue;
    }
    const byDb = new Map<string, BackupListEntry[]>();
    for (const b of mine) byDb.set(b.database, [...(byDb.get(b.database) ?? []), b]);
    for (const [database, chain] of byDb) {
      const plan = planRetention(chain.map((b) => ({ file: b.file, finished_at: b.finished_at, size_bytes: b.size_bytes, ...(verifications.has(b.file) ? { verified: verifications.get(b.file)!.ok } : {}) })), rules, now, opts.timezone);
      const out: PruneChain = { engine: inst.engine, instance: inst.name, database, rules, keep: plan.keep, remove: [] };
      for (const r of plan.remove) {
        if (options.dryRun) {
          out.remove.push({ ...r, removed: false });
          continue;
        }
        // the manifest goes first: a half-removed backup never looks good
        const removed = await removeUnlessInUse(r.file, async () => {
          await rm(`${r.file}${MANIFEST_SUFFIX}`, { force: true });
          await rm(r.file, { force: true, recursive: true });
        });
        if (!removed) {
          out.keep.push({ file: r.file, reasons: ['being restored or verified right now'] });
          continue;
        }
        out.remove.push({ ...r, removed: true });
        report.removed++;
        report.freed_bytes += r.size_bytes;
        await audit({ action: 'backup-prune', engine: inst.engine, instance: inst.name, target: database, via: options.via ?? 'cli', ok: true, detail: `${r.file} (${r.reasons.join('; ')})` });
      }
      report.chains.push(out);
    }
  }
  return report;
}
