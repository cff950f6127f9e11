/**
 * `backup schedule <engine> --install`: an OS scheduler entry that runs `backup due --run --quiet`
 * every 15 minutes for one PORTUNIX_HOME, for users who prefer the OS scheduler to `monitor`.
 * Planning is a pure function of (target OS, scheduler, paths): `--dry-run` prints the plan, the
 * executor runs it. The entry never goes through a shell we did not quote: every path is checked
 * (no control characters; no `%` for cron, which turns it into a newline) and quoted for the
 * format it lands in (sh, systemd unit, plist XML, cmd batch).
 */
import { createHash } from 'node:crypto';
import { posix, win32 } from 'node:path';
import { DbError } from './errors.js';
import type { HostPlatform } from './install/plan.js';

export type SchedulerKind = 'cron' | 'systemd' | 'launchd' | 'schtasks';
export const SCHEDULER_KINDS: readonly SchedulerKind[] = ['cron', 'systemd', 'launchd', 'schtasks'];

export type SchedulerStep =
  | { kind: 'write-file'; description: string; path: string; content: string; mode: number }
  | { kind: 'remove-file'; description: string; path: string }
  | { kind: 'command'; description: string; argv: string[]; optional?: boolean }
  /** Read `crontab -l`, replace (or drop) the marked block, write it back with `crontab -`. */
  | { kind: 'crontab'; description: string; begin: string; end: string; block?: string };

export interface SchedulerPlan {
  scheduler: SchedulerKind;
  action: 'install' | 'uninstall';
  /** Stable per home: two homes get two entries. */
  name: string;
  /** What the entry runs, as argv. */
  command: string[];
  env: { PORTUNIX_HOME: string };
  steps: SchedulerStep[];
  notes: string[];
}

export interface SchedulerTarget {
  os: HostPlatform['os'];
  scheduler: SchedulerKind;
  /** The PORTUNIX_HOME the entry runs with (absolute). */
  toolHome: string;
  /** The user's home directory (for ~/.config/systemd/user and ~/Library/LaunchAgents). */
  userHome: string;
  /** Absolute path of node (process.execPath) and of the running CLI script. */
  node: string;
  script: string;
}

export const CHECK_EVERY_MINUTES = 15;

export function defaultScheduler(os: HostPlatform['os'], systemdUserWorks: boolean): SchedulerKind {
  if (os === 'windows') return 'schtasks';
  if (os === 'darwin') return 'launchd';
  return systemdUserWorks ? 'systemd' : 'cron';
}

export function parseScheduler(value: string): SchedulerKind {
  const v = value.trim().toLowerCase();
  const alias: Record<string, SchedulerKind> = { crontab: 'cron', 'systemd-user': 'systemd', 'task-scheduler': 'schtasks' };
  const k = alias[v] ?? v;
  if ((SCHEDULER_KINDS as string[]).includes(k)) return k as SchedulerKind;
  throw new DbError(`Unknown --scheduler "${value.slice(0, 40)}".`, 'USAGE', `Use one of: ${SCHEDULER_KINDS.join(', ')}.`);
}

const FITS: Record<SchedulerKind, HostPlatform['os'][]> = { cron: ['linux', 'darwin'], systemd: ['linux'], launchd: ['darwin'], schtasks: ['windows'] };

function refuse(what: string, value: string, why: string, hint: string): never {
  throw new DbError(`Cannot write a scheduler entry: ${what} ${JSON.stringify(value.slice(0, 200))} ${why}.`, 'USAGE', hint);
}

