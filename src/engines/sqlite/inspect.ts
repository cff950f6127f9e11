import { existsSync, statSync } from 'node:fs';
import { DbError } from '../../core/errors.js';
import { closest } from '../../core/did-you-mean.js';
import type { ColumnInfo, ConstraintInfo, DatabaseSummary, HealthCheck, IndexInfo, InstanceContext, PerformanceReport, SchemaSummary, TableInfo, TableSummary } from '../contract.js';
import { fileBytes, findShell, listFiles, requireDatabase, withDatabase, withFile, type Db } from './instance.js';

// ---------- CREATE TABLE parsing (CHECK constraints and constraint names) ----------

export interface Token {
  kind: 'word' | 'ident' | 'string' | 'number' | 'punct';
  /** Unquoted value for identifiers and strings; the text otherwise. */
  value: string;
  start: number;
  end: number;
}

/** SQLite's lexical rules: '' strings, "" `` [] identifiers, -- and block comments. */
export function tokenize(sql: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? n : nl + 1;
      continue;
    }
    if (c === '/' && sql[i + 1] === '*') {
      const endc = sql.indexOf('*/', i + 2);
      i = endc < 0 ? n : endc + 2;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= n) break;
        if (sql[j] === c) {
          if (sql[j + 1] === c) {
            value += c;
            j += 2;
            continue;
          }
          j++;
          break;
        }
        value += sql[j];
        j++;
      }
      out.push({ kind: c === "'" ? 'string' : 'ident', value, start: i, end: j });
      i = j;
      continue;
    }
    if (c === '[') {
      const endc = sql.indexOf(']', i + 1);
      const j = endc < 0 ? n : endc + 1;
      out.push({ kind: 'ident', value: sql.slice(i + 1, endc < 0 ? n : endc), start: i, end: j });
      i = j;
      continue;
    }
    if (/[A-Za-z_\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$\u0080-\uffff]/.test(sql[j]!)) j++;
      out.push({ kind: 'word', value: sql.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (/[0-9.]/.test(c) && /[0-9]/.test(sql[i + 1] ?? c)) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(sql[j]!)) j++;
      out.push({ kind: 'number', value: sql.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    out.push({ kind: 'punct', value: c, start: i, end: i + 1 });
    i++;
  }
  return out;
}

export interface ParsedConstraint {
  type: 'primary key' | 'unique' | 'check' | 'foreign key';
  name?: string;
  columns: string[];
  /** CHECK: the expression between the parentheses, as written. */
  expression?: string;
  /** FOREIGN KEY: the referenced table. */
  references?: string;
  columnLevel: boolean;
}

const isWord = (t: Token | undefined, w: string): boolean => !!t && t.kind === 'word' && t.value.toUpperCase() === w;
const isPunct = (t: Token | undefined, p: string): boolean => !!t && t.kind === 'punct' && t.value === p;

/** Index of the ")" matching the "(" at `open`, or -1. */
function matching(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** The leading names in a parenthesised list like "(a COLLATE nocase DESC, "b c")". */
function nameList(tokens: Token[], open: number, close: number): string[] {
  const names: string[] = [];
  let expectName = true;
  let depth = 0;
  for (let i = open + 1; i < close; i++) {
    const t = tokens[i]!;
    if (isPunct(t, '(')) depth++;
    else if (isPunct(t, ')')) depth--;
    else if (depth === 0 && isPunct(t, ',')) expectName = true;
    else if (expectName && depth === 0 && (t.kind === 'ident' || t.kind === 'word' || t.kind === 'string')) {
      names.push(t.value);
      expectName = false;
    }
  }
  return names;
}

const TABLE_CONSTRAINT_START = new Set(['CONSTRAINT', 'PRIMARY', 'UNIQUE', 'CHECK', 'FOREIGN']);

/**
 * Reads a CREATE TABLE statement as SQLite stores it in sqlite_schema and returns its column
 * names and constraints (with CHECK expressions verbatim). Never executes anything.
 */
export function parseCreateTable(sql: string): { columns: string[]; constraints: ParsedConstraint[] } {
  const tokens = tokenize(sql);
  const columns: string[] = [];
  const constraints: ParsedConstraint[] = [];
  let open = -1;
  for (let i = 0; i < tokens.length; i++) {
    if (isWord(tokens[i], 'AS')) return { columns, constraints }; // CREATE TABLE ... AS SELECT
    if (isPunct(tokens[i], '(')) {
      open = i;
      break;
    }
  }
  if (open < 0) return { columns, constraints };
  const close = matching(tokens, open);
  const end = close < 0 ? tokens.length : close;
  // split the definition list at top-level commas
  const items: [number, number][] = [];
  let depth = 0;
  let itemStart = open + 1;
  for (let i = open + 1; i < end; i++) {
    if (isPunct(tokens[i], '(')) depth++;
    else if (isPunct(tokens[i], ')')) depth--;
    else if (depth === 0 && isPunct(tokens[i], ',')) {
      items.push([itemStart, i]);
      itemStart = i + 1;
    }
  }
  if (itemStart < end) items.push([itemStart, end]);

  for (const [s, e] of items) {
    const first = tokens[s];
    if (!first) continue;
    const tableLevel = first.kind === 'word' && TABLE_CONSTRAINT_START.has(first.value.toUpperCase());
    const column = tableLevel ? undefined : first.value;
    if (column !== undefined) columns.push(column);
    let d = 0;
    for (let i = tableLevel ? s : s + 1; i < e; i++) {
      const t = tokens[i]!;
      if (isPunct(t, '(')) {
        d++;
        continue;
      }
      if (isPunct(t, ')')) {
        d--;
        continue;
      }
      if (d !== 0 || t.kind !== 'word') continue;
      const word = t.value.toUpperCase();
      const named = isWord(tokens[i - 2], 'CONSTRAINT') && i - 2 >= s ? tokens[i - 1]!.value : undefined;
      const base = { ...(named !== undefined ? { name: named } : {}), columnLevel: !tableLevel };
      if (word === 'CHECK' && isPunct(tokens[i + 1], '(')) {
        const c = matching(tokens, i + 1);
        if (c < 0) break;
        const expression = sql.slice(tokens[i + 1]!.end, tokens[c]!.start).trim();
        constraints.push({ type: 'check', ...base, columns: column !== undefined ? [column] : [], expression });
        i = c;
      } else if (word === 'PRIMARY' && isWord(tokens[i + 1], 'KEY')) {
        if (tableLevel && isPunct(tokens[i + 2], '(')) {
          const c = matching(tokens, i + 2);
          constraints.push({ type: 'primary key', ...base, columns: nameList(tokens, i + 2, c < 0 ? e : c) });
          i = c < 0 ? e : c;
        } else if (column !== undefined) constraints.push({ type: 'primary key', ...base, columns: [column] });
      } else if (word === 'UNIQUE') {
        if (tableLevel && isPunct(tokens[i + 1], '(')) {
          const c = matching(tokens, i + 1);
          constraints.push({ type: 'unique', ...base, columns: nameList(tokens, i + 1, c < 0 ? e : c) });
          i = c < 0 ? e : c;
        } else if (column !== undefined) constraints.push({ type: 'unique', ...base, columns: [column] });
      } else if (word === 'FOREIGN' && isWord(tokens[i + 1], 'KEY') && isPunct(tokens[i + 2], '(')) {
        const c = matching(tokens, i + 2);
        const cols = nameList(tokens, i + 2, c < 0 ? e : c);
        const ref = isWord(tokens[c + 1], 'REFERENCES') ? tokens[c + 2]?.value : undefined;
        constraints.push({ type: 'foreign key', ...base, columns: cols, ...(ref !== undefined ? { references: ref } : {}) });
        i = c < 0 ? e : c + 2;
      } else if (word === 'REFERENCES' && column !== undefined) {
        const ref = tokens[i + 1]?.value;
        constraints.push({ type: 'foreign key', ...base, columns: [column], ...(ref !== undefined ? { references: ref } : {}) });
        i++;
      }
    }
  }
  return { columns, constraints };
}

/** Table columns named in a CHECK expression. */
export function columnsIn(expression: string, columns: string[]): string[] {
  const byLower = new Map(columns.map((c) => [c.toLowerCase(), c]));
  const found: string[] = [];
  for (const t of tokenize(expression)) {
    if (t.kind !== 'word' && t.kind !== 'ident') continue;
    const c = byLower.get(t.value.toLowerCase());
    if (c && !found.includes(c)) found.push(c);
  }
  return found;
}

// ---------- catalog helpers ----------

interface SchemaRow {
  type: string;
  name: string;
  tbl_name: string;
  sql: string | null;
}

const USER_OBJECTS = "name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";

function objects(db: Db, types: string[]): SchemaRow[] {
  return db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN (${types.map(() => '?').join(',')}) AND ${USER_OBJECTS} ORDER BY name`).all(...types) as SchemaRow[];
}

function isVirtual(row: SchemaRow): boolean {
  return /^\s*CREATE\s+VIRTUAL\s+TABLE/i.test(row.sql ?? '');
}

/** The table (or view) as stored, matched the way SQLite matches names (case-insensitively). */
export function findTable(db: Db, table: string, database: string): SchemaRow {
  const row = db.prepare(`SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE type IN ('table','view') AND name = ? COLLATE NOCASE`).get(table) as SchemaRow | undefined;
  if (row) return row;
  const names = objects(db, ['table', 'view']).map((r) => r.name);
  const guess = closest(table, names);
  throw new DbError(`Table ${JSON.stringify(table)} does not exist in SQLite database ${database}.`, 'NOT_FOUND', `${guess ? `Did you mean ${guess}? ` : ''}List tables with \`portunix-db tables --type sqlite --database ${database}\`.`);
}

/** Bytes per b-tree (table or index) from the dbstat virtual table, when SQLite was built with it. */
function btreeBytes(db: Db): Map<string, number> | undefined {
  try {
    const rows = db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[];
    return new Map(rows.map((r) => [r.name, Number(r.bytes)]));
  } catch {
    return undefined;
  }
}

function tableBytes(db: Db, sizes: Map<string, number> | undefined, table: string): number | undefined {
  if (!sizes) return undefined;
  let total = sizes.get(table) ?? 0;
  for (const idx of db.prepare(`SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?`).pluck().all(table) as string[]) total += sizes.get(idx) ?? 0;
  return total;
}

function countRows(db: Db, table: string): number | undefined {
  try {
    return Number(db.prepare(`SELECT COUNT(*) FROM "${table.replace(/"/g, '""')}"`).pluck().get());
  } catch {
    return undefined; // e.g. a virtual table whose module is not loaded
  }
}

// ---------- inspection operations ----------

export async function databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]> {
  const files = database ? [await requireDatabase(ctx, database)] : await listFiles(ctx);
  return Promise.all(files.map(async (f) => ({ name: f.name, path: f.path, sizeBytes: await fileBytes(f.path) })));
}

