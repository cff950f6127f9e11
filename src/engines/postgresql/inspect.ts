import type pg from 'pg';
import type {
  ConnectionInfo,
  ConstraintInfo,
  DatabaseSummary,
  HealthCheck,
  IndexInfo,
  InstanceContext,
  PerformanceReport,
  SchemaSummary,
  SchemaPage,
  TableInfo,
  TableSummary,
} from '../contract.js';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { instanceCertificate, validatePgIdentifier, withClient } from './client.js';

/** Schemas that belong to PostgreSQL itself; never listed as user objects. */
const USER_SCHEMA_FILTER = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

const RELKIND: Record<string, string> = { r: 'table', p: 'partitioned table', v: 'view', m: 'materialized view', f: 'foreign table' };

function num(v: string | number | null | undefined): number | undefined {
  if (v === null || v === undefined) return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

function checkNames(options: { database?: string; schema?: string; table?: string }): void {
  if (options.database !== undefined) validatePgIdentifier('database', options.database);
  if (options.schema !== undefined) validatePgIdentifier('schema', options.schema);
  if (options.table !== undefined) validatePgIdentifier('table', options.table);
}

async function requireSchema(ctx: InstanceContext, c: pg.Client, database: string, schema: string | undefined): Promise<void> {
  if (schema === undefined) return;
  const r = await c.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema]);
  if (!r.rowCount) throw new DbError(`Schema "${schema}" does not exist in database "${database}".`, 'NOT_FOUND', `List schemas with \`portunix-db schema ${database} --type ${ctx.engine}\`.`);
}

/** Rows from the planner's estimate, or from the statistics counters when the table was never analysed. */
export function estimateRows(reltuples: number | undefined, liveTuples: number | undefined): number | undefined {
  if (liveTuples !== undefined && liveTuples > 0) return liveTuples;
  if (reltuples !== undefined && reltuples >= 0) return Math.round(reltuples);
  return liveTuples;
}

export interface ResolvedTable {
  oid: number;
  schema: string;
  name: string;
  kind: string;
}

/**
 * Finds a relation by name. Without a schema, `public` wins, then a name found in exactly
 * one schema; a name in several schemas asks for --schema.
 */
export async function resolveTable(ctx: InstanceContext, c: pg.Client, database: string, table: string, schema?: string): Promise<ResolvedTable> {
  const r = await c.query<{ oid: number; schema: string; name: string; relkind: string }>(
    `SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $1 AND c.relkind IN ('r','p','v','m','f') AND ${USER_SCHEMA_FILTER}
        AND ($2::text IS NULL OR n.nspname = $2)
      ORDER BY (n.nspname = 'public') DESC, n.nspname`,
    [table, schema ?? null],
  );
  const rows = r.rows;
  const pick = rows.length === 1 ? rows[0] : rows.find((row) => row.schema === 'public');
  if (!pick) {
    if (rows.length > 1) {
      throw new DbError(`Table "${table}" exists in several schemas of "${database}": ${rows.map((x) => x.schema).join(', ')}.`, 'USAGE', 'Pass --schema to say which one.');
    }
    throw new DbError(`Table "${schema ? `${schema}.` : ''}${table}" does not exist in database "${database}".`, 'NOT_FOUND', `List tables with \`portunix-db tables ${database} --type ${ctx.engine}\`.`);
  }
  return { oid: pick.oid, schema: pick.schema, name: pick.name, kind: RELKIND[pick.relkind] ?? pick.relkind };
}

