import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_INSTANCE, findInstance, listInstances, loadConfig, loadConfigLenient, putInstance, removeInstanceFromFile, updateConfig, validateInstanceName, type InstanceConfig } from '../config.js';
import { DbError, UsageError } from '../errors.js';
import { homePaths } from '../home.js';
import { createInstanceContext, silentProgress } from '../instance-context.js';
import { detectHost } from '../install/host.js';
import { executePlan } from '../install/execute.js';
import { npmResolver } from '../install/npm-resolver.js';
import { inspectLocal, localPlan, type LocalRequest } from '../install/local.js';
import { describeStep, type ArtifactResolver, type HostPlatform, type InstallPlan, type PlanStep } from '../install/plan.js';
import { chownRecursive, ensureTraversable, SERVICE_USER, serviceUser } from '../process/service-user.js';
import { portInUse, startServer, stopServer, type ProcessState } from '../process/supervisor.js';
import { audit } from '../audit.js';
import { getSecretStore, secretKey } from '../secrets.js';
import { closest } from '../did-you-mean.js';
import { findProgram, hasPublicCert, publicCertPath } from '../tls.js';
import { LOCAL_SOURCE_IDS, parseEngineId, parseSourceId, type EngineId, type SourceId } from '../../engines/ids.js';
import { loadEngine } from '../../engines/registry.js';
import { has, need } from '../../engines/need.js';
import type { Engine, InstanceContext, Progress } from '../../engines/contract.js';
import { openInstance, type Target } from './instances.js';
import { guardDataDir } from './data-dir-guard.js';
import { validatePort } from '../ports.js';

export interface InstallOptions {
  type: string;
  version?: string;
  source?: string;
  instance?: string;
  port?: number;
  dataDir?: string;
  dryRun?: boolean;
  /** Plan for another platform (dry runs only): a key of SAMPLE_HOSTS. */
  host?: HostPlatform;
  resolver?: ArtifactResolver;
  progress?: Progress;
  start?: boolean;
  /** `--archive FILE`: a vendor archive (tar.gz, tgz, zip, jar, wheel) holding the server. */
  archive?: string;
  /** `--sha256 HEX` for the archive; without it the archive must be a release the engine knows. */
  sha256?: string;
  /** `--bin-dir DIR`: server binaries already on disk, adopted in place. */
  binDir?: string;
  /** `--client-bin-dir DIR`: client tools (pg_dump/pg_restore, mariadb-dump...) of the server's version, searched first. */
  clientBinDir?: string;
  /** Makes the data dir instead of the engine's `initialize` (`restore --as-instance`: from a snapshot). */
  initializeWith?: (ctx: InstanceContext) => Promise<void>;
}

/** `--archive` / `--bin-dir` as a local request, with the usage errors for mixing them with other sources. */
function localRequest(options: InstallOptions): LocalRequest | undefined {
  if (options.archive !== undefined && options.binDir !== undefined) throw new UsageError('Give either --archive or --bin-dir, not both.');
  if (options.sha256 !== undefined && options.archive === undefined) throw new UsageError('--sha256 checks the file given with --archive.');
  const wanted = options.archive !== undefined ? 'archive' : options.binDir !== undefined ? 'bin-dir' : undefined;
  const asked = options.source?.trim().toLowerCase();
  if (asked && (LOCAL_SOURCE_IDS as readonly string[]).includes(asked) && asked !== wanted) throw new UsageError(`--source ${asked} takes its files from ${asked === 'archive' ? '--archive FILE [--sha256 HEX]' : '--bin-dir DIR'}; pass that instead.`);
  if (wanted && asked && asked !== wanted) throw new UsageError(`--${wanted} is its own install source; it cannot be combined with --source ${options.source}.`);
  if (options.archive !== undefined) return { kind: 'archive', file: options.archive, ...(options.sha256 !== undefined ? { sha256: options.sha256 } : {}) };
  if (options.binDir !== undefined) return { kind: 'bin-dir', dir: options.binDir };
  return undefined;
}

export interface InstallResult {
  engine: EngineId;
  instance: string;
  version: string;
  source: SourceId;
  dry_run: boolean;
  already_installed?: boolean;
  plan: InstallPlan;
  port?: number;
  data_dir: string;
  state?: ProcessState;
  notes: string[];
}

