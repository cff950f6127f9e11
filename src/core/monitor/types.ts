/** What the monitor's sampler records each round, and what the store, /metrics, the dashboard and MCP read back. */
import type { HealthCheck } from '../../engines/contract.js';
import type { AgentAlert } from '../agent/task.js';
import type { VersionNotice } from '../versions.js';

/** The common figures of one instance (see KeyMetrics in the engine contract). */
export interface KeyFigures {
  connections?: number;
  cache_hit_ratio?: number;
  transactions_per_second?: number;
  operations_per_second?: number;
  replication_lag_seconds?: number;
}

export interface BackupFigures {
  database: string;
  last_backup_at?: string;
  size_bytes?: number;
  method?: string;
  last_verify?: { at: string; ok: boolean; error?: string };
  last_attempt?: { at: string; ok: boolean; error?: string };
  /** Scheduled (auto_backup) and the last good backup is well past its interval. */
  overdue?: boolean;
  schedule?: string;
}

/** The latest view of one instance: what the dashboard lists and /metrics exports. */
export interface InstanceSnapshot {
  engine: string;
  instance: string;
  /** ISO time of the sample. */
  at: string;
  state: string;
  version: string;
  full_version?: string;
  port?: number;
  pid?: number;
  uptime_seconds?: number;
  notice?: VersionNotice;
  /** A crashed server's last log lines. */
  log_tail?: string[];
  healthy?: boolean;
  checks?: HealthCheck[];
  sizes?: { database: string; bytes: number }[];
  total_bytes?: number;
  key: KeyFigures;
  /** Cumulative transaction and operation counts (the sums of KeyMetrics' counters), for Prometheus counters. */
  totals: { transactions?: number; operations?: number };
  /** The raw counters and when they were read: the next round's rates start from them. */
  counters?: { at: number; values: Record<string, number> };
  disk?: { path: string; free_bytes: number; total_bytes: number; used_ratio: number };
  backups?: BackupFigures[];
  /** What could not be sampled this round ("performance: ..."). */
  errors?: string[];
}

/** One value of one series at one time. `database` is '' for instance-wide series. */
export interface Point {
  engine: string;
  instance: string;
  metric: string;
  database: string;
  value: number;
}

/** An alert condition that holds now; `key` identifies it across rounds (raised once, until it clears). */
export interface Condition extends AgentAlert {
  key: string;
}

export interface StoredAlert {
  key: string;
  kind: AgentAlert['kind'];
  engine?: string;
  instance?: string;
  message: string;
  detail?: string;
  raised_at: string;
  last_seen_at: string;
  resolved_at?: string;
}