// ---------- sizes, tables, schema ----------

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  checkNames({ database });
  return withClient(ctx, 'postgres', async (c) => {
    const r = await c.query<{ name: string; owner: string; size: string | null; encoding: string; collation: string }>(
      `SELECT d.datname AS name, pg_get_userbyid(d.datdba) AS owner, pg_encoding_to_char(d.encoding) AS encoding, d.datcollate AS collation,
              CASE WHEN has_database_privilege(d.datname, 'CONNECT') THEN pg_database_size(d.oid) END AS size
         FROM pg_database d
        WHERE NOT d.datistemplate AND ($1::text IS NULL OR d.datname = $1)
        ORDER BY pg_database_size(d.oid) DESC, d.datname`,
      [database ?? null],
    );
    if (database && r.rows.length === 0) throw new DbError(`Database "${database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    return r.rows.map((row) => ({ name: row.name, owner: row.owner, encoding: row.encoding, collation: row.collation, ...(row.size !== null ? { sizeBytes: Number(row.size) } : {}) }));
  });
}

export interface TablesQuery {
  database: string;
  schema?: string;
  includeSizes: boolean;
  /** Keyset paging: rows after this [schema, name], at most `limit` of them. */
  after?: readonly string[];
  limit?: number;
  /** Schemas left out when no schema is asked for (TimescaleDB's own). */
  excludeSchemas?: readonly string[];
  /** Also count each relation's columns (db_schema's objects). */
  columns?: boolean;
}

/** The relations listTables shows, as SQL over pg_class c / pg_namespace n ($1 schema, $2 excluded schemas). */
const TABLE_KINDS = `c.relkind IN ('r','p','v','m','f')`;
const NAMESPACES = `${USER_SCHEMA_FILTER} AND ($1::text IS NULL OR n.nspname = $1) AND NOT (n.nspname = ANY ($2::name[]))`;

/**
 * Tables in (schema, name) order on an open session: the page of them and their count. Keyset
 * paging: per schema, from `after` on, an index range scan of pg_class (relname, relnamespace),
 * the catalog's unique key, stopped at `limit`; so a page costs the same wherever it is, and row
 * estimates and sizes are read for its rows only.
 */
export async function queryTables(c: pg.Client, ctx: InstanceContext, options: TablesQuery): Promise<{ items: (TableSummary & { columns?: number })[]; total: number }> {
  checkNames(options);
  await requireSchema(ctx, c, options.database, options.schema);
  const base = [options.schema ?? null, options.schema ? [] : [...(options.excludeSchemas ?? [])]];
  const r = await c.query<{ schema: string; name: string; relkind: string; reltuples: string | null; live: string | null; size: string | null; columns: string | null }>(
    `SELECT n.nspname AS schema, t.relname AS name, t.relkind::text AS relkind,
            CASE WHEN $7::boolean THEN (SELECT count(*) FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped) END AS columns,
            CASE WHEN t.relkind IN ('r','p','m') THEN t.reltuples END AS reltuples,
            CASE WHEN t.relkind IN ('r','p','m') THEN pg_stat_get_live_tuples(t.oid) END AS live,
            CASE WHEN $3::boolean THEN pg_total_relation_size(t.oid) END AS size
       FROM pg_namespace n
       CROSS JOIN LATERAL (
             SELECT c.oid, c.relname, c.relkind, c.reltuples FROM pg_class c
              WHERE c.relnamespace = n.oid AND ${TABLE_KINDS}
                AND c.relname > CASE WHEN n.nspname = $4::name THEN $5::name ELSE ''::name END
              ORDER BY c.relname
              LIMIT $6) t
      WHERE ${NAMESPACES} AND ($4::name IS NULL OR n.nspname >= $4::name)
      ORDER BY n.nspname, t.relname
      LIMIT $6`,
    [...base, options.includeSizes, options.after?.[0] ?? null, options.after?.[1] ?? null, options.limit ?? null, !!options.columns],
  );
  const items = r.rows.map((row) => {
    const rows = row.relkind === 'v' || row.relkind === 'f' ? undefined : estimateRows(num(row.reltuples), num(row.live));
    return {
      schema: row.schema,
      name: row.name,
      kind: RELKIND[row.relkind] ?? row.relkind,
      ...(rows !== undefined ? { rows, rowsEstimated: true } : {}),
      ...(row.size !== null ? { sizeBytes: Number(row.size) } : {}),
      ...(row.columns !== null ? { columns: Number(row.columns) } : {}),
    };
  });
  // the first page of a short list needs no second query
  const total = !options.after && (options.limit === undefined || items.length < options.limit) ? items.length : Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ${TABLE_KINDS} AND ${NAMESPACES}`, base)).rows[0]?.n ?? 0);
  return { items, total };
}

export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => (await queryTables(c, ctx, options)).items);
}

export async function listTablesPage(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean; limit: number; after?: readonly string[] }): Promise<{ items: TableSummary[]; total: number }> {
  checkNames(options);
  return withClient(ctx, options.database, (c) => queryTables(c, ctx, options));
}

/** Every user schema (or the one asked for) with its table and view counts. */
async function schemaCounts(c: pg.Client, schema: string | undefined): Promise<SchemaSummary['schemas']> {
  const r = await c.query<{ name: string; owner: string; tables: string; views: string }>(
    `SELECT n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
            count(c.oid) FILTER (WHERE c.relkind IN ('r','p','f')) AS tables,
            count(c.oid) FILTER (WHERE c.relkind IN ('v','m')) AS views
       FROM pg_namespace n
       LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r','p','f','v','m')
      WHERE ${USER_SCHEMA_FILTER} AND ($1::text IS NULL OR n.nspname = $1)
      GROUP BY n.oid, n.nspname, n.nspowner
      ORDER BY n.nspname`,
    [schema ?? null],
  );
  return r.rows.map((s) => ({ name: s.name, owner: s.owner, tables: Number(s.tables), views: Number(s.views) }));
}

const objectOf = (t: TableSummary & { columns?: number }) => ({ ...(t.schema !== undefined ? { schema: t.schema } : {}), name: t.name, kind: t.kind, ...(t.columns !== undefined ? { columns: t.columns } : {}) });

