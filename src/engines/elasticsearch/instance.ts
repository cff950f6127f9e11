import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DbError } from '../../core/errors.js';
import { generatePassword } from '../../core/secrets.js';
import { curlCommand, makeServerCertificate } from '../../core/tls.js';
import { chownRecursive } from '../../core/process/service-user.js';
import type { InstanceContext, LaunchSpec } from '../contract.js';
import { ADMIN_USER, confDir, httpCertPath, nodeVersion, readState, stateFile, withEs, type EsInstanceState } from './client.js';
import { validateIdentifier } from './identifiers.js';

/** Elasticsearch 8 runs on Java 17 or newer (its own JavaVersionChecker refuses older ones). */
export const MIN_JAVA = 17;
export const DEFAULT_HEAP = '512m';

export function esHomeOf(ctx: Pick<InstanceContext, 'config'>): string {
  const bin = ctx.config.bin_dir ?? '/usr/share/elasticsearch/bin';
  return dirname(bin);
}

export function logsDir(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'logs');
}
/** path.repo: every snapshot repository portunix-db registers lives below it. */
export function repoRoot(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'snapshots');
}
export function ymlFile(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(confDir(ctx), 'elasticsearch.yml');
}
export function heapFile(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(confDir(ctx), 'jvm.options.d', 'heap.options');
}

/**
 * Elastic's default distribution (x-pack: machine learning, watcher... and a bundled JDK) runs
 * with security on; the Maven Central integ-test distribution (no bundled JDK, no x-pack
 * features beyond the security module) runs with security off, on loopback only.
 */
export function isDefaultDistribution(esHome: string): boolean {
  return existsSync(join(esHome, 'modules', 'x-pack-ml')) || existsSync(join(esHome, 'jdk', 'bin', 'java'));
}

/** The major version a JDK says it is, from its `release` file (JAVA_VERSION="17.0.15"). */
export function javaMajor(javaHome: string): number | undefined {
  try {
    const m = /^JAVA_VERSION="?(\d+)(?:\.(\d+))?/m.exec(readFileSync(join(javaHome, 'release'), 'utf8'));
    if (!m) return undefined;
    const major = Number(m[1]);
    return major === 1 ? Number(m[2]) : major;
  } catch {
    return undefined;
  }
}

export interface JavaChoice {
  home: string;
  from: 'ES_JAVA_HOME' | 'instance setting java_home' | 'JAVA_HOME' | 'bundled JDK';
}

/**
 * The JDK, the documented way: ES_JAVA_HOME, then the instance's recorded `java_home` (set at
 * install or with `config set elasticsearch java_home DIR`), then JAVA_HOME, then the
 * distribution's bundled jdk/. Pure apart from reading the file system, for tests.
 */
export function findJava(esHome: string, recorded: string | undefined, env: Record<string, string | undefined> = process.env): JavaChoice {
  const candidates: JavaChoice[] = [];
  if (env['ES_JAVA_HOME']) candidates.push({ home: env['ES_JAVA_HOME'], from: 'ES_JAVA_HOME' });
  if (recorded) candidates.push({ home: recorded, from: 'instance setting java_home' });
  if (env['JAVA_HOME']) candidates.push({ home: env['JAVA_HOME'], from: 'JAVA_HOME' });
  const bundled = process.platform === 'darwin' ? join(esHome, 'jdk.app', 'Contents', 'Home') : join(esHome, 'jdk');
  if (existsSync(join(bundled, 'bin', 'java'))) candidates.push({ home: bundled, from: 'bundled JDK' });
  const first = candidates[0];
  if (!first) {
    throw new DbError(
      `No Java for Elasticsearch: this distribution (${esHome}) has no bundled jdk/, and neither ES_JAVA_HOME nor JAVA_HOME is set.`,
      'START_FAILED',
      `Install a JDK ${MIN_JAVA} or newer and run with ES_JAVA_HOME=/path/to/jdk (it is recorded for the instance), or set it later with \`portunix-db config set elasticsearch java_home /path/to/jdk\`.`,
    );
  }
  if (!existsSync(join(first.home, 'bin', 'java'))) {
    throw new DbError(`${first.from} is ${first.home}, but ${join(first.home, 'bin', 'java')} does not exist.`, 'START_FAILED', `Point ${first.from === 'instance setting java_home' ? 'java_home' : first.from} at a JDK ${MIN_JAVA}+ directory (the one with bin/java).`);
  }
  const major = javaMajor(first.home);
  if (major !== undefined && major < MIN_JAVA) {
    throw new DbError(`${first.from} is Java ${major} (${first.home}); Elasticsearch 8 needs Java ${MIN_JAVA} or newer.`, 'START_FAILED', `Point ${first.from === 'instance setting java_home' ? 'java_home' : first.from} at a JDK ${MIN_JAVA}+.`);
  }
  return first;
}

