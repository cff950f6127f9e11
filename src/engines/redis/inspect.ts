import type { ConnectionInfo, DatabaseSummary, HealthCheck, InstanceContext, PerformanceReport, TableSummary } from '../contract.js';
import { info, instanceCertificate, num, pairs, parseKeyspace, withRedis, type RedisConn } from './client.js';
import { escapeGlob, validateIdentifier } from './identifiers.js';

/** SCAN stops after this many keys and says the answer was sampled. */
export const SCAN_LIMIT = 10_000;
const SCAN_COUNT = 500;
const BATCH = 200;

/** Cursor-based SCAN (never KEYS), bounded by `limit`. */
export async function scanKeys(c: RedisConn, limit: number, match?: string): Promise<{ keys: string[]; complete: boolean }> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = (await c.send(['SCAN', cursor, ...(match ? ['MATCH', match] : []), 'COUNT', String(SCAN_COUNT)])) as [string, string[]];
    cursor = String(reply[0]);
    for (const k of reply[1]) {
      if (keys.length >= limit) return { keys, complete: false };
      keys.push(String(k));
    }
  } while (cursor !== '0');
  return { keys, complete: true };
}

async function inBatches<T>(items: string[], fn: (key: string) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(...(await Promise.all(items.slice(i, i + BATCH).map(fn))));
  return out;
}

async function memoryOf(c: RedisConn, keys: string[]): Promise<number> {
  const sizes = await inBatches(keys, async (k) => Number((await c.send(['MEMORY', 'USAGE', k, 'SAMPLES', '5'])) ?? 0));
  return sizes.reduce((s, n) => s + n, 0);
}

/** The prefix a key groups under: up to and including its first ':' (or '.', '/', '|'). */
export function keyPrefix(key: string): string {
  const m = /^([^:./|]+[:./|])/.exec(key);
  return m ? `${m[1]}*` : '(no prefix)';
}

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  const only = database !== undefined ? Number(validateIdentifier('database', database)) : undefined;
  const spaces = await withRedis(ctx, async (c) => parseKeyspace(await info(c, 'keyspace')));
  const wanted = only !== undefined ? [spaces.find((s) => s.db === only) ?? { db: only, keys: 0, expires: 0 }] : spaces;
  const out: DatabaseSummary[] = [];
  for (const s of wanted) {
    let sizeBytes = 0;
    if (s.keys > 0) {
      sizeBytes = await withRedis(
        ctx,
        async (c) => {
          const { keys, complete } = await scanKeys(c, SCAN_LIMIT);
          const bytes = await memoryOf(c, keys);
          // beyond SCAN_LIMIT keys the size is extrapolated from the sample
          return complete || keys.length === 0 ? bytes : Math.round((bytes / keys.length) * s.keys);
        },
        { database: s.db },
      );
    }
    out.push({ name: String(s.db), keys: s.keys, sizeBytes });
  }
  return out;
}

/** Key types and prefixes found with SCAN, bounded; `schema` filters by key prefix. */
export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  const db = Number(validateIdentifier('database', options.database));
  return withRedis(
    ctx,
    async (c) => {
      const total = Number(await c.send(['DBSIZE']));
      const { keys, complete } = await scanKeys(c, SCAN_LIMIT, options.schema !== undefined ? `${escapeGlob(options.schema)}*` : undefined);
      const types = await inBatches(keys, async (k) => String(await c.send(['TYPE', k])));
      const groups = new Map<string, { name: string; kind: string; keys: string[] }>();
      keys.forEach((k, i) => {
        const kind = types[i] ?? 'none';
        if (kind === 'none') return; // expired between SCAN and TYPE
        const name = keyPrefix(k);
        const id = `${name}\u0000${kind}`;
        const g = groups.get(id) ?? { name, kind, keys: [] };
        g.keys.push(k);
        groups.set(id, g);
      });
      const scale = complete || keys.length === 0 ? 1 : (options.schema === undefined ? total / keys.length : 1);
      const out: TableSummary[] = [];
      for (const g of [...groups.values()].sort((a, b) => b.keys.length - a.keys.length || a.name.localeCompare(b.name))) {
        const row: TableSummary = { name: g.name, kind: g.kind, rows: Math.round(g.keys.length * scale), rowsEstimated: !complete };
        if (options.includeSizes) row.sizeBytes = Math.round((await memoryOf(c, g.keys)) * scale);
        out.push(row);
      }
      return out;
    },
    { database: db },
  );
}