export async function schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => {
    const objects = await queryTables(c, ctx, { ...options, includeSizes: false, columns: true });
    return { database: options.database, schemas: await schemaCounts(c, options.schema), objects: objects.items.map(objectOf) };
  });
}

/** db_schema one page of objects at a time, keyset-paged in the catalog query as listTablesPage is. */
export async function schemaPage(ctx: InstanceContext, options: { database: string; schema?: string; limit: number; after?: readonly string[] }): Promise<SchemaPage> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => {
    const objects = await queryTables(c, ctx, { ...options, includeSizes: false, columns: true });
    return { database: options.database, schemas: await schemaCounts(c, options.schema), objects: { items: objects.items.map(objectOf), total: objects.total } };
  });
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => {
    const t = await resolveTable(ctx, c, options.database, options.table, options.schema);
    const cols = await c.query<{ name: string; type: string; nullable: boolean; default: string | null; comment: string | null; identity: string; generated: string }>(
      `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, NOT a.attnotnull AS nullable,
              pg_get_expr(d.adbin, d.adrelid) AS default, col_description(a.attrelid, a.attnum) AS comment,
              a.attidentity::text AS identity, a.attgenerated::text AS generated
         FROM pg_attribute a
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum`,
      [t.oid],
    );
    const meta = await c.query<{ pk: string[] | null; reltuples: string | null; live: string | null; size: string; comment: string | null }>(
      `SELECT (SELECT array_agg(a.attname::text ORDER BY k.ord)
                 FROM pg_index x
                 CROSS JOIN LATERAL unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                WHERE x.indrelid = c.oid AND x.indisprimary) AS pk,
              CASE WHEN c.relkind IN ('r','p','m') THEN c.reltuples END AS reltuples,
              s.n_live_tup AS live,
              pg_total_relation_size(c.oid) AS size,
              obj_description(c.oid, 'pg_class') AS comment
         FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.oid = $1`,
      [t.oid],
    );
    const m = meta.rows[0];
    const rows = t.kind === 'view' || t.kind === 'foreign table' ? undefined : estimateRows(num(m?.reltuples), num(m?.live));
    return {
      schema: t.schema,
      name: t.name,
      kind: t.kind,
      columns: cols.rows.map((col) => ({
        name: col.name,
        type: col.type,
        nullable: col.nullable,
        default:
          col.identity === 'a' ? 'GENERATED ALWAYS AS IDENTITY' : col.identity === 'd' ? 'GENERATED BY DEFAULT AS IDENTITY' : col.generated === 's' ? `GENERATED ALWAYS AS (${col.default ?? ''}) STORED` : col.default,
        comment: col.comment,
      })),
      ...(m?.pk ? { primaryKey: m.pk } : {}),
      ...(rows !== undefined ? { rows, rowsEstimated: true } : {}),
      ...(m ? { sizeBytes: Number(m.size) } : {}),
      comment: m?.comment ?? null,
    };
  });
}

// ---------- indexes and constraints ----------

export interface RawIndexRow {
  oid: number;
  tableOid: number;
  schema: string;
  table: string;
  name: string;
  columns: string[];
  unique: boolean;
  primary: boolean;
  method: string;
  sizeBytes: number;
  scans: number | undefined;
  valid: boolean;
  backsConstraint: boolean;
  /** Same table + same key columns (indkey) + same expressions + same predicate + same method and opclasses. */
  signature: string;
  definition: string;
}

/**
 * Marks unused indexes (never scanned, not enforcing a constraint or uniqueness), invalid ones,
 * and duplicates (the same signature as another index on the same table; the constraint-backing
 * or first-named one is the original). Pure, for tests.
 */
export function classifyIndexes(rows: readonly RawIndexRow[]): IndexInfo[] {
  const groups = new Map<string, RawIndexRow[]>();
  for (const row of rows) {
    const list = groups.get(row.signature) ?? [];
    list.push(row);
    groups.set(row.signature, list);
  }
  const originalOf = new Map<number, string>();
  for (const list of groups.values()) {
    if (list.length < 2) continue;
    const sorted = [...list].sort((a, b) => Number(b.primary) - Number(a.primary) || Number(b.backsConstraint) - Number(a.backsConstraint) || Number(b.unique) - Number(a.unique) || a.name.localeCompare(b.name));
    const first = sorted[0]!;
    for (const other of sorted.slice(1)) originalOf.set(other.oid, first.name);
  }
  return rows.map((row) => {
    const duplicateOf = originalOf.get(row.oid);
    return {
      schema: row.schema,
      table: row.table,
      name: row.name,
      columns: row.columns,
      unique: row.unique,
      primary: row.primary,
      method: row.method,
      sizeBytes: row.sizeBytes,
      ...(row.scans !== undefined ? { scans: row.scans } : {}),
      unused: row.scans === 0 && !row.backsConstraint && !row.unique && !row.primary,
      invalid: !row.valid,
      ...(duplicateOf ? { duplicateOf } : {}),
      definition: row.definition,
    };
  });
}

