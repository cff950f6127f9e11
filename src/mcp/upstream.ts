/**
 * Wrapping upstream MCP servers (DBHub, mongodb-mcp-server, Elastic's server). Each runs as a
 * child over stdio from a pinned npm version installed into the tool's cache; this server is its
 * MCP client (the SDK's Client + StdioClientTransport) and re-exports its tools, namespaced, under
 * our own rules: role gating, the read-only account, bounded results, audit with the query text,
 * timeouts, errors in our isError shape. Credentials go through the child's environment or a
 * 0600 file, never argv, and the assistant never sees them. When an upstream is missing or dies,
 * its tools are absent or answer a typed error that says what to run; our own tools are unaffected.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { DbError, toDbError } from '../core/errors.js';
import { audit } from '../core/audit.js';
import { homePaths } from '../core/home.js';
import type { EngineId } from '../engines/ids.js';
import type { UpstreamId } from '../engines/contract.js';
import { annotationsFor, errorResult, type OperationType, type Role } from './tool-base.js';
import { compactInputSchema } from './tool-listing.js';

/** One instance (and database) an upstream serves, with the settings its engine gave (secrets included). */
export interface UpstreamSource {
  engine: EngineId;
  instance: string;
  database?: string;
  settings: Record<string, string>;
  /** The account is not held to reads by the server (FerretDB, Elasticsearch without security): only the upstream's own guard is. */
  unenforced?: boolean;
}

export interface UpstreamLimits {
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
  readWrite: boolean;
}

/** What one upstream needs: its package, how to configure it, and how to read a call's query. */
export interface UpstreamDef {
  id: UpstreamId;
  title: string;
  package: string;
  version: string;
  /** Tool name prefix: sql_, mongo_, es_. */
  prefix: string;
  /** One child for all sources (DBHub's multi-source config) or one per source. */
  perSource: boolean;
  /** Writes the child's configuration into `dir` (mode 0600 files) and returns its argv tail and environment. */
  configure(sources: UpstreamSource[], dir: string, limits: UpstreamLimits): Promise<{ args: string[]; env: Record<string, string> }>;
  /** The query text of a call, for the audit (never the results). */
  queryOf(tool: string, args: Record<string, unknown>): string;
  /** Upstream tools that need a read-write account: hidden unless the upstream runs read-write. */
  writeTool?(tool: string): boolean;
  /** Arguments we fill in ourselves and hide from the assistant (mongodb-mcp-server's connectionId: only our configured connection exists). */
  fixedArgs?: Record<string, unknown>;
}

/** A tool's input schema without the arguments we fill in. Pure, for tests. */
export function withoutFixed(schema: Tool['inputSchema'], fixed: Record<string, unknown> | undefined): Tool['inputSchema'] {
  if (!fixed || !schema.properties) return schema;
  const properties = Object.fromEntries(Object.entries(schema.properties).filter(([k]) => !(k in fixed)));
  const required = schema.required?.filter((k) => !(k in fixed));
  return { ...schema, properties, ...(required ? { required } : {}) };
}

/** A pinned Node.js from the npm registry, for upstreams whose `engines.node` is newer than ours. */
export const NODE_RUNTIME_VERSION = '22.22.0';

function nodePackageName(): string {
  const os = process.platform === 'win32' ? 'win' : process.platform;
  return `node-${os}-${process.arch}`;
}

/** Where pinned packages are installed: PORTUNIX_DB_UPSTREAM_CACHE, else <home>/cache/upstreams. */
export function upstreamCache(): string {
  return process.env['PORTUNIX_DB_UPSTREAM_CACHE'] ?? join(homePaths.cache(), 'upstreams');
}

export function packageDir(name: string, version: string): string {
  return join(upstreamCache(), `upstream-${name.replace(/^@/, '').replace(/\//g, '-')}-${version}`);
}

export function installCommand(def: Pick<UpstreamDef, 'id'>): string {
  return `portunix-db mcp upstream install ${def.id}`;
}