/** CLIENT LIST lines: `id=3 addr=127.0.0.1:5678 ... db=0 ... cmd=client|list user=default`. */
export function parseClientList(text: string): ConnectionInfo[] {
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const f: Record<string, string> = {};
      for (const part of line.trim().split(' ')) {
        const i = part.indexOf('=');
        if (i > 0) f[part.slice(0, i)] = part.slice(i + 1);
      }
      const idle = Number(f['idle'] ?? 0);
      const c: ConnectionInfo = {
        id: f['id'] ?? '?',
        client: f['name'] ? `${f['addr'] ?? ''} (${f['name']})` : f['addr'] ?? '',
        ...(f['user'] ? { user: f['user'] } : {}),
        ...(f['db'] !== undefined ? { database: f['db'] } : {}),
        state: idle > 0 ? 'idle' : 'active',
        durationMs: idle * 1000,
        ...(f['cmd'] ? { query: f['cmd'].replace('|', ' ') } : {}),
      };
      return c;
    });
}

/** Client connections, without the one asking (as the other engines leave out their own session). */
export async function connections(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  return withRedis(ctx, async (c) => {
    const me = String(await c.send(['CLIENT', 'ID']));
    return parseClientList(String(await c.send(['CLIENT', 'LIST']))).filter((x) => x.id !== me);
  });
}

const COUNTERS = [
  'total_commands_processed',
  'total_connections_received',
  'rejected_connections',
  'keyspace_hits',
  'keyspace_misses',
  'expired_keys',
  'evicted_keys',
  'total_net_input_bytes',
  'total_net_output_bytes',
  'total_error_replies',
  'rdb_changes_since_last_save',
];
const GAUGES = [
  'redis_version',
  'uptime_in_seconds',
  'connected_clients',
  'blocked_clients',
  'used_memory',
  'used_memory_rss',
  'used_memory_peak',
  'used_memory_dataset',
  'maxmemory',
  'maxmemory_policy',
  'mem_fragmentation_ratio',
  'mem_allocator',
  'instantaneous_ops_per_sec',
  'rdb_bgsave_in_progress',
  'rdb_last_bgsave_status',
  'aof_enabled',
  // replicas only: seconds since the last exchange with the primary
  'master_last_io_seconds_ago',
];

export function hitRatio(m: Record<string, string>): number | null {
  const hits = num(m['keyspace_hits']) ?? 0;
  const misses = num(m['keyspace_misses']) ?? 0;
  return hits + misses === 0 ? null : Math.round((hits / (hits + misses)) * 10_000) / 10_000;
}

