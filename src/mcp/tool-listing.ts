/**
 * What `tools/list` answers: every tool's name, title, description, annotations and a compact
 * JSON Schema, computed once per server. The SDK would convert each zod schema on every call
 * and keep every detail (string patterns, length limits, nested output shapes, safe-integer
 * bounds, `$schema`): about 37 KB for 15 tools, paid in tokens by every session. Here:
 *  - input schemas keep what a caller needs to build a call: types, enums, numeric limits, the
 *    (short) descriptions, `required`, and `additionalProperties: false`; the patterns and length
 *    limits stay in the zod schema the server validates every call with, whose error says what
 *    is wrong;
 *  - output schemas name the fields every result has (`required`); their shapes are in the
 *    compact text every result carries, and optional fields show when present.
 * The server still validates arguments and results against the full zod schemas.
 */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { ListToolsRequestSchema, type Tool, type ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';

type Json = Record<string, unknown>;

/** Validation details that the server enforces and a caller does not need to read. */
const DROPPED = new Set(['$schema', 'pattern', 'minLength', 'maxLength', 'propertyNames', 'format']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One level of a JSON Schema as a caller reads it (see the file comment). */
export function compactInputSchema(schema: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (DROPPED.has(k)) continue;
    if ((k === 'minimum' || k === 'maximum') && typeof v === 'number' && Math.abs(v) >= Number.MAX_SAFE_INTEGER) continue;
    if (k === 'anyOf' && Array.isArray(v)) {
      const branches = v.filter(isObject).map(compactInputSchema);
      const types = branches.map((b) => b['type']);
      // string | integer (a name or a number): one `type` list instead of two branches
      if (branches.every((b) => typeof b['type'] === 'string' && Object.keys(b).every((key) => key === 'type' || key === 'minimum' || key === 'maximum'))) out['type'] = [...new Set(types)];
      else out['anyOf'] = branches;
    } else if (k === 'properties' && isObject(v)) out[k] = Object.fromEntries(Object.entries(v).map(([name, p]) => [name, isObject(p) ? compactInputSchema(p) : p]));
    else if (k === 'items' && isObject(v)) out[k] = compactInputSchema(v);
    else if (k === 'additionalProperties') {
      if (v === false) out[k] = false; // `{}` (anything) is the default: left out
    } else out[k] = v;
  }
  return out;
}

/** The fields every result has (a real constraint a client can check), without their shapes. */
export function compactOutputSchema(schema: Json): Json {
  const required = Array.isArray(schema['required']) ? schema['required'].filter((k): k is string => typeof k === 'string') : [];
  return { type: 'object', ...(required.length ? { required } : {}) };
}

/** The listed form of one of our tools. */
export function listedTool(t: { name: string; title: string; description: string; input: z.ZodObject; output?: z.ZodObject; annotations: ToolAnnotations }): Tool {
  return {
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: compactInputSchema(z.toJSONSchema(t.input, { target: 'draft-7', io: 'input' }) as Json) as Tool['inputSchema'],
    ...(t.output ? { outputSchema: compactOutputSchema(z.toJSONSchema(t.output, { target: 'draft-7', io: 'output' }) as Json) as Tool['outputSchema'] } : {}),
    annotations: t.annotations,
  };
}

/**
 * Answers tools/list with `tools` (already compact) instead of the SDK's per-call conversion.
 * Call it after every tool is registered: the SDK installs its own handler on the first
 * registration, and this replaces it. tools/call still goes through the SDK (and the zod schemas).
 */
export function serveToolList(server: McpServer, tools: readonly Tool[]): void {
  const answer = { tools: [...tools] };
  server.server.setRequestHandler(ListToolsRequestSchema, () => answer);
}

/** Bytes of a tools/list answer as sent (JSON). */
export function listBytes(tools: readonly Tool[]): number {
  return Buffer.byteLength(JSON.stringify({ tools }));
}
