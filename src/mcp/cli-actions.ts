/**
 * What the `mcp` commands do (./cli.js defines them): loaded only when one of them runs.
 * Errors are thrown as DbError for the CLI's one error handler; results print as text, or as
 * exactly one JSON document with --json.
 */
import type { Command } from 'commander';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { DbError, UsageError, exitCodeForCode } from '../core/errors.js';
import { closest } from '../core/did-you-mean.js';
import { closePooledConnections, enablePooling } from '../core/pool.js';
import { parseClient, planClientConfig, writeClientConfig } from './client-config.js';
import { coerceArguments, connectClient, inProcessClient } from './client.js';
import { createMcpServer, parseRole, resolveRole } from './server.js';
import { ROLE_OPERATIONS } from './tool-base.js';
import { TOOLS } from './tools/index.js';
import { ensureTokenFile, readTokenFile, serveHttp, serveStdio, stderrLog } from './transports.js';
import { installUpstream, parseTarget, resolveUpstream, startUpstreams, type UpstreamProcess } from './upstream.js';
import { UPSTREAMS, parseUpstreams } from './upstreams/index.js';
import { parseIdleTimeout } from './cli.js';
import { loadConfig } from '../core/config.js';
import { homePaths } from '../core/home.js';
import type { Role } from './tool-base.js';

/** --with and --target, else config mcp.with / mcp.targets; starts the upstreams (failures are reported, not fatal). */
async function upstreamsFor(opts: { with?: string[]; target?: string[]; allowWrite?: boolean }, role: Role, log: (m: string) => void): Promise<Awaited<ReturnType<typeof startUpstreams>> | undefined> {
  const config = await loadConfig();
  const defs = parseUpstreams(opts.with ?? config.mcp?.with ?? []);
  if (!defs.length) return undefined;
  const targets = (opts.target ?? config.mcp?.targets ?? []).map(parseTarget);
  return startUpstreams(defs, { role, readWrite: !!opts.allowWrite && role === 'admin', targets, log });
}

async function closeAll(running: UpstreamProcess[] | undefined): Promise<void> {
  await Promise.all((running ?? []).map((u) => u.close()));
}
const defaultTokenFile = (): string => homePaths.mcpToken();

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : text + '\n');
}

function wantsJson(cmd: Command): boolean {
  const o = cmd.optsWithGlobals() as { json?: unknown };
  return o.json !== undefined && o.json !== false;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`Invalid port "${value}".`, 'USAGE', 'Use 1-65535, or 0 for a free port.');
  return n;
}

async function tokenFrom(file: string | undefined): Promise<string | undefined> {
  return file ? readTokenFile(file) : undefined;
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => resolve(sig);
    process.once('SIGINT', on);
    process.once('SIGTERM', on);
  });
}

export async function serve(opts: { transport: string; host: string; port: string; allowWrite?: boolean; role?: string; tokenFile?: string; allowedHost?: string[]; with?: string[]; target?: string[]; idleTimeout: string }): Promise<void> {
  const role = await resolveRole(opts);
  const log = stderrLog;
  enablePooling(parseIdleTimeout(opts.idleTimeout));
  const upstreams = await upstreamsFor(opts, role, log);
  if (opts.transport === 'stdio') {
    const { server, tools } = createMcpServer({ role, log, ...(upstreams ? { upstreams } : {}) });
    log(`role ${role}: ${tools.length} tools (${ROLE_OPERATIONS[role].join(', ')})${upstreams ? ` + ${upstreams.running.reduce((n, u) => n + u.tools.length, 0)} upstream tools` : ''}`);
    await serveStdio(server, log);
    await closePooledConnections('*', '*');
    await closeAll(upstreams?.running);
    process.exit(0);
  }
  if (opts.transport !== 'http') throw new UsageError(`Unknown transport "${opts.transport}".`, 'USAGE', 'Use --transport stdio or --transport http.');
  // HTTP always takes a bearer token: the given file, else one made under PORTUNIX_HOME on first serve
  const tokenFile = opts.tokenFile ?? defaultTokenFile();
  const { token, created } = opts.tokenFile ? { token: (await tokenFrom(opts.tokenFile))!, created: false } : await ensureTokenFile(tokenFile);
  log(`bearer token ${created ? 'created in' : 'read from'} ${tokenFile} (clients send "Authorization: Bearer <token>"; \`portunix-db mcp config <client> --url URL\` adds it)`);
  const handle = await serveHttp({
    host: opts.host,
    port: parsePort(opts.port),
    token,
    ...(opts.allowedHost ? { allowedHosts: opts.allowedHost } : {}),
    createServer: () => createMcpServer({ role, log, ...(upstreams ? { upstreams } : {}) }).server,
    log,
  });
  log(`role ${role}; listening on ${handle.url} (bearer token required)`);
  const sig = await untilSignal();
  log(`${sig}: shutting down`);
  await handle.close();
  await closePooledConnections('*', '*');
  await closeAll(upstreams?.running);
  process.exit(0);
}