export async function listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]> {
  return withDatabase(
    ctx,
    options.database,
    (db) => {
      const sizes = options.includeSizes ? btreeBytes(db) : undefined;
      return objects(db, ['table', 'view']).map((r) => {
        const kind = r.type === 'view' ? 'view' : isVirtual(r) ? 'virtual table' : 'table';
        const rows = kind === 'view' ? undefined : countRows(db, r.name);
        const bytes = kind === 'table' ? tableBytes(db, sizes, r.name) : undefined;
        return { schema: 'main', name: r.name, kind, ...(rows !== undefined ? { rows, rowsEstimated: false } : {}), ...(bytes !== undefined ? { sizeBytes: bytes } : {}) };
      });
    },
    { readonly: true },
  );
}

export async function schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary> {
  return withDatabase(
    ctx,
    options.database,
    (db) => {
      const rows = objects(db, ['table', 'view', 'index', 'trigger']);
      const tables = rows.filter((r) => r.type === 'table').length;
      const views = rows.filter((r) => r.type === 'view').length;
      return {
        database: options.database,
        schemas: [{ name: 'main', tables, views }],
        objects: rows.map((r) => {
          const base = { schema: 'main', name: r.name, kind: r.type === 'table' && isVirtual(r) ? 'virtual table' : r.type };
          if (r.type !== 'table' && r.type !== 'view') return { ...base, name: `${r.name} (on ${r.tbl_name})` };
          const columns = Number(db.prepare('SELECT COUNT(*) FROM pragma_table_xinfo(?)').pluck().get(r.name));
          return { ...base, columns };
        }),
      };
    },
    { readonly: true },
  );
}

