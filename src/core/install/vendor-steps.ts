/**
 * Building blocks for install plans that use a vendor's own package repository, a vendor
 * tarball verified against the checksum file published beside it, or a container.
 * Plans stay data: these functions only build steps; `runVendorStep` executes the two
 * engine-steps they emit (checksum verification, container env file).
 */
import { readFile, rm, mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DbError } from '../errors.js';
import { homePaths } from '../home.js';
import { generatePassword, getSecretStore, secretKey } from '../secrets.js';
import { fileDigest } from './execute.js';
import type { HostPlatform, InstallPlan, PlanStep } from './plan.js';
import { aptGet } from './plan.js';
import type { EngineId } from '../../engines/ids.js';
import type { Progress } from '../../engines/contract.js';
import { writeFile, chmod } from 'node:fs/promises';

export function platformSummary(host: HostPlatform): InstallPlan['platform'] {
  return { os: host.os, arch: host.arch, ...(host.distro ? { distro: `${host.distro.id} ${host.distro.versionId}` } : {}) };
}

export function hostLabel(host: HostPlatform): string {
  return host.distro ? `${host.distro.id} ${host.distro.versionId}` : host.os === 'darwin' ? 'macOS' : host.os === 'windows' ? 'Windows' : host.os;
}

/** Where vendor downloads are cached (a download whose checksum fails is deleted). */
export function downloadCache(file: string): string {
  return join(homePaths.cache(), 'downloads', file);
}

export interface AptRepo {
  /** Shown in step descriptions: "MongoDB 7.0". */
  label: string;
  keyUrl: string;
  /** Armored key file apt reads through signed-by (apt >= 1.4 accepts .asc). */
  keyring: string;
  listFile: string;
  /** The deb line without the signed-by option: "https://repo.mongodb.org/apt/debian bookworm/mongodb-org/7.0 main". */
  repo: string;
  /** Extra options inside [...], e.g. "arch=amd64,arm64". */
  options?: string;
  packages: string[];
}

/** apt-get update, fetch the vendor key, write the .list with signed-by, update, install. */
export function aptRepoSteps(r: AptRepo): PlanStep[] {
  const options = [r.options, `signed-by=${r.keyring}`].filter(Boolean).join(' ');
  return [
    { kind: 'command', description: 'Refresh the package lists', argv: aptGet('update'), sudo: true },
    { kind: 'command', description: 'Install the tools needed to add a vendor repository', argv: aptGet('install', '-y', 'ca-certificates', 'curl'), sudo: true },
    { kind: 'command', description: `Fetch the ${r.label} repository signing key`, argv: ['curl', '-fsSL', '-o', r.keyring, r.keyUrl], sudo: true },
    { kind: 'write-file', description: `Add the ${r.label} apt repository`, path: r.listFile, content: `deb [${options}] ${r.repo}\n`, mode: 0o644, sudo: true },
    { kind: 'command', description: `Refresh the package lists (with ${r.label})`, argv: aptGet('update'), sudo: true },
    { kind: 'command', description: `Install ${r.packages.join(', ')}`, argv: aptGet('install', '-y', ...r.packages), sudo: true },
  ];
}

export interface DnfRepo {
  label: string;
  repoFile: string;
  content: string;
  packages: string[];
  /** When the repo file has enabled=0, enable it for this install only. */
  enableRepo?: string;
}

export function dnfRepoSteps(r: DnfRepo): PlanStep[] {
  return [
    { kind: 'write-file', description: `Add the ${r.label} dnf repository`, path: r.repoFile, content: r.content, mode: 0o644, sudo: true },
    { kind: 'command', description: `Install ${r.packages.join(', ')}`, argv: ['dnf', 'install', '-y', ...(r.enableRepo ? [`--enablerepo=${r.enableRepo}`] : []), ...r.packages], sudo: true },
  ];
}

