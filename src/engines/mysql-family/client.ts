import { spawn } from 'node:child_process';
import { access, constants, readFile, rm } from 'node:fs/promises';
import { delimiter, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { InstanceContext } from '../contract.js';
import { programDirs } from '../../core/install/local.js';
import { DbError } from '../../core/errors.js';
import { SERVER_CERT, SERVER_KEY } from '../../core/tls.js';

export type FlavourId = 'mysql' | 'mariadb';

/** What differs between the two servers of the family. */
export interface Flavour {
  id: FlavourId;
  displayName: string;
  server: string[];
  client: string[];
  dump: string[];
  admin: string[];
  installDb: string[];
}

export const FLAVOURS: Record<FlavourId, Flavour> = {
  mysql: {
    id: 'mysql',
    displayName: 'MySQL',
    server: ['mysqld'],
    client: ['mysql'],
    dump: ['mysqldump'],
    admin: ['mysqladmin'],
    installDb: [],
  },
  mariadb: {
    id: 'mariadb',
    displayName: 'MariaDB',
    server: ['mariadbd', 'mysqld'],
    client: ['mariadb', 'mysql'],
    dump: ['mariadb-dump', 'mysqldump'],
    admin: ['mariadb-admin', 'mysqladmin'],
    installDb: ['mariadb-install-db', 'mysql_install_db'],
  },
};

/** The superuser every instance is initialised with (root over TCP to 127.0.0.1, password auth). */
export const SUPERUSER = 'root';

type Mysql2 = typeof import('mysql2/promise');
let driver: Promise<Mysql2> | undefined;
export function loadMysql(): Promise<Mysql2> {
  driver ??= import('mysql2/promise').then((m) => ((m as unknown as { default?: Mysql2 }).default ?? m) as Mysql2);
  return driver;
}

function startHint(ctx: InstanceContext): string {
  return `Start it with \`portunix-db start ${ctx.engine}${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

export { SERVER_CERT, SERVER_KEY };

/**
 * The instance's certificate and key live in its data dir, owned by the service user (the
 * server reads them there); the certificate is its own CA, which the tool's clients pin.
 */
export function serverCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_CERT);
}

export function serverKeyPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_KEY);
}

/**
 * The instance's self-signed certificate, or undefined for an instance made without TLS (before
 * TLS was the default, or without openssl): only then do the tool's clients go without TLS.
 */
export async function instanceCertificate(ctx: Pick<InstanceContext, 'paths'>): Promise<{ path: string; pem: string } | undefined> {
  const path = serverCertPath(ctx);
  try {
    return { path, pem: await readFile(path, 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DbError(`Cannot read the server certificate ${path}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Run portunix-db as the user that installed the instance (or root).');
  }
}

/** Maps mysql2 errors to a few codes with next steps; never leaks a stack trace. */
export function mapMysqlError(err: unknown, ctx: InstanceContext, database?: string): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: string; errno?: number; message?: string; sqlMessage?: string };
  const msg = e.sqlMessage ?? e.message ?? String(err);
  if ((e.code && /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|HANDSHAKE_NO_SSL_SUPPORT/.test(e.code))) {
    return new DbError(
      `TLS to ${ctx.engine}/${ctx.name} on 127.0.0.1:${ctx.config.port} failed: ${msg}`,
      'CONNECTION_FAILED',
      `The server must present the certificate in ${serverCertPath(ctx)} (ssl-cert in ${ctx.paths.configFile}); another server may be listening on this port.`,
    );
  }
  if (e.code === 'ER_SECURE_TRANSPORT_REQUIRED' || /insecure transport/i.test(msg)) {
    return new DbError(
      `${ctx.engine}/${ctx.name} refuses connections without TLS (require_secure_transport), and this instance has no certificate at ${serverCertPath(ctx)}: ${msg}`,
      'CONNECTION_FAILED',
      `Put the instance's certificate back at ${serverCertPath(ctx)}, or remove require_secure_transport from ${ctx.paths.configFile} and restart it.`,
    );
  }
  switch (e.code) {
    case 'ECONNREFUSED':
    case 'PROTOCOL_CONNECTION_LOST':
    case 'ECONNRESET':
      return new DbError(`Instance ${ctx.engine}/${ctx.name} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', startHint(ctx));
    case 'ETIMEDOUT':
      return new DbError(`Connecting to ${ctx.engine}/${ctx.name} on 127.0.0.1:${ctx.config.port} timed out.`, 'TIMEOUT', `Look at \`portunix-db logs ${ctx.engine}\`.`);
    case 'ER_ACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return new DbError(`Authentication failed on ${ctx.engine}/${ctx.name}: ${msg}`, 'AUTH_FAILED', 'The stored root password no longer matches; reset it, or re-install the instance.');
    case 'ER_BAD_DB_ERROR':
      return new DbError(`Database "${database ?? '?'}" does not exist on ${ctx.engine}/${ctx.name}.`, 'NOT_FOUND', `List databases with \`portunix-db list --type ${ctx.engine}\`.`);
    case 'ER_DB_CREATE_EXISTS':
    case 'ER_TABLE_EXISTS_ERROR':
      return new DbError(msg, 'ALREADY_EXISTS');
    case 'ER_NO_SUCH_TABLE':
    case 'ER_DB_DROP_EXISTS':
    case 'ER_NONEXISTING_GRANT':
    case 'ER_NONEXISTING_TABLE_GRANT':
      return new DbError(msg, 'NOT_FOUND');
    case 'ER_CANNOT_USER':
      return new DbError(msg, /CREATE USER/i.test(msg) ? 'ALREADY_EXISTS' : 'NOT_FOUND');
    case 'ER_UNKNOWN_CHARACTER_SET':
    case 'ER_UNKNOWN_COLLATION':
    case 'ER_COLLATION_CHARSET_MISMATCH':
      return new DbError(msg, 'USAGE', 'List valid names with SHOW CHARACTER SET / SHOW COLLATION.');
    case 'ER_RECORD_FILE_FULL':
    case 'ER_DISK_FULL':
      return new DbError(`The server's disk is full: ${msg}`, 'DISK_FULL', 'Free disk space on the data directory volume.');
    default:
      if (/No space left on device/i.test(msg)) return new DbError(`The server's disk is full: ${msg}`, 'DISK_FULL', 'Free disk space on the data directory volume.');
      return new DbError(msg, 'QUERY_FAILED');
  }
}

