/**
 * `mcp config <client>`: the snippet that registers this server with an MCP client, and
 * (with --write) a merge into the client's config file that keeps every other entry and
 * backs up the old file first.
 */
import { copyFile, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { DbError, UsageError } from '../core/errors.js';
import { closest } from '../core/did-you-mean.js';
import { selfCommand, serveArgs } from './client.js';
import { MCP_CLIENTS } from './cli-names.js';

export const CLIENTS = MCP_CLIENTS;
export type McpClientId = (typeof CLIENTS)[number];

export const ENTRY_NAME = 'portunix-db';

export function parseClient(value: string): McpClientId {
  if ((CLIENTS as readonly string[]).includes(value)) return value as McpClientId;
  const guess = closest(value, CLIENTS);
  throw new UsageError(`Unknown MCP client "${value}".${guess ? ` Did you mean "${guess}"?` : ''}`, 'USAGE', `Clients: ${CLIENTS.join(', ')}.`);
}

export type ServerEntry =
  | { type?: 'stdio'; command: string; args: string[]; env?: Record<string, string> }
  /** A running HTTP server; the bearer token travels in the header (the snippet is a secret: the written file stays 0600). */
  | { type: 'http'; url: string; headers: { Authorization: string } };

export interface ClientConfigPlan {
  client: McpClientId;
  /** The file --write merges into. */
  file: string;
  /** Key under which servers live in that file. */
  container: 'mcpServers' | 'servers';
  name: string;
  entry: ServerEntry;
  /** The whole snippet as it appears in the file. */
  snippet: Record<string, unknown>;
  /** A command that registers it instead (claude-code has one). */
  command?: string;
}

/** Where each client keeps its MCP servers (project files for claude-code and vscode, user files for the others). */
export function configFileFor(client: McpClientId, cwd = process.cwd(), platform = process.platform, env = process.env): string {
  switch (client) {
    case 'claude-desktop':
      if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Claude', 'claude_desktop_config.json');
      if (platform === 'win32') return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'Claude', 'claude_desktop_config.json');
      return join(env['XDG_CONFIG_HOME'] ?? join(homedir(), '.config'), 'Claude', 'claude_desktop_config.json');
    case 'claude-code':
      return join(cwd, '.mcp.json');
    case 'cursor':
      return join(homedir(), '.cursor', 'mcp.json');
    case 'vscode':
      return join(cwd, '.vscode', 'mcp.json');
  }
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export function planClientConfig(client: McpClientId, options: { allowWrite?: boolean; role?: string; file?: string; cwd?: string; http?: { url: string; token: string }; with?: string[]; targets?: string[] } = {}): ClientConfigPlan {
  if (options.http && (options.with?.length || options.targets?.length)) {
    throw new UsageError('--with and --target belong to the running HTTP server, not to its client entry.', 'USAGE', 'Start it with `portunix-db mcp serve --transport http --with ...`, or drop --url to register a stdio server with upstreams.');
  }
  if (options.http) {
    if (client === 'claude-desktop') throw new UsageError('Claude Desktop registers local servers over stdio only.', 'USAGE', 'Drop --url to register the stdio server, or use claude-code, cursor or vscode for HTTP.');
    const entry: ServerEntry = { type: 'http', url: options.http.url, headers: { Authorization: `Bearer ${options.http.token}` } };
    const container = client === 'vscode' ? 'servers' : 'mcpServers';
    return {
      client,
      file: options.file ? resolve(options.file) : configFileFor(client, options.cwd),
      container,
      name: ENTRY_NAME,
      entry,
      snippet: { [container]: { [ENTRY_NAME]: entry } },
      ...(client === 'claude-code' ? { command: ['claude', 'mcp', 'add', '--transport', 'http', ENTRY_NAME, shellQuote(options.http.url), '--header', shellQuote(`Authorization: Bearer ${options.http.token}`)].join(' ') } : {}),
    };
  }
  const self = selfCommand();
  const script = self.args[0] ? [safeRealpath(self.args[0])] : [];
  const args = [...script, ...serveArgs(options)];
  const env: Record<string, string> = {};
  if (process.env['PORTUNIX_HOME']) env['PORTUNIX_HOME'] = resolve(process.env['PORTUNIX_HOME']);
  const entry: ServerEntry = {
    ...(client === 'claude-code' || client === 'vscode' ? { type: 'stdio' as const } : {}),
    command: self.command,
    args,
    ...(Object.keys(env).length ? { env } : {}),
  };
  const container = client === 'vscode' ? 'servers' : 'mcpServers';
  const plan: ClientConfigPlan = {
    client,
    file: options.file ? resolve(options.file) : configFileFor(client, options.cwd),
    container,
    name: ENTRY_NAME,
    entry,
    snippet: { [container]: { [ENTRY_NAME]: entry } },
  };
  if (client === 'claude-code') {
    const envFlags = Object.entries(env).map(([k, v]) => `-e ${k}=${shellQuote(v)}`);
    plan.command = ['claude', 'mcp', 'add', ENTRY_NAME, ...envFlags, '--', shellQuote(self.command), ...args.map(shellQuote)].join(' ');
  }
  return plan;
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

export interface WriteOutcome {
  file: string;
  created: boolean;
  backup?: string;
  replaced: boolean;
}

/** Merges the entry into the client's file: other servers and keys stay, the old file is copied to <file>.bak-<time>. */
export async function writeClientConfig(plan: ClientConfigPlan): Promise<WriteOutcome> {
  let existing: Record<string, unknown> = {};
  let created = true;
  let mode = 0o600;
  try {
    const text = await readFile(plan.file, 'utf8');
    created = false;
    mode = (await stat(plan.file)).mode & 0o777;
    if (text.trim() !== '') {
      try {
        existing = JSON.parse(text) as Record<string, unknown>;
      } catch (err) {
        throw new DbError(`${plan.file} is not plain JSON (${(err as Error).message}); not touching it.`, 'INVALID_CONFIG', `Add this under "${plan.container}" by hand:\n${JSON.stringify({ [plan.name]: plan.entry }, null, 2)}`);
      }
      if (typeof existing !== 'object' || existing === null || Array.isArray(existing)) {
        throw new DbError(`${plan.file} does not hold a JSON object; not touching it.`, 'INVALID_CONFIG', 'Fix or move the file, then run again.');
      }
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const servers = existing[plan.container];
  if (servers !== undefined && (typeof servers !== 'object' || servers === null || Array.isArray(servers))) {
    throw new DbError(`"${plan.container}" in ${plan.file} is not an object; not touching it.`, 'INVALID_CONFIG', 'Fix that key, then run again.');
  }
  const replaced = !!servers && plan.name in (servers as Record<string, unknown>);
  const next = { ...existing, [plan.container]: { ...((servers as Record<string, unknown>) ?? {}), [plan.name]: plan.entry } };
  await mkdir(dirname(plan.file), { recursive: true });
  let backup: string | undefined;
  if (!created) {
    backup = `${plan.file}.bak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await copyFile(plan.file, backup);
  }
  // a snippet with a bearer token is a secret: owner-only, whatever the file was before
  if (plan.entry.type === 'http') mode &= 0o700;
  const tmp = `${plan.file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(next, null, 2) + '\n', { mode });
  await rename(tmp, plan.file);
  return { file: plan.file, created, replaced, ...(backup ? { backup } : {}) };
}