export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  const only = options.database !== undefined ? Number(validateIdentifier('database', options.database)) : undefined;
  return withRedis(ctx, async (c) => {
    const m = await info(c, 'everything').catch(() => info(c));
    const counters: Record<string, number> = {};
    for (const k of COUNTERS) {
      const v = num(m[k]);
      if (v !== undefined) counters[k] = v;
    }
    const gauges: Record<string, number | string | null> = {};
    for (const k of GAUGES) if (m[k] !== undefined) gauges[k] = num(m[k]) ?? m[k]!;
    gauges['hit_ratio'] = hitRatio(m);
    const lastSave = num(m['rdb_last_save_time']);
    if (lastSave) gauges['rdb_last_save_at'] = new Date(lastSave * 1000).toISOString();
    const spaces = parseKeyspace(m);
    gauges['keys_total'] = spaces.reduce((s, k) => s + k.keys, 0);
    for (const s of spaces) if (only === undefined || s.db === only) gauges[`keys_db${s.db}`] = s.keys;
    const notes: string[] = [];
    // LATENCY LATEST: [event, timestamp, latest ms, max ms]
    const latency = ((await c.send(['LATENCY', 'LATEST'])) as unknown[][]) ?? [];
    for (const row of latency) {
      const [event, , latest, max] = row.map(String);
      gauges[`latency_${event}_latest_ms`] = Number(latest);
      gauges[`latency_${event}_max_ms`] = Number(max);
    }
    const threshold = pairs(await c.send(['CONFIG', 'GET', 'latency-monitor-threshold']))[0]?.[1];
    if (latency.length === 0) notes.push(threshold === '0' ? 'The latency monitor is off (latency-monitor-threshold 0).' : `No latency event above the ${threshold} ms threshold (LATENCY LATEST is empty).`);
    // SLOWLOG GET: [id, unix time, microseconds, [args...], client addr, client name]
    const slow = ((await c.send(['SLOWLOG', 'GET', '128'])) as unknown[][]) ?? [];
    const byQuery = new Map<string, { calls: number; totalMs: number }>();
    for (const entry of slow) {
      const args = Array.isArray(entry[3]) ? (entry[3] as unknown[]).map(String) : [];
      const q = args.join(' ');
      const g = byQuery.get(q) ?? { calls: 0, totalMs: 0 };
      g.calls += 1;
      g.totalMs += Number(entry[2]) / 1000;
      byQuery.set(q, g);
    }
    const slowQueries = [...byQuery.entries()]
      .map(([query, g]) => ({ query, calls: g.calls, totalMs: Math.round(g.totalMs * 1000) / 1000, meanMs: Math.round((g.totalMs / g.calls) * 1000) / 1000 }))
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, 25);
    const slowerThan = pairs(await c.send(['CONFIG', 'GET', 'slowlog-log-slower-than']))[0]?.[1];
    return {
      counters,
      gauges,
      slowQueries,
      slowQueriesNote: `From SLOWLOG (commands slower than ${slowerThan} µs, last ${slow.length} entries; Redis redacts secrets such as passwords in it).`,
      notes,
    };
  });
}

/**
 * TLS as the server runs it (CONFIG GET), seen from the tool's own connection, which got this far
 * only by verifying the instance's certificate when it has one. Pure over the replies, for tests.
 */
export function tlsCheck(expectedPort: number | undefined, hasCert: boolean, settings: Record<string, string | undefined>): HealthCheck {
  if (!hasCert) {
    return {
      name: 'tls',
      status: 'warn',
      detail: 'no TLS: this instance has no server certificate (made before TLS was the default, or openssl or a TLS-enabled redis-server was missing at install), so TCP connections to it are not encrypted; re-create it to get TLS',
    };
  }
  const tlsPort = settings['tls-port'];
  const plainPort = settings['port'];
  if (tlsPort === undefined || tlsPort === '0' || tlsPort !== String(expectedPort)) {
    return { name: 'tls', status: 'fail', detail: `the instance has a certificate but tls-port is ${tlsPort ?? 'unknown'} (expected ${expectedPort}); check its redis.conf and restart it` };
  }
  if (plainPort !== '0') {
    return { name: 'tls', status: 'warn', detail: `TLS on port ${tlsPort}, but plain TCP is also open on port ${plainPort}: connections there are not encrypted; set port 0 in its redis.conf and restart it` };
  }
  return {
    name: 'tls',
    status: 'ok',
    detail: `TLS only: tls-port ${tlsPort}, no plain TCP port (port 0); protocols ${settings['tls-protocols'] || 'default'}; clients authenticate with ACL passwords (tls-auth-clients ${settings['tls-auth-clients'] ?? '?'}); this connection verified the instance certificate`,
  };
}