/** Paths that cannot be written safely into any scheduler format are refused, never mangled. */
function checkPath(what: string, value: string, target: SchedulerTarget): void {
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) refuse(what, value, 'contains a control character (newline, tab, ...)', 'Use a path without control characters (set PORTUNIX_HOME to one).');
  const abs = target.os === 'windows' ? win32.isAbsolute(value) : posix.isAbsolute(value);
  if (!abs) refuse(what, value, 'is not absolute', 'The scheduler runs outside this shell; give an absolute PORTUNIX_HOME.');
  // cron turns every unescaped % into a newline, and escaping it differs between cron implementations
  if (target.scheduler === 'cron' && value.includes('%')) refuse(what, value, 'contains "%", which cron turns into a newline', 'Use a path without "%", or --scheduler systemd|launchd.');
  if (target.os === 'windows' && /["<>|]/.test(value)) refuse(what, value, 'contains a character Windows paths cannot hold', 'Use a plain Windows path.');
}

/** POSIX sh single quoting: everything literal, ' as '\''. */
export function shQuote(s: string): string {
  return /^[\w@+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A systemd unit word: double-quoted, C escapes for \ and ", specifiers (%) and variables ($) doubled. */
export function systemdQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/%/g, '%%').replace(/\$/g, '$$$$')}"`;
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** A cmd batch word: double-quoted (paths cannot hold "), % doubled so nothing expands. */
function cmdQuote(s: string): string {
  return `"${s.replace(/%/g, '%%')}"`;
}

export function entryName(toolHome: string): string {
  return `portunix-db-backup-${createHash('sha256').update(toolHome).digest('hex').slice(0, 8)}`;
}

export const DUE_ARGS = ['backup', 'due', '--run', '--quiet'];

/** The install or uninstall plan for one scheduler. Throws USAGE for paths that cannot be quoted safely. */
export function planScheduler(target: SchedulerTarget, action: 'install' | 'uninstall'): SchedulerPlan {
  if (!FITS[target.scheduler].includes(target.os)) {
    throw new DbError(`The ${target.scheduler} scheduler does not run on ${target.os}.`, 'USAGE', `On ${target.os} use --scheduler ${SCHEDULER_KINDS.filter((k) => FITS[k].includes(target.os)).join(' or ')}.`);
  }
  checkPath('PORTUNIX_HOME', target.toolHome, target);
  checkPath('the node binary', target.node, target);
  checkPath('the CLI script', target.script, target);
  if (target.scheduler !== 'cron' && target.scheduler !== 'schtasks') checkPath('the home directory', target.userHome, target);
  const name = entryName(target.toolHome);
  const command = [target.node, target.script, ...DUE_ARGS];
  const base = { scheduler: target.scheduler, action, name, command, env: { PORTUNIX_HOME: target.toolHome } };
  const every = `every ${CHECK_EVERY_MINUTES} minutes`;
  switch (target.scheduler) {
    case 'cron': {
      const begin = `# >>> ${name} (portunix-db backup due; managed by \`portunix-db backup schedule --install\`) >>>`;
      const end = `# <<< ${name} <<<`;
      const line = `*/${CHECK_EVERY_MINUTES} * * * * PORTUNIX_HOME=${shQuote(target.toolHome)} ${command.map(shQuote).join(' ')}`;
      return {
        ...base,
        steps: [action === 'install'
          ? { kind: 'crontab', description: `Put the ${name} block into your crontab (other entries are kept): ${every}`, begin, end, block: `${begin}\n${line}\n${end}` }
          : { kind: 'crontab', description: `Remove the ${name} block from your crontab (other entries are kept)`, begin, end }],
        notes: ['cron mails any output; `--quiet` prints only backups made or failed and instances skipped.'],
      };
    }
    case 'systemd': {
      const dir = posix.join(target.userHome, '.config', 'systemd', 'user');
      const service = posix.join(dir, `${name}.service`);
      const timer = posix.join(dir, `${name}.timer`);
      const serviceText = [
        '[Unit]',
        `Description=portunix-db scheduled backups (${target.toolHome.replace(/%/g, '%%')})`,
        '',
        '[Service]',
        'Type=oneshot',
        `Environment=${systemdQuote(`PORTUNIX_HOME=${target.toolHome}`)}`,
        `ExecStart=${command.map(systemdQuote).join(' ')}`,
        '',
      ].join('\n');
      const timerText = ['[Unit]', `Description=Run ${name}.service ${every}`, '', '[Timer]', `OnCalendar=*:0/${CHECK_EVERY_MINUTES}`, 'Persistent=true', '', '[Install]', 'WantedBy=timers.target', ''].join('\n');
      const ctl = (...a: string[]) => ['systemctl', '--user', ...a];
      return {
        ...base,
        steps: action === 'install'
          ? [
              { kind: 'write-file', description: `Write the service unit`, path: service, content: serviceText, mode: 0o644 },
              { kind: 'write-file', description: `Write the timer unit (${every}, missed runs once at boot)`, path: timer, content: timerText, mode: 0o644 },
              { kind: 'command', description: 'Reload the user units', argv: ctl('daemon-reload') },
              { kind: 'command', description: 'Enable and start the timer', argv: ctl('enable', '--now', `${name}.timer`) },
            ]
          : [
              { kind: 'command', description: 'Stop and disable the timer', argv: ctl('disable', '--now', `${name}.timer`), optional: true },
              { kind: 'remove-file', description: 'Remove the timer unit', path: timer },
              { kind: 'remove-file', description: 'Remove the service unit', path: service },
              { kind: 'command', description: 'Reload the user units', argv: ctl('daemon-reload'), optional: true },
            ],
        notes: ['A user timer runs only while you are logged in unless lingering is on: `loginctl enable-linger $USER`.'],
      };
    }
    case 'launchd': {
      const label = `com.portunix-db.${name.replace(/^portunix-db-/, '')}`;
      const plist = posix.join(target.userHome, 'Library', 'LaunchAgents', `${label}.plist`);
      const str = (s: string) => `    <string>${xmlEscape(s)}</string>`;
      const content = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
        '<plist version="1.0">',
        '<dict>',
        '  <key>Label</key>',
        `  <string>${xmlEscape(label)}</string>`,
        '  <key>ProgramArguments</key>',
        '  <array>',
        ...command.map(str),
        '  </array>',
        '  <key>EnvironmentVariables</key>',
        '  <dict>',
        '    <key>PORTUNIX_HOME</key>',
        str(target.toolHome),
        '  </dict>',
        '  <key>StartInterval</key>',
        `  <integer>${CHECK_EVERY_MINUTES * 60}</integer>`,
        '  <key>RunAtLoad</key>',
        '  <true/>',
        '</dict>',
        '</plist>',
        '',
      ].join('\n');
      return {
        ...base,
        steps: action === 'install'
          ? [
              { kind: 'command', description: 'Unload an earlier copy (if any)', argv: ['launchctl', 'unload', '-w', plist], optional: true },
              { kind: 'write-file', description: `Write the launch agent (${every})`, path: plist, content, mode: 0o644 },
              { kind: 'command', description: 'Load it', argv: ['launchctl', 'load', '-w', plist] },
            ]
          : [
              { kind: 'command', description: 'Unload the launch agent', argv: ['launchctl', 'unload', '-w', plist], optional: true },
              { kind: 'remove-file', description: 'Remove the launch agent', path: plist },
            ],
        notes: [],
      };
    }
    case 'schtasks': {
      // Task Scheduler has no environment setting: a batch wrapper in the home sets PORTUNIX_HOME
      const wrapper = win32.join(target.toolHome, 'backup-due.cmd');
      const content = ['@echo off', `set "PORTUNIX_HOME=${target.toolHome.replace(/%/g, '%%')}"`, `${command.map(cmdQuote).join(' ')}`, ''].join('\r\n');
      const tr = `"${wrapper}"`;
      if (tr.length > 261) refuse('the task command', tr, 'is longer than the 261 characters schtasks accepts', 'Use a shorter PORTUNIX_HOME.');
      return {
        ...base,
        steps: action === 'install'
          ? [
              { kind: 'write-file', description: 'Write the wrapper that sets PORTUNIX_HOME', path: wrapper, content, mode: 0o600 },
              { kind: 'command', description: `Create the task (${every}; /F replaces an earlier one)`, argv: ['schtasks', '/Create', '/TN', name, '/SC', 'MINUTE', '/MO', String(CHECK_EVERY_MINUTES), '/TR', tr, '/F'] },
            ]
          : [
              { kind: 'command', description: 'Delete the task', argv: ['schtasks', '/Delete', '/TN', name, '/F'], optional: true },
              { kind: 'remove-file', description: 'Remove the wrapper', path: wrapper },
            ],
        notes: ['The task runs only while you are logged on; for "run whether logged on or not" edit it in Task Scheduler (it asks for your password).'],
      };
    }
  }
}

/** The crontab text with the block between begin/end replaced by `block` (or removed); other lines untouched. */
export function editCrontab(current: string, begin: string, end: string, block?: string): string {
  const lines = current.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  let inside = false;
  let placed = false;
  for (const line of lines) {
    if (!inside && line === begin) {
      inside = true;
      if (block && !placed) {
        out.push(...block.split('\n'));
        placed = true;
      }
      continue;
    }
    if (inside) {
      if (line === end) inside = false;
      continue;
    }
    out.push(line);
  }
  if (inside) throw new DbError(`Your crontab has the line "${begin}" but not its end marker "${end}".`, 'COMMAND_FAILED', 'Fix it by hand with `crontab -e` (remove the portunix-db lines), then run the command again.');
  if (block && !placed) out.push(...block.split('\n'));
  return out.length ? `${out.join('\n')}\n` : '';
}

export function describeSchedulerStep(step: SchedulerStep): string {
  switch (step.kind) {
    case 'write-file':
      return `${step.description}: write ${step.path} (mode ${step.mode.toString(8)}):\n${step.content.replace(/\r/g, '').split('\n').map((l) => `      ${l}`).join('\n').trimEnd()}`;
    case 'remove-file':
      return `${step.description}: remove ${step.path}`;
    case 'command':
      return `${step.description}: ${step.argv.map(shQuote).join(' ')}${step.optional ? '   (a failure is ignored)' : ''}`;
    case 'crontab':
      return `${step.description}: crontab -l | (${step.block ? 'replace or add' : 'drop'} the lines from "${step.begin}" to "${step.end}") | crontab -${step.block ? `\n${step.block.split('\n').map((l) => `      ${l}`).join('\n')}` : ''}`;
  }
}