interface XInfoRow {
  cid: number;
  name: string;
  type: string;
  notnull: number;
  dflt_value: string | null;
  pk: number;
  hidden: number;
}

function primaryKey(cols: XInfoRow[]): string[] {
  return cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
}

export async function tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo> {
  return withDatabase(
    ctx,
    options.database,
    (db) => {
      const t = findTable(db, options.table, options.database);
      const cols = db.prepare('SELECT * FROM pragma_table_xinfo(?)').all(t.name) as XInfoRow[];
      const pk = primaryKey(cols);
      const rowidAlias = pk.length === 1 && cols.find((c) => c.name === pk[0])?.type.toUpperCase() === 'INTEGER' && !/WITHOUT\s+ROWID\s*$/i.test(t.sql ?? '');
      const columns: ColumnInfo[] = cols.map((c) => {
        const notes: string[] = [];
        if (c.hidden === 2) notes.push('generated (virtual)');
        if (c.hidden === 3) notes.push('generated (stored)');
        if (c.hidden === 1) notes.push('hidden');
        if (rowidAlias && c.name === pk[0]) notes.push('alias of rowid');
        return { name: c.name, type: c.type || '(none: any type)', nullable: c.notnull === 0 && !(rowidAlias && c.name === pk[0]), default: c.dflt_value, ...(notes.length ? { comment: notes.join(', ') } : {}) };
      });
      const kind = t.type === 'view' ? 'view' : isVirtual(t) ? 'virtual table' : /WITHOUT\s+ROWID\s*$/i.test(t.sql ?? '') ? 'table (without rowid)' : 'table';
      const rows = t.type === 'view' ? undefined : countRows(db, t.name);
      const bytes = t.type === 'table' ? tableBytes(db, btreeBytes(db), t.name) : undefined;
      return {
        schema: 'main',
        name: t.name,
        kind,
        columns,
        ...(pk.length ? { primaryKey: pk } : {}),
        ...(rows !== undefined ? { rows, rowsEstimated: false } : {}),
        ...(bytes !== undefined ? { sizeBytes: bytes } : {}),
        comment: null,
      };
    },
    { readonly: true },
  );
}

