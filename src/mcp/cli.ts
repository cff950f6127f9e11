/**
 * `portunix-db mcp serve|tools|call|config`. The lead's CLI calls registerMcpCommands(program).
 * Errors are thrown as DbError for the CLI's one error handler; results print as text, or as
 * exactly one JSON document with --json.
 *
 * Only the command definitions live here: the server, the client, the SDK and zod load from
 * ./cli-actions.js when an `mcp` command runs, so `status` or `--version` never pay for them.
 */
import type { Command } from 'commander';
import { UsageError } from '../core/errors.js';
import { MCP_CLIENTS, UPSTREAM_IDS } from './cli-names.js';

const actions = () => import('./cli-actions.js');

export const DEFAULT_HTTP_PORT = 8765;

export function registerMcpCommands(program: Command): void {
  const mcp = program.command('mcp').description('MCP server for AI assistants (read-only by default), and a client to try it');

  mcp
    .command('serve')
    .description('Run the MCP server: stdio (default) or streamable HTTP at /mcp')
    .addHelpText('after', '\nExamples:\n  $ portunix-db mcp serve\n  $ portunix-db mcp serve --transport http --port 8765 --token-file ~/.portunix/db/mcp.token --allow-write')
    .option('--transport <transport>', 'stdio or http', 'stdio')
    .option('--host <host>', 'HTTP: address to bind (a non-loopback address needs --token-file)', '127.0.0.1')
    .option('--port <port>', `HTTP: port (0 = any free port)`, String(DEFAULT_HTTP_PORT))
    .option('--allow-write', 'also offer db_backup_create, db_vacuum and db_restore (role admin)')
    .option('--role <role>', 'reader (read-only), operator (+ backup, vacuum) or admin (+ restore)')
    .option('--token-file <file>', 'HTTP: require "Authorization: Bearer <token>" with the token in this file (mode 600)')
    .option('--allowed-host <name...>', 'HTTP: extra Host names to accept (DNS rebinding protection)')
    .option('--with <upstreams...>', `also serve upstream MCP servers' tools: ${UPSTREAM_IDS.join(', ')} (comma-separated)`)
    .option('--target <engine/instance/database...>', 'instances (and databases) the upstreams serve; default every running instance')
    .option('--idle-timeout <seconds>', 'keep database connections open between calls, closing them after this long unused (0: a new connection per call)', String(DEFAULT_POOL_IDLE_SECONDS))
    .action(async (opts: { transport: string; host: string; port: string; allowWrite?: boolean; role?: string; tokenFile?: string; allowedHost?: string[]; with?: string[]; target?: string[]; idleTimeout: string }) => (await actions()).serve(opts));

  const upstream = mcp.command('upstream').description('Upstream MCP servers that `mcp serve --with` wraps (pinned npm versions in the tool cache)');
  upstream
    .command('list')
    .description('The upstreams, their pinned versions, and whether they are installed')
    .option('--json', 'print one JSON document')
    .action(async (_o: unknown, cmd: Command) => (await actions()).upstreamList(_o, cmd));
  upstream
    .command('install')
    .description('Install an upstream\'s pinned npm package (and a pinned Node.js when it needs a newer one) into the tool cache')
    .argument('<upstream>', UPSTREAM_IDS.join(' | '))
    .addHelpText('after', '\nExample:\n  $ portunix-db mcp upstream install dbhub\n  $ portunix-db mcp serve --with dbhub --target postgresql/main/shop')
    .option('--json', 'print one JSON document')
    .action(async (id: string, _o: unknown, cmd: Command) => (await actions()).upstreamInstall(id, _o, cmd));

  mcp
    .command('tools')
    .description('List the MCP tools with their input schemas')
    .addHelpText('after', '\nExample:\n  $ portunix-db mcp tools --json')
    .option('--allow-write', 'as a server started with --allow-write lists them')
    .option('--role <role>', 'as a server with this role lists them')
    .option('--url <url>', 'ask a running HTTP server instead')
    .option('--token-file <file>', 'bearer token for --url')
    .option('--json', 'print one JSON document')
    .action(async (opts: { allowWrite?: boolean; role?: string; url?: string; tokenFile?: string }, cmd: Command) => (await actions()).listTools(opts, cmd));

  mcp
    .command('call')
    .description('Call one tool and print its result: text, or the structured result with --json')
    .addHelpText('after', '\nExamples:\n  $ portunix-db mcp call db_status\n  $ portunix-db mcp call db_tables --type postgresql --database shop --include_sizes true --json')
    .argument('<tool>', 'tool name, e.g. db_status')
    .argument('[arguments...]', 'tool arguments as --name value (e.g. --type postgresql --limit 10)')
    .option('--args <json>', 'tool arguments as a JSON object')
    .option('--json [args]', 'print the structured result as JSON; a JSON object value is taken as the tool arguments')
    .option('--url <url>', 'call a running HTTP server instead of spawning one over stdio')
    .option('--token-file <file>', 'bearer token for --url')
    .option('--allow-write', 'spawn the server with --allow-write')
    .option('--role <role>', 'spawn the server with this role')
    .allowUnknownOption()
    .helpOption('-h, --help')
    .action(async (toolName: string, rest: string[], opts: { args?: string; json?: string | boolean; url?: string; tokenFile?: string; allowWrite?: boolean; role?: string }, cmd: Command) => (await actions()).callTool(toolName, rest, opts, cmd));

  mcp
    .command('config')
    .description(`Print (or --write) the snippet that registers this server with an MCP client: ${MCP_CLIENTS.join(', ')}`)
    .addHelpText('after', '\nExample:\n  $ portunix-db mcp config claude-code --write')
    .argument('<client>', MCP_CLIENTS.join(' | '))
    .option('--write', "merge it into the client's config file (other entries stay; the old file is backed up)")
    .option('--file <file>', 'config file to use instead of the client\'s default')
    .option('--allow-write', 'register the server with --allow-write')
    .option('--role <role>', 'register the server with this role')
    .option('--with <upstreams...>', `register it with upstream MCP servers: ${UPSTREAM_IDS.join(', ')} (comma-separated)`)
    .option('--target <engine/instance/database...>', 'instances the upstreams serve')
    .option('--url <url>', 'register a running HTTP server (`mcp serve --transport http`) instead of stdio; its bearer token goes in the snippet')
    .option('--token-file <file>', `with --url: the server's token file (default: ${'<PORTUNIX_HOME>'}/mcp-http.token)`)
    .option('--json', 'print one JSON document')
    .action(async (clientName: string, opts: { write?: boolean; file?: string; allowWrite?: boolean; role?: string; url?: string; tokenFile?: string; with?: string[]; target?: string[] }, cmd: Command) => (await actions()).clientConfig(clientName, opts, cmd));
}

/** How long `mcp serve` keeps an unused database connection (`--idle-timeout`). */
export const DEFAULT_POOL_IDLE_SECONDS = 60;

export function parseIdleTimeout(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !Number.isFinite(n) || n > 86_400) throw new UsageError(`Invalid --idle-timeout "${text}".`, 'USAGE', 'Give seconds from 0 (no pooling) to 86400, e.g. --idle-timeout 60.');
  return n;
}

