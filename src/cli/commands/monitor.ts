import { spawn } from 'node:child_process';
import { chmod, mkdir, open } from 'node:fs/promises';
import type { Command } from 'commander';
import type { AgentStatus } from '../../core/agent/agent.js';
import type { AgentSettings } from '../../core/agent/registry.js';
import { homePaths } from '../../core/home.js';
import { DbError, UsageError } from '../../core/errors.js';
import { emit, table } from '../output.js';
import { parseLoopbackListen } from '../../core/http-guard.js';
import type { Flags } from './common.js';

// the agent and its tasks load when `monitor` runs, so other commands do not pay for them
const agentOps = () => import('../../core/agent/agent.js');
const registryOps = () => import('../../core/agent/registry.js');
const samplerOps = () => import('../../core/monitor/sampler.js');

/** The hook is the user's own command line; it is checked for shape only (it never receives alert text in its argv). */
export function checkHookCommand(value: string): string {
  if (!value.trim()) throw new UsageError('--on-alert needs a command.', 'USAGE', 'Example: --on-alert "logger -t portunix-db"');
  if (value.length > 4096 || /[\0\r\n]/.test(value)) throw new UsageError('--on-alert must be one command line (no NUL or newline, at most 4096 characters).', 'USAGE', 'Put longer logic in a script and pass its path.');
  return value;
}

type MonitorFlags = Flags & { detach?: boolean; onAlert?: string; interval?: string; listen?: string; tokenFile?: string };

/** The settings of this run; --interval and --listen are checked here (before detaching, too). */
async function settingsOf(o: MonitorFlags): Promise<AgentSettings> {
  const intervalMs = o.interval !== undefined ? (await samplerOps()).parseInterval(o.interval) : undefined;
  if (o.listen !== undefined) parseLoopbackListen(o.listen);
  if (o.tokenFile !== undefined && o.listen === undefined) throw new UsageError('--token-file protects the --listen endpoint; pass --listen 127.0.0.1:PORT too.', 'USAGE');
  return { tickMs: (await agentOps()).agentTickMs(), ...(intervalMs !== undefined ? { intervalMs } : {}), ...(o.listen !== undefined ? { listen: o.listen } : {}), ...(o.tokenFile !== undefined ? { tokenFile: o.tokenFile } : {}) };
}

/** The argv of the detached agent: this command again, without --detach (and without output flags). */
function childArgs(argv: string[]): string[] {
  const i = argv.indexOf('monitor');
  return ['monitor', ...argv.slice(i + 1).filter((a) => !['--detach', '--json', '-q', '--quiet'].includes(a))];
}

