import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { sleep } from '../../core/process/supervisor.js';
import { generatePassword } from '../../core/secrets.js';
import { makeServerCertificate, publicCertPath } from '../../core/tls.js';
import { shellQuote } from '../../core/install/plan.js';
import type { InstanceContext, LaunchSpec } from '../contract.js';
import { ADMIN_USER, AUTH_DB, instanceCertificate, loadDriver, mapMongoError, serverCertPath, serverPemPath, withMongo } from './client.js';
import { validateIdentifier } from './identifiers.js';
import { ferretDbFile, fullVersion, launchArgv, parseVersionOutput, renderMongodConf, serverLabel, type ServerIdentity } from './servers.js';

export function mongoBin(ctx: Pick<InstanceContext, 'config'>, program: string): string {
  return ctx.config.bin_dir ? join(ctx.config.bin_dir, program) : program;
}

function identityFile(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'server.json');
}

/** Runs `<bin_dir>/mongod --version` and says which server it is (mongod or FerretDB). */
export async function detectServer(ctx: InstanceContext): Promise<ServerIdentity> {
  const program = mongoBin(ctx, 'mongod');
  const r = await ctx.exec([program, '--version'], { timeoutMs: 30_000, allowFailure: true, asServiceUser: false });
  const id = parseVersionOutput(`${r.stdout}\n${r.stderr}`);
  if (!id) {
    throw new DbError(`${program} --version did not print a MongoDB or FerretDB version (exit ${r.code}): ${(r.stdout || r.stderr).trim().slice(0, 200)}`, 'COMMAND_FAILED', 'Install MongoDB again (`portunix-db install mongodb`), or point --bin-dir at a folder holding mongod.');
  }
  return id;
}

/** Which server this instance runs, recorded at initialisation (detected again if the record is missing). */
export async function serverIdentity(ctx: InstanceContext): Promise<ServerIdentity> {
  const text = await readFile(identityFile(ctx), 'utf8').catch(() => undefined);
  if (text) {
    const parsed = JSON.parse(text) as ServerIdentity;
    if (parsed.kind === 'mongod' || parsed.kind === 'ferretdb') return parsed;
  }
  return detectServer(ctx);
}

export async function label(ctx: InstanceContext): Promise<string> {
  const id = await serverIdentity(ctx);
  return serverLabel(id.kind, id.version);
}

function tlsFiles(ctx: InstanceContext): { cert: string; key: string; pem: string } | undefined {
  const cert = serverCertPath(ctx);
  return existsSync(cert) || existsSync(publicCertPath(ctx)) ? { cert, key: join(ctx.paths.dataDir, 'server.key'), pem: serverPemPath(ctx) } : undefined;
}

export async function initialize(ctx: InstanceContext): Promise<void> {
  if (ctx.config.source === 'container') {
    throw new NotApplicableError('A --source container instance runs mongod inside the official image; portunix-db does not supervise container instances.', 'Manage it with your container runtime, or install with --source apt/dnf/brew/download, --archive or --bin-dir for a managed instance.');
  }
  const id = await detectServer(ctx);
  await writeFile(identityFile(ctx), JSON.stringify(id) + '\n', { mode: 0o644 });
  const password = generatePassword();
  await ctx.setAdminPassword(password);
  const made = await makeServerCertificate(ctx, ctx.paths.dataDir);
  const tls = made ? { cert: made.cert, key: made.key, pem: serverPemPath(ctx) } : undefined;
  if (id.kind === 'mongod') {
    if (tls) await ctx.writePrivateFile(tls.pem, (await readFile(made!.cert, 'utf8')) + (await readFile(made!.key, 'utf8')), { ownedByServiceUser: true });
    await ctx.writePrivateFile(ctx.paths.configFile, renderMongodConf({ instance: ctx.name, port: ctx.config.port ?? 27017, dataDir: ctx.paths.dataDir, ...(tls ? { tls } : {}) }), { ownedByServiceUser: true });
    await bootstrapMongodAdmin(ctx, password);
  }
  ctx.progress(
    `${serverLabel(id.kind, id.version)}: ${tls ? `TLS only on port ${ctx.config.port} (${id.kind === 'mongod' ? 'requireTLS' : 'FerretDB TLS listener, no plain TCP'}), certificate ${publicCertPath(ctx)}` : `port ${ctx.config.port} without TLS`}, bind 127.0.0.1, SCRAM user "${ADMIN_USER}" in the admin database${id.kind === 'mongod' ? `, config ${ctx.paths.configFile}` : ', SQLite backend in the data dir'}`,
  );
}

/**
 * mongod with authorization on accepts one unauthenticated thing from localhost while it has
 * no users: creating the first one (the localhost exception). Start it once, create the admin
 * user (root role) over TLS, and shut it down again with that user.
 */