/** YAML scalars as JSON strings (valid YAML, and safe for paths with spaces or colons). */
function y(value: string | number | boolean): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export interface RenderOptions {
  name: string;
  port: number;
  dataDir: string;
  logsDir: string;
  repoDir: string;
  security: boolean;
  /** Paths of the PEM certificate and key for HTTP TLS (security on). */
  tls?: { cert: string; key: string };
  /** Only the default distribution knows these settings (an unknown one stops the node). */
  defaultDistribution: boolean;
}

/**
 * Disk watermarks of a development node. ES's 85/90/95 % of a large shared developer disk refuse
 * to place restored shards (backup checks, verify, restore) with tens of GB still free; these keep
 * the full-disk protection nearer the end. Percentages, like ES's own, so that `config set ... 90%`
 * (a persistent cluster setting, which wins over this file) mixes with them: ES refuses a mix of
 * percentages and byte sizes across the three.
 */
export const DISK_WATERMARKS: readonly (readonly [string, string])[] = [
  ['cluster.routing.allocation.disk.watermark.low', '97%'],
  ['cluster.routing.allocation.disk.watermark.high', '98%'],
  ['cluster.routing.allocation.disk.watermark.flood_stage', '99%'],
];

/** The generated elasticsearch.yml (pure, for tests). No secret in it. */
export function renderConfig(o: RenderOptions): string {
  const lines = [
    `# Generated by portunix-db for elasticsearch/${o.name}.`,
    '# Cluster settings change live with `portunix-db config set elasticsearch NAME VALUE` (persistent cluster settings);',
    '# static node settings set that way are written here and need a restart.',
    `cluster.name: ${y(`portunix-${o.name}`)}`,
    `node.name: ${y(o.name)}`,
    'discovery.type: single-node',
    'network.host: 127.0.0.1',
    `http.port: ${o.port}`,
    `path.data: ${y(o.dataDir)}`,
    `path.logs: ${y(o.logsDir)}`,
    `path.repo: [${y(o.repoDir)}]`,
    'action.destructive_requires_name: true',
    ...DISK_WATERMARKS.map(([name, value]) => `${name}: ${value}`),
    `xpack.security.enabled: ${o.security}`,
  ];
  if (o.security && o.tls) {
    lines.push(
      'xpack.security.http.ssl.enabled: true',
      `xpack.security.http.ssl.certificate: ${y(o.tls.cert)}`,
      `xpack.security.http.ssl.key: ${y(o.tls.key)}`,
      'xpack.security.transport.ssl.enabled: false',
    );
  }
  if (o.defaultDistribution) lines.push('ingest.geoip.downloader.enabled: false', 'xpack.ml.enabled: false');
  return lines.join('\n') + '\n';
}

export function renderHeap(heap: string): string {
  return `# set by portunix-db (config set elasticsearch heap SIZE); needs a restart\n-Xms${heap}\n-Xmx${heap}\n`;
}

export const HEAP = /^[1-9][0-9]{0,5}[mMgG]$/;

async function writeState(ctx: InstanceContext, state: EsInstanceState): Promise<void> {
  await ctx.writePrivateFile(stateFile(ctx), JSON.stringify(state, null, 2) + '\n', { ownedByServiceUser: true });
}

export async function updateState(ctx: InstanceContext, change: Partial<EsInstanceState>): Promise<EsInstanceState> {
  const next = { ...readState(ctx), ...change };
  await writeState(ctx, next);
  return next;
}

/**
 * Makes the instance's own config directory (ES_PATH_CONF) from the distribution's, with our
 * elasticsearch.yml and heap; picks and records the JDK; on a default (x-pack) distribution
 * generates the elastic password (secret store + keystore bootstrap.password, via stdin) and a
 * self-signed certificate for HTTPS.
 */
