import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceContext } from '../contract.js';
import { DbError, toDbError } from '../../core/errors.js';
import { poolIdleMs, registerPoolCloser } from '../../core/pool.js';
import type pg from 'pg';

/** The superuser every portunix-db PostgreSQL instance is initialised with. */
export const SUPERUSER = 'postgres';

let driver: Promise<typeof pg> | undefined;
export function loadPg(): Promise<typeof pg> {
  driver ??= import('pg').then((m) => (m.default ?? m) as typeof pg);
  return driver;
}

/** Kept in sync with SERVER_CERT in instance.ts (which imports this module). */
const SERVER_CERT = 'server.crt';

/** Maps libpq/pg errors to a few codes with next steps; never leaks a stack trace. */
export function mapPgError(err: unknown, ctx: InstanceContext, database?: string): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; message?: string; errno?: number };
  const msg = e.message ?? String(err);
  // file-system errors raised inside a session callback (a copy, a write) keep their meaning
  if (typeof e.errno === 'number' && e.code && e.code !== 'ECONNREFUSED') return toDbError(err);
  if ((e.code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(e.code)) || /does not support SSL/.test(msg)) {
    return new DbError(
      `TLS to ${ctx.engine}/${ctx.name} on 127.0.0.1:${ctx.config.port} failed: ${msg}`,
      'CONNECTION_FAILED',
      `The server must present the certificate in ${join(ctx.paths.dataDir, SERVER_CERT)} with ssl = on (portunix.conf); another server may be listening on this port.`,
    );
  }
  switch (e.code) {
    case 'ECONNREFUSED':
      return new DbError(`Instance ${ctx.engine}/${ctx.name} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', `Start it with \`portunix-db start ${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`);
    case '28P01':
    case '28000':
      return new DbError(`Authentication failed on ${ctx.engine}/${ctx.name}: ${msg}`, 'AUTH_FAILED', 'The stored password no longer matches; reset it, or re-install the instance.');
    case '3D000':
      return new DbError(`Database "${database ?? '?'}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    case '42P04':
      return new DbError(msg, 'ALREADY_EXISTS');
    case '42P01':
    case '42704':
    case '3F000':
      return new DbError(msg, 'NOT_FOUND');
    case '42501':
    case '25006':
      return new DbError(msg, 'PERMISSION_DENIED');
    case '57014':
      return new DbError(msg, 'TIMEOUT', 'The statement ran past its time limit; narrow it (WHERE, LIMIT).');
    case '53100':
      return new DbError(`The server's disk is full: ${msg}`, 'DISK_FULL', 'Free disk space on the data directory volume.');
    case '55006':
      return new DbError(`${msg}`, 'QUERY_FAILED', 'Close the other sessions using it, then retry.');
    default:
      return new DbError(msg, 'QUERY_FAILED');
  }
}

/**
 * The instance's self-signed certificate (from its data dir, so a scratch server on a copy of the
 * data dir is checked against the copy's), or undefined for an instance made without TLS
 * (before TLS was the default, or without openssl): only then do clients go without TLS.
 */
