/**
 * The CLI's MCP client: `mcp call` and `mcp tools` talk to a server they spawn over stdio
 * (the same node binary and script, so it is exactly this portunix-db) or to --url over HTTP.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { DbError, UsageError } from '../core/errors.js';
import { closest } from '../core/did-you-mean.js';
import { createMcpServer, serverVersion } from './server.js';
import type { Role } from './tool-base.js';

export interface ConnectOptions {
  url?: string;
  token?: string;
  allowWrite?: boolean;
  role?: string;
  /** Where the spawned server's stderr goes (default: ignored unless it fails). */
  stderr?: 'inherit' | 'ignore' | 'pipe';
}

/** The command that runs this very CLI: node + its script. */
export function selfCommand(): { command: string; args: string[] } {
  return { command: process.execPath, args: process.argv[1] ? [process.argv[1]] : [] };
}

export function serveArgs(options: { allowWrite?: boolean; role?: string; with?: string[]; targets?: string[] }): string[] {
  return [
    'mcp',
    'serve',
    ...(options.allowWrite ? ['--allow-write'] : []),
    ...(options.role ? ['--role', options.role] : []),
    ...(options.with?.length ? ['--with', options.with.join(',')] : []),
    ...(options.targets ?? []).flatMap((t) => ['--target', t]),
  ];
}

export async function connectClient(options: ConnectOptions): Promise<Client> {
  const client = new Client({ name: 'portunix-db-cli', version: serverVersion() });
  if (options.url) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new UsageError(`Invalid --url "${options.url}".`, 'USAGE', 'Pass the server address, e.g. http://127.0.0.1:8765/mcp.');
    }
    const transport = new StreamableHTTPClientTransport(url, options.token ? { requestInit: { headers: { authorization: `Bearer ${options.token}` } } } : {});
    await client.connect(transport);
    return client;
  }
  const self = selfCommand();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  const transport = new StdioClientTransport({ command: self.command, args: [...self.args, ...serveArgs(options)], env, stderr: options.stderr ?? 'pipe' });
  // The server's log lines are kept (last 8 kB) and shown only when it fails to start.
  let log = '';
  transport.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-8192);
  });
  try {
    await client.connect(transport);
  } catch (err) {
    throw new DbError(`Could not start the MCP server (${self.command} ${[...self.args, ...serveArgs(options)].join(' ')}): ${(err as Error).message}`, 'START_FAILED', log.trim() ? `Its output:\n${log.trim()}` : 'Run `portunix-db mcp serve` directly to see why.');
  }
  return client;
}

/** An in-process server and client pair (for `mcp tools` without --url: no process to spawn). */
export async function inProcessClient(role: Role): Promise<Client> {
  const { server } = createMcpServer({ role, log: () => undefined });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'portunix-db-cli', version: serverVersion() });
  await client.connect(clientSide);
  return client;
}

interface JsonSchemaProp {
  type?: string | string[];
  enum?: unknown[];
  items?: JsonSchemaProp;
  anyOf?: JsonSchemaProp[];
}

function typesOf(p: JsonSchemaProp | undefined): string[] {
  if (!p) return [];
  if (Array.isArray(p.type)) return p.type;
  if (p.type) return [p.type];
  return (p.anyOf ?? []).flatMap(typesOf);
}

/**
 * `--key value` pairs into tool arguments, coerced by the tool's input schema: numbers for
 * number/integer properties, booleans for boolean ones (a bare `--flag` is true), comma lists
 * for arrays. `--include-sizes` is `include_sizes`.
 */
export function coerceArguments(tool: Tool, raw: string[], base: Record<string, unknown> = {}): Record<string, unknown> {
  const props = (tool.inputSchema.properties ?? {}) as Record<string, JsonSchemaProp>;
  const names = Object.keys(props);
  const out: Record<string, unknown> = { ...base };
  for (let i = 0; i < raw.length; i++) {
    const token = raw[i]!;
    if (!token.startsWith('--')) throw new UsageError(`Unexpected argument "${token}".`, 'USAGE', 'Pass tool arguments as --name value.');
    let key = token.slice(2);
    let value: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) {
      value = key.slice(eq + 1);
      key = key.slice(0, eq);
    }
    key = key.replace(/-/g, '_');
    const prop = props[key];
    if (!prop) {
      const guess = closest(key, names);
      throw new UsageError(
        `${tool.name} has no argument "${key}".${guess ? ` Did you mean "--${guess}"?` : ''}`,
        'USAGE',
        names.length ? `Its arguments: ${names.map((n) => `--${n}`).join(', ')}.` : `${tool.name} takes no arguments.`,
      );
    }
    const types = typesOf(prop);
    if (value === undefined) {
      const next = raw[i + 1];
      if (types.includes('boolean') && (next === undefined || next.startsWith('--') || !/^(true|false)$/i.test(next))) value = 'true';
      else if (next === undefined) throw new UsageError(`--${key} needs a value.`, 'USAGE');
      else {
        value = next;
        i++;
      }
    }
    out[key] = coerceValue(key, value, types, prop);
  }
  return out;
}

function coerceValue(key: string, value: string, types: string[], prop: JsonSchemaProp): unknown {
  // a string is accepted as typed (a database "123" stays a name even where a number is allowed too)
  if (types.includes('string')) return value;
  if (types.includes('integer') || types.includes('number')) {
    if (/^-?\d+(\.\d+)?$/.test(value.trim())) return Number(value);
    if (!types.includes('string')) throw new UsageError(`--${key} must be a number, not "${value}".`, 'USAGE');
  }
  if (types.includes('boolean')) {
    if (/^true$/i.test(value)) return true;
    if (/^false$/i.test(value)) return false;
    if (!types.includes('string')) throw new UsageError(`--${key} must be true or false, not "${value}".`, 'USAGE');
  }
  if (types.includes('array')) return value.split(',').map((v) => coerceValue(key, v.trim(), typesOf(prop.items), prop.items ?? {}));
  return value;
}
