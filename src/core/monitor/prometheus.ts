/**
 * Prometheus text exposition of the monitor's latest samples, built with prom-client: one
 * fresh registry per scrape from the store's snapshots, so an instance or database that is
 * gone leaves no stale series. Names follow Prometheus conventions: the portunix_db_ prefix,
 * base units with _bytes/_seconds, counters with _total, labels engine/instance/database.
 */
import type { AgentContext, AgentService } from '../agent/task.js';
import { cjsExports } from '../cjs-interop.js';
import { serveRoutes } from './http.js';
import { SampleStore, type LatestView } from './store.js';

type PromClient = typeof import('prom-client');

const L = ['engine', 'instance'] as const;
const LD = ['engine', 'instance', 'database'] as const;

/** The exposition text of one view. `now` is when backup ages are measured from. */
export async function exposition(view: LatestView | undefined, alerts: { kind: string }[], now = Date.now()): Promise<{ text: string; contentType: string }> {
  const prom: PromClient = cjsExports(await import('prom-client'));
  const registry = new prom.Registry();
  const g = <T extends string>(name: string, help: string, labelNames: readonly T[]) => new prom.Gauge<T>({ name, help, labelNames, registers: [registry] });
  const c = <T extends string>(name: string, help: string, labelNames: readonly T[]) => new prom.Counter<T>({ name, help, labelNames, registers: [registry] });
  const up = g('portunix_db_up', 'Whether the instance is running (1) or not (0: stopped, crashed, unresponsive).', L);
  const info = g('portunix_db_instance_info', 'Instance facts as labels; the value is always 1.', ['engine', 'instance', 'version', 'state'] as const);
  const eol = g('portunix_db_version_eol', 'Whether the instance runs a version past its end of life (1) or not (0).', L);
  const uptime = g('portunix_db_uptime_seconds', 'Seconds since the server process started.', L);
  const conns = g('portunix_db_connections', 'Open client connections.', L);
  const hit = g('portunix_db_cache_hit_ratio', 'Share of reads served from memory (0..1).', L);
  const tx = c('portunix_db_transactions_total', 'Transactions (commits and rollbacks) since the server started.', L);
  const ops = c('portunix_db_operations_total', 'Operations or commands since the server started.', L);
  const lag = g('portunix_db_replication_lag_seconds', 'Seconds a replica is behind its primary (replicas only).', L);
  const dbSize = g('portunix_db_database_size_bytes', 'Size of one database (keyspace, index, file).', LD);
  const healthy = g('portunix_db_healthy', 'Whether every health check passes (1) or one fails (0).', L);
  const failing = g('portunix_db_health_check_failing', 'A failing health check (1), by check name.', ['engine', 'instance', 'check'] as const);
  const diskFree = g('portunix_db_disk_free_bytes', "Free bytes on the file system of the instance's data directory.", L);
  const diskSize = g('portunix_db_disk_size_bytes', "Size of the file system of the instance's data directory.", L);
  const backupAge = g('portunix_db_backup_age_seconds', 'Seconds since the last good backup finished.', LD);
  const backupSize = g('portunix_db_backup_last_size_bytes', 'Size of the last good backup file.', LD);
  const verifyOk = g('portunix_db_backup_last_verify_success', 'Whether the last verification of a backup passed (1) or failed (0).', LD);
  const verifyAge = g('portunix_db_backup_last_verify_age_seconds', 'Seconds since the last backup verification.', LD);
  const overdue = g('portunix_db_backup_overdue', 'Whether a scheduled backup is overdue (1) or not (0).', LD);
  const lastRound = g('portunix_db_monitor_last_sample_timestamp_seconds', 'Unix time of the monitor\'s last sampling round.', [] as const);
  const interval = g('portunix_db_monitor_interval_seconds', "The monitor's sampling interval.", [] as const);
  const active = g('portunix_db_alerts_active', 'Open alerts, by kind.', ['kind'] as const);

  if (view?.last_round_at) lastRound.set(Date.parse(view.last_round_at) / 1000);
  if (view?.interval_ms) interval.set(view.interval_ms / 1000);
  const kinds = new Map<string, number>();
  for (const a of alerts) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
  for (const [kind, n] of kinds) active.set({ kind }, n);
  const age = (iso: string) => Math.max(0, Math.round((now - Date.parse(iso)) / 1000));

  for (const s of view?.instances ?? []) {
    const l = { engine: s.engine, instance: s.instance };
    const running = s.state === 'running' || s.state === 'embedded';
    up.set(l, running ? 1 : 0);
    info.set({ ...l, version: s.full_version ?? s.version, state: s.state }, 1);
    eol.set(l, s.notice?.eol ? 1 : 0);
    if (s.uptime_seconds !== undefined) uptime.set(l, s.uptime_seconds);
    if (s.disk) {
      diskFree.set(l, s.disk.free_bytes);
      diskSize.set(l, s.disk.total_bytes);
    }
    for (const b of s.backups ?? []) {
      const ld = { ...l, database: b.database };
      if (b.last_backup_at) backupAge.set(ld, age(b.last_backup_at));
      if (b.size_bytes !== undefined) backupSize.set(ld, b.size_bytes);
      if (b.last_verify) {
        verifyOk.set(ld, b.last_verify.ok ? 1 : 0);
        verifyAge.set(ld, age(b.last_verify.at));
      }
      if (b.overdue !== undefined) overdue.set(ld, b.overdue ? 1 : 0);
    }
    if (!running) continue;
    if (s.key.connections !== undefined) conns.set(l, s.key.connections);
    if (s.key.cache_hit_ratio !== undefined) hit.set(l, s.key.cache_hit_ratio);
    if (s.key.replication_lag_seconds !== undefined) lag.set(l, s.key.replication_lag_seconds);
    if (s.totals.transactions !== undefined) tx.inc(l, s.totals.transactions);
    if (s.totals.operations !== undefined) ops.inc(l, s.totals.operations);
    for (const d of s.sizes ?? []) dbSize.set({ ...l, database: d.database }, d.bytes);
    if (s.healthy !== undefined) {
      healthy.set(l, s.healthy ? 1 : 0);
      for (const ch of s.checks ?? []) if (ch.status === 'fail') failing.set({ ...l, check: ch.name }, 1);
    }
  }
  return { text: await registry.metrics(), contentType: registry.contentType };
}