export async function indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => {
    let tableOid: number | null = null;
    if (options.table) tableOid = (await resolveTable(ctx, c, options.database, options.table, options.schema)).oid;
    else await requireSchema(ctx, c, options.database, options.schema);
    const r = await c.query<{
      oid: number; table_oid: number; schema: string; table: string; name: string; columns: string[]; unique: boolean; primary: boolean; method: string;
      size: string; scans: string | null; valid: boolean; backs: boolean; signature: string; definition: string;
    }>(
      `SELECT i.oid::int AS oid, x.indrelid::int AS table_oid, n.nspname AS schema, t.relname AS table, i.relname AS name,
              ARRAY(SELECT CASE WHEN k.attnum = 0 THEN pg_get_indexdef(x.indexrelid, k.ord::int, true) ELSE a.attname::text END
                      FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                      LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum
                     WHERE k.ord <= x.indnkeyatts
                     ORDER BY k.ord) AS columns,
              x.indisunique AS unique, x.indisprimary AS primary, am.amname AS method,
              pg_relation_size(i.oid) AS size, s.idx_scan AS scans, x.indisvalid AS valid,
              (bc.conindid IS NOT NULL) AS backs,
              concat_ws('|', x.indrelid::text, x.indkey::text, x.indclass::text, am.amname,
                        coalesce(pg_get_expr(x.indexprs, x.indrelid), ''), coalesce(pg_get_expr(x.indpred, x.indrelid), '')) AS signature,
              pg_get_indexdef(x.indexrelid) AS definition
         FROM pg_index x
         JOIN pg_class i ON i.oid = x.indexrelid
         JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         JOIN pg_am am ON am.oid = i.relam
         LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = x.indexrelid
         -- pg_constraint has no index on conindid: join a set once instead of a per-row lookup
         LEFT JOIN (SELECT DISTINCT conindid FROM pg_constraint WHERE contype IN ('p','u','x')) bc ON bc.conindid = x.indexrelid
        WHERE ${USER_SCHEMA_FILTER}
          AND ($1::text IS NULL OR n.nspname = $1)
          AND ($2::oid IS NULL OR x.indrelid = $2)
        ORDER BY n.nspname, t.relname, i.relname`,
      [options.schema ?? null, tableOid],
    );
    return classifyIndexes(
      r.rows.map((row) => ({
        oid: row.oid,
        tableOid: row.table_oid,
        schema: row.schema,
        table: row.table,
        name: row.name,
        columns: row.columns,
        unique: row.unique,
        primary: row.primary,
        method: row.method,
        sizeBytes: Number(row.size),
        scans: num(row.scans),
        valid: row.valid,
        backsConstraint: row.backs,
        signature: row.signature,
        definition: row.definition,
      })),
    );
  });
}

const CONSTRAINT_TYPE: Record<string, ConstraintInfo['type']> = { p: 'primary key', f: 'foreign key', u: 'unique', c: 'check', x: 'exclusion' };
const FK_ACTION: Record<string, string> = { a: 'NO ACTION', r: 'RESTRICT', c: 'CASCADE', n: 'SET NULL', d: 'SET DEFAULT' };