/** `npm install --prefix <cache>/<pkg>-<version> <pkg>@<version>` into a temporary folder, renamed when complete. */
export async function npmInstall(name: string, version: string, log: (m: string) => void): Promise<string> {
  const dir = packageDir(name, version);
  if (existsSync(join(dir, '.complete'))) return dir;
  await mkdir(upstreamCache(), { recursive: true, mode: 0o700 });
  const tmp = `${dir}.installing-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  log(`npm install --prefix ${tmp} ${name}@${version}`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = await new Promise<{ code: number; tail: string }>((resolve) => {
    const child = spawn(npm, ['install', '--prefix', tmp, '--no-audit', '--no-fund', '--ignore-scripts', '--omit=dev', `${name}@${version}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const keep = (d: Buffer) => (tail = (tail + d.toString()).slice(-4000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => resolve({ code: 127, tail: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, tail }));
  });
  if (out.code !== 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new DbError(`npm could not install ${name}@${version}: ${out.tail.trim().split('\n').slice(-3).join(' ')}`, 'DOWNLOAD_FAILED', 'Check that the npm registry is reachable (npm config get registry), then retry.');
  }
  await writeFile(join(tmp, '.complete'), new Date().toISOString() + '\n');
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
  return dir;
}

interface PackageJson {
  version?: string;
  bin?: string | Record<string, string>;
  main?: string;
  engines?: { node?: string };
}

async function readPackage(dir: string, name: string): Promise<{ root: string; json: PackageJson }> {
  const root = join(dir, 'node_modules', ...name.split('/'));
  return { root, json: JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as PackageJson };
}

/** The lowest Node version `engines.node` allows (">=22.5.0" -> [22, 5]); [0, 0] when it says nothing. */
export function minimumNode(range: string | undefined): [number, number] {
  const m = range ? /(\d+)(?:\.(\d+))?/.exec(range) : null;
  return m ? [Number(m[1]), Number(m[2] ?? 0)] : [0, 0];
}

function nodeSatisfies(min: [number, number]): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > min[0] || (major === min[0] && minor >= min[1]);
}

function nodeBinary(dir: string): string {
  const pkg = join(dir, 'node_modules', nodePackageName());
  return process.platform === 'win32' ? join(pkg, 'node.exe') : join(pkg, 'bin', 'node');
}

/** The installed upstream: its entry script and the node that runs it; a typed error naming the command when it is missing. */
export async function resolveUpstream(def: UpstreamDef): Promise<{ node: string; entry: string; version: string }> {
  const dir = packageDir(def.package, def.version);
  if (!existsSync(join(dir, '.complete'))) {
    throw new DbError(`${def.title} ${def.version} (${def.package}) is not installed.`, 'NOT_INSTALLED', `Run \`${installCommand(def)}\` (npm install into ${dir}).`);
  }
  const { root, json } = await readPackage(dir, def.package);
  const bin = typeof json.bin === 'string' ? json.bin : json.bin ? Object.values(json.bin)[0] : json.main;
  if (!bin) throw new DbError(`${def.package} declares no program to run.`, 'INTERNAL');
  let node = process.execPath;
  const min = minimumNode(json.engines?.node);
  if (!nodeSatisfies(min)) {
    const runtime = packageDir(nodePackageName(), NODE_RUNTIME_VERSION);
    node = nodeBinary(runtime);
    if (!existsSync(join(runtime, '.complete')) || !existsSync(node)) {
      throw new DbError(`${def.title} ${def.version} needs Node.js ${json.engines?.node} and this is ${process.versions.node}.`, 'NOT_INSTALLED', `Run \`${installCommand(def)}\` (it also installs Node.js ${NODE_RUNTIME_VERSION} from the npm registry's ${nodePackageName()} package).`);
    }
  }
  return { node, entry: join(root, bin), version: json.version ?? def.version };
}

/** `mcp upstream install <id>`: the pinned package, and a pinned Node.js when the package needs a newer one. */
export async function installUpstream(def: UpstreamDef, log: (m: string) => void): Promise<{ package: string; version: string; dir: string; node: string }> {
  const dir = await npmInstall(def.package, def.version, log);
  const { json } = await readPackage(dir, def.package);
  let node = process.execPath;
  if (!nodeSatisfies(minimumNode(json.engines?.node))) node = nodeBinary(await npmInstall(nodePackageName(), NODE_RUNTIME_VERSION, log));
  return { package: def.package, version: def.version, dir, node };
}

/** Only what a Node program needs; in particular none of our secrets' variables (PORTUNIX_DB_SECRET_PASSPHRASE). */
function baseEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of ['PATH', 'HOME', 'USERPROFILE', 'LANG', 'TMPDIR', 'TEMP', 'TMP', 'SYSTEMROOT']) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Writes a file only the owner can read. */
export async function writeSecretFile(path: string, content: string): Promise<void> {
  await writeFile(path, content, { mode: 0o600 });
}

type SdkClient = import('@modelcontextprotocol/sdk/client/index.js').Client;