async function bootstrapMongodAdmin(ctx: InstanceContext, password: string): Promise<void> {
  const { MongoClient } = await loadDriver();
  const cert = await instanceCertificate(ctx);
  ctx.progress('starting mongod once to create the admin user (localhost exception)');
  const child = spawn(mongoBin(ctx, 'mongod'), ['--config', ctx.paths.configFile], {
    cwd: ctx.paths.dataDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...(ctx.config.lib_dir ? { LD_LIBRARY_PATH: ctx.config.lib_dir } : {}) },
    ...(ctx.runAs ? { uid: ctx.runAs.uid, gid: ctx.runAs.gid } : {}),
  });
  let output = '';
  let exited = false;
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-6000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-6000)));
  child.on('exit', () => (exited = true));
  const tlsOptions = cert ? { tls: true, ca: cert.pem } : {};
  try {
    const deadline = Date.now() + 120_000;
    for (;;) {
      if (exited) throw new DbError(`mongod exited while creating the admin user:\n${output.trim().split('\n').slice(-8).join('\n')}`, 'START_FAILED');
      const anon = new MongoClient(`mongodb://127.0.0.1:${ctx.config.port}/`, { directConnection: true, serverSelectionTimeoutMS: 1000, ...tlsOptions });
      try {
        await anon.connect();
        await anon.db(AUTH_DB).command({ createUser: ADMIN_USER, pwd: password, roles: [{ role: 'root', db: AUTH_DB }], mechanisms: ['SCRAM-SHA-256'] });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw mapMongoError(err, ctx);
      } finally {
        await anon.close(true).catch(() => undefined);
      }
      await sleep(250);
    }
    await withMongo(ctx, async (c) => c.admin({ shutdown: 1 }).catch(() => undefined));
    const stopBy = Date.now() + 60_000;
    while (!exited && Date.now() < stopBy) await sleep(100);
  } finally {
    if (!exited) child.kill('SIGKILL');
  }
}

export async function launchSpec(ctx: InstanceContext): Promise<LaunchSpec> {
  const id = await serverIdentity(ctx);
  const tls = tlsFiles(ctx);
  const argv = launchArgv(id.kind, { program: mongoBin(ctx, 'mongod'), port: ctx.config.port ?? 27017, dataDir: ctx.paths.dataDir, configFile: ctx.paths.configFile, ...(tls ? { tls } : {}) });
  if (id.kind === 'ferretdb') {
    // the first user comes from the environment, only while the admin database does not exist yet
    const env: Record<string, string> = existsSync(ferretDbFile(ctx.paths.dataDir, AUTH_DB)) ? {} : { FERRETDB_SETUP_PASSWORD: await ctx.adminPassword() };
    return { argv, env, cwd: ctx.paths.dataDir };
  }
  return { argv, cwd: ctx.paths.dataDir };
}

/** Ready once an authenticated `ping` answers (the driver runs `hello` first). */
export async function isReady(ctx: InstanceContext): Promise<boolean> {
  try {
    const r = await withMongo(ctx, (c) => c.admin({ ping: 1 }), { timeoutMs: 1500 });
    return r['ok'] === 1;
  } catch {
    return false;
  }
}

/**
 * mongod: the `shutdown` command (it flushes and closes its files; the connection drops as it
 * exits). FerretDB has no shutdown command and stops cleanly on SIGTERM: throwing here makes the
 * supervisor send it.
 */
export async function shutdown(ctx: InstanceContext): Promise<void> {
  const id = await serverIdentity(ctx);
  if (id.kind === 'ferretdb') throw new DbError('FerretDB stops on SIGTERM', 'NOT_APPLICABLE');
  await withMongo(ctx, async (c) => {
    try {
      await c.admin({ shutdown: 1, timeoutSecs: 30 });
    } catch (err) {
      const e = err as { name?: string; message?: string };
      if (!/MongoNetworkError|closed|ECONNRESET|interrupted/i.test(`${e.name} ${e.message}`)) throw err;
    }
  });
}

/** buildInfo's version; FerretDB adds `ferretdbVersion`, kept so that nothing calls it MongoDB. */
export async function serverVersion(ctx: InstanceContext): Promise<string> {
  return withMongo(ctx, async (c) => versionFromBuildInfo(await c.admin({ buildInfo: 1 })));
}

export function versionFromBuildInfo(info: Record<string, unknown>): string {
  const version = String(info['version'] ?? 'unknown');
  const ferret = info['ferretdbVersion'];
  return ferret ? fullVersion({ kind: 'ferretdb', version: String(ferret).replace(/^v/, ''), mongoVersion: version }) : version;
}

/**
 * `mongodb://admin:…@127.0.0.1:PORT/DB?authSource=admin&tls=true&tlsCAFile=…`: clients verify the
 * server against the instance's own certificate (the public copy, `<instance dir>/tls/server.crt`).
 */
export function connectionUrl(ctx: InstanceContext, options: { database?: string; showPassword: boolean; password: string }): string {
  const db = options.database !== undefined ? validateIdentifier('database', options.database) : '';
  const secret = options.showPassword ? encodeURIComponent(options.password) : '***';
  const tls = existsSync(publicCertPath(ctx)) || existsSync(serverCertPath(ctx));
  const query = [`authSource=${AUTH_DB}`, ...(tls ? ['tls=true', `tlsCAFile=${encodeURIComponent(publicCertPath(ctx))}`] : [])].join('&');
  return `mongodb://${ADMIN_USER}:${secret}@127.0.0.1:${ctx.config.port}/${db}?${query}`;
}

/** `mongosh "URL"`: the URL carries tls=true and tlsCAFile. */
export function clientCommand(_ctx: InstanceContext, conn: { url: string; ca?: string }): string {
  return `mongosh ${shellQuote(conn.url)}`;
}
