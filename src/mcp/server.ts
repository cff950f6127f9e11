/**
 * The MCP server: one McpServer with the tools the role allows. Tools that the role may not
 * use are not registered at all, so a read-only server does not even list them.
 */
import { userInfo } from 'node:os';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { loadConfig } from '../core/config.js';
import { ENGINE_IDS } from '../engines/ids.js';
import { DEFAULT_LIMIT } from '../core/paging.js';
import { UsageError } from '../core/errors.js';
import { packageVersion } from '../core/package-info.js';
import { realCore, type CoreOps } from './core.js';
import { ROLE_OPERATIONS, ROLES, registerTool, type OperationType, type Role, type ToolContext, type ToolDefinition } from './tool-base.js';
import { TOOLS } from './tools/index.js';
import { registerUpstreamTools, type UpstreamProcess } from './upstream.js';
import { serveToolList } from './tool-listing.js';

export const SERVER_NAME = 'portunix-db';

export function serverVersion(): string {
  return packageVersion();
}

export interface ServerOptions {
  /** Explicit role; wins over allowWrite. */
  role?: Role;
  /** `--allow-write`: admin unless a role is given. */
  allowWrite?: boolean;
  core?: CoreOps;
  log?: (message: string) => void;
  /** Running upstream MCP servers whose tools are re-exported; failures are named in the instructions. */
  upstreams?: { running: UpstreamProcess[]; failures: { id: string; message: string }[] };
}

export function parseRole(value: string): Role {
  if ((ROLES as readonly string[]).includes(value)) return value as Role;
  throw new UsageError(`Unknown MCP role "${value}".`, 'USAGE', `Use one of: ${ROLES.join(', ')} (reader = read-only, operator = + backups and maintenance, admin = + restore).`);
}

/**
 * Role precedence: --role, then --allow-write (admin), then config.mcp.roles[<OS user>],
 * then config.mcp.allow_write (admin), else reader (read-only).
 */
export async function resolveRole(options: { role?: string; allowWrite?: boolean }): Promise<Role> {
  if (options.role) return parseRole(options.role);
  if (options.allowWrite) return 'admin';
  const config = await loadConfig();
  let user = '';
  try {
    user = userInfo().username;
  } catch {
    /* no user name: fall through */
  }
  const fromConfig = config.mcp?.roles?.[user];
  if (fromConfig) return fromConfig;
  return config.mcp?.allow_write ? 'admin' : 'reader';
}

export function toolsForRole(role: Role): ToolDefinition[] {
  const allowed = new Set<OperationType>(ROLE_OPERATIONS[role]);
  return TOOLS.filter((t) => allowed.has(t.operation));
}

const INSTRUCTIONS = [
  'portunix-db manages local database servers (PostgreSQL, MySQL, MariaDB, SQLite, Redis, ...).',
  'Start with db_status (no arguments) to see every instance; then pass `type` (engine) and `instance` (default "main") to the other tools.',
  `Engines: ${ENGINE_IDS.join(', ')} (aliases like "pg" work).`,
  '`database` is a name, or a number for a numbered database (Redis keyspace 0-15).',
  `Lists are paged (\`limit\`, default ${DEFAULT_LIMIT}, and a byte cap): when \`truncated\` is true, call again with \`cursor\` = next_cursor.`,
  'Write tools (db_backup_create, db_vacuum, db_restore) exist only when the server runs with --allow-write; db_restore also needs confirm: true.',
  'db_query runs SQL (or a Redis read command) as a read-only account the database enforces.',
].join(' ');

function instructionsFor(upstreams: ServerOptions['upstreams']): string {
  if (!upstreams) return INSTRUCTIONS;
  const up = upstreams.running.length ? ` Tools named sql_*, mongo_*, es_* come from wrapped upstream servers (${[...new Set(upstreams.running.map((u) => `${u.def.title} ${u.def.version}`))].join(', ')}) under the same read-only accounts.` : '';
  const down = upstreams.failures.map((f) => ` ${f.id} is unavailable: ${f.message}`).join('');
  return INSTRUCTIONS + up + down;
}

export function createMcpServer(options: ServerOptions & { role: Role }): { server: McpServer; tools: ToolDefinition[] } {
  const log = options.log ?? ((m: string) => process.stderr.write(`[portunix-db mcp] ${m}\n`));
  const ctx: ToolContext = {
    core: options.core ?? realCore,
    role: options.role,
    allowed: new Set(ROLE_OPERATIONS[options.role]),
    log,
  };
  const server = new McpServer({ name: SERVER_NAME, version: serverVersion() }, { capabilities: { tools: {}, logging: {} }, instructions: instructionsFor(options.upstreams) });
  const tools = toolsForRole(options.role);
  const listed = tools.map((def) => registerTool(server, def, ctx));
  if (options.upstreams) listed.push(...registerUpstreamTools(server, options.upstreams.running, options.role));
  serveToolList(server, listed);
  return { server, tools };
}