/** The store, opened read-only once it exists (the sampler may create it after the listener starts). */
export function storeReader(file?: string): { get(): Promise<SampleStore | undefined>; close(): void } {
  let store: SampleStore | undefined;
  return {
    async get() {
      store ??= await SampleStore.open({ readonly: true, ...(file ? { file } : {}) });
      return store;
    },
    close() {
      store?.close();
      store = undefined;
    },
  };
}

/** `monitor --listen 127.0.0.1:PORT`: /metrics for Prometheus, bearer token and Host check as for HTTP MCP. */
export function prometheusService(options: { host: string; port: number; tokenFile?: string; storeFile?: string }): AgentService {
  return {
    name: 'prometheus',
    async start(ctx: AgentContext) {
      const reader = storeReader(options.storeFile);
      const handle = await serveRoutes({
        host: options.host,
        port: options.port,
        what: 'Prometheus metrics',
        ...(options.tokenFile ? { tokenFile: options.tokenFile } : {}),
        log: (m) => ctx.log.warn(m),
        routes: {
          '/metrics': {
            bearer: true,
            async handle(_req, res) {
              const store = await reader.get();
              const { text, contentType } = await exposition(store?.latest(), store?.alerts({ openOnly: true, limit: 1000 }) ?? []);
              res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
              res.end(text);
            },
          },
        },
      });
      return {
        describe: `Prometheus metrics on ${handle.url}/metrics (bearer token ${handle.tokenCreated ? 'created in' : 'from'} ${handle.tokenFile})`,
        async stop() {
          await handle.close();
          reader.close();
        },
      };
    },
  };
}
