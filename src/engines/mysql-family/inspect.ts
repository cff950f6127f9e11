import { statfs } from 'node:fs/promises';
import type { Connection } from 'mysql2/promise';
import type { ConnectionInfo, ConstraintInfo, DatabaseSummary, HealthCheck, IndexInfo, InstanceContext, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { tailFile } from '../../core/process/supervisor.js';
import { instanceCertificate, num, query, withConnection, type Flavour } from './client.js';
import { quoteIdent, validateMysqlIdentifier } from './identifiers.js';
import { SYSTEM_DATABASES } from './admin.js';

async function requireDatabase(c: Connection, ctx: InstanceContext, database: string): Promise<void> {
  const rows = await query(c, 'SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [database]);
  if (!rows.length) throw new DbError(`Database "${database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
}

/** In MySQL a schema is a database; a --schema other than the database is refused with a pointer. */
function checkSchema(ctx: InstanceContext, database: string, schema: string | undefined): void {
  if (schema !== undefined && schema !== database) {
    throw new DbError(`${ctx.engine} has no schemas inside a database (a schema is a database).`, 'USAGE', `Pass --database ${schema} instead of --schema.`);
  }
}

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  if (database) validateMysqlIdentifier('database', database);
  return withConnection(ctx, undefined, async (c) => {
    if (database) await requireDatabase(c, ctx, database);
    const rows = await query<{ name: string; charset: string; collation: string; size: unknown }>(
      c,
      `SELECT s.SCHEMA_NAME AS name, s.DEFAULT_CHARACTER_SET_NAME AS charset, s.DEFAULT_COLLATION_NAME AS collation,
              COALESCE(SUM(t.DATA_LENGTH + t.INDEX_LENGTH), 0) AS size
         FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME
        WHERE ${database ? 's.SCHEMA_NAME = ?' : 's.SCHEMA_NAME NOT IN (?)'}
        GROUP BY s.SCHEMA_NAME, s.DEFAULT_CHARACTER_SET_NAME, s.DEFAULT_COLLATION_NAME
        ORDER BY size DESC, s.SCHEMA_NAME`,
      [database ?? SYSTEM_DATABASES],
    );
    return rows.map((r) => ({ name: r.name, sizeBytes: num(r.size) ?? 0, encoding: r.charset, collation: r.collation }));
  });
}

function kindOf(tableType: string): string {
  switch (tableType) {
    case 'BASE TABLE':
      return 'table';
    case 'VIEW':
      return 'view';
    case 'SYSTEM VIEW':
      return 'system view';
    case 'SEQUENCE':
      return 'sequence';
    default:
      return tableType.toLowerCase();
  }
}

export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  validateMysqlIdentifier('database', options.database);
  checkSchema(ctx, options.database, options.schema);
  return withConnection(ctx, undefined, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const rows = await query<{ name: string; type: string; rows: unknown; size: unknown; engine: string | null }>(
      c,
      `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, TABLE_ROWS AS \`rows\`, DATA_LENGTH + INDEX_LENGTH AS size, ENGINE AS engine
         FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
      [options.database],
    );
    return rows.map((r) => {
      const kind = kindOf(r.type);
      const t: TableSummary = { schema: options.database, name: r.name, kind };
      if (kind === 'table') {
        const n = num(r.rows);
        if (n !== undefined) {
          t.rows = n;
          t.rowsEstimated = r.engine === 'InnoDB';
        }
        if (options.includeSizes) t.sizeBytes = num(r.size) ?? 0;
      }
      return t;
    });
  });
}

export async function schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  validateMysqlIdentifier('database', options.database);
  checkSchema(ctx, options.database, options.schema);
  return withConnection(ctx, undefined, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const tables = await query<{ name: string; type: string; cols: unknown }>(
      c,
      `SELECT t.TABLE_NAME AS name, t.TABLE_TYPE AS type, (SELECT COUNT(*) FROM information_schema.COLUMNS col WHERE col.TABLE_SCHEMA = t.TABLE_SCHEMA AND col.TABLE_NAME = t.TABLE_NAME) AS cols
         FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = ? ORDER BY t.TABLE_NAME`,
      [options.database],
    );
    const routines = await query<{ name: string; type: string }>(c, 'SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_NAME', [options.database]);
    const triggers = await query<{ name: string }>(c, 'SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME', [options.database]);
    const events = await query<{ name: string }>(c, 'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME', [options.database]);
    const objects: NonNullable<SchemaSummary['objects']> = [
      ...tables.map((t) => ({ schema: options.database, name: t.name, kind: kindOf(t.type), columns: num(t.cols) ?? 0 })),
      ...routines.map((r) => ({ schema: options.database, name: r.name, kind: r.type.toLowerCase() })),
      ...triggers.map((r) => ({ schema: options.database, name: r.name, kind: 'trigger' })),
      ...events.map((r) => ({ schema: options.database, name: r.name, kind: 'event' })),
    ];
    return {
      database: options.database,
      schemas: [{ name: options.database, tables: tables.filter((t) => t.type === 'BASE TABLE').length, views: tables.filter((t) => t.type === 'VIEW').length }],
      objects,
    };
  });
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  const db = validateMysqlIdentifier('database', options.database);
  const tbl = validateMysqlIdentifier('table', options.table);
  checkSchema(ctx, options.database, options.schema);
  return withConnection(ctx, undefined, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const t = await query<{ type: string; rows: unknown; size: unknown; comment: string; engine: string | null }>(
      c,
      'SELECT TABLE_TYPE AS type, TABLE_ROWS AS `rows`, DATA_LENGTH + INDEX_LENGTH AS size, TABLE_COMMENT AS comment, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [options.database, options.table],
    );
    const meta = t[0];
    if (!meta) throw new DbError(`Table ${options.table} does not exist in ${options.database}.`, 'NOT_FOUND', `List tables with \`portunix-db tables ${options.database} --type ${ctx.engine}\`.`);
    const cols = await query<{ name: string; type: string; nullable: string; def: string | null; comment: string }>(
      c,
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def, COLUMN_COMMENT AS comment
         FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
      [options.database, options.table],
    );
    const pk = await query<{ col: string }>(c, `SELECT COLUMN_NAME AS col FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, [options.database, options.table]);
    const kind = kindOf(meta.type);
    const info: TableInfo = {
      schema: options.database,
      name: options.table,
      kind,
      columns: cols.map((col) => ({ name: col.name, type: col.type, nullable: col.nullable === 'YES', default: col.def, comment: col.comment || null })),
      comment: meta.comment || null,
    };
    if (pk.length) info.primaryKey = pk.map((p) => p.col);
    if (kind === 'table') {
      const estimate = num(meta.rows) ?? 0;
      // exact counts are cheap for small tables; large InnoDB tables keep the estimate
      if (estimate < 1_000_000) {
        const r = await query<{ n: unknown }>(c, `SELECT COUNT(*) AS n FROM ${db}.${tbl}`);
        info.rows = num(r[0]?.n) ?? 0;
        info.rowsEstimated = false;
      } else {
        info.rows = estimate;
        info.rowsEstimated = true;
      }
      info.sizeBytes = num(meta.size) ?? 0;
    }
    return info;
  });
}

async function performanceSchemaOn(c: Connection): Promise<boolean> {
  const r = await query<{ v: unknown }>(c, 'SELECT @@performance_schema AS v');
  return Number(r[0]?.v) === 1;
}

export async function indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]> {
  validateMysqlIdentifier('database', options.database);
  if (options.table) validateMysqlIdentifier('table', options.table);
  checkSchema(ctx, options.database, options.schema);
  return withConnection(ctx, undefined, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const rows = await query<{ tbl: string; name: string; col: string | null; nonUnique: unknown; type: string; seq: unknown; sub: unknown; expr?: string | null }>(
      c,
      `SELECT TABLE_NAME AS tbl, INDEX_NAME AS name, COLUMN_NAME AS col, NON_UNIQUE AS nonUnique, INDEX_TYPE AS type, SEQ_IN_INDEX AS seq, SUB_PART AS sub
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ${options.table ? 'AND TABLE_NAME = ?' : ''}
        ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
      options.table ? [options.database, options.table] : [options.database],
    );
    if (options.table && rows.length === 0) {
      const exists = await query(c, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [options.database, options.table]);
      if (!exists.length) throw new DbError(`Table ${options.table} does not exist in ${options.database}.`, 'NOT_FOUND', `List tables with \`portunix-db tables ${options.database} --type ${ctx.engine}\`.`);
    }
    const byKey = new Map<string, IndexInfo>();
    for (const r of rows) {
      const key = `${r.tbl}\u0000${r.name}`;
      let idx = byKey.get(key);
      if (!idx) {
        idx = { schema: options.database, table: r.tbl, name: r.name, columns: [], unique: Number(r.nonUnique) === 0, primary: r.name === 'PRIMARY', method: r.type };
        byKey.set(key, idx);
      }
      const sub = num(r.sub);
      idx.columns.push(`${r.col ?? '(expression)'}${sub ? `(${sub})` : ''}`);
    }
    const list = [...byKey.values()];
    for (const idx of list) {
      const cols = idx.columns.map((col) => quoteIdent(col.replace(/\(\d+\)$/, ''))).join(', ');
      idx.definition = idx.primary ? `PRIMARY KEY (${cols})` : `${idx.unique ? 'UNIQUE ' : ''}INDEX ${quoteIdent(idx.name)} ON ${quoteIdent(idx.table)} (${cols}) USING ${idx.method ?? 'BTREE'}`;
    }
    // sizes: InnoDB keeps per-index page counts in mysql.innodb_index_stats
    try {
      const pageSize = num((await query<{ p: unknown }>(c, 'SELECT @@innodb_page_size AS p'))[0]?.p) ?? 16384;
      const stats = await query<{ tbl: string; idx: string; pages: unknown }>(
        c,
        `SELECT table_name AS tbl, index_name AS idx, stat_value AS pages FROM mysql.innodb_index_stats WHERE database_name = ? AND stat_name = 'size' ${options.table ? 'AND table_name = ?' : ''}`,
        options.table ? [options.database, options.table] : [options.database],
      );
      for (const s of stats) {
        const idx = byKey.get(`${s.tbl}\u0000${s.idx}`);
        const pages = num(s.pages);
        if (idx && pages !== undefined) idx.sizeBytes = pages * pageSize;
      }
    } catch {
      /* no access to innodb_index_stats (or another storage engine): sizes stay unknown */
    }
    // usage: performance_schema counts index reads since server start, when it is enabled
    if (await performanceSchemaOn(c).catch(() => false)) {
      try {
        const usage = await query<{ tbl: string; idx: string; n: unknown }>(
          c,
          `SELECT OBJECT_NAME AS tbl, INDEX_NAME AS idx, COUNT_STAR AS n FROM performance_schema.table_io_waits_summary_by_index_usage
            WHERE OBJECT_SCHEMA = ? AND INDEX_NAME IS NOT NULL ${options.table ? 'AND OBJECT_NAME = ?' : ''}`,
          options.table ? [options.database, options.table] : [options.database],
        );
        for (const u of usage) {
          const idx = byKey.get(`${u.tbl}\u0000${u.idx}`);
          if (!idx) continue;
          idx.scans = num(u.n) ?? 0;
          if (idx.scans === 0 && !idx.primary && !idx.unique) idx.unused = true;
        }
      } catch {
        /* performance_schema without the index-usage table */
      }
    }
    // duplicates: another index on the same table with exactly the same columns
    const seen = new Map<string, IndexInfo>();
    const ordered = [...list].sort((a, b) => Number(b.primary) - Number(a.primary) || Number(b.unique) - Number(a.unique) || a.name.localeCompare(b.name));
    for (const idx of ordered) {
      const sig = `${idx.table}\u0000${idx.columns.join(',')}`;
      const first = seen.get(sig);
      if (first) idx.duplicateOf = first.name;
      else seen.set(sig, idx);
    }
    return list;
  });
}

