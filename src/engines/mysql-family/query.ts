/**
 * Read-only access for assistants: an account with SELECT and SHOW VIEW on the user databases and
 * nothing else (no FILE, no PROCESS, no SUPER), so `/*! DROP ... *\/`, `INTO OUTFILE` and
 * `LOAD_FILE()` are refused (or answer NULL) by the server itself, whatever the SQL looks like.
 */
import type { Connection, FieldPacket } from 'mysql2/promise';
import type { InstanceContext, QueryAccount, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec, UpstreamConnection, UpstreamId } from '../contract.js';
import { DbError, NotApplicableError } from '../../core/errors.js';
import type { Flavour } from './client.js';
import { instanceCertificate, query as run, SUPERUSER, withConnection } from './client.js';
import { quoteIdent, validateMysqlIdentifier } from './identifiers.js';
import { SYSTEM_DATABASES } from './admin.js';

/** The statements, pure for tests. `account` arrives quoted; databases are raw names. */
export function readonlyGrants(options: { account: string; databases: string[]; flavour: Pick<Flavour, 'id'>; statementTimeoutMs: number }): string[] {
  const out = [`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${options.account}`];
  for (const db of options.databases) out.push(`GRANT SELECT, SHOW VIEW ON ${quoteIdent(db)}.* TO ${options.account}`);
  // MariaDB enforces a per-account statement time; MySQL's max_execution_time is set per session by the query path
  const seconds = Math.max(1, Math.round(options.statementTimeoutMs / 1000));
  out.push(options.flavour.id === 'mariadb' ? `ALTER USER ${options.account} WITH MAX_USER_CONNECTIONS 20 MAX_STATEMENT_TIME ${seconds}` : `ALTER USER ${options.account} WITH MAX_USER_CONNECTIONS 20`);
  return out;
}

export async function readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec, flavour: Flavour): Promise<ReadonlyAccountOutcome> {
  const account = validateMysqlIdentifier('user', spec.user);
  return withConnection(ctx, undefined, async (c) => {
    const exists = (await run(c, `SELECT 1 FROM mysql.user WHERE User = ? AND Host = '%'`, [spec.user])).length > 0;
    // the password goes as a bound parameter, never pasted into the statement text
    await c.query(exists ? `ALTER USER ${account} IDENTIFIED BY ?` : `CREATE USER ${account} IDENTIFIED BY ?`, [spec.password]);
    const dbs = (await run<{ name: string }>(c, 'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA WHERE SCHEMA_NAME NOT IN (?) ORDER BY SCHEMA_NAME', [SYSTEM_DATABASES])).map((r) => r.name);
    for (const sql of readonlyGrants({ account, databases: dbs, flavour, statementTimeoutMs: spec.statementTimeoutMs })) await c.query(sql);
    return {
      user: spec.user,
      created: !exists,
      enforcement: [
        `SELECT, SHOW VIEW on ${dbs.length ? dbs.join(', ') : '(no user databases yet)'}; no FILE, PROCESS or SUPER; no access to the mysql schema`,
        flavour.id === 'mariadb' ? `MAX_STATEMENT_TIME ${Math.max(1, Math.round(spec.statementTimeoutMs / 1000))} s` : 'max_execution_time per session',
      ],
    };
  });
}

/** Errors of the read-only account: a refusal is PERMISSION_DENIED, not an authentication problem. */
const REFUSALS = new Set(['ER_TABLEACCESS_DENIED_ERROR', 'ER_DBACCESS_DENIED_ERROR', 'ER_SPECIFIC_ACCESS_DENIED_ERROR', 'ER_COLUMNACCESS_DENIED_ERROR', 'ER_PROCACCESS_DENIED_ERROR', 'ER_ACCESS_DENIED_ERROR', 'ER_OPTION_PREVENTS_STATEMENT', 'ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION', 'ER_USER_LIMIT_REACHED']);

