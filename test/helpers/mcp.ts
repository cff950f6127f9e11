/**
 * Shared pieces of the real-server MCP tests: the environment of a `mcp serve` child for one
 * PORTUNIX_HOME, the SDK client over stdio spawning the built CLI, and small call helpers.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { CLI } from './cli.js';

/** The environment the CLI runs with in tests: this process's, plus the fresh home and the file secret backend. */
export function mcpEnv(home: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  Object.assign(env, { PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'file', NO_COLOR: '1' });
  return env;
}

const handedOut = new Set<number>();

/**
 * A port nothing listens on now, from the kernel's ephemeral range (so never a server default such
 * as 5432, which a test that does not pass --port gets), and never the same one twice in a process.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    return port;
  }
}

/** An SDK client connected over stdio to `portunix-db mcp serve [...extra]` for `home`. */
export async function stdioClient(home: string, extra: string[] = []): Promise<Client> {
  const client = new Client({ name: 'mcp-integration', version: '0' });
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [CLI, 'mcp', 'serve', ...extra], env: mcpEnv(home), stderr: 'ignore' }));
  return client;
}

/**
 * The SDK gives up on a request after 60 s. A backup or restore on a loaded 2-core machine can
 * take longer, so calls wait longer; they ask for progress (our tools send it), and each progress
 * notification restarts the wait, as a patient client would.
 */
const CALL_OPTIONS = { timeout: 300_000, maxTotalTimeout: 1_800_000, resetTimeoutOnProgress: true, onprogress: () => undefined };

export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args }, undefined, CALL_OPTIONS)) as CallToolResult;
}

export function text(r: CallToolResult): string {
  return r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** A successful call's structured result. */
export async function ok<T = any>(client: Client, name: string, args: Record<string, unknown> = {}): Promise<{ s: T; text: string }> {
  const r = await call(client, name, args);
  assert.notEqual(r.isError, true, `${name} failed: ${text(r)}`);
  assert.ok(r.structuredContent, `${name} has structuredContent`);
  return { s: r.structuredContent as T, text: text(r) };
}

/** A failed call: isError, no structured content; returns its text. */
export async function fails(client: Client, name: string, args: Record<string, unknown> = {}): Promise<string> {
  const r = await call(client, name, args);
  assert.equal(r.isError, true, `${name} ${JSON.stringify(args)} should fail: ${text(r)}`);
  assert.equal(r.structuredContent, undefined, `${name} failed without structured content`);
  return text(r);
}