export interface VerifiedDownload {
  label: string;
  url: string;
  /** The checksum file the vendor publishes beside the archive. */
  checksumUrl: string;
  algorithm: 'sha256' | 'sha512';
  engine: EngineId;
  /** Where to unpack (binaries dir for this version). */
  dest: string;
  stripComponents: number;
}

/** Archive file name from its URL. */
export function fileName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/**
 * Download the archive and its published checksum, verify, then unpack. The verification is an
 * engine-step that deletes the archive on mismatch, so nothing unverified is ever unpacked.
 */
export function verifiedDownloadSteps(d: VerifiedDownload): PlanStep[] {
  const archive = downloadCache(fileName(d.url));
  const checksum = downloadCache(fileName(d.checksumUrl));
  return [
    { kind: 'download', description: `Download ${d.label}`, url: d.url, dest: archive },
    { kind: 'download', description: `Download the published ${d.algorithm} checksum of ${fileName(d.url)}`, url: d.checksumUrl, dest: checksum },
    {
      kind: 'engine-step',
      description: `Verify ${fileName(d.url)} against its published ${d.algorithm} checksum before unpacking`,
      engine: d.engine,
      action: 'verify-checksum',
      params: { file: archive, checksumFile: checksum, algorithm: d.algorithm },
    },
    { kind: 'extract', description: `Unpack ${d.label}`, archive, dest: d.dest, stripComponents: d.stripComponents },
  ];
}

/** Runtime for container plans: docker, or podman when PORTUNIX_DB_CONTAINER_RUNTIME=podman. */
export function containerRuntime(): 'docker' | 'podman' {
  return process.env['PORTUNIX_DB_CONTAINER_RUNTIME'] === 'podman' ? 'podman' : 'docker';
}

export interface ContainerSpec {
  engine: EngineId;
  instance: string;
  image: string;
  hostPort: number;
  containerPort: number;
  /** Mount point of the named data volume inside the container. */
  volumeTarget: string;
  /** Non-secret environment, passed with -e (visible in the plan). */
  env: Record<string, string>;
  /** Secret environment: variable name -> secret-store name ("admin", "token"). Written only to the 0600 env file. */
  secretEnv: Record<string, string>;
  /** Extra arguments after the image (server flags). */
  command?: string[];
}

export function containerName(engine: EngineId, instance: string): string {
  return `portunix-db-${engine}-${instance}`;
}

export function containerEnvFile(engine: EngineId, instance: string): string {
  return join(homePaths.instanceDir(engine, instance), 'container.env');
}

