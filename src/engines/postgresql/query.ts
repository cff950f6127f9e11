/**
 * Read-only access for assistants. The account, not a parser, makes a query read-only: it holds
 * pg_read_all_data and nothing else, so a write, a server file, a program or a large object is
 * refused by PostgreSQL whatever the SQL looks like (`COMMIT; DROP ...`, a writable CTE,
 * `SET default_transaction_read_only = off; INSERT ...`, `COPY ... TO PROGRAM`, `pg_read_file`).
 */
import type pg from 'pg';
import type { InstanceContext, QueryAccount, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec, UpstreamConnection, UpstreamId } from '../contract.js';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { instanceCertificate, quoteIdent, SUPERUSER, validatePgIdentifier, withClient } from './client.js';
import { scramVerifier } from './admin.js';

const MAINTENANCE_DB = 'postgres';

/** Large-object functions that create, change or move data; revoked from PUBLIC in every database. */
export const LARGE_OBJECT_WRITERS = [
  'lo_create(oid)',
  'lo_creat(integer)',
  'lo_from_bytea(oid, bytea)',
  'lo_import(text)',
  'lo_import(text, oid)',
  'lo_export(oid, text)',
  'lo_put(oid, bigint, bytea)',
  'lowrite(integer, bytea)',
  'lo_truncate(integer, integer)',
  'lo_truncate64(integer, bigint)',
  'lo_unlink(oid)',
];

/** Roles that reach outside the database (or write everything); the read-only account is never a member. */
const FORBIDDEN_ROLES = ['pg_write_all_data', 'pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program', 'pg_signal_backend'];

export interface ReadonlyPlan {
  /** Run once per instance (role attributes, memberships, per-role settings). */
  server: string[];
  /** Run in every database that accepts connections, template1 included (so new databases inherit it). */
  perDatabase: string[];
}

/**
 * The statements, pure for tests. `role` and `others` arrive quoted; `others` are the other
 * non-superuser roles, which get back what is taken from PUBLIC.
 */
export function readonlyPlan(options: { role: string; others: string[]; serverVersionNum: number; statementTimeoutMs: number }): ReadonlyPlan {
  const { role, others } = options;
  const idleMs = Math.max(options.statementTimeoutMs * 2, 60_000);
  const server = [
    `ALTER ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT 20`,
    `GRANT pg_read_all_data TO ${role}`,
    ...FORBIDDEN_ROLES.map((r) => `REVOKE ${r} FROM ${role}`),
    `ALTER ROLE ${role} SET default_transaction_read_only = on`,
    `ALTER ROLE ${role} SET statement_timeout = ${Math.round(options.statementTimeoutMs)}`,
    `ALTER ROLE ${role} SET idle_in_transaction_session_timeout = ${idleMs}`,
    `ALTER ROLE ${role} SET lock_timeout = ${Math.round(options.statementTimeoutMs)}`,
  ];
  const functions = `FUNCTION ${LARGE_OBJECT_WRITERS.join(', ')}`;
  const perDatabase = [`REVOKE EXECUTE ON ${functions} FROM PUBLIC`, `REVOKE EXECUTE ON ${functions} FROM ${role}`];
  if (others.length) perDatabase.push(`GRANT EXECUTE ON ${functions} TO ${others.join(', ')}`);
  // before 15, PUBLIC may create tables in schema public: take it from PUBLIC (15's default), give it back to the others
  if (options.serverVersionNum < 150000) {
    perDatabase.push(`REVOKE CREATE ON SCHEMA public FROM PUBLIC`);
    if (others.length) perDatabase.push(`GRANT CREATE ON SCHEMA public TO ${others.join(', ')}`);
  }
  return { server, perDatabase };
}