export function resolveVersion(engine: Engine, requested: string | undefined, host?: HostPlatform): string {
  const versions = engine.info.versions.map((v) => v.version);
  if (!requested) return (host && engine.info.hostDefaultVersion?.(host)) || engine.info.defaultVersion;
  const wanted = requested.trim();
  if (versions.includes(wanted)) return wanted;
  // "16.4" or "8.0.36" names a line we know
  const line = versions.find((v) => wanted.startsWith(v + '.'));
  if (line) return line;
  const guess = closest(wanted, versions);
  throw new UsageError(`${engine.info.displayName} version "${requested}" is not supported.${guess ? ` Did you mean ${guess}?` : ''} Supported: ${versions.join(', ')}.`, 'UNKNOWN_VERSION');
}

async function isOurs(dir: string): Promise<boolean> {
  return stat(join(dir, '.portunix-db')).then(() => true, () => false);
}

async function dirState(dir: string): Promise<'absent' | 'empty' | 'used'> {
  try {
    const entries = await readdir(dir);
    return entries.length === 0 ? 'empty' : 'used';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw err;
  }
}

async function choosePort(engine: Engine, requested: number | undefined, taken: Set<number>): Promise<number | undefined> {
  if (engine.info.kind === 'embedded') return undefined;
  if (requested !== undefined) {
    if (taken.has(requested)) throw new DbError(`Port ${requested} is already assigned to another portunix-db instance.`, 'PORT_IN_USE', 'Pick another --port.');
    if (await portInUse(requested)) throw new DbError(`Port ${requested} on 127.0.0.1 is already in use by another program.`, 'PORT_IN_USE', 'Pick another --port, or stop the program that holds it.');
    return requested;
  }
  let port = engine.info.defaultPort ?? 10000;
  for (let i = 0; i < 200; i++, port++) {
    if (!taken.has(port) && !(await portInUse(port))) return port;
  }
  throw new DbError('No free port found near the default.', 'PORT_IN_USE', 'Pass --port.');
}

async function checkClientBinDir(dir: string): Promise<string> {
  const abs = resolve(dir);
  if (!(await stat(abs).then((s) => s.isDirectory(), () => false))) throw new DbError(`--client-bin-dir ${abs} does not exist or is not a folder.`, 'NOT_FOUND', 'Pass the bin folder that holds the client tools (pg_dump, pg_restore, ...).');
  return abs;
}

/** The supported line of the version a local server reports; --version, when given, must agree. */
function localVersionLine(engine: Engine, fullVersion: string, requested: string | undefined): string {
  const line = engine.info.versions.map((v) => v.version).find((v) => fullVersion === v || fullVersion.startsWith(v + '.'));
  if (!line) {
    throw new DbError(`The binaries are ${engine.info.displayName} ${fullVersion}, which is not a version line portunix-db supports.`, 'UNKNOWN_VERSION', `Supported ${engine.info.displayName} lines: ${engine.info.versions.map((v) => v.version).join(', ')}. Nothing was installed.`);
  }
  if (requested !== undefined && resolveVersion(engine, requested) !== line) {
    throw new DbError(`--version ${requested} was asked for, but the binaries are ${engine.info.displayName} ${fullVersion}.`, 'VERSION_MISMATCH', `Leave out --version (it is read from the binary), or pass the binaries of ${requested}. Nothing was installed.`);
  }
  return line;
}

function needsRoot(step: PlanStep): boolean {
  return (step.kind === 'command' || step.kind === 'write-file') && step.sudo === true;
}

/**
 * An ordinary user cannot run a plan's package steps (sudo). When the system already has the
 * server binaries of this version (the packages were installed by root), the install uses them
 * and runs no package step; without them and without sudo on PATH it says plainly that root is
 * needed and what root has to run.
 */