async function detach(o: MonitorFlags): Promise<AgentStatus> {
  const before = await (await agentOps()).agentStatus();
  if (before.state === 'running') throw new DbError(`A monitor agent already runs (pid ${before.pid}).`, 'ALREADY_EXISTS', 'See it with `portunix-db monitor status`; stop it with `portunix-db monitor stop`.');
  if (o.onAlert !== undefined) checkHookCommand(o.onAlert);
  await mkdir(homePaths.state(), { recursive: true, mode: 0o700 });
  const logFile = (await agentOps()).agentPaths.logFile();
  const log = await open(logFile, 'a', 0o600);
  await chmod(logFile, 0o600);
  const offset = (await log.stat()).size;
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1] ?? '', ...childArgs(process.argv)], { detached: true, stdio: ['ignore', log.fd, log.fd], env: process.env });
  let exited: number | null | undefined;
  child.on('exit', (code) => (exited = code));
  await log.close();
  child.unref();
  const deadline = Date.now() + 30_000;
  for (;;) {
    const s = await (await agentOps()).agentStatus();
    if (s.state === 'running' && s.pid === child.pid && s.tasks) return { ...s, message: `Monitor agent started (pid ${s.pid}); log: ${logFile}. Stop it with \`portunix-db monitor stop\`.` };
    if (exited !== undefined) {
      const lines = await logSince(logFile, offset);
      throw new DbError(`The monitor agent exited at start (exit ${exited}).${lines.length ? `\n${lines.slice(-8).join('\n')}` : ''}`, 'START_FAILED', `Read ${logFile}.`);
    }
    if (Date.now() > deadline) throw new DbError('The monitor agent did not report running within 30 s.', 'TIMEOUT', `Read ${logFile}; stop it with \`portunix-db monitor stop\`.`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function logSince(file: string, offset: number): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(Math.min(size - offset, 64 * 1024));
    await fh.read(buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
  } finally {
    await fh.close();
  }
}

function renderStatus(s: AgentStatus): string {
  const lines = [s.message, `log: ${s.log_file}`];
  if (s.tasks) lines.push(table(Object.entries(s.tasks).map(([name, t]) => ({ task: name, last_run: t.last_run ?? '-', result: t.running ? 'running' : t.last_ok === undefined ? '-' : t.last_ok ? 'ok' : `failed: ${t.last_error ?? ''}`, next_run: t.next_run ?? '-' })), undefined, { fullLastColumn: true }));
  for (const svc of s.services ?? []) lines.push(`${svc.name}: ${svc.describe}`);
  return lines.join('\n');
}

export function registerMonitor(program: Command): void {
  program
    .command('monitor')
    .description('The agent that runs scheduled backups (and other background work); or `monitor status`, `monitor stop`')
    .argument('[action]', 'status | stop (without: run the agent in the foreground)')
    .option('--detach', 'run the agent in the background (pid and log under PORTUNIX_HOME/state)')
    .option('--interval <time>', 'sample every instance this often: 15 (seconds), 30s, 500ms, 1m; 1s..1h (default 15s)')
    .option('--listen <host:port>', 'serve Prometheus /metrics on this loopback address (bearer token, like HTTP MCP)')
    .option('--token-file <file>', 'bearer token for --listen (mode 600); default PORTUNIX_HOME/monitor/http.token, made on first use')
    .option('--on-alert <command>', 'run this command for every alert (alert as PORTUNIX_DB_ALERT_* variables and JSON on stdin)')
    .addHelpText(
      'after',
      [
        '\nExamples:',
        '  $ portunix-db monitor --detach --on-alert "logger -t portunix-db"',
        '  $ portunix-db monitor --detach --interval 30s --listen 127.0.0.1:9464',
        '  $ portunix-db dashboard',
        '  $ portunix-db monitor status',
        '  $ portunix-db monitor stop',
        '',
        'One agent runs per PORTUNIX_HOME. It backs up every instance with auto_backup on, on its backup_schedule',
        '(`backup schedule <engine> --every daily`). Alerts (a skipped or failed backup, ...) go to the audit log and the hook.',
      ].join('\n'),
    )
    .action(async (action: string | undefined, o: MonitorFlags) => {
      if (action === 'status') return emit(o, async () => (await agentOps()).agentStatus(), renderStatus);
      if (action === 'stop') return emit(o, async () => (await agentOps()).stopAgent(), (r) => r.message);
      if (action !== undefined) return emit(o, async () => { throw new UsageError(`Unknown monitor action "${action}".`, 'USAGE', 'Use `monitor`, `monitor --detach`, `monitor status` or `monitor stop`.'); }, () => '');
      if (o.detach) return emit(o, async () => (await settingsOf(o), detach(o)), (s) => s.message);
      return emit(o, async () => {
        const settings = await settingsOf(o);
        await (await agentOps()).runAgent({ tasks: (await registryOps()).agentTasks(settings), services: (await registryOps()).agentServices(settings), ...(o.onAlert !== undefined ? { onAlert: checkHookCommand(o.onAlert) } : {}), handleSignals: true });
        return { stopped: true };
      }, () => '');
      // a tool a task started (pg_dump...) must not keep a stopped agent alive
      process.exit(process.exitCode ?? 0);
    });
}