export async function readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  const role = validatePgIdentifier('user', spec.user);
  const { created, plan, databases } = await withClient(ctx, MAINTENANCE_DB, async (c) => {
    const v = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]?.v ?? 0);
    if (v < 140000) throw new NotApplicableError(`PostgreSQL ${Math.floor(v / 10000)} has no pg_read_all_data role; read-only accounts need PostgreSQL 14 or newer.`, 'Upgrade the instance, or grant read access by hand with `portunix-db user grant <user> --privileges read`.');
    const exists = ((await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [spec.user])).rowCount ?? 0) > 0;
    // the SCRAM verifier, not the password, goes to the server
    const password = c.escapeLiteral(scramVerifier(spec.password));
    await c.query(exists ? `ALTER ROLE ${role} PASSWORD ${password}` : `CREATE ROLE ${role} LOGIN PASSWORD ${password}`);
    const others = (await c.query<{ rolname: string }>(`SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND NOT rolsuper AND rolname <> $1 ORDER BY rolname`, [spec.user])).rows.map((r) => quoteIdent(r.rolname));
    const plan = readonlyPlan({ role, others, serverVersionNum: v, statementTimeoutMs: spec.statementTimeoutMs });
    for (const sql of plan.server) await c.query(sql);
    const dbs = (await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname')).rows.map((r) => r.datname);
    return { created: !exists, plan, databases: dbs };
  });
  for (const db of databases) {
    await withClient(ctx, db, async (c) => {
      await c.query('BEGIN');
      for (const sql of plan.perDatabase) {
        if (sql.includes('SCHEMA public') && !(await hasPublicSchema(c))) continue;
        await c.query(sql);
      }
      await c.query('COMMIT');
    });
  }
  return {
    user: spec.user,
    created,
    enforcement: [
      'member of pg_read_all_data only (no pg_read_server_files, pg_write_server_files, pg_execute_server_program)',
      'large-object writers (lo_import, lo_export, lo_create, lo_from_bytea, lowrite, ...) not executable',
      'default_transaction_read_only = on',
      `statement_timeout = ${spec.statementTimeoutMs} ms, idle_in_transaction_session_timeout`,
    ],
  };
}

async function hasPublicSchema(c: pg.Client): Promise<boolean> {
  return ((await c.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'public'`)).rowCount ?? 0) > 0;
}

function requireAccount(ctx: InstanceContext, account: QueryAccount | undefined): QueryAccount {
  if (!account) throw new DbError(`Queries on ${ctx.engine}/${ctx.name} run only under the read-only account.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  return account;
}

export async function query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  const account = requireAccount(ctx, request.account);
  const database = request.database ?? MAINTENANCE_DB;
  validatePgIdentifier('database', database);
  return withClient(
    ctx,
    database,
    async (c) => {
      // the simple protocol: several statements are sent as the user wrote them, and the server judges each
      const raw = (await c.query({ text: request.text, rowMode: 'array' } as pg.QueryConfig)) as unknown as pg.QueryArrayResult | pg.QueryArrayResult[];
      const results = Array.isArray(raw) ? raw : [raw];
      const last = [...results].reverse().find((r) => r.fields && r.fields.length > 0) ?? results[results.length - 1];
      const rows = (last?.rows ?? []) as unknown[][];
      return {
        columns: (last?.fields ?? []).map((f) => f.name),
        rows: rows.slice(0, request.maxRows),
        truncated: rows.length > request.maxRows,
        ...(last?.command ? { command: `${last.command}${last.rowCount !== null && last.rowCount !== undefined ? ` ${last.rowCount}` : ''}` } : {}),
      };
    },
    { user: account.user, password: account.password, statementTimeoutMs: request.timeoutMs },
  );
}

export async function upstreamConnection(ctx: InstanceContext, options: { upstream: UpstreamId; account?: QueryAccount; database?: string }): Promise<UpstreamConnection> {
  if (options.upstream !== 'dbhub') throw new NotApplicableError(`PostgreSQL is served by DBHub, not the ${options.upstream} MCP server.`, 'Start the server with `--with dbhub`.');
  // no account: a server started with --allow-write as admin gives the upstream the superuser
  const account = options.account ?? { user: ctx.config.superuser ?? SUPERUSER, password: await ctx.adminPassword() };
  const database = options.database ?? MAINTENANCE_DB;
  validatePgIdentifier('database', database);
  const cert = await instanceCertificate(ctx);
  const dsn = `postgres://${encodeURIComponent(account.user)}:${encodeURIComponent(account.password)}@127.0.0.1:${ctx.config.port}/${encodeURIComponent(database)}`;
  return { upstream: 'dbhub', settings: { dsn, ...(cert ? { sslmode: 'verify-ca', sslrootcert: cert.path } : { sslmode: 'disable' }) } };
}