/** Pull, write the 0600 env file with generated secrets, run bound to 127.0.0.1 with a named volume. */
export function containerSteps(c: ContainerSpec): PlanStep[] {
  const rt = containerRuntime();
  const name = containerName(c.engine, c.instance);
  const envFile = containerEnvFile(c.engine, c.instance);
  return [
    { kind: 'command', description: `Pull ${c.image}`, argv: [rt, 'pull', c.image] },
    {
      kind: 'engine-step',
      description: `Write ${envFile} (mode 0600) with generated credentials kept in the secret store; passwords never appear on a command line`,
      engine: c.engine,
      action: 'write-container-env',
      params: { engine: c.engine, instance: c.instance, file: envFile, secrets: Object.entries(c.secretEnv).map(([k, v]) => `${k}=${v}`).join(',') },
    },
    {
      kind: 'command',
      description: `Run ${name} on 127.0.0.1:${c.hostPort} with the named volume ${name}`,
      argv: [
        rt, 'run', '-d',
        '--name', name,
        '--restart', 'unless-stopped',
        '-p', `127.0.0.1:${c.hostPort}:${c.containerPort}`,
        '-v', `${name}:${c.volumeTarget}`,
        '--env-file', envFile,
        ...Object.entries(c.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        c.image,
        ...(c.command ?? []),
      ],
    },
  ];
}

export function unsupported(message: string, hint: string): DbError {
  return new DbError(message, 'UNSUPPORTED_PLATFORM', hint);
}

/** Reads the first hex digest of the right length from a checksum file ("<hex>  <name>" or bare hex). */
export function parseChecksumFile(text: string, algorithm: 'sha256' | 'sha512'): string | undefined {
  const len = algorithm === 'sha256' ? 64 : 128;
  const m = new RegExp(`(?:^|[^0-9a-fA-F])([0-9a-fA-F]{${len}})(?![0-9a-fA-F])`).exec(text);
  return m?.[1]?.toLowerCase();
}

/** Executes the engine-steps built above. Returns false when the action is not one of ours. */
export async function runVendorStep(action: string, params: Record<string, string>, progress: Progress): Promise<boolean> {
  if (action === 'verify-checksum') {
    const file = params['file']!;
    const algorithm = params['algorithm'] === 'sha256' ? 'sha256' : 'sha512';
    const expected = parseChecksumFile(await readFile(params['checksumFile']!, 'utf8'), algorithm);
    if (!expected) {
      await rm(file, { force: true });
      throw new DbError(`The checksum file ${params['checksumFile']} holds no ${algorithm} digest.`, 'INTEGRITY_MISMATCH', 'Nothing was unpacked. Retry; if it persists, download the archive by hand and check the vendor page.');
    }
    const actual = await fileDigest(file, algorithm, 'hex');
    if (actual !== expected) {
      await rm(file, { force: true });
      await rm(params['checksumFile']!, { force: true });
      throw new DbError(`Integrity check failed for ${file}: ${algorithm} ${actual} does not match the published ${expected}.`, 'INTEGRITY_MISMATCH', 'The archive was deleted and nothing was unpacked. Run the install again.');
    }
    progress(`verified ${algorithm} of ${file}`);
    return true;
  }
  if (action === 'write-container-env') {
    const engine = params['engine'] as EngineId;
    const instance = params['instance']!;
    const file = params['file']!;
    const store = getSecretStore();
    const lines: string[] = [];
    for (const pair of (params['secrets'] ?? '').split(',').filter(Boolean)) {
      const [variable, what] = pair.split('=') as [string, string];
      const key = secretKey(engine, instance, what);
      let value = await store.get(key);
      if (!value) {
        value = generatePassword();
        await store.set(key, value);
      }
      lines.push(`${variable}=${value}`);
    }
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
    await chmod(file, 0o600);
    progress(`wrote ${file} (mode 0600)`);
    return true;
  }
  return false;
}

import type { Operation } from '../../engines/contract.js';

const OPERATIONS: Record<Operation, true> = {
  initialize: true, launchSpec: true, isReady: true, readyState: true, readyWatch: true, shutdown: true, serverVersion: true, embeddedStatus: true, connectionUrl: true, clientCommand: true,
  listDatabases: true, createDatabase: true, dropDatabase: true, listUsers: true, createUser: true, deleteUser: true, grant: true, revoke: true,
  databaseSizes: true, listTables: true, listTablesPage: true, schema: true, schemaPage: true, tableInfo: true, indexes: true, constraints: true, connections: true, performance: true,
  health: true, enableStatements: true, backup: true, restore: true, fingerprint: true, verifyBackup: true, instanceContents: true, initializeFromBackup: true, configList: true, configGet: true,
  configSet: true, vacuum: true, maintenanceTask: true, readonlyAccount: true, query: true, upstreamConnection: true, validateIdentifier: true,
};

/** Every operation of the contract (compile-time exhaustive). */
export const ALL_OPERATIONS = Object.keys(OPERATIONS) as Operation[];

/**
 * The `unsupported` table of an engine whose support is install plans only: every operation
 * gets the same plain statement of what works, plus a per-operation override where useful.
 */
export function plansOnlyUnsupported(statement: string, overrides: Partial<Record<Operation, string>> = {}): Partial<Record<Operation, string>> {
  const out: Partial<Record<Operation, string>> = {};
  for (const op of ALL_OPERATIONS) out[op] = overrides[op] ?? statement;
  return out;
}