type ConnectOptions = { timeoutMs?: number; multipleStatements?: boolean; account?: { user: string; password: string } };

/**
 * A connection as root over TCP to 127.0.0.1; over TLS verified against the instance's own
 * certificate (chain and the 127.0.0.1 subjectAltName) when it has one. The caller ends it.
 */
async function openConnection(ctx: InstanceContext, database: string | undefined, options: ConnectOptions): Promise<Connection> {
  const mysql = await loadMysql();
  const cert = await instanceCertificate(ctx);
  let conn: Connection;
  try {
    conn = await mysql.createConnection({
      ...(cert ? { ssl: { ca: cert.pem, rejectUnauthorized: true } } : {}),
      host: '127.0.0.1',
      port: ctx.config.port,
      user: options.account?.user ?? ctx.config.superuser ?? SUPERUSER,
      password: options.account?.password ?? (await ctx.adminPassword()),
      ...(database ? { database } : {}),
      connectTimeout: options.timeoutMs ?? 5000,
      multipleStatements: options.multipleStatements ?? false,
      supportBigNumbers: true,
      bigNumberStrings: false,
      dateStrings: true,
      charset: 'utf8mb4',
    });
  } catch (err) {
    const mapped = mapMysqlError(err, ctx, database);
    // MariaDB answers a login over plain TCP with "Access denied" when it requires TLS
    if (!cert && mapped.code === 'AUTH_FAILED') {
      throw new DbError(mapped.message, mapped.code, `${mapped.hint ?? ''} If the server requires TLS (require_secure_transport in ${ctx.paths.configFile}), its certificate must be at ${serverCertPath(ctx)}.`.trim());
    }
    throw mapped;
  }
  // a server that dies mid-query emits 'error' on the connection; without a listener node crashes
  conn.on('error', () => undefined);
  return conn;
}

/** A short-lived connection (see openConnection), ended when `fn` settles. */
export async function withConnection<T>(ctx: InstanceContext, database: string | undefined, fn: (conn: Connection) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  return withConnections(ctx, 1, ([conn]) => fn(conn!), database, options);
}

/** `count` connections opened at once (not one after another: each costs a TLS handshake), all ended when `fn` settles. */
export async function withConnections<T>(ctx: InstanceContext, count: number, fn: (conns: Connection[]) => Promise<T>, database?: string, options: ConnectOptions = {}): Promise<T> {
  const opened = await Promise.allSettled(Array.from({ length: count }, () => openConnection(ctx, database, options)));
  const conns = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
  const end = () => Promise.all(conns.map((c) => c.end().catch(() => c.destroy())));
  const failed = opened.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (failed) {
    await end();
    throw failed.reason;
  }
  try {
    return await fn(conns);
  } catch (err) {
    throw mapMysqlError(err, ctx, database);
  } finally {
    await end();
  }
}

export async function query<T = RowDataPacket>(conn: Connection, sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await conn.query(sql, params);
  return rows as T[];
}