export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  const cert = await instanceCertificate(ctx);
  return withRedis(ctx, async (c) => {
    const checks: HealthCheck[] = [];
    const pong = await c.send(['PING']);
    const m = await info(c);
    checks.push({ name: 'server', status: pong === 'PONG' ? 'ok' : 'fail', detail: `Redis ${m['redis_version']} answers PING; up ${m['uptime_in_seconds']} s.` });
    const bgStatus = m['rdb_last_bgsave_status'];
    const changes = num(m['rdb_changes_since_last_save']) ?? 0;
    const lastSave = num(m['rdb_last_save_time']);
    checks.push({
      name: 'persistence',
      status: bgStatus === 'ok' ? 'ok' : 'fail',
      detail: `RDB snapshots: last background save ${bgStatus}${lastSave ? ` at ${new Date(lastSave * 1000).toISOString()}` : ''}; ${changes} change(s) since.${m['aof_enabled'] === '1' ? ' AOF is on.' : ''}`,
    });
    const used = num(m['used_memory']) ?? 0;
    const max = num(m['maxmemory']) ?? 0;
    if (max > 0) {
      const ratio = used / max;
      checks.push({ name: 'memory', status: ratio > 0.9 ? 'warn' : 'ok', detail: `${Math.round(ratio * 100)}% of maxmemory used (${used} of ${max} bytes, policy ${m['maxmemory_policy']}).` });
    } else {
      checks.push({ name: 'memory', status: 'ok', detail: `${used} bytes used; no maxmemory limit.` });
    }
    const frag = num(m['mem_fragmentation_ratio']) ?? 1;
    checks.push({
      name: 'fragmentation',
      status: frag > 1.5 && used > 100 * 1024 * 1024 ? 'warn' : 'ok',
      detail: `Fragmentation ratio ${frag}${frag > 1.5 && used > 100 * 1024 * 1024 ? '; `portunix-db vacuum 0 --type redis` runs MEMORY PURGE' : ''}.`,
    });
    const rejected = num(m['rejected_connections']) ?? 0;
    checks.push({ name: 'clients', status: rejected > 0 ? 'warn' : 'ok', detail: `${m['connected_clients']} connected, ${m['blocked_clients']} blocked, ${rejected} rejected since start (maxclients).` });
    const ratio = hitRatio(m);
    checks.push({ name: 'hit ratio', status: 'ok', detail: ratio === null ? 'No key lookups yet.' : `${Math.round(ratio * 1000) / 10}% of key lookups found their key.` });
    const bind = pairs(await c.send(['CONFIG', 'GET', 'bind']))[0]?.[1] ?? '';
    const protectedMode = pairs(await c.send(['CONFIG', 'GET', 'protected-mode']))[0]?.[1];
    const loopbackOnly = bind.split(/\s+/).every((a) => a === '127.0.0.1' || a === '::1' || a === '-::1');
    checks.push({ name: 'exposure', status: loopbackOnly ? 'ok' : 'warn', detail: `bind ${bind}, protected-mode ${protectedMode}${loopbackOnly ? '' : ': reachable beyond this machine'}.` });
    const tlsSettings: Record<string, string> = {};
    for (const name of ['port', 'tls-port', 'tls-protocols', 'tls-auth-clients']) {
      for (const [n, v] of pairs(await c.send(['CONFIG', 'GET', name]))) tlsSettings[n] = v;
    }
    checks.push(tlsCheck(ctx.config.port, !!cert, tlsSettings));
    const latency = ((await c.send(['LATENCY', 'LATEST'])) as unknown[][]) ?? [];
    checks.push({
      name: 'latency',
      status: latency.length ? 'warn' : 'ok',
      detail: latency.length ? `Latency events: ${latency.map((r) => `${String(r[0])} max ${String(r[3])} ms`).join(', ')}.` : 'No latency event recorded.',
    });
    return checks;
  });
}

/** SLOWLOG is always on; what can be missing is the latency monitor. */
export async function enableStatements(ctx: InstanceContext): Promise<{ changed: boolean; restartRequired: boolean; message: string }> {
  return withRedis(ctx, async (c) => {
    const threshold = pairs(await c.send(['CONFIG', 'GET', 'latency-monitor-threshold']))[0]?.[1];
    if (threshold !== '0') return { changed: false, restartRequired: false, message: `Redis always keeps SLOWLOG, and the latency monitor is on (threshold ${threshold} ms).` };
    await c.send(['CONFIG', 'SET', 'latency-monitor-threshold', '100']);
    await c.send(['CONFIG', 'REWRITE']);
    return { changed: true, restartRequired: false, message: 'Turned the latency monitor on (latency-monitor-threshold 100 ms, persisted with CONFIG REWRITE). SLOWLOG is always on.' };
  });
}
