/**
 * The one list of what the monitor agent runs. A new kind of work (metric sampling, an HTTP
 * listener) is one line here: a task (runs on its own schedule) or a service (lives as long as
 * the agent).
 */
import type { AgentService, AgentTask } from './task.js';
import { scheduledBackupsTask } from './backup-task.js';
import { AlertClaims } from './alert-claims.js';
import { samplerTask } from '../monitor/sampler.js';
import { prometheusService } from '../monitor/prometheus.js';
import { parseLoopbackListen } from '../http-guard.js';

/** What `portunix-db monitor` was started with, for the tasks and services to read. */
export interface AgentSettings {
  /** The loop's longest sleep (PORTUNIX_DB_AGENT_TICK_MS). */
  tickMs: number;
  /** `--listen HOST:PORT`, for services that serve HTTP. */
  listen?: string;
  /** `--token-file` for the --listen endpoint. */
  tokenFile?: string;
  /** `--interval`: how often the sampler samples (default 15 s). */
  intervalMs?: number;
}

export function agentTasks(settings: AgentSettings): AgentTask[] {
  // a failed scheduled backup is seen by both tasks: one alert, from whichever sees it first
  const claims = new AlertClaims();
  return [scheduledBackupsTask({ ...settings, claims }), samplerTask({ ...(settings.intervalMs ? { intervalMs: settings.intervalMs } : {}), claims })];
}

export function agentServices(settings: AgentSettings): AgentService[] {
  return [...(settings.listen ? [prometheusService({ ...parseLoopbackListen(settings.listen), ...(settings.tokenFile ? { tokenFile: settings.tokenFile } : {}) })] : [])];
}
