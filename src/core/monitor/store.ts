/**
 * The monitor's sample store: one SQLite file (0600 in a 0700 dir) under PORTUNIX_HOME/monitor.
 * - raw samples are kept 24 h; every sample also folds into its 5-minute rollup (min, max,
 *   sum, count, last), kept 30 days;
 * - the file is bounded: past `maxBytes` the oldest raw samples, then the oldest rollups, go;
 * - the latest snapshot of each instance and the alerts (active and recent) live beside them.
 * The sampler writes; the dashboard, /metrics and MCP open it read-only.
 */
import { chmodSync, existsSync, mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import { homePaths } from '../home.js';
import { DbError } from '../errors.js';
import type { Condition, InstanceSnapshot, Point, StoredAlert } from './types.js';

export const RAW_RETENTION_MS = 24 * 3600_000;
export const ROLLUP_RETENTION_MS = 30 * 24 * 3600_000;
export const ROLLUP_MS = 5 * 60_000;
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;
const KEEP_RESOLVED_ALERTS = 500;

export function storeFile(): string {
  return join(homePaths.monitor(), 'samples.db');
}

type Db = BetterSqlite3.Database;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS series (id INTEGER PRIMARY KEY, engine TEXT NOT NULL, instance TEXT NOT NULL, metric TEXT NOT NULL, database TEXT NOT NULL DEFAULT '', UNIQUE (engine, instance, metric, database));
CREATE TABLE IF NOT EXISTS raw (series INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY (series, ts)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS raw_ts ON raw (ts);
CREATE TABLE IF NOT EXISTS rollup (series INTEGER NOT NULL, bucket INTEGER NOT NULL, min REAL NOT NULL, max REAL NOT NULL, sum REAL NOT NULL, count INTEGER NOT NULL, last REAL NOT NULL, PRIMARY KEY (series, bucket)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollup_bucket ON rollup (bucket);
CREATE TABLE IF NOT EXISTS snapshot (engine TEXT NOT NULL, instance TEXT NOT NULL, ts INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (engine, instance));
CREATE TABLE IF NOT EXISTS alert (key TEXT NOT NULL, kind TEXT NOT NULL, engine TEXT, instance TEXT, message TEXT NOT NULL, detail TEXT, raised_at INTEGER NOT NULL, last_seen INTEGER NOT NULL, resolved_at INTEGER);
CREATE INDEX IF NOT EXISTS alert_open ON alert (key, resolved_at);
`;

export interface SeriesQuery {
  engine: string;
  instance: string;
  metric: string;
  database?: string;
  from: number;
  to: number;
  /** At most this many points (averaged into wider steps). */
  points: number;
}

export interface SeriesResult {
  /** [time ms, average, min, max] */
  points: [number, number, number, number][];
  step_ms: number;
  source: 'raw' | 'rollup';
}

export interface WindowStat {
  min: number;
  max: number;
  avg: number;
  last: number;
  samples: number;
}

export interface LatestView {
  last_round_at?: string;
  interval_ms?: number;
  instances: InstanceSnapshot[];
}

export class SampleStore {
  private constructor(
    private readonly db: Db,
    readonly file: string,
    private readonly maxBytes: number,
  ) {}

  /**
   * Opens (creating when writable) the store. Read-only opens of a store that does not exist
   * yet return undefined: the monitor has not sampled anything.
   */
  static async open(options: { file?: string; readonly?: boolean; maxBytes?: number } = {}): Promise<SampleStore | undefined> {
    const file = options.file ?? storeFile();
    if (options.readonly && !existsSync(file)) return undefined;
    const { default: Database } = await import('better-sqlite3');
    if (!options.readonly) {
      const dir = join(file, '..');
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
      // created 0600 before SQLite opens it; its -wal and -shm files take the same mode
      if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
      chmodSync(file, 0o600);
    }
    let db: Db;
    try {
      db = new Database(file, { readonly: !!options.readonly, fileMustExist: !!options.readonly });
    } catch (err) {
      throw new DbError(`Cannot open the monitor's sample store ${file}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Check its permissions, or move it away to start a new one.');
    }
    db.pragma('busy_timeout = 5000');
    if (!options.readonly) {
      // auto_vacuum takes effect only before the first table: pages freed by pruning are returned to the file system
      db.pragma('auto_vacuum = INCREMENTAL');
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
    }
    return new SampleStore(db, file, options.maxBytes ?? DEFAULT_MAX_BYTES);
  }

  close(): void {
    this.db.close();
  }

  private seriesId(p: { engine: string; instance: string; metric: string; database: string }): number {
    const found = this.db.prepare('SELECT id FROM series WHERE engine = ? AND instance = ? AND metric = ? AND database = ?').pluck().get(p.engine, p.instance, p.metric, p.database) as number | undefined;
    if (found !== undefined) return found;
    return Number(this.db.prepare('INSERT INTO series (engine, instance, metric, database) VALUES (?, ?, ?, ?)').run(p.engine, p.instance, p.metric, p.database).lastInsertRowid);
  }

  /** One sampling round: its points, the snapshots (instances not in it are gone), the interval. */
  record(at: number, snapshots: InstanceSnapshot[], points: Point[], intervalMs: number): void {
    const insertRaw = this.db.prepare('INSERT OR REPLACE INTO raw (series, ts, value) VALUES (?, ?, ?)');
    const upsertRollup = this.db.prepare(
      `INSERT INTO rollup (series, bucket, min, max, sum, count, last) VALUES (@s, @b, @v, @v, @v, 1, @v)
       ON CONFLICT (series, bucket) DO UPDATE SET min = min(min, excluded.min), max = max(max, excluded.max), sum = sum + excluded.sum, count = count + 1, last = excluded.last`,
    );
    const putSnapshot = this.db.prepare('INSERT OR REPLACE INTO snapshot (engine, instance, ts, body) VALUES (?, ?, ?, ?)');
    const bucket = Math.floor(at / ROLLUP_MS) * ROLLUP_MS;
    this.db.transaction(() => {
      for (const p of points) {
        if (!Number.isFinite(p.value)) continue;
        const s = this.seriesId(p);
        insertRaw.run(s, at, p.value);
        upsertRollup.run({ s, b: bucket, v: p.value });
      }
      this.db.prepare('DELETE FROM snapshot').run();
      for (const snap of snapshots) putSnapshot.run(snap.engine, snap.instance, at, JSON.stringify(snap));
      this.setMeta('last_round_at', String(at));
      this.setMeta('interval_ms', String(intervalMs));
    })();
  }

  private setMeta(key: string, value: string): void {
    this.db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(key, value);
  }

  private meta(key: string): string | undefined {
    return this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck().get(key) as string | undefined;
  }

  /** Retention (24 h raw, 30 d rollups, recent resolved alerts), then the size bound. */
  prune(now: number): { raw: number; rollup: number } {
    let raw = 0;
    let rollup = 0;
    this.db.transaction(() => {
      raw += this.db.prepare('DELETE FROM raw WHERE ts < ?').run(now - RAW_RETENTION_MS).changes;
      rollup += this.db.prepare('DELETE FROM rollup WHERE bucket < ?').run(now - ROLLUP_RETENTION_MS).changes;
      this.db.prepare('DELETE FROM alert WHERE resolved_at IS NOT NULL AND rowid NOT IN (SELECT rowid FROM alert WHERE resolved_at IS NOT NULL ORDER BY resolved_at DESC LIMIT ?)').run(KEEP_RESOLVED_ALERTS);
    })();
    // the size bound: drop the oldest tenth of what is left, raw first, until the file fits
    for (let i = 0; i < 20 && this.usedBytes() > this.maxBytes; i++) {
      const table = (this.db.prepare('SELECT count(*) FROM raw').pluck().get() as number) > 0 ? 'raw' : 'rollup';
      const col = table === 'raw' ? 'ts' : 'bucket';
      const cut = this.db.prepare(`SELECT ${col} FROM ${table} ORDER BY ${col} LIMIT 1 OFFSET (SELECT count(*) / 10 FROM ${table})`).pluck().get() as number | undefined;
      if (cut === undefined) break;
      const n = this.db.prepare(`DELETE FROM ${table} WHERE ${col} <= ?`).run(cut).changes;
      if (table === 'raw') raw += n;
      else rollup += n;
      this.db.pragma('incremental_vacuum');
    }
    this.db.prepare('DELETE FROM series WHERE NOT EXISTS (SELECT 1 FROM raw WHERE raw.series = series.id) AND NOT EXISTS (SELECT 1 FROM rollup WHERE rollup.series = series.id)').run();
    this.db.pragma('incremental_vacuum');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return { raw, rollup };
  }

  /** Bytes of the database in use (pages minus free pages). */
  usedBytes(): number {
    const pages = Number(this.db.pragma('page_count', { simple: true }));
    const free = Number(this.db.pragma('freelist_count', { simple: true }));
    return (pages - free) * Number(this.db.pragma('page_size', { simple: true }));
  }

  latest(): LatestView {
    const rows = this.db.prepare('SELECT body FROM snapshot ORDER BY engine, instance').pluck().all() as string[];
    const last = this.meta('last_round_at');
    const interval = this.meta('interval_ms');
    return {
      ...(last ? { last_round_at: new Date(Number(last)).toISOString() } : {}),
      ...(interval ? { interval_ms: Number(interval) } : {}),
      instances: rows.map((r) => JSON.parse(r) as InstanceSnapshot),
    };
  }

  /** Points of one series over [from, to], at most `points` of them: raw within the last 24 h, 5-minute rollups before. */
  series(q: SeriesQuery, now = Date.now()): SeriesResult {
    const source = q.from >= now - RAW_RETENTION_MS ? 'raw' : 'rollup';
    const step = Math.max(source === 'raw' ? 1000 : ROLLUP_MS, Math.ceil((q.to - q.from) / Math.max(1, q.points) / 1000) * 1000);
    const id = this.db.prepare('SELECT id FROM series WHERE engine = ? AND instance = ? AND metric = ? AND database = ?').pluck().get(q.engine, q.instance, q.metric, q.database ?? '') as number | undefined;
    if (id === undefined) return { points: [], step_ms: step, source };
    const sql =
      source === 'raw'
        ? 'SELECT CAST(ts / @step AS INTEGER) * @step AS t, avg(value) AS a, min(value) AS lo, max(value) AS hi FROM raw WHERE series = @id AND ts BETWEEN @from AND @to GROUP BY t ORDER BY t'
        : 'SELECT CAST(bucket / @step AS INTEGER) * @step AS t, sum(sum) / sum(count) AS a, min(min) AS lo, max(max) AS hi FROM rollup WHERE series = @id AND bucket BETWEEN @from AND @to GROUP BY t ORDER BY t';
    const rows = this.db.prepare(sql).all({ step, id, from: q.from, to: q.to }) as { t: number; a: number; lo: number; hi: number }[];
    return { points: rows.map((r) => [r.t, r.a, r.lo, r.hi]), step_ms: step, source };
  }

  /** min/max/avg/last of every instance-wide series of one instance since `from` (raw, or rollups when older than 24 h). */
  windowStats(engine: string, instance: string, from: number, now = Date.now()): Record<string, WindowStat> {
    const raw = from >= now - RAW_RETENTION_MS;
    const rows = (
      raw
        ? this.db
            .prepare(
              `SELECT s.metric AS metric, min(r.value) AS min, max(r.value) AS max, avg(r.value) AS avg, count(*) AS n,
                      (SELECT value FROM raw r2 WHERE r2.series = s.id ORDER BY ts DESC LIMIT 1) AS last
                 FROM series s JOIN raw r ON r.series = s.id
                WHERE s.engine = ? AND s.instance = ? AND s.database = '' AND r.ts >= ? GROUP BY s.id ORDER BY s.metric`,
            )
            .all(engine, instance, from)
        : this.db
            .prepare(
              `SELECT s.metric AS metric, min(r.min) AS min, max(r.max) AS max, sum(r.sum) / sum(r.count) AS avg, sum(r.count) AS n,
                      (SELECT last FROM rollup r2 WHERE r2.series = s.id ORDER BY bucket DESC LIMIT 1) AS last
                 FROM series s JOIN rollup r ON r.series = s.id
                WHERE s.engine = ? AND s.instance = ? AND s.database = '' AND r.bucket >= ? GROUP BY s.id ORDER BY s.metric`,
            )
            .all(engine, instance, Math.floor(from / ROLLUP_MS) * ROLLUP_MS)
    ) as { metric: string; min: number; max: number; avg: number; n: number; last: number }[];
    const out: Record<string, WindowStat> = {};
    const r4 = (x: number) => Math.round(x * 10_000) / 10_000;
    for (const r of rows) out[r.metric] = { min: r4(r.min), max: r4(r.max), avg: r4(r.avg), last: r4(r.last), samples: r.n };
    return out;
  }

  /**
   * The conditions that hold now against the open alerts: a new condition is raised (returned
   * in `raised`, once, until it clears), one that no longer holds is resolved.
   */
  reconcileAlerts(conditions: Condition[], now: number): { raised: Condition[]; resolved: StoredAlert[] } {
    const raised: Condition[] = [];
    let resolved: StoredAlert[] = [];
    this.db.transaction(() => {
      const open = new Map((this.db.prepare('SELECT rowid AS id, * FROM alert WHERE resolved_at IS NULL').all() as ({ id: number } & AlertRow)[]).map((r) => [r.key, r]));
      const seen = new Set<string>();
      for (const c of conditions) {
        if (seen.has(c.key)) continue;
        seen.add(c.key);
        const row = open.get(c.key);
        if (row) this.db.prepare('UPDATE alert SET last_seen = ?, message = ?, detail = ? WHERE rowid = ?').run(now, c.message, c.detail ?? null, row.id);
        else {
          this.db.prepare('INSERT INTO alert (key, kind, engine, instance, message, detail, raised_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(c.key, c.kind, c.engine ?? null, c.instance ?? null, c.message, c.detail ?? null, now, now);
          raised.push(c);
        }
      }
      const gone = [...open.values()].filter((r) => !seen.has(r.key));
      for (const r of gone) this.db.prepare('UPDATE alert SET resolved_at = ? WHERE rowid = ?').run(now, r.id);
      resolved = gone.map((r) => toAlert({ ...r, resolved_at: now }));
    })();
    return { raised, resolved };
  }

  /** Open alerts, then the most recently resolved ones (up to `limit` in all). */
  alerts(options: { limit?: number; openOnly?: boolean } = {}): StoredAlert[] {
    const rows = this.db
      .prepare(`SELECT * FROM alert ${options.openOnly ? 'WHERE resolved_at IS NULL' : ''} ORDER BY resolved_at IS NOT NULL, coalesce(resolved_at, raised_at) DESC LIMIT ?`)
      .all(options.limit ?? 50) as AlertRow[];
    return rows.map(toAlert);
  }
}

interface AlertRow {
  key: string;
  kind: StoredAlert['kind'];
  engine: string | null;
  instance: string | null;
  message: string;
  detail: string | null;
  raised_at: number;
  last_seen: number;
  resolved_at: number | null;
}

function toAlert(r: AlertRow): StoredAlert {
  return {
    key: r.key,
    kind: r.kind,
    ...(r.engine ? { engine: r.engine } : {}),
    ...(r.instance ? { instance: r.instance } : {}),
    message: r.message,
    ...(r.detail ? { detail: r.detail } : {}),
    raised_at: new Date(r.raised_at).toISOString(),
    last_seen_at: new Date(r.last_seen).toISOString(),
    ...(r.resolved_at ? { resolved_at: new Date(r.resolved_at).toISOString() } : {}),
  };
}