export async function constraints(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<ConstraintInfo[]> {
  checkNames(options);
  return withClient(ctx, options.database, async (c) => {
    let tableOid: number | null = null;
    if (options.table) tableOid = (await resolveTable(ctx, c, options.database, options.table, options.schema)).oid;
    else await requireSchema(ctx, c, options.database, options.schema);
    const r = await c.query<{
      schema: string; table: string; name: string; contype: string; columns: string[]; ref_schema: string | null; ref_table: string | null;
      ref_columns: string[]; on_delete: string; on_update: string; definition: string;
    }>(
      `SELECT n.nspname AS schema, t.relname AS table, con.conname AS name, con.contype::text AS contype,
              ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
              fn.nspname AS ref_schema, ft.relname AS ref_table,
              ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) AS ref_columns,
              con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update,
              pg_get_constraintdef(con.oid, true) AS definition
         FROM pg_constraint con
         JOIN pg_class t ON t.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         LEFT JOIN pg_class ft ON ft.oid = con.confrelid
         LEFT JOIN pg_namespace fn ON fn.oid = ft.relnamespace
        WHERE con.contype IN ('p','f','u','c','x') AND ${USER_SCHEMA_FILTER}
          AND ($1::text IS NULL OR n.nspname = $1)
          AND ($2::oid IS NULL OR con.conrelid = $2)
        ORDER BY n.nspname, t.relname, position(con.contype::text in 'pufcx'), con.conname`,
      [options.schema ?? null, tableOid],
    );
    return r.rows.map((row) => ({
      schema: row.schema,
      table: row.table,
      name: row.name,
      type: CONSTRAINT_TYPE[row.contype] ?? 'check',
      columns: row.columns,
      ...(row.contype === 'f' && row.ref_table
        ? { references: { ...(row.ref_schema ? { schema: row.ref_schema } : {}), table: row.ref_table, columns: row.ref_columns, onDelete: FK_ACTION[row.on_delete] ?? row.on_delete, onUpdate: FK_ACTION[row.on_update] ?? row.on_update } }
        : {}),
      definition: row.definition,
    }));
  });
}

// ---------- activity, performance, health ----------

export async function connections(ctx: InstanceContext): Promise<ConnectionInfo[]> {
  return withClient(ctx, 'postgres', async (c) => {
    const r = await c.query<{ pid: number; client_addr: string | null; client_port: number | null; usename: string | null; datname: string | null; state: string | null; query_start: Date | null; duration_ms: string | null; query: string | null; application_name: string | null }>(
      `SELECT pid, client_addr::text AS client_addr, client_port, usename, datname, state, query_start,
              CASE WHEN state = 'active' THEN round(extract(epoch FROM clock_timestamp() - query_start) * 1000) END AS duration_ms,
              query, application_name
         FROM pg_stat_activity
        WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'
        ORDER BY query_start NULLS LAST, pid`,
    );
    return r.rows.map((row) => ({
      id: String(row.pid),
      client: row.client_addr ? `${row.client_addr}:${row.client_port ?? ''}` + (row.application_name ? ` (${row.application_name})` : '') : `local socket${row.application_name ? ` (${row.application_name})` : ''}`,
      ...(row.usename ? { user: row.usename } : {}),
      ...(row.datname ? { database: row.datname } : {}),
      ...(row.state ? { state: row.state } : {}),
      ...(row.query_start ? { queryStart: row.query_start.toISOString() } : {}),
      ...(row.duration_ms !== null ? { durationMs: Number(row.duration_ms) } : {}),
      ...(row.query !== null ? { query: row.query } : {}),
    }));
  });
}

const STATEMENTS_HINT = 'Enable it with `portunix-db metrics postgresql --enable-statements` (or the MCP db_performance tool with enable_statements): it adds pg_stat_statements to shared_preload_libraries (a restart is needed) and creates the extension.';

async function connectableDatabases(c: pg.Client, only?: string): Promise<string[]> {
  const r = await c.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate AND ($1::text IS NULL OR datname = $1) ORDER BY datname LIMIT 20`,
    [only ?? null],
  );
  return r.rows.map((row) => row.datname);
}

export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  checkNames(options);
  const base = await withClient(ctx, 'postgres', async (c) => {
    const stats = await c.query<Record<string, string | null>>(
      `SELECT coalesce(sum(xact_commit), 0) AS xact_commit, coalesce(sum(xact_rollback), 0) AS xact_rollback,
              coalesce(sum(deadlocks), 0) AS deadlocks, coalesce(sum(blks_hit), 0) AS blks_hit, coalesce(sum(blks_read), 0) AS blks_read,
              coalesce(sum(tup_returned), 0) AS tup_returned, coalesce(sum(tup_fetched), 0) AS tup_fetched,
              coalesce(sum(tup_inserted), 0) AS tup_inserted, coalesce(sum(tup_updated), 0) AS tup_updated, coalesce(sum(tup_deleted), 0) AS tup_deleted,
              coalesce(sum(temp_bytes), 0) AS temp_bytes, count(*) AS databases
         FROM pg_stat_database d
        WHERE ($1::text IS NULL OR d.datname = $1) AND d.datname IS NOT NULL`,
      [options.database ?? null],
    );
    const s = stats.rows[0] ?? {};
    if (options.database && Number(s['databases'] ?? 0) === 0) {
      throw new DbError(`Database "${options.database}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    }
    const act = await c.query<{ total: string; active: string; idle_in_tx: string; max: string; lag: string | null }>(
      `SELECT count(*) FILTER (WHERE backend_type = 'client backend') AS total,
              count(*) FILTER (WHERE backend_type = 'client backend' AND state = 'active') AS active,
              count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS idle_in_tx,
              current_setting('max_connections') AS max,
              CASE WHEN pg_is_in_recovery() THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END AS lag
         FROM pg_stat_activity`,
    );
    const a = act.rows[0];
    const dbs = await connectableDatabases(c, options.database);
    const preload = (await c.query<{ v: string }>(`SELECT current_setting('shared_preload_libraries') AS v`)).rows[0]?.v ?? '';
    // the view is cluster-wide: the extension in any database (enableStatements uses "postgres") serves all
    const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`);
    return { s, a, dbs, statementsHere: (ext.rowCount ?? 0) > 0, preloaded: parseLibraryList(preload).includes('pg_stat_statements') };
  });
  const counter = (k: string) => Number(base.s[k] ?? 0);
  const hit = counter('blks_hit');
  const read = counter('blks_read');
  const report: PerformanceReport = {
    counters: {
      transactions: counter('xact_commit') + counter('xact_rollback'),
      xact_commit: counter('xact_commit'),
      xact_rollback: counter('xact_rollback'),
      deadlocks: counter('deadlocks'),
      blks_hit: hit,
      blks_read: read,
      tup_returned: counter('tup_returned'),
      tup_fetched: counter('tup_fetched'),
      tup_inserted: counter('tup_inserted'),
      tup_updated: counter('tup_updated'),
      tup_deleted: counter('tup_deleted'),
      temp_bytes: counter('temp_bytes'),
    },
    gauges: {
      cache_hit_ratio: hit + read > 0 ? Math.round((hit / (hit + read)) * 10000) / 10000 : null,
      connections: Number(base.a?.total ?? 0),
      active_connections: Number(base.a?.active ?? 0),
      idle_in_transaction: Number(base.a?.idle_in_tx ?? 0),
      max_connections: Number(base.a?.max ?? 0),
      // on a standby only: how far replay is behind the primary's last transaction
      ...(base.a?.lag !== null && base.a?.lag !== undefined ? { replication_lag_seconds: Math.round(Number(base.a.lag) * 1000) / 1000 } : {}),
    },
    bloat: [],
    unusedIndexes: [],
    notes: [],
  };
  const multi = !options.database;
  if (multi) report.notes!.push('Bloat and unused indexes cover every database (up to 20); their schema is shown as "<database>.<schema>". Pass a database to narrow.');
  let statementsDb: string | undefined = base.statementsHere ? 'postgres' : undefined;
  for (const db of base.dbs) {
    await withClient(ctx, db, async (c) => {
      const prefix = multi ? `${db}.` : '';
      const bloat = await c.query<{ schema: string; table: string; dead: string; live: string; size: string }>(
        `SELECT schemaname AS schema, relname AS table, n_dead_tup AS dead, n_live_tup AS live, pg_relation_size(relid) AS size
           FROM pg_stat_user_tables WHERE n_dead_tup > 0 ORDER BY n_dead_tup DESC LIMIT 20`,
      );
      for (const b of bloat.rows) {
        const dead = Number(b.dead);
        const live = Number(b.live);
        const ratio = dead + live > 0 ? dead / (dead + live) : 0;
        report.bloat!.push({ schema: prefix + b.schema, table: b.table, deadTuples: dead, ratio: Math.round(ratio * 10000) / 10000, wastedBytes: Math.round(Number(b.size) * ratio) });
      }
      const unused = await c.query<{ schema: string; table: string; index: string; size: string }>(
        `SELECT s.schemaname AS schema, s.relname AS table, s.indexrelname AS index, pg_relation_size(s.indexrelid) AS size
           FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
          WHERE s.idx_scan = 0 AND NOT x.indisunique AND NOT x.indisprimary
            AND s.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE conindid <> 0)
          ORDER BY pg_relation_size(s.indexrelid) DESC LIMIT 50`,
      );
      for (const u of unused.rows) report.unusedIndexes!.push({ schema: prefix + u.schema, table: u.table, index: u.index, sizeBytes: Number(u.size) });
      if (!statementsDb) {
        const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`);
        if (ext.rowCount) statementsDb = db;
      }
    });
  }
  report.bloat!.sort((x, y) => (y.deadTuples ?? 0) - (x.deadTuples ?? 0));
  if (!statementsDb) {
    report.slowQueriesNote = `pg_stat_statements is not installed${options.database ? ` in database "${options.database}"` : ''}. ${STATEMENTS_HINT}`;
  } else if (!base.preloaded) {
    report.slowQueriesNote = `pg_stat_statements exists but is not loaded (shared_preload_libraries). ${STATEMENTS_HINT}`;
  } else {
    await withClient(ctx, statementsDb, async (c) => {
      const cols = await c.query<{ attname: string }>(`SELECT attname FROM pg_attribute WHERE attrelid = 'pg_stat_statements'::regclass AND attname = 'mean_exec_time'`);
      const mean = cols.rowCount ? 'mean_exec_time' : 'mean_time';
      const total = cols.rowCount ? 'total_exec_time' : 'total_time';
      const r = await c.query<{ query: string; calls: string; total: number; mean: number; rows: string }>(
        `SELECT query, calls, ${total} AS total, ${mean} AS mean, rows
           FROM pg_stat_statements
          WHERE ($1::text IS NULL OR dbid = (SELECT oid FROM pg_database WHERE datname = $1))
            -- leave out catalog look-ups (this tool's own inspection queries among them) and readiness probes
            AND query !~* '(pg_stat_|pg_catalog|pg_class|pg_namespace|pg_settings|pg_database|pg_roles|pg_extension|pg_index|pg_constraint|pg_attribute|pg_available_extensions)'
            AND query NOT IN ('SELECT $1', 'SELECT 1', 'SHOW server_version', 'SHOW server_version_num', 'BEGIN', 'COMMIT')
          ORDER BY ${mean} DESC LIMIT 10`,
        [options.database ?? null],
      );
      report.slowQueries = r.rows.map((q) => ({ query: q.query.length > 500 ? q.query.slice(0, 500) + '…' : q.query, calls: Number(q.calls), totalMs: Math.round(Number(q.total) * 100) / 100, meanMs: Math.round(Number(q.mean) * 100) / 100, rows: Number(q.rows) }));
    });
  }
  if (!report.notes!.length) delete report.notes;
  return report;
}

