/**
 * `backup schedule <engine> --install|--uninstall`: plans (pure, src/core/os-scheduler.ts) and
 * runs the OS scheduler entry that calls `backup due --run --quiet` for this PORTUNIX_HOME.
 * Every install and uninstall is audited, a failed one too.
 */
import { execFile, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname } from 'node:path';
import { DEFAULT_INSTANCE, findInstance, loadConfig, validateInstanceName } from '../config.js';
import { DbError, toDbError } from '../errors.js';
import { audit } from '../audit.js';
import { toolHome } from '../home.js';
import { detectHost, platformHost, PLATFORM_FORMS } from '../install/host.js';
import { findProgram } from '../tls.js';
import { parseEngineId } from '../../engines/ids.js';
import { defaultScheduler, describeSchedulerStep, editCrontab, parseScheduler, planScheduler, type SchedulerKind, type SchedulerPlan, type SchedulerStep } from '../os-scheduler.js';
import type { Via } from './data.js';

export interface OsScheduleOptions {
  type: string;
  instance?: string;
  uninstall?: boolean;
  dryRun?: boolean;
  scheduler?: string;
  platform?: string;
  via?: Via;
}

export interface OsScheduleResult extends SchedulerPlan {
  dry_run: boolean;
  platform: string;
  done: boolean;
  text: string;
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(argv: string[], input?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    child.on('error', (err) => resolve({ code: 127, stdout, stderr: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

function systemdUserWorks(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile('systemctl', ['--user', 'show-environment'], { timeout: 3000, windowsHide: true }, (err) => resolve(!err));
  });
}

async function runStep(step: SchedulerStep): Promise<void> {
  switch (step.kind) {
    case 'write-file': {
      await mkdir(dirname(step.path), { recursive: true });
      const tmp = `${step.path}.tmp-${process.pid}`;
      await writeFile(tmp, step.content, { mode: step.mode });
      await rename(tmp, step.path);
      return;
    }
    case 'remove-file':
      await rm(step.path, { force: true });
      return;
    case 'command': {
      const r = await run(step.argv);
      if (r.code !== 0 && !step.optional) throw new DbError(`\`${step.argv.join(' ')}\` failed (exit ${r.code}): ${(r.stderr || r.stdout).trim().slice(0, 500)}`, 'COMMAND_FAILED', 'Run it by hand to see why; `--dry-run` prints every step.');
      return;
    }
    case 'crontab': {
      const current = await run(['crontab', '-l']);
      // "no crontab for root" is an empty crontab, anything else is a failure
      if (current.code !== 0 && !/no crontab/i.test(current.stderr)) throw new DbError(`\`crontab -l\` failed (exit ${current.code}): ${current.stderr.trim().slice(0, 500)}`, 'COMMAND_FAILED', 'Check that cron is installed and you may use it (/etc/cron.allow).');
      const before = current.code === 0 ? current.stdout : '';
      const after = editCrontab(before, step.begin, step.end, step.block);
      if (after === before) return; // idempotent: nothing to write
      const w = await run(['crontab', '-'], after);
      if (w.code !== 0) throw new DbError(`\`crontab -\` failed (exit ${w.code}): ${w.stderr.trim().slice(0, 500)}`, 'COMMAND_FAILED', 'Your crontab was not changed.');
      return;
    }
  }
}

/** Runs the plan's steps in order; the first failing (non-optional) step stops it. */
export async function applySchedulerPlan(plan: Pick<SchedulerPlan, 'steps'>): Promise<void> {
  for (const step of plan.steps) await runStep(step);
}

/** --platform plans for another OS: the paths there are examples. */
const EXAMPLE_PATHS: Record<'linux' | 'darwin' | 'windows', { toolHome: string; userHome: string; node: string; script: string }> = {
  linux: { toolHome: '/home/you/.portunix/db', userHome: '/home/you', node: '/usr/bin/node', script: '/usr/lib/node_modules/portunix-db/dist/bundle/portunix-db.mjs' },
  darwin: { toolHome: '/Users/you/.portunix/db', userHome: '/Users/you', node: '/opt/homebrew/bin/node', script: '/opt/homebrew/lib/node_modules/portunix-db/dist/bundle/portunix-db.mjs' },
  windows: { toolHome: 'C:\\Users\\you\\.portunix\\db', userHome: 'C:\\Users\\you', node: 'C:\\Program Files\\nodejs\\node.exe', script: 'C:\\Users\\you\\AppData\\Roaming\\npm\\node_modules\\portunix-db\\dist\\bundle\\portunix-db.mjs' },
};

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

export async function osSchedule(options: OsScheduleOptions): Promise<OsScheduleResult> {
  const engine = parseEngineId(options.type);
  const name = validateInstanceName(options.instance ?? DEFAULT_INSTANCE);
  const action = options.uninstall ? 'uninstall' : 'install';
  const host = detectHost();
  let os = host.os;
  if (options.platform) {
    const p = platformHost(options.platform);
    if (!p) throw new DbError(`Unknown --platform "${options.platform.slice(0, 40)}".`, 'USAGE', `Use one of: ${PLATFORM_FORMS}.`);
    os = p.os;
    if (os !== host.os && !options.dryRun) throw new DbError(`--platform ${options.platform} is not this machine (${host.os}); it only plans.`, 'USAGE', 'Add --dry-run to see the plan for another platform.');
  }
  const foreign = os !== host.os;
  let scheduler: SchedulerKind;
  if (options.scheduler) scheduler = parseScheduler(options.scheduler);
  else if (os === 'linux') scheduler = defaultScheduler(os, foreign ? true : await systemdUserWorks());
  else scheduler = defaultScheduler(os, false);
  const config = await loadConfig();
  const inst = findInstance(config, { engine, name });
  const notes: string[] = [];
  if (!inst) throw new DbError(`No ${engine} instance named "${name}" is installed.`, 'NOT_INSTALLED', `Install it with \`portunix-db install ${engine}\`.`);
  if (action === 'install' && !inst.config.auto_backup) notes.push(`${engine}/${name} has no schedule yet: the entry runs but backs nothing up until \`portunix-db backup schedule ${engine} --every daily\`.`);
  if (scheduler === 'cron' && !foreign && !options.dryRun && !findProgram('crontab')) {
    throw new DbError('There is no `crontab` command on this machine.', 'NOT_APPLICABLE', `Install cron (Debian: apt-get install cron), or use \`portunix-db monitor --detach\`, or --scheduler ${os === 'linux' ? 'systemd' : 'launchd'}.`);
  }
  const paths = foreign ? EXAMPLE_PATHS[os] : { toolHome: toolHome(), userHome: homedir(), node: process.execPath, script: real(process.argv[1] ?? '') };
  const plan = planScheduler({ os, scheduler, ...paths }, action);
  plan.notes.unshift(...notes);
  if (foreign) plan.notes.push(`Planned for ${os} from ${host.os}: the paths of node, the CLI and your home there are examples.`);
  const lines = [`${options.dryRun ? 'Would' : 'Will'} ${action} the ${scheduler} entry ${plan.name} (runs \`${plan.command.slice(2).join(' ')}\` with PORTUNIX_HOME=${plan.env.PORTUNIX_HOME}):`, ...plan.steps.map((s, i) => `  ${i + 1}. ${describeSchedulerStep(s)}`), ...plan.notes.map((n) => `  note: ${n}`)];
  const result: OsScheduleResult = { ...plan, dry_run: !!options.dryRun, platform: os, done: false, text: lines.join('\n') };
  if (options.dryRun) return result;
  try {
    await applySchedulerPlan(plan);
  } catch (err) {
    const e = toDbError(err);
    await audit({ action: `backup-schedule-${action}`, engine, instance: name, via: options.via ?? 'cli', ok: false, detail: `${scheduler} ${plan.name}: ${e.message}` });
    throw e;
  }
  await audit({ action: `backup-schedule-${action}`, engine, instance: name, via: options.via ?? 'cli', ok: true, detail: `${scheduler} ${plan.name}` });
  result.done = true;
  result.text = [`${action === 'install' ? 'Installed' : 'Removed'} the ${scheduler} entry ${plan.name}${action === 'install' ? ': `backup due --run --quiet` runs every 15 minutes' : ''}.`, ...plan.notes.map((n) => `  note: ${n}`)].join('\n');
  return result;
}