async function withoutRoot(engine: Engine, plan: InstallPlan, host: HostPlatform, dryRun: boolean): Promise<InstallPlan> {
  if (plan.manualOnly || !plan.steps.some(needsRoot)) return plan;
  const detected = await engine.install.detect?.(plan.version, host);
  if (detected) {
    return {
      ...plan,
      source: detected.source,
      steps: [],
      binDir: detected.binDir,
      ...(detected.libDir ? { libDir: detected.libDir } : {}),
      notes: [...plan.notes, `Uses the ${engine.info.displayName} ${plan.version} server already installed in ${detected.binDir}: installing packages needs root, and this install runs as an ordinary user.`],
    };
  }
  if (findProgram('sudo')) return plan;
  const asRoot = plan.steps.filter(needsRoot).map((s) => describeStep({ ...s, sudo: false } as PlanStep));
  const why = `Installing ${engine.info.displayName} ${plan.version} via ${plan.source} needs root (it installs system packages), this install runs as an ordinary user, and sudo is not installed.`;
  const hint = `As root, run:\n  ${asRoot.join('\n  ')}\nthen run this install again as yourself: it uses the installed server. Without root, install from a server tree you have: --archive FILE --sha256 HASH or --bin-dir DIR.`;
  // a dry run still shows the plan, with what root has to do
  if (dryRun) return { ...plan, notes: [...plan.notes, `${why} ${hint.replace(/\n\s*/g, ' ')}`] };
  throw new DbError(why, 'NEEDS_ROOT', hint);
}