export async function upstreamList(_o: unknown, cmd: Command): Promise<void> {
  const rows = await Promise.all(
    Object.values(UPSTREAMS).map(async (d) => {
      const r = await resolveUpstream(d).then(
        (x) => ({ installed: true, node: x.node }),
        (e: DbError) => ({ installed: false, hint: e.hint ?? e.message }),
      );
      return { id: d.id, package: d.package, version: d.version, prefix: `${d.prefix}_`, ...r };
    }),
  );
  if (wantsJson(cmd)) return out(JSON.stringify({ upstreams: rows }));
  out(rows.map((r) => `${r.id.padEnd(14)} ${`${r.package}@${r.version}`.padEnd(42)} ${r.installed ? 'installed' : `not installed: ${'hint' in r ? r.hint : ''}`}`).join('\n'));
}

export async function upstreamInstall(id: string, _o: unknown, cmd: Command): Promise<void> {
  const [def] = parseUpstreams([id]);
  const r = await installUpstream(def!, (m) => process.stderr.write(`  ${m}\n`));
  if (wantsJson(cmd)) return out(JSON.stringify(r));
  out(`Installed ${r.package}@${r.version} in ${r.dir}${r.node !== process.execPath ? `; it runs on ${r.node}` : ''}.`);
}

export async function listTools(opts: { allowWrite?: boolean; role?: string; url?: string; tokenFile?: string }, cmd: Command): Promise<void> {
  const client = opts.url
    ? await connectClient({ url: opts.url, ...(opts.tokenFile ? { token: (await tokenFrom(opts.tokenFile))! } : {}) })
    : await inProcessClient(opts.role ? parseRole(opts.role) : opts.allowWrite ? 'admin' : 'reader');
  try {
    const { tools } = await client.listTools();
    if (wantsJson(cmd)) return out(JSON.stringify({ tools }));
    out(tools.map(describeTool).join('\n\n'));
    if (!opts.url && !opts.allowWrite && !opts.role) out(`\n(read-only; ${TOOLS.length - tools.length} write tools appear with --allow-write)`);
  } finally {
    await client.close();
  }
}