export async function instanceCertificate(ctx: Pick<InstanceContext, 'paths'>): Promise<{ path: string; pem: string } | undefined> {
  const path = join(ctx.paths.dataDir, SERVER_CERT);
  try {
    return { path, pem: await readFile(path, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DbError(`Cannot read the server certificate ${path}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Run portunix-db as the user that installed the instance (or root).');
  }
}

interface PoolEntry {
  pool: pg.Pool;
  engine: string;
  instance: string;
}

/** Pools by instance, port, database, user and password digest (a changed password gets new connections). */
const pools = new Map<string, PoolEntry>();
/** Clients that have served a call: checked (and reset) with DISCARD ALL before the next. */
const used = new WeakSet<pg.Client>();

registerPoolCloser(async (engine, instance) => {
  const ending: Promise<void>[] = [];
  for (const [key, entry] of pools) {
    if (engine === '*' || (entry.engine === engine && entry.instance === instance)) {
      pools.delete(key);
      ending.push(entry.pool.end().catch(() => undefined));
    }
  }
  await Promise.all(ending);
});

/** Connections open in this process's pools (for tests and the bench). */
export function pooledConnections(): number {
  let n = 0;
  for (const e of pools.values()) n += e.pool.totalCount;
  return n;
}

type ClientConfig = ConstructorParameters<typeof pg.Client>[0] & object;

/**
 * A pooled session: a reused client is first reset and checked with DISCARD ALL (one round trip,
 * no authentication); one that fails it (the server restarted, the session was terminated, a
 * transaction left open) is dropped and a new one made. A call that fails with a server error
 * drops its client too: its session state is unknown.
 */
async function withPooled<T>(ctx: InstanceContext, database: string, config: ClientConfig, idle: number, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const key = `${ctx.engine}/${ctx.name}:${ctx.config.port}/${database}/${config.user}/${createHash('sha256').update(String(config.password)).digest('hex')}`;
  let entry = pools.get(key);
  if (!entry) {
    const { Pool } = await loadPg();
    entry = { pool: new Pool({ ...config, max: 4, idleTimeoutMillis: idle, allowExitOnIdle: true }), engine: ctx.engine, instance: ctx.name };
    // an idle client whose server went away emits 'error' on the pool; it is dropped from it
    entry.pool.on('error', () => undefined);
    entry.pool.on('connect', (client) => client.on('error', () => undefined));
    pools.set(key, entry);
  }
  let client: pg.PoolClient | undefined;
  for (let attempt = 0; !client; attempt++) {
    let c: pg.PoolClient;
    try {
      c = await entry.pool.connect();
    } catch (err) {
      throw mapPgError(err, ctx, database);
    }
    if (!used.has(c)) client = c;
    else {
      try {
        await c.query('DISCARD ALL');
        client = c;
      } catch (err) {
        c.release(err as Error);
        if (attempt > entry.pool.options.max!) throw mapPgError(err, ctx, database);
      }
    }
  }
  used.add(client);
  try {
    const out = await fn(client);
    client.release();
    return out;
  } catch (err) {
    client.release(err instanceof DbError ? undefined : (err as Error));
    throw mapPgError(err, ctx, database);
  }
}

/**
 * A short-lived connection as the superuser, over TCP to 127.0.0.1 with scram-sha-256, over TLS
 * verified against the instance's own certificate (chain and the 127.0.0.1 subjectAltName).
 */
export async function withClient<T>(ctx: InstanceContext, database: string, fn: (client: pg.Client) => Promise<T>, options: { user?: string; password?: string; timeoutMs?: number; statementTimeoutMs?: number } = {}): Promise<T> {
  const { Client } = await loadPg();
  const cert = await instanceCertificate(ctx);
  const config: ClientConfig = {
    ...(cert ? { ssl: { ca: cert.pem, rejectUnauthorized: true } } : {}),
    host: '127.0.0.1',
    port: ctx.config.port,
    user: options.user ?? ctx.config.superuser ?? SUPERUSER,
    password: options.password ?? (await ctx.adminPassword()),
    database,
    connectionTimeoutMillis: options.timeoutMs ?? 5000,
    statement_timeout: options.statementTimeoutMs ?? 10 * 60_000,
    ...(options.statementTimeoutMs ? { query_timeout: options.statementTimeoutMs + 5000 } : {}),
    application_name: 'portunix-db',
  };
  // pooled only in a long-running process, and only for the default session settings
  const idle = poolIdleMs();
  if (idle !== undefined && options.timeoutMs === undefined && options.statementTimeoutMs === undefined) return withPooled(ctx, database, config, idle, fn);
  const client = new Client(config);
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw mapPgError(err, ctx, database);
  }
  // a server that dies mid-query emits 'error' on the client; without a listener node crashes
  client.on('error', () => undefined);
  try {
    return await fn(client);
  } catch (err) {
    throw mapPgError(err, ctx, database);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Environment for libpq programs (pg_dump, pg_restore, psql): the password never goes in argv; TLS verified when the instance has a certificate. */
export async function libpqEnv(ctx: InstanceContext, database?: string): Promise<Record<string, string>> {
  const cert = await instanceCertificate(ctx);
  return {
    PGHOST: '127.0.0.1',
    PGPORT: String(ctx.config.port),
    PGUSER: ctx.config.superuser ?? SUPERUSER,
    PGPASSWORD: await ctx.adminPassword(),
    // verify-ca: the chain must end at the instance's own certificate (pg_dump may predate libpq 14's IP-SAN matching)
    ...(cert ? { PGSSLMODE: 'verify-ca', PGSSLROOTCERT: cert.path } : { PGSSLMODE: 'prefer' }),
    ...(database ? { PGDATABASE: database } : {}),
  };
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/;

/**
 * Identifiers are validated (printable, no quotes or control characters, at most 63 bytes)
 * and then always double-quoted, so they are never pasted into SQL.
 */
export function validatePgIdentifier(kind: string, name: string): string {
  if (!IDENT.test(name)) {
    throw new DbError(
      `Invalid PostgreSQL ${kind} name ${JSON.stringify(name)}.`,
      'INVALID_IDENTIFIER',
      'Use 1-63 characters: letters, digits, "_", "$" or "-", starting with a letter or "_".',
    );
  }
  return quoteIdent(name);
}

export function quoteIdent(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