export async function constraints(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<ConstraintInfo[]> {
  validateMysqlIdentifier('database', options.database);
  if (options.table) validateMysqlIdentifier('table', options.table);
  checkSchema(ctx, options.database, options.schema);
  return withConnection(ctx, undefined, async (c) => {
    await requireDatabase(c, ctx, options.database);
    const params = options.table ? [options.database, options.table] : [options.database];
    const tc = await query<{ name: string; tbl: string; type: string }>(
      c,
      `SELECT CONSTRAINT_NAME AS name, TABLE_NAME AS tbl, CONSTRAINT_TYPE AS type FROM information_schema.TABLE_CONSTRAINTS
        WHERE CONSTRAINT_SCHEMA = ? ${options.table ? 'AND TABLE_NAME = ?' : ''} ORDER BY TABLE_NAME, CONSTRAINT_TYPE, CONSTRAINT_NAME`,
      params,
    );
    const kcu = await query<{ name: string; tbl: string; col: string; refSchema: string | null; refTable: string | null; refCol: string | null }>(
      c,
      `SELECT CONSTRAINT_NAME AS name, TABLE_NAME AS tbl, COLUMN_NAME AS col, REFERENCED_TABLE_SCHEMA AS refSchema, REFERENCED_TABLE_NAME AS refTable, REFERENCED_COLUMN_NAME AS refCol
         FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA = ? ${options.table ? 'AND TABLE_NAME = ?' : ''} ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION`,
      params,
    );
    const rc = await query<{ name: string; tbl: string; upd: string; del: string }>(
      c,
      `SELECT CONSTRAINT_NAME AS name, TABLE_NAME AS tbl, UPDATE_RULE AS upd, DELETE_RULE AS del FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ${options.table ? 'AND TABLE_NAME = ?' : ''}`,
      params,
    );
    // CHECK_CONSTRAINTS: MariaDB has TABLE_NAME in it; MySQL does not (names are unique per schema there)
    let checks: Record<string, unknown>[] = [];
    try {
      checks = await query<Record<string, unknown>>(c, 'SELECT * FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?', [options.database]);
    } catch {
      /* servers without CHECK_CONSTRAINTS */
    }
    const key = (tbl: string, name: string) => `${tbl}\u0000${name}`;
    const out: ConstraintInfo[] = [];
    for (const t of tc) {
      const type = t.type === 'PRIMARY KEY' ? 'primary key' : t.type === 'FOREIGN KEY' ? 'foreign key' : t.type === 'UNIQUE' ? 'unique' : t.type === 'CHECK' ? 'check' : undefined;
      if (!type) continue;
      const cols = kcu.filter((k) => k.tbl === t.tbl && k.name === t.name);
      const info: ConstraintInfo = { schema: options.database, table: t.tbl, name: t.name, type, columns: cols.map((k) => k.col) };
      if (type === 'foreign key') {
        const first = cols[0];
        const rule = rc.find((r) => key(r.tbl, r.name) === key(t.tbl, t.name));
        if (first?.refTable) {
          info.references = {
            ...(first.refSchema ? { schema: first.refSchema } : {}),
            table: first.refTable,
            columns: cols.map((k) => k.refCol ?? ''),
            ...(rule ? { onDelete: rule.del, onUpdate: rule.upd } : {}),
          };
        }
        info.definition = `FOREIGN KEY (${info.columns.map(quoteIdent).join(', ')}) REFERENCES ${quoteIdent(first?.refTable ?? '?')} (${(info.references?.columns ?? []).map(quoteIdent).join(', ')})${rule ? ` ON DELETE ${rule.del} ON UPDATE ${rule.upd}` : ''}`;
      } else if (type === 'check') {
        const chk = checks.find((ch) => ch['CONSTRAINT_NAME'] === t.name && (ch['TABLE_NAME'] === undefined || ch['TABLE_NAME'] === t.tbl));
        if (chk) info.definition = `CHECK (${String(chk['CHECK_CLAUSE'])})`;
        // MariaDB names a column-level CHECK after its column
        if (info.columns.length === 0 && chk && ch_isColumnLevel(chk)) info.columns = [t.name];
      } else {
        info.definition = `${type.toUpperCase()} (${info.columns.map(quoteIdent).join(', ')})`;
      }
      out.push(info);
    }
    return out;
  });
}

function ch_isColumnLevel(chk: Record<string, unknown>): boolean {
  return chk['LEVEL'] === 'Column';
}

export async function connections(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  return withConnection(ctx, undefined, async (c) => {
    const me = num((await query<{ id: unknown }>(c, 'SELECT CONNECTION_ID() AS id'))[0]?.id);
    const rows = await query<{ ID: unknown; USER: string; HOST: string; DB: string | null; COMMAND: string; TIME: unknown; STATE: string | null; INFO: string | null }>(
      c,
      'SELECT ID, USER, HOST, DB, COMMAND, TIME, STATE, INFO FROM information_schema.PROCESSLIST ORDER BY ID',
    );
    return rows
      .filter((r) => num(r.ID) !== me)
      .map((r) => {
        const time = num(r.TIME) ?? 0;
        const info: ConnectionInfo = { id: String(r.ID), ...(r.HOST ? { client: r.HOST } : {}), ...(r.USER ? { user: r.USER } : {}), state: r.STATE ? `${r.COMMAND}: ${r.STATE}` : r.COMMAND };
        if (r.DB) info.database = r.DB;
        if (r.COMMAND !== 'Sleep' && r.COMMAND !== 'Daemon') {
          info.durationMs = time * 1000;
          info.queryStart = new Date(Date.now() - time * 1000).toISOString();
        }
        if (r.INFO) info.query = r.INFO;
        return info;
      });
  });
}

const COUNTERS = [
  'Questions',
  'Queries',
  'Com_select',
  'Com_insert',
  'Com_update',
  'Com_delete',
  'Com_commit',
  'Com_rollback',
  'Connections',
  'Aborted_clients',
  'Aborted_connects',
  'Bytes_received',
  'Bytes_sent',
  'Slow_queries',
  'Created_tmp_tables',
  'Created_tmp_disk_tables',
  'Select_full_join',
  'Select_scan',
  'Sort_merge_passes',
  'Table_locks_waited',
  'Innodb_buffer_pool_read_requests',
  'Innodb_buffer_pool_reads',
  'Innodb_rows_read',
  'Innodb_rows_inserted',
  'Innodb_rows_updated',
  'Innodb_rows_deleted',
  'Innodb_row_lock_waits',
  'Innodb_deadlocks',
  'Innodb_data_read',
  'Innodb_data_written',
];

async function globalStatus(c: Connection): Promise<Map<string, string>> {
  const rows = await query<{ Variable_name: string; Value: string }>(c, 'SHOW GLOBAL STATUS');
  return new Map(rows.map((r) => [r.Variable_name, r.Value]));
}

export async function performance(ctx: InstanceContext, options: { database?: string }, flavour: Flavour): Promise<PerformanceReport> {
  if (options.database) validateMysqlIdentifier('database', options.database);
  return withConnection(ctx, undefined, async (c) => {
    if (options.database) await requireDatabase(c, ctx, options.database);
    const status = await globalStatus(c);
    const counters: Record<string, number> = {};
    for (const name of COUNTERS) {
      const v = num(status.get(name));
      if (v !== undefined) counters[name] = v;
    }
    const notes: string[] = [];
    if (counters['Innodb_deadlocks'] === undefined) {
      // MySQL keeps the deadlock count in INNODB_METRICS (lock_deadlocks, enabled by default)
      try {
        const r = await query<{ n: unknown }>(c, "SELECT COUNT AS n FROM information_schema.INNODB_METRICS WHERE NAME = 'lock_deadlocks'");
        const n = num(r[0]?.n);
        if (n !== undefined) counters['Innodb_deadlocks'] = n;
      } catch {
        notes.push('Deadlock count unavailable on this server.');
      }
    }
    const requests = counters['Innodb_buffer_pool_read_requests'] ?? 0;
    const reads = counters['Innodb_buffer_pool_reads'] ?? 0;
    const vars = new Map((await query<{ Variable_name: string; Value: string }>(c, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('max_connections', 'innodb_buffer_pool_size', 'performance_schema', 'version')")).map((r) => [r.Variable_name, r.Value]));
    const gauges: PerformanceReport['gauges'] = {
      threads_connected: num(status.get('Threads_connected')) ?? null,
      threads_running: num(status.get('Threads_running')) ?? null,
      max_connections: num(vars.get('max_connections')) ?? null,
      uptime_seconds: num(status.get('Uptime')) ?? null,
      buffer_pool_size_bytes: num(vars.get('innodb_buffer_pool_size')) ?? null,
      buffer_pool_pages_free: num(status.get('Innodb_buffer_pool_pages_free')) ?? null,
      buffer_pool_pages_total: num(status.get('Innodb_buffer_pool_pages_total')) ?? null,
      cache_hit_ratio: requests > 0 ? Math.round((1 - reads / requests) * 10000) / 10000 : null,
      open_tables: num(status.get('Open_tables')) ?? null,
      server_version: vars.get('version') ?? null,
    };
    const report: PerformanceReport = { counters, gauges };
    const psOn = vars.get('performance_schema') === 'ON' || vars.get('performance_schema') === '1';
    if (!psOn) {
      report.slowQueriesNote = `performance_schema is off, so per-statement statistics are not collected. Turn it on with the enable-statements operation (db_performance / \`portunix-db config set ${ctx.engine} performance_schema ON\`); it takes effect after a restart.`;
    } else {
      try {
        const rows = await query<{ q: string | null; calls: unknown; total: unknown; mean: unknown; rowsSent: unknown }>(
          c,
          `SELECT DIGEST_TEXT AS q, COUNT_STAR AS calls, SUM_TIMER_WAIT / 1000000000 AS total, AVG_TIMER_WAIT / 1000000000 AS mean, SUM_ROWS_SENT AS rowsSent
             FROM performance_schema.events_statements_summary_by_digest
            WHERE DIGEST_TEXT IS NOT NULL ${options.database ? 'AND SCHEMA_NAME = ?' : ''}
            ORDER BY SUM_TIMER_WAIT DESC LIMIT 10`,
          options.database ? [options.database] : [],
        );
        report.slowQueries = rows.map((r) => ({ query: (r.q ?? '').slice(0, 500), calls: num(r.calls) ?? 0, totalMs: Math.round((num(r.total) ?? 0) * 100) / 100, meanMs: Math.round((num(r.mean) ?? 0) * 1000) / 1000, rows: num(r.rowsSent) ?? 0 }));
        if (report.slowQueries.length === 0) report.slowQueriesNote = 'performance_schema is on but has no statement digests yet (or the statements_digest consumer is disabled).';
      } catch (err) {
        report.slowQueriesNote = `Statement digests are unavailable: ${(err as Error).message}`;
      }
      try {
        const unused = await query<{ s: string; t: string; i: string }>(
          c,
          `SELECT OBJECT_SCHEMA AS s, OBJECT_NAME AS t, INDEX_NAME AS i FROM performance_schema.table_io_waits_summary_by_index_usage
            WHERE INDEX_NAME IS NOT NULL AND INDEX_NAME <> 'PRIMARY' AND COUNT_STAR = 0
              AND OBJECT_SCHEMA NOT IN ('mysql', 'performance_schema', 'sys', 'information_schema') ${options.database ? 'AND OBJECT_SCHEMA = ?' : ''}
            ORDER BY OBJECT_SCHEMA, OBJECT_NAME, INDEX_NAME LIMIT 100`,
          options.database ? [options.database] : [],
        );
        report.unusedIndexes = unused.map((u) => ({ schema: u.s, table: u.t, index: u.i }));
      } catch {
        /* no index usage table */
      }
    }
    if (flavour.id === 'mariadb') notes.push('Slow_queries counts statements slower than long_query_time (default 10 s).');
    if (notes.length) report.notes = notes;
    return report;
  });
}

export interface TlsFacts {
  /** have_ssl: YES / DISABLED / NO; absent where the server no longer has the variable (MySQL 8.4). */
  haveSsl?: string;
  /** require_secure_transport: ON / OFF. */
  requireSecure?: string;
  /** Ssl_version and Ssl_cipher of this session: empty when it is not encrypted. */
  version?: string;
  cipher?: string;
}

const NO_CERT = 'no TLS: this instance has no server certificate (made before TLS was the default, or openssl was missing at install), so TCP connections to it are not encrypted; re-create it with openssl installed to get TLS';

/** The "tls" health check from the server's TLS variables and this session's status. Pure, for tests. */
export function tlsCheck(hasCert: boolean, facts: TlsFacts): HealthCheck {
  if (!hasCert) return { name: 'tls', status: 'warn', detail: NO_CERT };
  if (facts.haveSsl !== undefined && facts.haveSsl.toUpperCase() !== 'YES') {
    return { name: 'tls', status: 'fail', detail: `the instance has a certificate but have_ssl is ${facts.haveSsl}; check ssl-cert/ssl-key in the option file and the error log, then restart it` };
  }
  if (!facts.cipher) return { name: 'tls', status: 'fail', detail: 'the instance has a certificate but this connection is not encrypted (Ssl_cipher is empty)' };
  const required = (facts.requireSecure ?? '').toUpperCase() === 'ON';
  return {
    name: 'tls',
    status: required ? 'ok' : 'warn',
    detail: `this connection uses ${facts.version || 'TLS'} (${facts.cipher}), certificate verified; ${required ? 'TCP without TLS is refused (require_secure_transport=ON)' : `require_secure_transport is ${facts.requireSecure ?? 'unknown'}: clients may still connect over TCP without TLS`}`,
  };
}

async function tlsFacts(c: Connection): Promise<TlsFacts> {
  const vars = new Map((await query<{ Variable_name: string; Value: string }>(c, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('have_ssl', 'require_secure_transport')")).map((r) => [r.Variable_name.toLowerCase(), String(r.Value ?? '')]));
  const status = new Map((await query<{ Variable_name: string; Value: string }>(c, "SHOW SESSION STATUS WHERE Variable_name IN ('Ssl_cipher', 'Ssl_version')")).map((r) => [r.Variable_name.toLowerCase(), String(r.Value ?? '')]));
  const facts: TlsFacts = {};
  if (vars.has('have_ssl')) facts.haveSsl = vars.get('have_ssl')!;
  if (vars.has('require_secure_transport')) facts.requireSecure = vars.get('require_secure_transport')!;
  if (status.get('ssl_version')) facts.version = status.get('ssl_version')!;
  if (status.get('ssl_cipher')) facts.cipher = status.get('ssl_cipher')!;
  return facts;
}

export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  const cert = await instanceCertificate(ctx);
  await withConnection(ctx, undefined, async (c) => {
    const status = await globalStatus(c);
    const version = (await query<{ v: string }>(c, 'SELECT VERSION() AS v'))[0]?.v ?? '?';
    checks.push({ name: 'server', status: 'ok', detail: `${version} accepting connections on 127.0.0.1:${ctx.config.port}, up ${status.get('Uptime') ?? '?'} s` });
    const max = num((await query<{ m: unknown }>(c, 'SELECT @@max_connections AS m'))[0]?.m) ?? 0;
    const used = num(status.get('Threads_connected')) ?? 0;
    const ratio = max ? used / max : 0;
    checks.push({ name: 'connections', status: ratio > 0.95 ? 'fail' : ratio > 0.8 ? 'warn' : 'ok', detail: `${used} of ${max} connections in use (${Math.round(ratio * 100)}%)` });
    const requests = num(status.get('Innodb_buffer_pool_read_requests')) ?? 0;
    const reads = num(status.get('Innodb_buffer_pool_reads')) ?? 0;
    if (requests > 10_000) {
      const hit = 1 - reads / requests;
      checks.push({ name: 'buffer pool hit ratio', status: hit < 0.9 ? 'warn' : 'ok', detail: `${(hit * 100).toFixed(2)}% of InnoDB page reads served from memory${hit < 0.9 ? '; consider a larger innodb_buffer_pool_size' : ''}` });
    } else {
      checks.push({ name: 'buffer pool hit ratio', status: 'ok', detail: `too few reads yet to judge (${requests} requests)` });
    }
    const aborted = num(status.get('Aborted_connects')) ?? 0;
    const conns = num(status.get('Connections')) ?? 0;
    checks.push({ name: 'failed logins', status: conns > 100 && aborted / conns > 0.1 ? 'warn' : 'ok', detail: `${aborted} aborted connection attempts of ${conns}` });
    const ro = num((await query<{ r: unknown }>(c, 'SELECT @@read_only AS r'))[0]?.r) ?? 0;
    checks.push({ name: 'read-only', status: ro ? 'warn' : 'ok', detail: ro ? 'the server is read-only (read_only=ON)' : 'writable' });
    checks.push(tlsCheck(!!cert, await tlsFacts(c)));
    const ps = num((await query<{ p: unknown }>(c, 'SELECT @@performance_schema AS p'))[0]?.p) ?? 0;
    checks.push({ name: 'statement statistics', status: 'ok', detail: ps ? 'performance_schema is on' : 'performance_schema is off: slow-query statistics are not collected (enable it; needs a restart)' });
  });
  try {
    const fs = await statfs(ctx.paths.dataDir);
    const free = fs.bavail * fs.bsize;
    const total = fs.blocks * fs.bsize;
    const pct = total ? free / total : 1;
    checks.push({ name: 'disk space', status: pct < 0.02 ? 'fail' : pct < 0.1 ? 'warn' : 'ok', detail: `${(free / 1e9).toFixed(1)} GB free of ${(total / 1e9).toFixed(1)} GB on the data directory volume (${Math.round(pct * 100)}%)` });
  } catch (err) {
    checks.push({ name: 'disk space', status: 'warn', detail: `could not check: ${(err as Error).message}` });
  }
  const errors = (await tailFile(ctx.paths.logFile, 200)).filter((l) => /\[ERROR\]/.test(l));
  checks.push({ name: 'error log', status: errors.length ? 'warn' : 'ok', detail: errors.length ? `${errors.length} [ERROR] line(s) among the last 200 log lines; latest: ${errors[errors.length - 1]!.slice(0, 200)}` : 'no [ERROR] lines among the last 200 log lines' });
  return checks;
}