export async function callTool(toolName: string, rest: string[], opts: { args?: string; json?: string | boolean; url?: string; tokenFile?: string; allowWrite?: boolean; role?: string }, cmd: Command): Promise<void> {
  const globals = cmd.optsWithGlobals() as { json?: unknown };
  const jsonValue = typeof opts.json === 'string' ? opts.json : typeof globals.json === 'string' ? globals.json : undefined;
  let raw = [...rest];
  let argsJson = opts.args ?? jsonValue;
  // A global boolean --json (on the program) leaves the JSON object as a plain operand.
  if (argsJson === undefined && raw[0]?.trim().startsWith('{')) argsJson = raw.shift();
  const base = argsJson !== undefined ? parseJsonArgs(argsJson) : {};
  const local = TOOLS.find((t) => t.name === toolName);
  const client = await connectClient({
    ...(opts.url ? { url: opts.url } : {}),
    ...(opts.tokenFile ? { token: (await tokenFrom(opts.tokenFile))! } : {}),
    ...(opts.allowWrite ? { allowWrite: true } : {}),
    ...(opts.role ? { role: opts.role } : {}),
  });
  try {
    const { tools } = await client.listTools();
    const tool = tools.find((t) => t.name === toolName);
    if (!tool) {
      if (local) throw new DbError(`${toolName} is a ${local.operation} tool; the server does not offer it in read-only mode.`, 'FORBIDDEN', opts.url ? 'Start that server with --allow-write.' : 'Pass --allow-write.');
      const guess = closest(toolName, tools.map((t) => t.name));
      throw new UsageError(`Unknown tool "${toolName}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'UNKNOWN_COMMAND', 'List them with `portunix-db mcp tools`.');
    }
    raw = raw.filter((a) => a !== '--');
    const args = coerceArguments(tool, raw, base);
    // a backup or restore outlives the SDK's 60 s request limit: the call asks for progress,
    // shows it on stderr (unless --quiet), and each progress notification restarts the wait
    const quiet = !!(cmd.optsWithGlobals() as { quiet?: boolean }).quiet;
    const onprogress = (p: { message?: string }) => {
      if (!quiet && p.message) process.stderr.write(`  ${p.message}\n`);
    };
    const result = (await client.callTool({ name: toolName, arguments: args }, undefined, { onprogress, resetTimeoutOnProgress: true, timeout: 300_000, maxTotalTimeout: 6 * 3_600_000 })) as CallToolResult;
    printResult(result, wantsJson(cmd));
  } finally {
    await client.close();
  }
}

export async function clientConfig(clientName: string, opts: { write?: boolean; file?: string; allowWrite?: boolean; role?: string; url?: string; tokenFile?: string; with?: string[]; target?: string[] }, cmd: Command): Promise<void> {
  const client = parseClient(clientName);
  if (opts.role) parseRole(opts.role);
  const upstreams = opts.with ? parseUpstreams(opts.with).map((d) => d.id) : undefined;
  for (const t of opts.target ?? []) parseTarget(t);
  const http = opts.url ? { url: opts.url, token: await readTokenFile(opts.tokenFile ?? defaultTokenFile()) } : undefined;
  const plan = planClientConfig(client, { ...(opts.allowWrite ? { allowWrite: true } : {}), ...(opts.role ? { role: opts.role } : {}), ...(opts.file ? { file: opts.file } : {}), ...(http ? { http } : {}), ...(upstreams ? { with: upstreams } : {}), ...(opts.target ? { targets: opts.target } : {}) });
  const written = opts.write ? await writeClientConfig(plan) : undefined;
  if (wantsJson(cmd)) return out(JSON.stringify({ client, file: plan.file, snippet: plan.snippet, ...(plan.command ? { command: plan.command } : {}), ...(written ? { written } : {}) }));
  const lines: string[] = [];
  if (written) {
    lines.push(`${written.replaced ? 'Updated' : 'Added'} "${plan.name}" in ${written.file}${written.created ? ' (new file)' : ''}${written.backup ? `; previous version saved as ${written.backup}` : ''}.`);
    lines.push(client === 'claude-desktop' ? 'Restart Claude Desktop to load it.' : client === 'claude-code' ? 'Claude Code asks to approve project servers on its next start (`claude mcp list` shows it).' : 'Reload the editor window to load it.');
  } else {
    lines.push(`Add this to ${plan.file} (or run again with --write to merge it there):`);
    lines.push(JSON.stringify(plan.snippet, null, 2));
    if (plan.command) lines.push('', 'Or register it with the Claude Code CLI:', plan.command);
  }
  out(lines.join('\n'));
}

function parseJsonArgs(text: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`Tool arguments are not valid JSON: ${(err as Error).message}`, 'USAGE', `Pass an object, e.g. --json '{"type":"postgresql"}'.`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UsageError('Tool arguments must be a JSON object.', 'USAGE', `e.g. --json '{"type":"postgresql"}'.`);
  return v as Record<string, unknown>;
}

function resultText(result: CallToolResult): string {
  return result.content
    .map((c) => (c.type === 'text' ? c.text : `[${c.type}]`))
    .join('\n');
}

function printResult(result: CallToolResult, json: boolean): void {
  if (result.isError) {
    const text = resultText(result);
    if (json) out(JSON.stringify({ isError: true, error: text }));
    else process.stderr.write(text + '\n');
    // the same exit code the matching command gives (errorResult writes "Error [CODE]: ...")
    process.exitCode = exitCodeForCode(/^Error \[([A-Z_]+)\]/.exec(text)?.[1] ?? 'INTERNAL');
    return;
  }
  if (json) out(JSON.stringify(result.structuredContent ?? { text: resultText(result) }));
  else out(resultText(result));
}

function describeTool(t: Tool): string {
  const props = (t.inputSchema.properties ?? {}) as Record<string, { type?: string | string[]; description?: string }>;
  const required = new Set(t.inputSchema.required ?? []);
  const a = t.annotations;
  const kind = a?.readOnlyHint ? 'read' : a?.destructiveHint ? 'destructive' : 'write';
  const params = Object.entries(props).map(([name, p]) => `    --${name}${required.has(name) ? ' (required)' : ''}  ${Array.isArray(p.type) ? p.type.join('|') : (p.type ?? '')}${p.description ? `  ${p.description}` : ''}`);
  return [`${t.name}  [${kind}]  ${t.description ?? ''}`, ...params].join('\n');
}

