/**
 * The contract between the long-running agent (`portunix-db monitor`) and the work it does.
 * The agent owns the loop, the single-agent lock, detaching and shutdown; each task only says
 * when it wants to run next and does one round of work. Backups on a schedule (auto_backup)
 * and metric sampling are tasks; HTTP listeners (Prometheus /metrics, the dashboard) are
 * services that live as long as the agent. Audit entries the agent writes use via "agent".
 */

export interface AgentLog {
  /** One line on stderr (and in the agent's log file when detached): what happened, for people. */
  info(message: string): void;
  warn(message: string): void;
}

export interface AgentContext {
  /** PORTUNIX_HOME the agent serves. */
  readonly home: string;
  readonly log: AgentLog;
  /** Aborted when the agent stops (SIGTERM/SIGINT or `monitor stop`): long work should end early and leave nothing that looks good. */
  readonly signal: AbortSignal;
  /** Raises an alert: audited, and handed to the optional hook command (`--on-alert CMD`). */
  alert(event: AgentAlert): Promise<void>;
}

export interface AgentAlert {
  kind: 'health-failed' | 'instance-crashed' | 'backup-overdue' | 'backup-failed' | 'verify-failed' | 'backup-skipped' | 'disk-nearly-full';
  engine?: string;
  instance?: string;
  message: string;
  detail?: string;
}

export interface AgentTask {
  readonly name: string;
  /**
   * When this task next wants to run, given the last time it ran (undefined at agent start).
   * A task that was due while the agent was down answers a time at or before `now`, once:
   * missed runs are run once at start, not once per missed slot.
   */
  nextRun(now: Date, lastRun: Date | undefined): Date | undefined;
  /** One round of work. Throwing is logged and does not stop the agent or other tasks. */
  run(ctx: AgentContext): Promise<void>;
}

export interface AgentService {
  readonly name: string;
  /** Starts listening; resolves with what to print (e.g. the URL) and how to stop. */
  start(ctx: AgentContext): Promise<{ describe: string; stop(): Promise<void> }>;
}