function mapQueryError(err: unknown): unknown {
  const e = err as { code?: string; sqlMessage?: string; message?: string };
  if (e.code && REFUSALS.has(e.code)) return new DbError(e.sqlMessage ?? e.message ?? String(err), 'PERMISSION_DENIED');
  if (e.code === 'ER_STATEMENT_TIMEOUT' || e.code === 'ER_QUERY_TIMEOUT' || e.code === 'ER_QUERY_INTERRUPTED') return new DbError(e.sqlMessage ?? String(err), 'TIMEOUT');
  if (e.code && e.code.startsWith('ER_')) return new DbError(e.sqlMessage ?? e.message ?? String(err), 'QUERY_FAILED');
  return err;
}

export async function query(ctx: InstanceContext, request: QueryRequest, flavour: Flavour): Promise<QueryResult> {
  const account = request.account;
  if (!account) throw new DbError(`Queries on ${ctx.engine}/${ctx.name} run only under the read-only account.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  if (request.database) validateMysqlIdentifier('database', request.database);
  return withConnection(
    ctx,
    request.database,
    async (c: Connection) => {
      try {
        // bounds the server enforces: rows returned by a SELECT, and time
        await c.query(`SET SESSION sql_select_limit = ${request.maxRows + 1}`);
        const ms = Math.max(1000, Math.round(request.timeoutMs));
        await c.query(flavour.id === 'mariadb' ? `SET SESSION max_statement_time = ${ms / 1000}` : `SET SESSION max_execution_time = ${ms}`);
        const [raw, fields] = (await c.query({ sql: request.text, rowsAsArray: true, timeout: ms + 5000 })) as unknown as [unknown, FieldPacket[] | FieldPacket[][] | undefined];
        // several statements answer with one result per statement: the last one with columns is shown
        const multi = Array.isArray(fields) && Array.isArray(fields[0]);
        const sets = multi ? (raw as unknown[]).map((r, i) => ({ rows: r, fields: (fields as FieldPacket[][])[i] })) : [{ rows: raw, fields: fields as FieldPacket[] | undefined }];
        const last = [...sets].reverse().find((s) => Array.isArray(s.rows) && s.fields) ?? sets[sets.length - 1]!;
        const rows = Array.isArray(last.rows) ? (last.rows as unknown[][]) : [];
        const affected = !Array.isArray(last.rows) ? (last.rows as { affectedRows?: number }).affectedRows : undefined;
        return {
          columns: (last.fields ?? []).map((f) => f.name),
          rows: rows.slice(0, request.maxRows),
          truncated: rows.length > request.maxRows,
          ...(affected !== undefined ? { command: `OK ${affected}` } : {}),
        };
      } catch (err) {
        throw mapQueryError(err);
      }
    },
    { account, multipleStatements: true },
  );
}

export async function upstreamConnection(ctx: InstanceContext, options: { upstream: UpstreamId; account?: QueryAccount; database?: string }, flavour: Flavour): Promise<UpstreamConnection> {
  if (options.upstream !== 'dbhub') throw new NotApplicableError(`${flavour.displayName} is served by DBHub, not the ${options.upstream} MCP server.`, 'Start the server with `--with dbhub`.');
  // no account: a server started with --allow-write as admin gives the upstream root
  const account = options.account ?? { user: ctx.config.superuser ?? SUPERUSER, password: await ctx.adminPassword() };
  if (options.database) validateMysqlIdentifier('database', options.database);
  const cert = await instanceCertificate(ctx);
  const scheme = flavour.id === 'mariadb' ? 'mariadb' : 'mysql';
  const dsn = `${scheme}://${encodeURIComponent(account.user)}:${encodeURIComponent(account.password)}@127.0.0.1:${ctx.config.port}/${options.database ? encodeURIComponent(options.database) : ''}`;
  // DBHub verifies certificates for PostgreSQL only; for this family it encrypts without pinning (loopback only)
  return { upstream: 'dbhub', settings: { dsn, sslmode: cert ? 'require' : 'disable' } };
}