interface IndexListRow {
  seq: number;
  name: string;
  unique: number;
  origin: string;
  partial: number;
}
interface IndexXInfoRow {
  seqno: number;
  cid: number;
  name: string | null;
  desc: number;
  coll: string;
  key: number;
}

function tablesFor(db: Db, table: string | undefined, database: string): SchemaRow[] {
  if (table) {
    const t = findTable(db, table, database);
    return t.type === 'table' ? [t] : [];
  }
  return objects(db, ['table']).filter((r) => !isVirtual(r));
}

function indexesOf(db: Db, table: string, sizes: Map<string, number> | undefined): (IndexInfo & { signature: string; partial: boolean })[] {
  const list = db.prepare('SELECT * FROM pragma_index_list(?)').all(table) as IndexListRow[];
  return list.map((ix) => {
    const keys = (db.prepare('SELECT * FROM pragma_index_xinfo(?)').all(ix.name) as IndexXInfoRow[]).filter((k) => k.key === 1).sort((a, b) => a.seqno - b.seqno);
    const columns = keys.map((k) => (k.cid === -2 ? '<expression>' : k.cid === -1 ? 'rowid' : k.name ?? '?'));
    const sql = db.prepare(`SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = ?`).pluck().get(ix.name) as string | null | undefined;
    const definition = sql ?? (ix.origin === 'pk' ? `PRIMARY KEY (${columns.join(', ')}) (automatic index)` : ix.origin === 'u' ? `UNIQUE (${columns.join(', ')}) (automatic index)` : undefined);
    const bytes = sizes?.get(ix.name);
    return {
      schema: 'main',
      table,
      name: ix.name,
      columns,
      unique: ix.unique === 1,
      primary: ix.origin === 'pk',
      method: 'btree',
      ...(bytes !== undefined ? { sizeBytes: bytes } : {}),
      ...(definition ? { definition } : {}),
      // expressions make signatures unequal unless the SQL text matches exactly
      signature: keys.map((k) => (k.cid === -2 ? `expr:${sql ?? ix.name}` : `${(k.name ?? '').toLowerCase()}/${k.desc}/${k.coll.toLowerCase()}`)).join(','),
      partial: ix.partial === 1,
    };
  });
}

