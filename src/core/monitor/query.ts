/**
 * The read side of the sample store, shared by the dashboard, MCP (db_performance `window`,
 * db_status alerts) and the CLI: input parsing (windows, series queries) and the operations.
 */
import { DEFAULT_INSTANCE, validateInstanceName } from '../config.js';
import { UsageError } from '../errors.js';
import { parseEngineId } from '../../engines/ids.js';
import { ROLLUP_RETENTION_MS, SampleStore, type SeriesQuery, type WindowStat } from './store.js';
import type { StoredAlert } from './types.js';

const UNIT_MS = { m: 60_000, h: 3600_000, d: 86_400_000 } as const;

/** A time window "15m", "1h", "24h", "7d": at least 1 minute, at most the 30 days rollups are kept. */
export function parseWindow(value: string, what = 'window'): number {
  const m = /^(\d{1,4})([mhd])$/.exec(value);
  const hint = `Give a ${what} like 15m, 1h, 24h or 7d (1m..30d).`;
  if (!m) throw new UsageError(`"${value.slice(0, 40)}" is not a ${what}.`, 'USAGE', hint);
  const ms = Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
  if (ms < 60_000 || ms > ROLLUP_RETENTION_MS) throw new UsageError(`The ${what} ${value} is outside 1m..30d.`, 'USAGE', hint);
  return ms;
}

const METRIC = /^(?:up|uptime_seconds|connections|cache_hit_ratio|transactions_per_second|operations_per_second|replication_lag_seconds|total_size_bytes|database_size_bytes|health_failing|disk_free_bytes|(?:gauge|rate)\.[A-Za-z0-9_.:-]{1,100})$/;
const SERIES_PARAMS = new Set(['engine', 'instance', 'metric', 'database', 'range', 'points']);

/** The dashboard's /api/series parameters: every one checked, unknown or repeated ones refused. */
export function parseSeriesQuery(params: URLSearchParams, now = Date.now()): SeriesQuery {
  const seen = new Set<string>();
  for (const k of params.keys()) {
    if (!SERIES_PARAMS.has(k)) throw new UsageError(`Unknown parameter "${k.slice(0, 40)}".`, 'USAGE', `Known: ${[...SERIES_PARAMS].join(', ')}.`);
    if (seen.has(k)) throw new UsageError(`Parameter "${k}" is given twice.`, 'USAGE');
    seen.add(k);
  }
  const engine = parseEngineId(params.get('engine') ?? '');
  const instance = validateInstanceName(params.get('instance') ?? DEFAULT_INSTANCE);
  const metric = params.get('metric') ?? '';
  if (!METRIC.test(metric)) throw new UsageError(`Unknown metric "${metric.slice(0, 60)}".`, 'USAGE', 'Use one of the metrics the monitor stores (connections, cache_hit_ratio, total_size_bytes, ...).');
  const database = params.get('database') ?? '';
  if (database.length > 128 || /[\x00-\x1f\x7f]/.test(database)) throw new UsageError('The database name is too long or has control characters.', 'USAGE');
  const range = parseWindow(params.get('range') ?? '1h', 'range');
  const pointsText = params.get('points') ?? '300';
  if (!/^\d{1,4}$/.test(pointsText) || Number(pointsText) < 10 || Number(pointsText) > 2000) throw new UsageError(`points must be 10..2000, not "${pointsText.slice(0, 20)}".`, 'USAGE');
  return { engine, instance, metric, database, from: now - range, to: now, points: Number(pointsText) };
}

export interface Trend {
  window: string;
  from: string;
  /** Per metric: min, max, avg and last over the window (compact). */
  metrics: Record<string, WindowStat>;
  note?: string;
}

const NOT_SAMPLED = 'No samples: the monitor has not run (start it with `portunix-db monitor --detach`).';

/** min/max/avg/last of one instance's stored series over the window. */
export async function trend(options: { type: string; instance?: string; window: string; now?: number }): Promise<Trend> {
  const ms = parseWindow(options.window);
  const engine = parseEngineId(options.type);
  const instance = validateInstanceName(options.instance ?? DEFAULT_INSTANCE);
  const now = options.now ?? Date.now();
  const store = await SampleStore.open({ readonly: true });
  const base = { window: options.window, from: new Date(now - ms).toISOString() };
  if (!store) return { ...base, metrics: {}, note: NOT_SAMPLED };
  try {
    const all = store.windowStats(engine, instance, now - ms, now);
    // engine-specific series stay out of the compact answer: the common figures only
    const metrics = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith('gauge.') && !k.startsWith('rate.')));
    return { ...base, metrics, ...(Object.keys(metrics).length ? {} : { note: `No samples of ${engine}/${instance} in the last ${options.window}. ${store.latest().last_round_at ? 'The monitor runs; the instance may be new.' : NOT_SAMPLED}` }) };
  } finally {
    store.close();
  }
}

export interface MonitorAlerts {
  /** When the monitor last sampled; absent when it never ran. */
  last_sample_at?: string;
  interval_seconds?: number;
  /** The monitor has sampled within three intervals. */
  running: boolean;
  alerts: StoredAlert[];
}

/** The monitor's open alerts (db_status, `status`): undefined when the monitor never ran. */
export async function monitorAlerts(now = Date.now()): Promise<MonitorAlerts | undefined> {
  const store = await SampleStore.open({ readonly: true }).catch(() => undefined);
  if (!store) return undefined;
  try {
    const view = store.latest();
    const interval = view.interval_ms ?? 15_000;
    const last = view.last_round_at ? Date.parse(view.last_round_at) : undefined;
    return {
      ...(view.last_round_at ? { last_sample_at: view.last_round_at } : {}),
      ...(view.interval_ms ? { interval_seconds: view.interval_ms / 1000 } : {}),
      running: last !== undefined && now - last <= 3 * interval + 5000,
      alerts: store.alerts({ openOnly: true, limit: 20 }),
    };
  } finally {
    store.close();
  }
}