export async function initialize(ctx: InstanceContext): Promise<void> {
  const esHome = esHomeOf(ctx);
  if (!existsSync(join(esHome, 'bin', 'elasticsearch'))) {
    throw new DbError(`${join(esHome, 'bin', 'elasticsearch')} does not exist.`, 'NOT_INSTALLED', 'Install from the distribution archive: `portunix-db install elasticsearch --archive elasticsearch-8.x.tar.gz`.');
  }
  const java = findJava(esHome, undefined);
  const conf = confDir(ctx);
  await cp(join(esHome, 'config'), conf, { recursive: true, force: true });
  for (const dir of [logsDir(ctx), repoRoot(ctx), join(ctx.paths.root, 'tmp'), join(conf, 'jvm.options.d')]) await mkdir(dir, { recursive: true, mode: 0o700 });
  const security = isDefaultDistribution(esHome);
  let tls: { cert: string; key: string } | undefined;
  if (ctx.runAs) await chownRecursive(ctx.paths.root, ctx.runAs);
  const state: EsInstanceState = { security, es_home: esHome, ...(java.from !== 'bundled JDK' ? { java_home: java.home } : {}) };
  await writeState(ctx, state);
  if (security) {
    const password = generatePassword();
    await ctx.setAdminPassword(password);
    const env = { ES_PATH_CONF: conf, ES_JAVA_HOME: java.home };
    await ctx.exec([join(esHome, 'bin', 'elasticsearch-keystore'), 'create'], { env, timeoutMs: 120_000 });
    await ctx.exec([join(esHome, 'bin', 'elasticsearch-keystore'), 'add', '--stdin', '--force', 'bootstrap.password'], { env, input: password, timeoutMs: 120_000 });
    const made = await makeServerCertificate(ctx, dirname(httpCertPath(ctx)));
    if (made) tls = made;
  }
  const yml = renderConfig({ name: ctx.name, port: ctx.config.port ?? 9200, dataDir: ctx.paths.dataDir, logsDir: logsDir(ctx), repoDir: repoRoot(ctx), security, ...(tls ? { tls } : {}), defaultDistribution: security });
  await ctx.writePrivateFile(ymlFile(ctx), yml, { ownedByServiceUser: true });
  await ctx.writePrivateFile(heapFile(ctx), renderHeap(DEFAULT_HEAP), { ownedByServiceUser: true });
  if (ctx.runAs) await chownRecursive(ctx.paths.root, ctx.runAs);
  ctx.progress(
    `wrote ${ymlFile(ctx)} (single node on 127.0.0.1:${ctx.config.port}, ${security ? (tls ? 'security on, HTTPS with its own certificate, elastic password in the secret store' : 'security on, elastic password in the secret store, HTTP without TLS (openssl missing)') : 'security off: this distribution has no x-pack security setup, loopback only'}, heap ${DEFAULT_HEAP}, Java from ${java.from} ${java.home})`,
  );
}

export async function launchSpec(ctx: InstanceContext): Promise<LaunchSpec> {
  const state = readState(ctx);
  const java = findJava(state.es_home, state.java_home);
  ctx.progress(`starting Elasticsearch with Java from ${java.from} (${java.home}); JVM start-up takes a while`);
  return {
    argv: [join(state.es_home, 'bin', 'elasticsearch')],
    env: { ES_PATH_CONF: confDir(ctx), ES_JAVA_HOME: java.home, ES_TMPDIR: join(ctx.paths.root, 'tmp') },
    cwd: ctx.paths.root,
  };
}

/** Ready once `_cluster/health` is yellow or green (a single node never gets its replicas). */
export async function isReady(ctx: InstanceContext): Promise<boolean> {
  try {
    const h = await withEs(ctx, (c) => c.req<{ status: string }>('GET', '/_cluster/health', { query: { timeout: '1s' } }), { timeoutMs: 3000, raw: true });
    return h.status === 'green' || h.status === 'yellow';
  } catch {
    return false;
  }
}

/** Elasticsearch has no shutdown API outside Elastic Cloud: SIGTERM makes the node close cleanly. */
export async function shutdown(ctx: InstanceContext): Promise<void> {
  const record = JSON.parse(readFileSync(ctx.paths.pidFile, 'utf8')) as { pid: number };
  process.kill(record.pid, 'SIGTERM');
}

export async function serverVersion(ctx: InstanceContext): Promise<string> {
  return withEs(ctx, (c) => nodeVersion(c));
}

/** `http://127.0.0.1:PORT[/index]`, or `https://elastic:PW@...` on a secured instance (CA: config/tls/server.crt, also <instance>/tls/server.crt). */
export function connectionUrl(ctx: InstanceContext, options: { database?: string; showPassword: boolean; password: string }): string {
  const index = options.database !== undefined ? `/${encodeURIComponent(validateIdentifier('database', options.database))}` : '';
  const state = readState(ctx);
  if (!state.security) return `http://127.0.0.1:${ctx.config.port}${index}`;
  const secret = options.showPassword ? encodeURIComponent(options.password) : '***';
  return `${existsSync(httpCertPath(ctx)) ? 'https' : 'http'}://${ADMIN_USER}:${secret}@127.0.0.1:${ctx.config.port}${index}`;
}


/** `curl --cacert CA URL`: the REST API answers the URL with the node's info. */
export function clientCommand(_ctx: InstanceContext, conn: { url: string; ca?: string }): string {
  return curlCommand(conn.url, conn.url.startsWith('https:') ? conn.ca : undefined);
}
