/**
 * Read-only queries for assistants (the `query` command and the `db_query` MCP tool) and the
 * least-privilege account they run under. Read-only is the database's job: every engine with
 * accounts provisions one (`readonlyAccount`) whose password lives in the secret store, and
 * queries run as that account, so a write is refused by the server whatever the text says.
 * Results are bounded by rows, bytes and time; each query is audited with its text, never its rows.
 */
import { audit } from '../audit.js';
import { DbError, UsageError, toDbError } from '../errors.js';
import { generatePassword, getSecretStore, secretKey } from '../secrets.js';
import { has, need } from '../../engines/need.js';
import type { Engine, InstanceContext, QueryAccount, ReadonlyAccountOutcome } from '../../engines/contract.js';
import { openRunning, type Target } from './instances.js';
import { table } from '../text-format.js';

/** The read-only account every instance gets (same name on every engine). */
export const READONLY_USER = 'portunix_ro';

export const QUERY_LIMITS = {
  rows: { default: 200, max: 5000 },
  bytes: { default: 64 * 1024, max: 1024 * 1024 },
  timeoutMs: { default: 30_000, max: 300_000 },
  textChars: 100_000,
} as const;

type Via = 'cli' | 'mcp';

/** Instances this process has provisioned (or checked) already, so a session does not redo it per query. */
const provisioned = new Map<string, Promise<QueryAccount>>();

function readonlyKey(ctx: InstanceContext): string {
  return secretKey(ctx.engine, ctx.name, 'readonly');
}

/** True once the instance's read-only account was provisioned (its password is in the secret store). */
export async function hasReadonlyAccount(ctx: InstanceContext): Promise<boolean> {
  return (await getSecretStore().get(readonlyKey(ctx))) !== undefined;
}

/** Creates or refreshes the read-only account of one open instance; the password is kept in the secret store. */
export async function provisionReadonly(engine: Engine, ctx: InstanceContext, via: Via = 'cli'): Promise<ReadonlyAccountOutcome & { account: QueryAccount }> {
  const op = need(engine, 'readonlyAccount');
  const store = getSecretStore();
  const password = (await store.get(readonlyKey(ctx))) ?? generatePassword();
  await store.set(readonlyKey(ctx), password);
  try {
    const outcome = await op(ctx, { user: READONLY_USER, password, statementTimeoutMs: QUERY_LIMITS.timeoutMs.default });
    // a credential the server made (an InfluxDB 2.x read token) replaces the generated password
    if (outcome.secret !== undefined) await store.set(readonlyKey(ctx), outcome.secret);
    const unenforced = outcome.serverEnforced === false ? `read-only is not enforced by the server (${outcome.enforcement[0] ?? 'no accounts'}); only the query shapes portunix-db sends keep it to reads` : undefined;
    await audit({ action: 'readonly-account', engine: ctx.engine, instance: ctx.name, target: READONLY_USER, via, ok: true, detail: `${outcome.created ? 'created' : 'refreshed'}${unenforced ? ' (not enforced by the server)' : ''}` });
    const { secret: _secret, ...shown } = outcome;
    return { ...shown, account: { user: READONLY_USER, password: outcome.secret ?? password, ...(unenforced ? { unenforced } : {}) } };
  } catch (err) {
    await audit({ action: 'readonly-account', engine: ctx.engine, instance: ctx.name, target: READONLY_USER, via, ok: false, detail: toDbError(err).message.slice(0, 300) });
    throw err;
  }
}

/**
 * The read-only credentials for an instance, provisioning the account the first time (and once
 * per process, so databases created since are covered). Undefined for engines without accounts.
 */
export async function readonlyCredentials(engine: Engine, ctx: InstanceContext, via: Via): Promise<QueryAccount | undefined> {
  if (!has(engine, 'readonlyAccount')) return undefined;
  const key = `${ctx.engine}/${ctx.name}`;
  let p = provisioned.get(key);
  if (!p) {
    p = provisionReadonly(engine, ctx, via).then((r) => r.account);
    provisioned.set(key, p);
    p.catch(() => provisioned.delete(key));
  }
  return p;
}

/** `portunix-db user readonly <engine>`: make (or refresh) the account now. */
export async function ensureReadonlyAccount(target: Target & { via?: Via }): Promise<{ engine: string; instance: string; user: string; created: boolean; enforcement: string[]; server_enforced: boolean; password_in: string; message: string }> {
  const { engine, ctx } = await openRunning(target);
  const r = await provisionReadonly(engine, ctx, target.via ?? 'cli');
  const backend = await getSecretStore().backend();
  return {
    engine: ctx.engine,
    instance: ctx.name,
    user: r.user,
    created: r.created,
    enforcement: r.enforcement,
    server_enforced: r.serverEnforced !== false,
    password_in: backend === 'keychain' ? 'OS keychain' : 'encrypted secret file',
    message: `${r.created ? 'Created' : 'Refreshed'} the read-only account ${r.user} on ${ctx.engine}/${ctx.name}; its password is in the ${backend === 'keychain' ? 'OS keychain' : 'encrypted secret file'}.${r.account.unenforced ? ` WARNING: ${r.account.unenforced}.` : ''}`,
  };
}

/** JSON-safe cell values: dates as ISO text, bytes as base64, big integers as text. */
export function jsonCell(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (Buffer.isBuffer(v) || v instanceof Uint8Array) return { base64: Buffer.from(v).toString('base64') };
  if (typeof v === 'object') return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)));
  return v;
}