/** Thresholds for health; pure, for tests. */
export function ratioStatus(value: number, warnAt: number, failAt: number): HealthCheck['status'] {
  return value >= failAt ? 'fail' : value >= warnAt ? 'warn' : 'ok';
}

/** The "tls" health check from the server's ssl setting and this session's pg_stat_ssl row. Pure, for tests. */
export function tlsCheck(hasCert: boolean, row: { ssl_on: string | null; in_use: boolean | null; version: string | null; cipher: string | null } | undefined): HealthCheck {
  if (!hasCert) {
    return {
      name: 'tls',
      status: 'warn',
      detail: 'no TLS: this instance has no server certificate (made before TLS was the default, or openssl was missing at install), so TCP connections to it are not encrypted; re-create it with openssl installed to get TLS',
    };
  }
  if (row?.ssl_on !== 'on') return { name: 'tls', status: 'fail', detail: `the instance has a certificate but ssl is ${row?.ssl_on ?? 'unknown'}; check portunix.conf and restart it` };
  if (!row.in_use) return { name: 'tls', status: 'fail', detail: 'ssl is on but this connection is not encrypted (pg_stat_ssl)' };
  return { name: 'tls', status: 'ok', detail: `ssl on; this connection uses ${row.version ?? 'TLS'} (${row.cipher ?? '?'}), certificate verified; TCP without TLS is refused by pg_hba.conf` };
}