/** One running child and the tools it offers. */
export class UpstreamProcess {
  tools: Tool[] = [];
  /** Why it is not answering (set when it exits). */
  failure?: string;
  private client?: SdkClient;
  private dir?: string;

  constructor(
    readonly def: UpstreamDef,
    readonly sources: UpstreamSource[],
    readonly limits: UpstreamLimits,
    private readonly log: (m: string) => void,
  ) {}

  /** Starts the child and lists its tools; throws a DbError that says what to run. */
  async start(): Promise<void> {
    const { node, entry } = await resolveUpstream(this.def);
    this.dir = await mkdtemp(join(await privateRunDir(), `${this.def.id}-`));
    const { args, env } = await this.def.configure(this.sources, this.dir, this.limits);
    const [{ Client }, { StdioClientTransport }] = await Promise.all([import('@modelcontextprotocol/sdk/client/index.js'), import('@modelcontextprotocol/sdk/client/stdio.js')]);
    const transport = new StdioClientTransport({ command: node, args: [entry, ...args], env: { ...baseEnv(), ...env }, cwd: this.dir, stderr: 'pipe' });
    let stderrTail = '';
    transport.stderr?.on('data', (d: Buffer) => (stderrTail = (stderrTail + d.toString()).slice(-2000)));
    const client = new Client({ name: 'portunix-db', version: '1' });
    transport.onclose = () => {
      this.failure ??= `${this.def.title} exited${stderrTail ? `: ${lastLine(stderrTail)}` : ''}`;
      this.log(`${this.def.id}: ${this.failure}`);
    };
    try {
      await client.connect(transport, { timeout: 60_000 });
      this.tools = (await client.listTools(undefined, { timeout: 30_000 })).tools;
    } catch (err) {
      await client.close().catch(() => undefined);
      throw new DbError(`${this.def.title} ${this.def.version} did not start: ${lastLine(stderrTail) || (err as Error).message}`, 'START_FAILED', `Run it by hand to see why: ${node} ${entry} (config in ${this.dir}); our own tools (db_query) keep working.`);
    }
    this.client = client;
    this.pid = transport.pid ?? undefined;
    // from here on, stderr says why it stopped, not how it started
    stderrTail = '';
  }

  pid: number | undefined;

  private notRunning(): DbError {
    return new DbError(`${this.def.title} is not running (${this.failure ?? 'not started'}).`, 'UPSTREAM_FAILED', `Restart the MCP server (\`portunix-db mcp serve --with ${this.def.id}\`); db_query answers meanwhile.`);
  }

  async call(name: string, args: Record<string, unknown>): Promise<CallToolResult> {
    if (this.failure || !this.client) throw this.notRunning();
    try {
      return (await this.client.callTool({ name, arguments: args }, undefined, { timeout: this.limits.timeoutMs + 5000 })) as CallToolResult;
    } catch (err) {
      const msg = (err as Error).message ?? String(err);
      if (/timed out|timeout/i.test(msg)) throw new DbError(`${this.def.title} did not answer within ${this.limits.timeoutMs + 5000} ms.`, 'TIMEOUT', 'Narrow the query; the database also stops statements at its own limit.');
      if (this.failure) throw this.notRunning();
      throw new DbError(`${this.def.title} failed: ${msg}`, 'UPSTREAM_FAILED', `Restart the MCP server (\`portunix-db mcp serve --with ${this.def.id}\`); db_query answers meanwhile.`);
    }
  }