export function num(v: unknown): number | undefined {
  if (v === null || v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(() => true, () => false);
}

/** Where to look for the family's programs: the server's directory, its bin/sbin/scripts siblings, then PATH. */
export function searchDirs(binDir: string | undefined, clientBinDir?: string): string[] {
  const dirs: string[] = [];
  if (clientBinDir) dirs.push(clientBinDir);
  if (binDir) dirs.push(...programDirs(binDir));
  dirs.push(...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin');
  return [...new Set(dirs)];
}

/** The absolute path of the first of `names` found; a NOT_INSTALLED error naming them otherwise. */
export async function findProgram(ctx: InstanceContext, names: string[]): Promise<string> {
  for (const dir of searchDirs(ctx.config.bin_dir, ctx.config.client_bin_dir)) {
    for (const name of names) {
      const p = join(dir, name);
      if (await isExecutable(p)) return p;
    }
  }
  throw new DbError(`Cannot find ${names.join(' or ')} for ${ctx.engine}/${ctx.name}${ctx.config.bin_dir ? ` (looked in ${ctx.config.bin_dir} and PATH)` : ''}.`, 'NOT_INSTALLED', `Re-run \`portunix-db install ${ctx.engine}\` to install the server and client programs.`);
}

/**
 * The [client] option file of the client programs (mariadb-dump, mariadb, mysqldump, mysql).
 * Always TCP to 127.0.0.1 (host "localhost" would mean the socket); with a certificate, TLS
 * verified against it: MariaDB's clients check the chain and the 127.0.0.1 subjectAltName
 * (ssl-verify-server-cert), MySQL's the chain (ssl-mode=VERIFY_CA). Pure, for tests.
 */
export function renderClientOptions(options: { flavour: Pick<Flavour, 'id'>; user: string; password: string; port: number; ca?: string }): string {
  const tls = options.ca ? [`ssl-ca=${options.ca}`, ...(options.flavour.id === 'mariadb' ? ['ssl-verify-server-cert'] : ['ssl-mode=VERIFY_CA'])] : [];
  return ['[client]', `user=${options.user}`, `password=${options.password}`, 'host=127.0.0.1', `port=${options.port}`, 'protocol=TCP', 'default-character-set=utf8mb4', ...tls, ''].join('\n');
}

/**
 * Writes a 0600 client option file with the root credentials (and the TLS settings), runs `fn`
 * with its path and removes it afterwards. The password never goes in argv.
 */
export async function withClientOptionFile<T>(ctx: InstanceContext, flavour: Pick<Flavour, 'id'>, fn: (file: string) => Promise<T>): Promise<T> {
  const file = join(ctx.paths.runDir, `client-${process.pid}-${randomBytes(4).toString('hex')}.cnf`);
  if (ctx.config.port === undefined) throw new DbError(`${ctx.engine}/${ctx.name} has no port in its config.`, 'INVALID_CONFIG', 'Re-install the instance with --port.');
  const cert = await instanceCertificate(ctx);
  const content = renderClientOptions({ flavour, user: ctx.config.superuser ?? SUPERUSER, password: await ctx.adminPassword(), port: ctx.config.port, ...(cert ? { ca: cert.path } : {}) });
  await ctx.writePrivateFile(file, content);
  try {
    return await fn(file);
  } finally {
    await rm(file, { force: true });
  }
}

export function libEnv(ctx: InstanceContext): Record<string, string> {
  return ctx.config.lib_dir ? { LD_LIBRARY_PATH: [ctx.config.lib_dir, process.env['LD_LIBRARY_PATH'] ?? ''].filter(Boolean).join(':') } : {};
}

/**
 * Spawns a client program (as the tool's user) with a stdin stream and/or stdout stream.
 * Resolves with stderr; rejects with a redacted DbError on a non-zero exit.
 */
export function spawnClient(
  ctx: InstanceContext,
  argv: string[],
  options: { stdin?: NodeJS.ReadableStream; stdout?: NodeJS.WritableStream; redact?: string[] },
): Promise<{ stderr: string }> {
  const [program, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(program!, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...libEnv(ctx) } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 1_000_000) stderr += d.toString();
    });
    child.on('error', (err) => reject(new DbError(`Could not run ${program}: ${err.message}`, 'COMMAND_FAILED')));
    child.stdin.on('error', () => undefined);
    if (options.stdin) options.stdin.pipe(child.stdin);
    else child.stdin.end();
    if (options.stdout) {
      const out = options.stdout;
      child.stdout.pipe(out);
      // a destination that fails (a full disk under the backup) stops reading: end the program rather than leave it blocked on a full pipe
      out.on('close', () => {
        if (!child.stdout.readableEnded) child.kill();
      });
    } else child.stdout.resume();
    child.on('close', (code, signal) => {
      let text = stderr;
      for (const s of options.redact ?? []) if (s.length >= 4) text = text.split(s).join('********');
      if (code === 0) resolve({ stderr: text });
      else {
        const tail = text.trim().split('\n').filter((l) => !/Using a password/i.test(l)).slice(-8).join('\n');
        reject(new DbError(`${program!.split('/').pop()} failed (${signal ?? `exit ${code}`})${tail ? `: ${tail}` : ''}`, /No space left/i.test(tail) ? 'DISK_FULL' : 'COMMAND_FAILED'));
      }
    });
  });
}