export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  const started = Date.now();
  try {
    const cert = await instanceCertificate(ctx);
    await withClient(ctx, 'postgres', async (c) => {
      checks.push({ name: 'connect', status: 'ok', detail: `authenticated connection to 127.0.0.1:${ctx.config.port}${cert ? ' over verified TLS' : ''} in ${Date.now() - started} ms` });
      const tls = await c.query<{ ssl_on: string | null; in_use: boolean | null; version: string | null; cipher: string | null }>(
        `SELECT current_setting('ssl') AS ssl_on, s.ssl AS in_use, s.version, s.cipher FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()`,
      );
      checks.push(tlsCheck(!!cert, tls.rows[0]));
      const r = await c.query<Record<string, string | null>>(
        `SELECT current_setting('server_version') AS version,
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
                current_setting('max_connections') AS max_connections,
                current_setting('superuser_reserved_connections') AS reserved,
                (SELECT sum(blks_hit) FROM pg_stat_database) AS hit, (SELECT sum(blks_read) FROM pg_stat_database) AS read,
                (SELECT extract(epoch FROM max(clock_timestamp() - xact_start)) FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() AND backend_type = 'client backend') AS longest_tx,
                (SELECT max(age(datfrozenxid)) FROM pg_database) AS xid_age,
                (SELECT datname FROM pg_database ORDER BY age(datfrozenxid) DESC LIMIT 1) AS oldest_db,
                pg_is_in_recovery()::text AS in_recovery,
                (SELECT count(*) FROM pg_stat_replication) AS replicas,
                (SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart) AS pending_restart`,
      );
      const h = r.rows[0] ?? {};
      checks.push({ name: 'version', status: 'ok', detail: `PostgreSQL ${h['version'] ?? '?'}` });
      const conns = Number(h['connections'] ?? 0);
      const usable = Math.max(1, Number(h['max_connections'] ?? 100) - Number(h['reserved'] ?? 0));
      checks.push({ name: 'connections', status: ratioStatus(conns / usable, 0.8, 0.95), detail: `${conns} of ${usable} usable connections (max_connections ${h['max_connections']})` });
      const hit = Number(h['hit'] ?? 0);
      const read = Number(h['read'] ?? 0);
      if (hit + read < 1000) {
        checks.push({ name: 'cache hit ratio', status: 'ok', detail: `not enough reads yet to judge (${hit + read} block reads)` });
      } else {
        const ratio = hit / (hit + read);
        checks.push({ name: 'cache hit ratio', status: ratio < 0.8 ? 'warn' : 'ok', detail: `${(ratio * 100).toFixed(2)}% of block reads served from shared buffers${ratio < 0.8 ? '; consider a larger shared_buffers' : ''}` });
      }
      const longest = h['longest_tx'] === null || h['longest_tx'] === undefined ? 0 : Number(h['longest_tx']);
      checks.push({
        name: 'longest transaction',
        status: longest >= 3600 ? 'fail' : longest >= 300 ? 'warn' : 'ok',
        detail: longest > 0 ? `the oldest open transaction has run ${Math.round(longest)} s${longest >= 300 ? '; long transactions block vacuum (see `connections`)' : ''}` : 'no open transactions',
      });
      const replicas = Number(h['replicas'] ?? 0);
      checks.push({
        name: 'replication',
        status: 'ok',
        detail: h['in_recovery'] === 'true' ? 'this server is a standby (in recovery)' : replicas > 0 ? `${replicas} replica(s) connected` : 'not applicable: standalone primary without replicas',
      });
      const age = Number(h['xid_age'] ?? 0);
      const share = age / 2 ** 31;
      checks.push({
        name: 'transaction ID wraparound',
        status: ratioStatus(share, 0.5, 0.75),
        detail: `oldest database (${h['oldest_db'] ?? '?'}) is ${age} transactions old, ${(share * 100).toFixed(2)}% of the wraparound limit${share >= 0.5 ? '; run `portunix-db vacuum <db> --type postgresql`' : ''}`,
      });
      if (h['pending_restart']) {
        checks.push({ name: 'pending restart', status: 'warn', detail: `settings waiting for a restart: ${h['pending_restart']}; run \`portunix-db restart postgresql\`` });
      }
    });
  } catch (err) {
    const e = err as DbError;
    checks.push({ name: 'connect', status: 'fail', detail: e.message + (e.hint ? ` ${e.hint}` : '') });
  }
  return checks;
}