export async function install(options: InstallOptions): Promise<InstallResult> {
  const progress = options.progress ?? silentProgress;
  const engineId = parseEngineId(options.type);
  const engine = await loadEngine(engineId);
  const name = validateInstanceName(options.instance ?? DEFAULT_INSTANCE);
  const host = options.host ?? detectHost();
  if (options.port !== undefined) validatePort(options.port);
  const local = localRequest(options);
  // archive and bin-dir installs learn their version from the server binary itself
  const found = local ? await inspectLocal(engine, local, { dryRun: !!options.dryRun, progress }) : undefined;
  const version = found ? localVersionLine(engine, found.fullVersion, options.version) : resolveVersion(engine, options.version, host);
  const source = found ? found.source : options.source ? parseSourceId(options.source, engine.info.sources) : engine.info.defaultSource(host, version);
  const config = await loadConfig();
  const existing = findInstance(config, { engine: engineId, name });
  const dataDir = resolve(options.dataDir ?? existing?.config.data_dir ?? join(homePaths.instanceDir(engineId, name), 'data'));

  if (existing && !options.dryRun) {
    if (existing.config.version !== version) {
      throw new DbError(`${engineId}/${name} is already installed with version ${existing.config.version}.`, 'ALREADY_EXISTS', `Use another --instance for ${version} (versions run side by side), or uninstall ${engineId}/${name} first.`);
    }
  }
  const taken = new Set(listInstances(config).filter((i) => !(i.engine === engineId && i.name === name)).map((i) => i.config.port).filter((p): p is number => p !== undefined));
  const port = existing?.config.port ?? (options.dryRun ? options.port ?? engine.info.defaultPort : await choosePort(engine, options.port, taken));
  const runAs = host.isRoot && engine.info.kind === 'server' ? SERVICE_USER : undefined;

  const planned = found
    ? localPlan(engine, found, version, host)
    : await engine.install.plan({ engine: engineId, version, source, instance: name, ...(port !== undefined ? { port } : {}), dataDir, ...(runAs ? { serviceUser: runAs } : {}) }, host, options.resolver ?? npmResolver);
  // this machine's binaries and sudo only matter for this machine, not for a plan of another platform (--platform)
  const plan = host.isRoot || options.host ? planned : await withoutRoot(engine, planned, host, !!options.dryRun);
  const steps: PlanStep[] = [...plan.steps];
  const managed = !plan.manualOnly && !plan.selfRunning && has(engine, 'initialize');
  if (runAs && managed) steps.unshift({ kind: 'ensure-service-user', description: `Servers run as the unprivileged user ${runAs} (the tool runs as root)`, user: runAs });
  // engines whose lifecycle is not managed yet (install plans only) stop after the packages
  if (managed) {
    steps.push({ kind: 'init-instance', description: `Initialise instance ${engineId}/${name}`, engine: engineId, instance: name, dataDir, ...(port !== undefined ? { port } : {}), ...(runAs ? { runAs } : {}) });
  }
  const clientBinDir = options.clientBinDir !== undefined ? await checkClientBinDir(options.clientBinDir) : undefined;
  const fullPlan: InstallPlan = { ...plan, steps, ...(clientBinDir ? { notes: [...plan.notes, `Client tools (dump, restore) are looked up first in ${clientBinDir} (client_bin_dir).`] } : {}) };
  const result: InstallResult = { engine: engineId, instance: name, version, source, dry_run: !!options.dryRun, plan: fullPlan, ...(port !== undefined ? { port } : {}), data_dir: dataDir, notes: [...fullPlan.notes] };
  if (options.dryRun) return result;
  await guardDataDir(config, { engine: engineId, name }, dataDir, homePaths.instanceDir);

  if (existing) {
    result.already_installed = true;
    const ctx = createInstanceContext(engineId, name, existing.config, progress);
    if (options.start !== false && has(engine, 'launchSpec')) result.state = (await startServer(engine, ctx)).status.state;
    result.notes.push(`${engineId}/${name} ${version} was already installed; nothing changed.`);
    return result;
  }

  const state = await dirState(dataDir);
  if (state === 'used' && !(await isOurs(dataDir))) {
    throw new DbError(`Data directory ${dataDir} already exists, is not empty, and was not created by portunix-db.`, 'DATA_DIR_CONFLICT', 'Choose another --data-dir, or move that directory away. Nothing was changed.');
  }

  let registered = false;
  let createdDataDir = false;
  await executePlan(fullPlan, {
    engine,
    progress,
    initInstance: async () => {
      const root = homePaths.instanceDir(engineId, name);
      const instanceConfig: InstanceConfig = {
        version,
        ...(port !== undefined ? { port } : {}),
        host: '127.0.0.1',
        data_dir: dataDir,
        backup_dir: homePaths.backups(engineId, name),
        auto_backup: false,
        backup_schedule: 'daily',
        source,
        ...(fullPlan.binDir ? { bin_dir: fullPlan.binDir } : {}),
        ...(fullPlan.libDir ? { lib_dir: fullPlan.libDir } : {}),
        ...(clientBinDir ? { client_bin_dir: clientBinDir } : {}),
        ...(runAs ? { run_as: runAs } : {}),
        created_at: new Date().toISOString(),
      };
      await mkdir(root, { recursive: true });
      await mkdir(join(root, 'run'), { recursive: true });
      await mkdir(instanceConfig.backup_dir, { recursive: true, mode: 0o700 });
      if (state === 'absent') createdDataDir = true;
      await mkdir(dataDir, { recursive: true, mode: 0o700 });
      if (runAs) {
        const user = serviceUser(true, runAs)!;
        const opened = await ensureTraversable(dataDir);
        if (opened.length) progress(`gave search permission (o+x) on ${opened.join(', ')} so ${runAs} can reach its data`);
        await ensureTraversable(root);
        if (fullPlan.binDir) await ensureTraversable(fullPlan.binDir);
        if (fullPlan.libDir) await ensureTraversable(fullPlan.libDir);
        await chownRecursive(root, user);
        await chownRecursive(dataDir, user);
      }
      const ctx = createInstanceContext(engineId, name, instanceConfig, progress);
      await (options.initializeWith ?? need(engine, 'initialize'))(ctx);
      if (await getSecretStore().get(secretKey(engineId, name, 'admin'))) instanceConfig.secret_store = await getSecretStore().backend();
      await import('node:fs/promises').then((fs) => fs.writeFile(join(dataDir, '.portunix-db'), JSON.stringify({ engine: engineId, instance: name }) + '\n').catch(() => undefined));
      let started = false;
      try {
        if (has(engine, 'serverVersion') && has(engine, 'launchSpec') && options.start !== false) {
          await startServer(engine, ctx);
          started = true;
          instanceConfig.full_version = await need(engine, 'serverVersion')(ctx).catch(() => undefined);
          result.state = 'running';
        }
        await updateConfig((c) => putInstance(c, { engine: engineId, name }, instanceConfig));
        registered = true;
      } catch (err) {
        // never leave an unregistered server running on a data dir that is about to be removed
        if (started) await stopServer(engine, ctx).catch(() => undefined);
        throw err;
      }
    },
  }).catch(async (err) => {
    if (!registered && createdDataDir) await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  });
  if (!has(engine, 'initialize')) result.notes.push(`The packages are installed, but no instance was created: ${engine.unsupported.initialize ?? `portunix-db does not manage ${engine.info.displayName} instances yet.`}`);
  await audit({ action: 'install', engine: engineId, instance: name, via: 'cli', ok: true, detail: `${version} via ${source}` });
  // the least-privilege account assistants query through, made now rather than on the first query
  if (result.state === 'running' && has(engine, 'readonlyAccount')) {
    const { provisionReadonly } = await import('./query.js');
    const { openRunning } = await import('./instances.js');
    try {
      const { ctx } = await openRunning({ type: engineId, instance: name });
      const r = await provisionReadonly(engine, ctx);
      result.notes.push(`Read-only account ${r.user} for queries and MCP (db_query, --with dbhub); its password is in the secret store.`);
    } catch (err) {
      result.notes.push(`The read-only account was not created (${(err as Error).message}); run \`portunix-db user readonly ${engineId}${name === 'main' ? '' : ` --instance ${name}`}\`.`);
    }
  }
  return result;
}

