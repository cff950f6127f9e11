/** A fake core for MCP unit tests: records calls and returns data shaped like the real core's. */
import { page } from '../../src/core/paging.js';
import { DbError } from '../../src/core/errors.js';
import type { CoreOps } from '../../src/mcp/core.js';

export interface FakeCore extends CoreOps {
  calls: { op: string; args: unknown }[];
}

export function fakeCore(overrides: Partial<CoreOps> = {}, tableCount = 5000): FakeCore {
  const calls: { op: string; args: unknown }[] = [];
  const rec = <A, R>(op: string, fn: (a: A) => Promise<R>) => async (a: A): Promise<R> => {
    calls.push({ op, args: a });
    return fn(a);
  };
  const tables = Array.from({ length: tableCount }, (_, i) => ({ schema: 'public', name: `table_${String(i).padStart(5, '0')}`, kind: 'table', rows: i, rowsEstimated: true, sizeBytes: 8192 * i }));
  const base: CoreOps = {
    status: async () => [
      { engine: 'postgresql', instance: 'main', state: 'running', version: '16', full_version: '16.4', port: 5433, pid: 42, uptime_seconds: 3700, data_dir: '/tmp/pg' },
      { engine: 'redis', instance: 'main', state: 'stopped', version: '7.2', port: 6380, data_dir: '/tmp/redis', notice: { eol: false, update_available: '7.2.6', message: 'Update available: 7.2.4 -> 7.2.6.' } },
    ],
    listDatabases: async (a) => page([{ name: 'postgres', sizeBytes: 7_000_000, owner: 'postgres', encoding: 'UTF8' }, { name: 'app', sizeBytes: 9_000_000, owner: 'app' }], a),
    sizes: async (a) => ({ ...page([{ name: 'app', sizeBytes: 9_000_000 }], a), total_bytes: 9_000_000 }),
    tables: async (a) => page(tables, a),
    schema: async (a) => ({ database: a.database, schemas: [{ name: 'public', tables: tableCount, views: 0, owner: 'postgres' }], objects: page(tables.map((t) => ({ schema: t.schema, name: t.name, kind: t.kind, columns: 3 })), a) }),
    tableInfo: async (a) => ({ schema: 'public', name: a.table, kind: 'table', columns: [{ name: 'id', type: 'integer', nullable: false, default: null }, { name: 'email', type: 'text', nullable: true, comment: null }], primaryKey: ['id'], rows: 3 }),
    indexes: async (a) => page([{ schema: 'public', table: 'users', name: 'users_pkey', columns: ['id'], unique: true, primary: true, sizeBytes: 16384, scans: 4 }, { schema: 'public', table: 'users', name: 'users_email_idx2', columns: ['email'], unique: false, primary: false, scans: 0, unused: true, duplicateOf: 'users_email_idx' }], a),
    constraints: async (a) => page([{ schema: 'public', table: 'orders', name: 'orders_user_fk', type: 'foreign key' as const, columns: ['user_id'], references: { schema: 'public', table: 'users', columns: ['id'], onDelete: 'cascade' } }], a),
    connections: async (a) => page([{ id: '123', client: '127.0.0.1:5000', user: 'postgres', database: 'app', state: 'active', queryStart: '2024-01-01T00:00:00Z', query: 'select 1' }], a),
    performance: async () => ({ counters: { xact_commit: 10, deadlocks: 0 }, gauges: { cache_hit_ratio: 0.99, temp: null }, slowQueriesNote: 'pg_stat_statements is not enabled.' }),
    enableStatements: async () => ({ changed: true, restartRequired: true, message: 'enabled' }),
    backupStatus: async () => [{ engine: 'postgresql', instance: 'main', database: 'app', last_backup: { file: '/b/app.dump', finished_at: '2024-01-01T00:00:00Z', method: 'pg_dump custom', size_bytes: 1234 }, last_attempt: { at: '2024-01-01T00:00:00Z', ok: true } }],
    backupHealth: async () => [{ engine: 'postgresql', instance: 'main', schedule: 'daily', overdue: true, reason: 'app: last good backup is older than 1.5 × daily', last_good_backup: { database: 'app', file: '/b/app.dump', finished_at: '2024-01-01T00:00:00Z', age_seconds: 200000 }, verify_failed: false, retained: { count: 1, size_bytes: 1234 } }],
    createBackup: async (a) => ({
      file: `/b/${a.database}.dump`,
      manifest: { manifest_version: 1, tool: 'portunix-db', file: `${a.database}.dump`, engine: 'postgresql', instance: 'main', database: a.database, method: 'pg_dump custom', format: 'custom', scope: 'database', serverVersion: '16.4', server_version: '16.4', size_bytes: 1234, sha256: 'ab'.repeat(32), started_at: 't0', finished_at: 't1', status: 'complete', tables: [{ name: 'public.users', rows: 3 }] },
    }),
    describeRestore: async (a) => `Restoring ${a.file} replaces database "app" on postgresql/main.`,
    restoreBackup: async (a) => ({ file: a.file, engine: 'postgresql', instance: 'main', target: a.target ?? 'app', actions: ['replaced database app'] }),
    vacuum: async (a) => ({ database: a.database, actions: ['VACUUM (ANALYZE) "app"'] }),
    query: async (a) => ({ engine: 'postgresql', instance: 'main', ...(a.database ? { database: a.database } : {}), account: 'portunix_ro', columns: ['id', 'email'], rows: [[1, 'a@x.test'], [2, null]], row_count: 2, truncated: false, command: 'SELECT 2' }),
    trend: async (a) => ({ window: a.window, from: '2024-01-01T00:00:00.000Z', metrics: { connections: { min: 1, max: 9, avg: 4.5, last: 3, samples: 240 }, cache_hit_ratio: { min: 0.97, max: 0.999, avg: 0.99, last: 0.995, samples: 240 } } }),
    monitorAlerts: async () => ({ last_sample_at: '2024-01-01T00:00:00.000Z', interval_seconds: 15, running: true, alerts: [{ key: 'instance-crashed:redis/main', kind: 'instance-crashed' as const, engine: 'redis', instance: 'main', message: 'redis/main crashed: its server process is gone.', raised_at: '2024-01-01T00:00:00.000Z', last_seen_at: '2024-01-01T00:00:00.000Z' }] }),
  };
  const merged = { ...base, ...overrides } as CoreOps;
  const out = { calls } as FakeCore;
  for (const [k, fn] of Object.entries(merged)) (out as unknown as Record<string, unknown>)[k] = rec(k, fn as (a: unknown) => Promise<unknown>);
  return out;
}

export function notRunning(): Promise<never> {
  return Promise.reject(new DbError('Instance postgresql/main is stopped; start it with `portunix-db start postgresql`.', 'NOT_RUNNING', 'Run `portunix-db start postgresql`.'));
}