/** Keeps whole rows while the JSON stays under `maxBytes`; a single huge cell is cut with a marker. */
export function boundRows(rows: unknown[][], maxBytes: number): { rows: unknown[][]; cut: boolean } {
  const out: unknown[][] = [];
  let size = 2;
  for (const row of rows) {
    let r = row.map(jsonCell);
    let bytes = Buffer.byteLength(JSON.stringify(r)) + 1;
    if (out.length === 0 && bytes > maxBytes) {
      const per = Math.max(64, Math.floor(maxBytes / Math.max(1, r.length)) - 32);
      r = r.map((c) => {
        const s = typeof c === 'string' ? c : JSON.stringify(c);
        return s !== undefined && s.length > per ? `${s.slice(0, per)}…[cut]` : c;
      });
      bytes = Buffer.byteLength(JSON.stringify(r)) + 1;
    }
    if (size + bytes > maxBytes) return { rows: out, cut: true };
    out.push(r);
    size += bytes;
  }
  return { rows: out, cut: false };
}

function bounded(name: string, value: number | undefined, spec: { default: number; max: number }, min = 1): number {
  if (value === undefined) return spec.default;
  if (!Number.isInteger(value) || value < min || value > spec.max) throw new UsageError(`${name} must be an integer from ${min} to ${spec.max}.`, 'USAGE', `Omit it for the default (${spec.default}).`);
  return value;
}

export interface QueryOutcome {
  engine: string;
  instance: string;
  database?: string;
  account: string;
  columns: string[];
  rows: unknown[][];
  row_count: number;
  truncated: boolean;
  truncated_reason?: 'rows' | 'bytes';
  command?: string;
  /** Present when the server itself does not hold the account to reads (FerretDB, Elasticsearch without security): why. */
  read_only_note?: string;
}

export async function runQuery(target: Target & { database?: string; text: string; limit?: number; maxBytes?: number; timeoutMs?: number; via?: Via }): Promise<QueryOutcome> {
  const via = target.via ?? 'cli';
  const text = target.text;
  if (!text.trim()) throw new UsageError('The query is empty.', 'USAGE', 'Pass SQL (or one Redis command).');
  if (text.length > QUERY_LIMITS.textChars) throw new UsageError(`The query is longer than ${QUERY_LIMITS.textChars} characters.`, 'USAGE', 'Send a shorter query.');
  const maxRows = bounded('limit', target.limit, QUERY_LIMITS.rows);
  const maxBytes = bounded('max_bytes', target.maxBytes, QUERY_LIMITS.bytes, 1024);
  const timeoutMs = bounded('timeout_ms', target.timeoutMs, QUERY_LIMITS.timeoutMs, 100);
  const { engine, ctx } = await openRunning(target);
  const run = need(engine, 'query');
  if (target.database !== undefined) need(engine, 'validateIdentifier')('database', target.database);
  const where = { engine: ctx.engine, instance: ctx.name, ...(target.database ? { target: target.database } : {}), via, query: text.slice(0, 4000) };
  try {
    const account = await readonlyCredentials(engine, ctx, via);
    const r = await run(ctx, { ...(target.database !== undefined ? { database: target.database } : {}), text, ...(account ? { account } : {}), maxRows, timeoutMs });
    const b = boundRows(r.rows, maxBytes);
    const truncated = r.truncated || b.cut;
    await audit({ action: 'query', ...where, ok: true, detail: `${b.rows.length} rows${truncated ? ' (truncated)' : ''}` });
    return {
      engine: ctx.engine,
      instance: ctx.name,
      ...(target.database !== undefined ? { database: target.database } : {}),
      account: account?.user ?? 'read-only file (mode=ro, query_only)',
      columns: r.columns,
      rows: b.rows,
      row_count: b.rows.length,
      truncated,
      ...(truncated ? { truncated_reason: b.cut ? ('bytes' as const) : ('rows' as const) } : {}),
      ...(r.command ? { command: r.command } : {}),
      ...(account?.unenforced ? { read_only_note: account.unenforced } : {}),
    };
  } catch (err) {
    const e = toDbError(err);
    await audit({ action: 'query', ...where, ok: false, detail: `${e.code}: ${e.message.slice(0, 300)}` });
    if (e.code === 'PERMISSION_DENIED') {
      throw new DbError(`Refused by ${engine.info.displayName}: ${e.message}`, 'PERMISSION_DENIED', `Queries run as the read-only account (${has(engine, 'readonlyAccount') ? READONLY_USER : 'file opened read-only'}); the database itself refuses writes, server files and programs.`);
    }
    throw e;
  }
}

/** The compact text both faces print: a table (or the statement tag), then the row count and whether it was cut. */
export function renderQuery(r: QueryOutcome): string {
  const body = r.columns.length ? table(r.columns, r.rows.map((row) => row.map((c) => (c === null ? 'NULL' : typeof c === 'object' ? JSON.stringify(c) : String(c))))) : (r.command ?? 'OK');
  return `${body}\n(${r.row_count} rows${r.truncated ? `; cut by ${r.truncated_reason}: narrow the query or select fewer columns` : ''})${r.read_only_note ? `\nnote: ${r.read_only_note}` : ''}`;
}