export { status, type StatusEntry } from './status.js';

export { restart, start, stop, type StartOutcome } from './start-stop.js';

export async function uninstall(options: Target & { keepData?: boolean; version?: string }): Promise<{ engine: EngineId; instance: string; removed: string[]; kept: string[] }> {
  const { engine, ctx } = await openInstance(options);
  if (options.version && resolveVersion(engine, options.version) !== ctx.config.version) {
    throw new DbError(`${ctx.engine}/${ctx.name} runs version ${ctx.config.version}, not ${options.version}.`, 'NOT_FOUND', 'Pass the instance that has that version with --instance.');
  }
  if (has(engine, 'launchSpec')) await stopServer(engine, ctx);
  const removed: string[] = [];
  const kept: string[] = [];
  if (options.keepData) kept.push(ctx.config.data_dir);
  else if (engine.info.kind === 'server') {
    await rm(ctx.config.data_dir, { recursive: true, force: true });
    removed.push(ctx.config.data_dir);
  } else {
    kept.push(ctx.config.data_dir);
  }
  const root = homePaths.instanceDir(ctx.engine, ctx.name);
  if (!options.keepData) {
    await rm(root, { recursive: true, force: true });
    removed.push(root);
    await getSecretStore().delete(secretKey(ctx.engine, ctx.name, 'admin')).catch(() => undefined);
  }
  kept.push(ctx.config.backup_dir);
  // edits the file as it is, so another instance's bad entry does not block this uninstall
  await removeInstanceFromFile({ engine: ctx.engine, name: ctx.name });
  await audit({ action: 'uninstall', engine: ctx.engine, instance: ctx.name, via: 'cli', ok: true, detail: options.keepData ? 'kept data' : 'removed data' });
  return { engine: ctx.engine, instance: ctx.name, removed, kept };
}

/**
 * The URL, the CA certificate clients must trust (the instance's own, when it has TLS; null
 * without) and a command line of the engine's usual client that works with both.
 */
export async function connectionUrl(target: Target & { database?: string; showPassword?: boolean }): Promise<{ url: string; password_shown: boolean; ca_cert: string | null; client_command: string | null }> {
  const { engine, ctx } = await openInstance(target);
  // no stored password gives a URL without one; a secret store that cannot answer is an error, not an empty password
  const password = await ctx.adminPassword().catch((err: unknown) => {
    if (err instanceof DbError && err.code === 'SECRET_STORE') throw err;
    return '';
  });
  const url = need(engine, 'connectionUrl')(ctx, { ...(target.database ? { database: target.database } : {}), showPassword: !!target.showPassword, password });
  const ca = hasPublicCert(ctx) ? publicCertPath(ctx) : undefined;
  const client = engine.clientCommand?.(ctx, { url, ...(ca ? { ca } : {}) });
  return { url, password_shown: !!target.showPassword, ca_cert: ca ?? null, client_command: client ?? null };
}
