import { existsSync } from 'node:fs';
import { chmod, lstat, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths, toolHome } from '../home.js';
import { audit, verifyAudit } from '../audit.js';
import { listInstances, loadConfigLenient, type ResolvedInstance } from '../config.js';
import { createInstanceContext, silentProgress } from '../instance-context.js';
import { getSecretStore } from '../secrets.js';
import { pidAlive } from '../file-lock.js';
import { loadEngine } from '../../engines/registry.js';
import { has } from '../../engines/need.js';
import { cleanupOrphans, scratchOrphans } from '../process/scratch.js';
import { cleanupStagingDatabases, listStagingRecords } from '../process/staging.js';
import { isOurProcess, readPidRecord } from '../process/supervisor.js';
import type { Progress } from '../../engines/contract.js';

/**
 * `portunix-db doctor [--fix]`: finds what killed commands, crashes and hand edits leave
 * behind, and with --fix repairs what can be repaired safely. Each repair is audited; what
 * cannot be repaired (a broken audit chain, an invalid config entry, a missing data dir) stays
 * a problem and the command exits non-zero.
 */
export interface DoctorCheck {
  check: string;
  ok: boolean;
  /** Problems still present after this run. */
  problems: string[];
  /** Repairs made (with --fix). */
  fixed: string[];
}

export interface DoctorReport {
  ok: boolean;
  fix: boolean;
  home: string;
  checks: DoctorCheck[];
}

/** Files and dirs (not following symlinks) under `root`, with their modes. */
async function walk(root: string, out: { path: string; dir: boolean; mode: number }[] = []): Promise<typeof out> {
  const info = await lstat(root).catch(() => undefined);
  if (!info || info.isSymbolicLink()) return out;
  out.push({ path: root, dir: info.isDirectory(), mode: info.mode & 0o777 });
  if (info.isDirectory()) for (const name of await readdir(root).catch(() => [] as string[])) await walk(join(root, name), out);
  return out;
}

