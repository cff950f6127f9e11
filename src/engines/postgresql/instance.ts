import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceContext, LaunchSpec } from '../contract.js';
import { DbError } from '../../core/errors.js';
import { generatePassword } from '../../core/secrets.js';
import { SUPERUSER, withClient } from './client.js';
import { makeServerCertificate, publicCertPath, SERVER_CERT, SERVER_KEY } from '../../core/tls.js';
import { shellQuote } from '../../core/install/plan.js';

/** Name of the file we own inside the data dir; postgresql.conf includes it. */
export const PORTUNIX_CONF = 'portunix.conf';

/** Unix socket paths are limited to 107 bytes (sun_path), counting the ".s.PGSQL.<port>.lock" file name. */
const SUN_PATH_MAX = 107;

/**
 * Where the server puts its Unix socket. Normally the instance's run dir; when that path is
 * too long for sun_path (deep PORTUNIX_HOME, long temp dirs), a short directory under /tmp
 * keyed by a hash of the data dir, so each instance still gets its own socket dir.
 */
export function socketDir(ctx: Pick<InstanceContext, 'paths' | 'config'>): string {
  if (process.platform === 'win32') return '';
  const preferred = ctx.paths.runDir;
  const longest = join(preferred, `.s.PGSQL.${ctx.config.port ?? 5432}.lock`);
  if (Buffer.byteLength(longest) <= SUN_PATH_MAX) return preferred;
  const key = createHash('sha256').update(ctx.paths.dataDir).digest('hex').slice(0, 16);
  return `/tmp/portunix-db-${key}`;
}

async function ensureOwnedDir(ctx: InstanceContext, dir: string): Promise<void> {
  if (!dir) return;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (ctx.runAs) await chown(dir, ctx.runAs.uid, ctx.runAs.gid);
}

/** Writes a file in the data dir owned by the service user (the server must read it). */
async function writeOwned(ctx: InstanceContext, path: string, content: string, mode = 0o600): Promise<void> {
  await writeFile(path, content, { mode });
  if (ctx.runAs) await chown(path, ctx.runAs.uid, ctx.runAs.gid);
}

function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

export { SERVER_CERT, SERVER_KEY, publicCertPath } from '../../core/tls.js';

/** The instance's certificate in the data dir (copies of the data dir, e.g. scratch servers, carry it): what the tool's own clients trust. */
export function serverCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_CERT);
}

export function renderPortunixConf(options: { port: number; socketDir: string; tls?: { certFile: string; keyFile: string } }): string {
  const tls = options.tls
    ? [
        '# TLS on every TCP connection (pg_hba.conf rejects TCP without it); self-signed certificate made at initialisation',
        'ssl = on',
        `ssl_cert_file = ${confString(options.tls.certFile)}`,
        `ssl_key_file = ${confString(options.tls.keyFile)}`,
        "ssl_min_protocol_version = 'TLSv1.2'",
      ]
    : ['# no TLS: openssl was not available when this instance was initialised'];
  return [
    '# Written by portunix-db at initialisation. Change settings with',
    '# `portunix-db config set postgresql <name> <value>` (ALTER SYSTEM), not here.',
    "listen_addresses = '127.0.0.1'",
    `port = ${options.port}`,
    `unix_socket_directories = ${confString(options.socketDir)}`,
    "unix_socket_permissions = 0700",
    "password_encryption = 'scram-sha-256'",
    '# the supervisor captures stderr into the instance log',
    "log_destination = 'stderr'",
    'logging_collector = off',
    "log_line_prefix = '%m [%p] %q%u@%d '",
    "shared_preload_libraries = ''",
    ...tls,
    '',
  ].join('\n');
}

/**
 * Only scram-sha-256, only loopback and the local socket; no `trust` anywhere. With TLS, TCP
 * connections must use it (`hostssl`), and TCP without TLS is rejected outright; the Unix
 * socket (mode 0700, not a network) stays without TLS. Pure, for tests.
 */