/** A shared_preload_libraries value as names ("a, \"b\"" -> ['a', 'b']). Pure, for tests. */
export function parseLibraryList(value: string): string[] {
  return value.split(',').map((x) => x.trim().replace(/^"(.*)"$/, '$1')).filter(Boolean);
}

/**
 * The union of library lists in first-seen order: adding a library keeps every one already
 * running or configured (timescaledb, auto_explain...), never replaces them. Pure, for tests.
 */
export function mergeLibraryLists(...lists: string[]): string[] {
  const out: string[] = [];
  for (const list of lists) for (const lib of parseLibraryList(list)) if (!out.includes(lib)) out.push(lib);
  return out;
}

/**
 * What enabling pg_stat_statements does to shared_preload_libraries, from the running value and
 * the value the configuration files give the next start: the new list to ALTER SYSTEM SET (the
 * union, so timescaledb and any other preloaded library stay), or undefined when the files
 * already have it. Pure, for tests.
 */
export function statementsPreload(running: string, configured: string): { loaded: boolean; set?: string[] } {
  const loaded = parseLibraryList(running).includes('pg_stat_statements');
  const wanted = mergeLibraryLists(running, configured, 'pg_stat_statements');
  const now = parseLibraryList(configured);
  const same = wanted.length === now.length && wanted.every((x) => now.includes(x));
  return same ? { loaded } : { loaded, set: wanted };
}

export async function enableStatements(ctx: InstanceContext): Promise<{ changed: boolean; restartRequired: boolean; message: string }> {
  return withClient(ctx, 'postgres', async (c) => {
    const avail = await c.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'`);
    if (!avail.rowCount) {
      throw new NotApplicableError('pg_stat_statements is not available in this PostgreSQL installation (its contrib modules are missing).', 'Install the contrib package of this PostgreSQL version (e.g. postgresql-contrib), then retry.');
    }
    const running = (await c.query<{ v: string }>(`SELECT current_setting('shared_preload_libraries') AS v`)).rows[0]?.v ?? '';
    // what the files say (the next start's value): it may already hold libraries the running server
    // lacks. The last line wins; a value waiting for a restart has error "setting could not be applied".
    const files = await c.query<{ setting: string }>(`SELECT setting FROM pg_file_settings WHERE name = 'shared_preload_libraries' ORDER BY seqno`).catch(() => ({ rows: [] as { setting: string }[] }));
    const configured = files.rows.length ? files.rows[files.rows.length - 1]!.setting : running;
    const { loaded, set } = statementsPreload(running, configured);
    let changed = false;
    if (set) {
      // one literal per library: a single 'a,b' literal would be read as one quoted name
      await c.query(`ALTER SYSTEM SET shared_preload_libraries = ${set.map((l) => c.escapeLiteral(l)).join(', ')}`);
      await c.query('SELECT pg_reload_conf()');
      changed = true;
    }
    const ext = await c.query(`SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'`);
    if (!ext.rowCount) {
      await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      changed = true;
    }
    const id = `${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}`;
    if (!loaded) {
      return { changed, restartRequired: true, message: `pg_stat_statements is added to shared_preload_libraries and the extension is created in database "postgres"; restart the server (\`portunix-db restart ${id}\`) to start collecting statements.` };
    }
    return { changed, restartRequired: false, message: changed ? 'pg_stat_statements was loaded; the extension is now created in database "postgres" and collecting.' : 'pg_stat_statements is already enabled and collecting.' };
  });
}