export async function indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]> {
  return withDatabase(
    ctx,
    options.database,
    (db) => {
      const sizes = btreeBytes(db);
      const out: IndexInfo[] = [];
      for (const t of tablesFor(db, options.table, options.database)) {
        const list = indexesOf(db, t.name, sizes);
        // the index backing a constraint (or the unique one) is the keeper; others with the same keys duplicate it
        const rank = (i: (typeof list)[number]) => (i.primary ? 0 : i.unique ? 1 : 2);
        const keepers = new Map<string, string>();
        for (const ix of [...list].filter((i) => !i.partial).sort((a, b) => rank(a) - rank(b) || a.name.localeCompare(b.name))) {
          const keeper = keepers.get(ix.signature);
          if (keeper === undefined) keepers.set(ix.signature, ix.name);
          else ix.duplicateOf = keeper;
        }
        for (const { signature: _s, partial: _p, ...ix } of list.sort((a, b) => a.name.localeCompare(b.name))) out.push(ix);
      }
      return out;
    },
    { readonly: true },
  );
}

interface FkRow {
  id: number;
  seq: number;
  table: string;
  from: string;
  to: string | null;
  on_update: string;
  on_delete: string;
}

const sameColumns = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x.toLowerCase() === b[i]!.toLowerCase());