export function renderHba(options: { tls: boolean } = { tls: true }): string {
  if (!options.tls) {
    return [
      '# Written by portunix-db: scram-sha-256 only, loopback only. No trust authentication.',
      '# No TLS: openssl was not available when this instance was initialised.',
      '# TYPE  DATABASE     USER  ADDRESS        METHOD',
      'local   all          all                  scram-sha-256',
      'host    all          all   127.0.0.1/32   scram-sha-256',
      'host    all          all   ::1/128        scram-sha-256',
      'local   replication  all                  scram-sha-256',
      'host    replication  all   127.0.0.1/32   scram-sha-256',
      'host    replication  all   ::1/128        scram-sha-256',
      '',
    ].join('\n');
  }
  return [
    '# Written by portunix-db: scram-sha-256 only, loopback only, TCP only over TLS. No trust authentication.',
    '# TYPE     DATABASE     USER  ADDRESS        METHOD',
    'local      all          all                  scram-sha-256',
    'hostssl    all          all   127.0.0.1/32   scram-sha-256',
    'hostssl    all          all   ::1/128        scram-sha-256',
    'local      replication  all                  scram-sha-256',
    'hostssl    replication  all   127.0.0.1/32   scram-sha-256',
    'hostssl    replication  all   ::1/128        scram-sha-256',
    '# TCP without TLS is refused, whatever the address',
    'hostnossl  all          all   all            reject',
    'hostnossl  replication  all   all            reject',
    '',
  ].join('\n');
}

export async function initialize(ctx: InstanceContext): Promise<void> {
  const dataDir = ctx.paths.dataDir;
  const port = ctx.config.port;
  if (port === undefined) throw new DbError(`Instance ${ctx.engine}/${ctx.name} has no port.`, 'INVALID_CONFIG', 'Re-install it with --port.');
  const existing = await readFile(join(dataDir, 'PG_VERSION'), 'utf8').catch(() => undefined);
  if (existing) {
    throw new DbError(`${dataDir} already holds a PostgreSQL ${existing.trim()} cluster.`, 'DATA_DIR_CONFLICT', 'Choose another --data-dir, or move that directory away. Nothing was changed.');
  }
  await ensureOwnedDir(ctx, dataDir);

  const password = generatePassword();
  // initdb reads the superuser password from a file; it lives only for the duration of initdb
  const pwfile = join(ctx.paths.root, `.initdb-pw-${randomBytes(6).toString('hex')}`);
  await ctx.writePrivateFile(pwfile, password + '\n', { ownedByServiceUser: true });
  try {
    ctx.progress(`initdb: creating the cluster in ${dataDir}`);
    await ctx.exec(
      ['initdb', '-D', dataDir, '-U', SUPERUSER, '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C'],
      { env: { LC_ALL: 'C', LANG: 'C' }, timeoutMs: 5 * 60_000 },
    );
  } finally {
    await rm(pwfile, { force: true });
  }
  await ctx.setAdminPassword(password);

  await writeInstanceFiles(ctx);
  // postgresql.conf is initdb's (owned by the service user); appending keeps its owner
  await appendFile(join(dataDir, 'postgresql.conf'), `\n# Added by portunix-db: its settings (listen address, port, sockets, logging)\ninclude '${PORTUNIX_CONF}'\n`);
}

/**
 * The instance's own files in its data dir: a new TLS certificate, the socket dir, portunix.conf
 * (port, sockets, TLS) and pg_hba.conf. Made at initialisation, and again for a data dir made
 * from another instance's snapshot (`restore --as-instance`), which must not keep that one's.
 */
export async function writeInstanceFiles(ctx: InstanceContext): Promise<void> {
  const dataDir = ctx.paths.dataDir;
  const port = ctx.config.port;
  if (port === undefined) throw new DbError(`Instance ${ctx.engine}/${ctx.name} has no port.`, 'INVALID_CONFIG', 'Re-install it with --port.');
  await rm(join(dataDir, SERVER_CERT), { force: true });
  await rm(join(dataDir, SERVER_KEY), { force: true });
  const tls = !!(await makeServerCertificate(ctx, dataDir));
  const sockets = socketDir(ctx);
  await ensureOwnedDir(ctx, sockets);
  // relative paths: the data dir's own files, also in copies of it (scratch servers, restored snapshots)
  await writeOwned(ctx, join(dataDir, PORTUNIX_CONF), renderPortunixConf({ port, socketDir: sockets, ...(tls ? { tls: { certFile: SERVER_CERT, keyFile: SERVER_KEY } } : {}) }));
  await writeOwned(ctx, join(dataDir, 'pg_hba.conf'), renderHba({ tls }));
}

/**
 * After a crash (kill -9), postmaster.pid still names the dead postmaster; until its parent
 * reaps it, the zombie answers kill(pid, 0) and the new postmaster refuses to start ("lock file
 * already exists"). Waits, briefly, for such a zombie to go. Linux only (/proc).
 */