export async function doctor(options: { fix?: boolean; progress?: Progress } = {}): Promise<DoctorReport> {
  const fix = !!options.fix;
  const say = options.progress ?? (() => undefined);
  const checks: DoctorCheck[] = [];
  const repaired = async (check: DoctorCheck, what: string, target?: string) => {
    check.fixed.push(what);
    await audit({ action: 'doctor', via: 'cli', ok: true, detail: what, ...(target ? { target } : {}) });
  };
  const { config, invalid } = await loadConfigLenient();
  const instances = listInstances(config);

  // 1. scratch servers and dirs left by killed commands
  {
    say('checking for orphaned scratch servers');
    const c: DoctorCheck = { check: 'scratch servers', ok: true, problems: await scratchOrphans(), fixed: [] };
    if (fix && c.problems.length) {
      for (const line of await cleanupOrphans({ unrecorded: true })) await repaired(c, line);
      c.problems = await scratchOrphans();
    }
    checks.push(c);
  }

  // 2. restore staging databases of killed restores
  {
    say('checking for databases left by killed restores');
    const orphans = (await listStagingRecords()).filter((r) => !r.owner_alive);
    const c: DoctorCheck = { check: 'restore staging databases', ok: true, problems: orphans.map((r) => `${r.database} on ${r.engine}/${r.instance}, left by a killed restore (pid ${r.owner_pid}, ${r.at})`), fixed: [] };
    if (fix && orphans.length) {
      // cleanupStagingDatabases audits each drop itself
      const r = await cleanupStagingDatabases('cli');
      c.fixed.push(...r.cleaned);
      c.problems = r.pending;
    }
    checks.push(c);
  }

  // 3. pid files of dead servers, locks of dead holders
  {
    say('checking pid files and locks');
    const c: DoctorCheck = { check: 'pid files and locks', ok: true, problems: [], fixed: [] };
    for (const inst of instances) {
      const ctx = createInstanceContext(inst.engine, inst.name, inst.config, silentProgress);
      const rec = await readPidRecord(ctx.paths.pidFile);
      if (rec && !(await isOurProcess(rec))) {
        const what = `${inst.engine}/${inst.name}: pid file ${ctx.paths.pidFile} names pid ${rec.pid}, which is not running (the server crashed)`;
        if (fix) {
          await rm(ctx.paths.pidFile, { force: true });
          await repaired(c, `removed the stale pid file of ${inst.engine}/${inst.name} (pid ${rec.pid} is gone)`, `${inst.engine}/${inst.name}`);
        } else c.problems.push(what);
      }
    }
    const locks = [join(homePaths.config() + '.lock'), `${homePaths.audit()}.lock`, join(homePaths.secrets(), 'secrets.enc.lock'), join(homePaths.state(), 'manifest-key.lock'), ...instances.map((i) => join(createInstanceContext(i.engine, i.name, i.config, silentProgress).paths.root, 'lifecycle.lock'))];
    for (const lock of locks) {
      if (!existsSync(lock)) continue;
      const holder = Number((await readFile(lock, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(holder) && holder > 0 && pidAlive(holder)) continue;
      if (fix) {
        await rm(lock, { force: true });
        await repaired(c, `removed the stale lock ${lock} (holder pid ${holder || 'unknown'} is gone)`, lock);
      } else c.problems.push(`stale lock ${lock}: its holder (pid ${holder || 'unknown'}) is gone`);
    }
    checks.push(c);
  }

  // 4. permissions: backups, secrets, the token file, the audit log are the owner's only
  {
    say('checking permissions of backups, secrets and token files');
    const c: DoctorCheck = { check: 'permissions', ok: true, problems: [], fixed: [] };
    const roots = new Set<string>([join(toolHome(), 'backups'), homePaths.secrets(), ...instances.map((i) => createInstanceContext(i.engine, i.name, i.config, silentProgress).paths.backupDir)]);
    const entries: { path: string; dir: boolean; mode: number }[] = [];
    for (const root of roots) await walk(root, entries);
    for (const file of [homePaths.mcpToken(), homePaths.audit()]) await walk(file, entries);
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.path)) continue;
      seen.add(e.path);
      const want = e.dir ? 0o700 : 0o600;
      if ((e.mode & 0o077) === 0) continue;
      if (fix) {
        await chmod(e.path, want);
        await repaired(c, `chmod ${want.toString(8)} ${e.path} (was ${e.mode.toString(8)})`, e.path);
      } else c.problems.push(`${e.path} is ${e.mode.toString(8)}; other users can reach it (want ${want.toString(8)})`);
    }
    checks.push(c);
  }

  // 5. the audit chain
  {
    say('verifying the audit log hash chain');
    const r = await verifyAudit();
    checks.push({ check: 'audit log', ok: true, problems: r.ok ? [] : [`${r.file} is broken at line ${r.first_broken!.line}: ${r.first_broken!.reason} (not repairable: entries from there on cannot be trusted; keep a copy for inspection)`], fixed: [] });
  }

  // 6. config entries that fail validation; 7. instances whose data dir is missing
  checks.push({ check: 'config', ok: true, problems: invalid.map((i) => `${i.key} in ${homePaths.config()} is invalid: ${i.message} (correct it by hand, or uninstall that instance)`), fixed: [] });
  checks.push({
    check: 'data dirs',
    ok: true,
    problems: instances.filter((i) => i.config.data_dir && !existsSync(i.config.data_dir)).map((i) => `${i.engine}/${i.name}: its data dir ${i.config.data_dir} is missing (restore a backup into a fresh install, or \`portunix-db uninstall ${i.engine}${i.name === 'main' ? '' : ` --instance ${i.name}`}\`)`),
    fixed: [],
  });

  // 8. the secret store each instance's password lives in answers
  {
    say('checking the secret store');
    const c: DoctorCheck = { check: 'secrets', ok: true, problems: [], fixed: [] };
    const backend = await getSecretStore().backend().catch(() => undefined);
    if (!backend) c.problems.push('no secret store answers (neither the OS keychain nor the encrypted secret file)');
    for (const inst of instances) await checkSecret(inst, c);
    checks.push(c);
  }

  for (const c of checks) c.ok = c.problems.length === 0;
  return { ok: checks.every((c) => c.ok), fix, home: toolHome(), checks };
}

async function checkSecret(inst: ResolvedInstance, c: DoctorCheck): Promise<void> {
  const engine = await loadEngine(inst.engine);
  // embedded engines (SQLite) have no admin password
  if (!has(engine, 'launchSpec')) return;
  const ctx = createInstanceContext(inst.engine, inst.name, inst.config, silentProgress);
  try {
    await ctx.adminPassword();
  } catch (err) {
    c.problems.push(`${inst.engine}/${inst.name}: its admin password cannot be read: ${(err as Error).message}`);
  }
}