export async function constraints(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<ConstraintInfo[]> {
  return withDatabase(
    ctx,
    options.database,
    (db) => {
      const out: ConstraintInfo[] = [];
      for (const t of tablesFor(db, options.table, options.database)) {
        const parsed = parseCreateTable(t.sql ?? '');
        const cols = db.prepare('SELECT * FROM pragma_table_xinfo(?)').all(t.name) as XInfoRow[];
        const columnNames = cols.map((c) => c.name);
        const q = (names: string[]) => names.join(', ');

        const pk = primaryKey(cols);
        if (pk.length) {
          const name = parsed.constraints.find((c) => c.type === 'primary key' && c.name)?.name ?? `${t.name}_pkey`;
          out.push({ schema: 'main', table: t.name, name, type: 'primary key', columns: pk, definition: `PRIMARY KEY (${q(pk)})` });
        }

        const fks = db.prepare('SELECT * FROM pragma_foreign_key_list(?)').all(t.name) as FkRow[];
        for (const id of [...new Set(fks.map((f) => f.id))].sort((a, b) => a - b)) {
          const parts = fks.filter((f) => f.id === id).sort((a, b) => a.seq - b.seq);
          const first = parts[0]!;
          const from = parts.map((p) => p.from);
          let to = parts.map((p) => p.to);
          if (to.some((x) => x === null)) {
            // REFERENCES parent without columns: the parent's primary key
            const parentCols = db.prepare('SELECT * FROM pragma_table_info(?)').all(first.table) as XInfoRow[];
            to = primaryKey(parentCols);
          }
          const named = parsed.constraints.find((c) => c.type === 'foreign key' && c.name && sameColumns(c.columns, from) && (c.references ?? '').toLowerCase() === first.table.toLowerCase());
          out.push({
            schema: 'main',
            table: t.name,
            name: named?.name ?? `${t.name}_${from.join('_')}_fkey`,
            type: 'foreign key',
            columns: from,
            references: { schema: 'main', table: first.table, columns: to as string[], onDelete: first.on_delete, onUpdate: first.on_update },
            definition: `FOREIGN KEY (${q(from)}) REFERENCES ${first.table} (${q(to as string[])}) ON DELETE ${first.on_delete} ON UPDATE ${first.on_update}`,
          });
        }

        for (const ix of (db.prepare('SELECT * FROM pragma_index_list(?)').all(t.name) as IndexListRow[]).filter((i) => i.origin === 'u')) {
          const keyCols = (db.prepare('SELECT * FROM pragma_index_info(?)').all(ix.name) as IndexXInfoRow[]).sort((a, b) => a.seqno - b.seqno).map((k) => k.name ?? '?');
          const named = parsed.constraints.find((c) => c.type === 'unique' && c.name && sameColumns(c.columns, keyCols));
          out.push({ schema: 'main', table: t.name, name: named?.name ?? ix.name, type: 'unique', columns: keyCols, definition: `UNIQUE (${q(keyCols)})` });
        }

        let n = 0;
        for (const c of parsed.constraints.filter((x) => x.type === 'check')) {
          n++;
          const expr = c.expression ?? '';
          const involved = columnsIn(expr, columnNames);
          const columns = c.columns.length ? [...new Set([...c.columns, ...involved])] : involved;
          out.push({ schema: 'main', table: t.name, name: c.name ?? `${t.name}_check${n}`, type: 'check', columns, definition: `CHECK (${expr})` });
        }
      }
      return out;
    },
    { readonly: true },
  );
}

// ---------- performance and health ----------

function pragmaNumber(db: Db, name: string): number {
  return Number(db.pragma(name, { simple: true }));
}

export async function performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport> {
  const files = options.database ? [await requireDatabase(ctx, options.database)] : await listFiles(ctx);
  const gauges: PerformanceReport['gauges'] = {};
  const bloat: NonNullable<PerformanceReport['bloat']> = [];
  const prefix = (db: string) => (options.database ? '' : `${db}.`);
  for (const f of files) {
    if (!existsSync(f.path)) continue;
    await withFile(
      f.path,
      (db) => {
        const pageSize = pragmaNumber(db, 'page_size');
        const pages = pragmaNumber(db, 'page_count');
        const free = pragmaNumber(db, 'freelist_count');
        const p = prefix(f.name);
        gauges[`${p}page_size`] = pageSize;
        gauges[`${p}page_count`] = pages;
        gauges[`${p}freelist_count`] = free;
        gauges[`${p}size_bytes`] = pageSize * pages;
        gauges[`${p}free_bytes`] = pageSize * free;
        gauges[`${p}wal_bytes`] = existsSync(`${f.path}-wal`) ? sizeOf(`${f.path}-wal`) : 0;
        gauges[`${p}journal_mode`] = String(db.pragma('journal_mode', { simple: true }));
        gauges[`${p}cache_size`] = pragmaNumber(db, 'cache_size');
        gauges[`${p}cache_spill`] = pragmaNumber(db, 'cache_spill');
        gauges[`${p}mmap_size`] = pragmaNumber(db, 'mmap_size');
        gauges[`${p}auto_vacuum`] = ['none', 'full', 'incremental'][pragmaNumber(db, 'auto_vacuum')] ?? 'unknown';
        gauges[`${p}tables`] = Number(db.prepare(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table' AND ${USER_OBJECTS}`).pluck().get());
        gauges[`${p}indexes`] = Number(db.prepare(`SELECT COUNT(*) FROM sqlite_schema WHERE type = 'index'`).pluck().get());
        bloat.push({ schema: 'main', table: `(file ${f.name}.db: free pages)`, wastedBytes: pageSize * free, ratio: pages ? Math.round((free / pages) * 1000) / 1000 : 0 });
        try {
          const rows = db.prepare(`SELECT name, SUM(pgsize) AS size, SUM(unused) AS unused FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema WHERE type = 'table' AND ${USER_OBJECTS}) GROUP BY name ORDER BY unused DESC LIMIT 20`).all() as { name: string; size: number; unused: number }[];
          // tiny tables are mostly empty pages by nature: only tables of 64 KiB or more are worth reporting
          for (const r of rows) if (r.unused > 0 && r.size >= 65536) bloat.push({ schema: 'main', table: options.database ? r.name : `${f.name}.${r.name}`, wastedBytes: Number(r.unused), ratio: r.size ? Math.round((r.unused / r.size) * 1000) / 1000 : 0 });
        } catch {
          /* no dbstat */
        }
      },
      { readonly: true },
    );
  }
  return {
    counters: {},
    gauges,
    bloat,
    slowQueriesNote: 'SQLite runs inside each program that opens the file; there is no server-side query log. Use EXPLAIN QUERY PLAN in the sqlite3 shell to examine a query.',
    notes: [
      'SQLite keeps no cumulative server counters (transactions, cache hits): the numbers here are gauges read from the file header and pragmas.',
      'Bloat is free pages (reclaimed by `portunix-db vacuum DB --type sqlite --full`) and unused space inside table pages.',
      'SQLite keeps no index usage statistics, so unused indexes cannot be detected.',
    ],
  };
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export async function health(ctx: InstanceContext): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  if (!existsSync(ctx.paths.dataDir)) return [{ name: 'directory', status: 'fail', detail: `The instance directory ${ctx.paths.dataDir} is missing.` }];
  checks.push({ name: 'directory', status: 'ok', detail: ctx.paths.dataDir });
  const shell = findShell(ctx.config.bin_dir);
  checks.push(shell ? { name: 'sqlite3 shell', status: 'ok', detail: shell } : { name: 'sqlite3 shell', status: 'warn', detail: 'The sqlite3 command-line shell is not installed; run `portunix-db install sqlite` to get it (the engine itself does not need it).' });
  const files = await listFiles(ctx);
  if (files.length === 0) checks.push({ name: 'databases', status: 'ok', detail: 'No databases yet.' });
  for (const f of files) {
    if (!existsSync(f.path)) {
      checks.push({ name: `${f.name}: file`, status: 'fail', detail: `${f.path} is missing.` });
      continue;
    }
    try {
      await withFile(
        f.path,
        (db) => {
          const problems = (db.prepare('PRAGMA integrity_check(20)').pluck().all() as string[]).filter((s) => s !== 'ok');
          checks.push(problems.length === 0 ? { name: `${f.name}: integrity`, status: 'ok', detail: 'integrity_check: ok' } : { name: `${f.name}: integrity`, status: 'fail', detail: `integrity_check: ${problems.slice(0, 5).join('; ')}. Restore from a backup, or salvage with the sqlite3 shell's .recover.` });
          const fk = db.prepare('SELECT * FROM pragma_foreign_key_check').all() as { table: string; rowid: number | null; parent: string }[];
          if (fk.length === 0) checks.push({ name: `${f.name}: foreign keys`, status: 'ok', detail: 'foreign_key_check: no violations' });
          else {
            const byTable = [...new Set(fk.map((r) => `${r.table} -> ${r.parent}`))];
            checks.push({ name: `${f.name}: foreign keys`, status: 'warn', detail: `foreign_key_check: ${fk.length} row(s) reference missing parents (${byTable.slice(0, 5).join(', ')}). SQLite enforces foreign keys only when a program sets PRAGMA foreign_keys=ON.` });
          }
          const pages = pragmaNumber(db, 'page_count');
          const free = pragmaNumber(db, 'freelist_count');
          const ratio = pages ? free / pages : 0;
          const freeBytes = free * pragmaNumber(db, 'page_size');
          checks.push(ratio > 0.25 && freeBytes > 1024 * 1024 ? { name: `${f.name}: free space`, status: 'warn', detail: `${Math.round(ratio * 100)}% of the file (${freeBytes} bytes) is free pages; reclaim with \`portunix-db vacuum ${f.name} --type sqlite --full\`.` } : { name: `${f.name}: free space`, status: 'ok', detail: `${Math.round(ratio * 100)}% free pages` });
        },
        { readonly: true },
      );
      const wal = sizeOf(`${f.path}-wal`);
      if (wal > 256 * 1024 * 1024) checks.push({ name: `${f.name}: wal`, status: 'warn', detail: `The WAL file is ${wal} bytes; a long-lived reader may be preventing checkpoints.` });
    } catch (err) {
      checks.push({ name: `${f.name}: open`, status: 'fail', detail: (err as Error).message });
    }
  }
  return checks;
}