async function waitForDeadPostmaster(dataDir: string, timeoutMs = 10_000): Promise<void> {
  if (process.platform !== 'linux') return;
  const text = await readFile(join(dataDir, 'postmaster.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) return;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state !== 'Z' && state !== 'X') return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function launchSpec(ctx: InstanceContext): Promise<LaunchSpec> {
  // the socket dir may be a /tmp dir that a reboot removed
  await ensureOwnedDir(ctx, socketDir(ctx));
  await waitForDeadPostmaster(ctx.paths.dataDir);
  const postgres = ctx.config.bin_dir ? join(ctx.config.bin_dir, 'postgres') : 'postgres';
  return { argv: [postgres, '-D', ctx.paths.dataDir], env: { LC_ALL: 'C', LANG: 'C' } };
}

export async function isReady(ctx: InstanceContext): Promise<boolean> {
  try {
    await withClient(ctx, 'postgres', (c) => c.query('SELECT 1'), { timeoutMs: 2000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * What `pg_ctl -w` reads: postmaster.pid names the postmaster (line 1) and, since PostgreSQL 10
 * (every version we run), its state (line 8): "starting", "ready", "standby" (a hot standby
 * takes read-only connections) or "stopping"; the line is missing until the postmaster writes
 * it. A file left by a dead server names another pid, so the pid must be the one we started.
 */
export function postmasterReady(text: string, pid: number): boolean {
  const lines = text.split('\n');
  if (Number(lines[0]) !== pid) return false;
  const state = lines[7]?.trim();
  return state === 'ready' || state === 'standby';
}

export async function readyState(ctx: InstanceContext, pid: number): Promise<boolean> {
  const text = await readFile(join(ctx.paths.dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
  return text !== undefined && postmasterReady(text, pid);
}

/** The server rewrites postmaster.pid's state line in place and removes the file on exit: its directory announces both. */
export function readyWatch(ctx: InstanceContext): string[] {
  return [ctx.paths.dataDir];
}

/** Fast shutdown: SIGINT to the postmaster named in postmaster.pid (no pg_ctl needed; portable builds may lack it). */
export async function shutdown(ctx: InstanceContext): Promise<void> {
  const text = await readFile(join(ctx.paths.dataDir, 'postmaster.pid'), 'utf8');
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) throw new DbError('postmaster.pid has no pid', 'INTERNAL');
  process.kill(pid, 'SIGINT');
}

export async function serverVersion(ctx: InstanceContext): Promise<string> {
  return withClient(ctx, 'postgres', async (c) => {
    const r = await c.query<{ server_version: string }>('SHOW server_version');
    // "15.8 (Debian 15.8-1.pgdg120+1)" -> "15.8"
    return (r.rows[0]?.server_version ?? '').split(' ')[0] ?? '';
  });
}

/**
 * The URL users paste into psql or node-postgres. With TLS it pins the instance's own
 * certificate: `sslmode=verify-full&sslrootcert=<copy of server.crt>`. verify-full is the one
 * mode both understand the same way: libpq (14+, which matches IP subjectAltNames) checks the
 * chain and that 127.0.0.1 is in the certificate; node-postgres 8 treats require/verify-ca as
 * verify-full anyway and warns about them, but not about verify-full. libpq 13 and older cannot
 * match an IP address: with them use `sslmode=verify-ca` (same pinned certificate, no name check).
 */
export function connectionUrl(ctx: InstanceContext, options: { database?: string; showPassword: boolean; password: string }): string {
  const user = ctx.config.superuser ?? SUPERUSER;
  const secret = options.showPassword ? encodeURIComponent(options.password) : '****';
  const base = `postgresql://${encodeURIComponent(user)}:${secret}@127.0.0.1:${ctx.config.port}/${encodeURIComponent(options.database ?? 'postgres')}`;
  const ca = existsSync(publicCertPath(ctx)) ? publicCertPath(ctx) : existsSync(serverCertPath(ctx)) ? serverCertPath(ctx) : undefined;
  return ca ? `${base}?sslmode=verify-full&sslrootcert=${ca.split('/').map(encodeURIComponent).join('/')}` : base;
}

/** `psql "URL"`: the URL already carries sslmode=verify-full and sslrootcert. */
export function clientCommand(_ctx: InstanceContext, conn: { url: string; ca?: string }): string {
  return `psql ${shellQuote(conn.url)}`;
}