  async close(): Promise<void> {
    this.failure ??= 'closed';
    await this.client?.close().catch(() => undefined);
    if (this.dir) await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

function lastLine(text: string): string {
  return (text.trim().split('\n').filter((l) => l.trim()).pop() ?? '').slice(0, 500);
}

/** A 0700 folder for the children's configuration files (they hold DSNs with passwords). */
async function privateRunDir(): Promise<string> {
  const dir = join(homePaths.state(), 'upstreams');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

/** Cuts a result's text to `maxBytes`, saying so; drops upstream structured content (it would double the size). */
export function boundResult(result: CallToolResult, maxBytes: number): CallToolResult {
  let left = maxBytes;
  let cut = false;
  const content = result.content.map((original) => {
    if (original.type !== 'text') return original;
    const c = { ...original, text: compactJson(original.text) };
    const bytes = Buffer.byteLength(c.text);
    if (bytes <= left) {
      left -= bytes;
      return c;
    }
    cut = true;
    const text = Buffer.from(c.text).subarray(0, Math.max(0, left)).toString('utf8');
    left = 0;
    return { ...c, text };
  });
  if (cut) content.push({ type: 'text', text: `\n[cut at ${maxBytes} bytes by portunix-db: ask for fewer rows or columns]` });
  return { content, ...(result.isError ? { isError: true } : {}) };
}

/** Pretty-printed JSON costs the assistant tokens for nothing: the same value, compact. */
function compactJson(text: string): string {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return text;
  try {
    return JSON.stringify(JSON.parse(t));
  } catch {
    return text;
  }
}

/** The upstream's own guard refused it (mongodb-mcp-server's read-only mode, its server-side JS switch). */
const UPSTREAM_REFUSED = /in readOnly mode|server-side JavaScript operators .*disabled|is not allowed in read-only/i;
const REFUSED = /permission denied|read-only transaction|access denied|command denied|NOPERM|not authorized|unauthorized|readonly database/i;

/** An upstream's isError answer in our shape: code, first line, what to do next. */
export function upstreamError(def: UpstreamDef, result: CallToolResult): CallToolResult {
  let text = result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ').trim();
  try {
    // DBHub answers {"success": false, "error": "...", "code": "..."}
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string') text = j.error;
    else if (j.error && typeof (j.error as { message?: unknown }).message === 'string') text = (j.error as { message: string }).message;
  } catch {
    /* plain text */
  }
  const message = `${def.title}: ${text.replace(/\s+/g, ' ').slice(0, 1500)}`;
  if (UPSTREAM_REFUSED.test(text)) return errorResult(new DbError(message, 'FORBIDDEN', `${def.title} itself refused it (its read-only guard), before the database saw it.`));
  const refused = REFUSED.test(text);
  return errorResult(new DbError(message, refused ? 'PERMISSION_DENIED' : 'QUERY_FAILED', refused ? `The database refused it: ${def.title} connects as the read-only account.` : 'Fix the query and retry.'));
}

/** Registers every tool of the running upstreams on `server`, namespaced, with our gating, limits and audit. */
export function registerUpstreamTools(server: McpServer, processes: UpstreamProcess[], role: Role): Tool[] {
  const listed: Tool[] = [];
  for (const proc of processes) {
    const rw = proc.limits.readWrite;
    const operation: OperationType = rw ? 'destructive' : 'read';
    if (rw && role !== 'admin') continue;
    for (const tool of proc.tools) {
      if (!rw && proc.def.writeTool?.(tool.name)) continue;
      // one child per instance: the prefix names the engine already (mongo_main_find)
      const where = proc.def.perSource && proc.sources[0] ? `${proc.sources[0].instance}_` : '';
      const name = `${proc.def.prefix}_${where}${tool.name}`.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64);
      const targets = proc.sources.map((s) => `${s.engine}/${s.instance}${s.database ? `/${s.database}` : ''}`).join(', ');
      const description = `[${proc.def.title} ${proc.def.version}, ${rw ? 'READ-WRITE admin account' : proc.sources.some((x) => x.unenforced) ? 'read-only account NOT enforced by the server' : 'read-only account'}; ${targets}] ${(tool.description ?? '').split('\n')[0]!.slice(0, 240)}`;
      const annotations = annotationsFor(operation);
      // arguments we fix (mongodb-mcp-server's connectionId) are neither shown nor accepted
      const visible = withoutFixed(tool.inputSchema, proc.def.fixedArgs);
      let input: z.ZodObject;
      try {
        input = z.fromJSONSchema(visible as never) as unknown as z.ZodObject;
      } catch {
        input = z.object({}).passthrough() as unknown as z.ZodObject;
      }
      server.registerTool(name, { title: tool.title ?? tool.name, description, inputSchema: input, annotations }, async (args: Record<string, unknown>) => {
        const query = proc.def.queryOf(tool.name, args).slice(0, 4000);
        const base = { action: `mcp:${name}`, via: 'mcp' as const, upstream: `${proc.def.package}@${proc.def.version}`, query, ...(proc.sources.length === 1 ? { engine: proc.sources[0]!.engine, instance: proc.sources[0]!.instance } : { target: targets }) };
        try {
          const result = await proc.call(tool.name, { ...args, ...(proc.def.fixedArgs && tool.inputSchema.properties ? Object.fromEntries(Object.entries(proc.def.fixedArgs).filter(([k]) => k in tool.inputSchema.properties!)) : {}) });
          await audit({ ...base, ok: !result.isError, ...(result.isError ? { detail: result.content.map((c) => (c.type === 'text' ? c.text : '')).join(' ').slice(0, 300) } : {}) });
          return result.isError ? upstreamError(proc.def, result) : boundResult(result, proc.limits.maxBytes);
        } catch (err) {
          const e = toDbError(err);
          await audit({ ...base, ok: false, detail: `${e.code}: ${e.message.slice(0, 300)}` });
          return errorResult(e);
        }
      });
      listed.push({ name, title: tool.title ?? tool.name, description, inputSchema: compactInputSchema(visible as Record<string, unknown>) as Tool['inputSchema'], annotations });
    }
  }
  return listed;
}

/** `engine[/instance[/database]]`, as `--target` and config `mcp.targets` take it. */
export interface UpstreamTarget {
  engine: string;
  instance?: string;
  database?: string;
}

export function parseTarget(text: string): UpstreamTarget {
  const [engine, instance, database, extra] = text.split('/');
  if (!engine || extra !== undefined) throw new DbError(`Invalid target "${text}".`, 'USAGE', 'Use engine[/instance[/database]], e.g. postgresql/main/shop.');
  return { engine, ...(instance ? { instance } : {}), ...(database ? { database } : {}) };
}

export interface StartOptions {
  role: Role;
  /** --allow-write with role admin: upstreams get the admin account and their tools are annotated as writes. */
  readWrite: boolean;
  targets?: UpstreamTarget[];
  log: (m: string) => void;
}

/**
 * Starts each upstream for the running instances its engines hand it (engines that do not speak to
 * it answer NotApplicable and are skipped). A failure is logged and reported, never thrown: the
 * server then runs without that upstream's tools.
 */
export async function startUpstreams(defs: UpstreamDef[], options: StartOptions): Promise<{ running: UpstreamProcess[]; failures: { id: UpstreamId; message: string }[] }> {
  const { allInstances, openRunning } = await import('../core/ops/instances.js');
  const { readonlyCredentials, QUERY_LIMITS } = await import('../core/ops/query.js');
  const { has, need } = await import('../engines/need.js');
  const running: UpstreamProcess[] = [];
  const failures: { id: UpstreamId; message: string }[] = [];
  const wanted = options.targets?.length ? options.targets : (await allInstances()).map((i) => ({ engine: i.engine, instance: i.name }) as UpstreamTarget);
  const limits: UpstreamLimits = { maxRows: QUERY_LIMITS.rows.default, maxBytes: QUERY_LIMITS.bytes.default, timeoutMs: QUERY_LIMITS.timeoutMs.default, readWrite: options.readWrite };
  for (const def of defs) {
    const sources: UpstreamSource[] = [];
    for (const t of wanted) {
      try {
        const { engine, ctx } = await openRunning({ type: t.engine, ...(t.instance ? { instance: t.instance } : {}) });
        if (!has(engine, 'upstreamConnection')) continue;
        const account = options.readWrite ? undefined : await readonlyCredentials(engine, ctx, 'mcp');
        const conn = await need(engine, 'upstreamConnection')(ctx, { upstream: def.id, ...(account ? { account } : {}), ...(t.database ? { database: t.database } : {}) });
        sources.push({ engine: ctx.engine, instance: ctx.name, ...(t.database ? { database: t.database } : {}), settings: conn.settings, ...(account?.unenforced ? { unenforced: true } : {}) });
        if (account?.unenforced) options.log(`${def.id}: ${ctx.engine}/${ctx.name}: ${account.unenforced}`);
      } catch (err) {
        const e = toDbError(err);
        // engines served by another upstream say so; anything else is worth a line
        if (e.code !== 'NOT_APPLICABLE' || options.targets?.length) options.log(`${def.id}: skipping ${t.engine}/${t.instance ?? 'main'}: ${e.message}`);
      }
    }
    if (!sources.length) {
      failures.push({ id: def.id, message: `no running instance for ${def.title}` });
      continue;
    }
    const groups = def.perSource ? sources.map((s) => [s]) : [sources];
    for (const group of groups) {
      const proc = new UpstreamProcess(def, group, limits, options.log);
      try {
        await proc.start();
        running.push(proc);
        options.log(`${def.id}: ${def.package}@${def.version} serves ${group.map((s) => `${s.engine}/${s.instance}`).join(', ')} with ${proc.tools.length} tools`);
      } catch (err) {
        const e = toDbError(err);
        await proc.close();
        failures.push({ id: def.id, message: `${e.message}${e.hint ? ` ${e.hint}` : ''}` });
        options.log(`${def.id}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
      }
    }
  }
  return { running, failures };
}
