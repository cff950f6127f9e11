/**
 * The MCP tool model (after mongodb-mcp-server's ToolBase): every tool is one file with
 * static metadata (name, description, input and output schema, operation type) and a
 * `run` that validates nothing beyond its schema, calls ONE core operation and shapes the
 * result. Everything else is decided here, once:
 *  - the operation type gives the annotations (readOnlyHint, destructiveHint, idempotentHint),
 *    whether the tool is registered at all for the server's role, and whether it needs
 *    `confirm: true`;
 *  - errors become `isError` results with a message that says what to do next;
 *  - results are parsed through the declared output schema (so structuredContent always
 *    matches it) and carry compact text.
 */
import { z } from 'zod';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { CallToolResult, ServerNotification, ServerRequest, Tool, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import { DbError, toDbError } from '../core/errors.js';
import { audit } from '../core/audit.js';
import type { CoreOps } from './core.js';
import { listedTool } from './tool-listing.js';

/**
 * - read: looks, never changes anything.
 * - write: changes state but loses nothing (a backup file, a vacuum).
 * - destructive: may replace or delete data (restore); needs `confirm: true`.
 */
export type OperationType = 'read' | 'write' | 'destructive';
export const OPERATION_TYPES: readonly OperationType[] = ['read', 'write', 'destructive'];

export type Role = 'reader' | 'operator' | 'admin';
export const ROLES: readonly Role[] = ['reader', 'operator', 'admin'];

/** What each role may do. `--allow-write` without `--role` means admin. */
export const ROLE_OPERATIONS: Record<Role, readonly OperationType[]> = {
  reader: ['read'],
  operator: ['read', 'write'],
  admin: ['read', 'write', 'destructive'],
};

export interface ToolContext {
  core: CoreOps;
  role: Role;
  /** Operation types this server exposes. */
  allowed: ReadonlySet<OperationType>;
  log: (message: string) => void;
  /**
   * The core's progress reports during one call: to the log (stderr), as a `notifications/message`
   * (logging, at level info, filtered by the client's logging/setLevel) and, when the request
   * carries a progressToken, as `notifications/progress` with a rising count and the message.
   */
  progress?: (message: string) => void;
}

export interface ToolOutcome<O> {
  structured: O;
  /** Compact, table-like text for the assistant; not a JSON dump. */
  text: string;
}

export interface ToolDefinition<I extends z.ZodRawShape = z.ZodRawShape, O extends z.ZodRawShape = z.ZodRawShape> {
  name: string;
  title: string;
  description: string;
  operation: OperationType;
  input: I;
  output: O;
  run(args: z.infer<z.ZodObject<I>>, ctx: ToolContext): Promise<ToolOutcome<z.input<z.ZodObject<O>>>>;
  /** True when these arguments change server configuration (whatever the tool's type): admin only, audited. */
  changesConfig?(args: z.infer<z.ZodObject<I>>): boolean;
  /** Destructive tools: what this call would replace, one line, put in the confirmation error. */
  confirmText?(args: z.infer<z.ZodObject<I>>, ctx: ToolContext): Promise<string | undefined>;
}

/** Identity function that keeps the tool's types tied to its schemas. */
export function defineTool<I extends z.ZodRawShape, O extends z.ZodRawShape>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}

/**
 * MCP hints, without the defaults-for-read-tools noise: destructiveHint and idempotentHint are
 * meaningful only when readOnlyHint is false (MCP spec), so a read tool states readOnlyHint alone.
 */
export function annotationsFor(operation: OperationType): ToolAnnotations {
  switch (operation) {
    case 'read':
      return { readOnlyHint: true, openWorldHint: false };
    case 'write':
      return { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };
    case 'destructive':
      return { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false };
  }
}

export function needsConfirm(operation: OperationType): boolean {
  return operation === 'destructive';
}

const CONFIRM_SHAPE = {
  confirm: z.boolean().optional().describe('true, once the user agreed: replaces data'),
};

/** The input schema as registered: strict (unknown keys are errors), plus `confirm` for destructive tools. */
export function inputSchemaOf(def: ToolDefinition): z.ZodObject {
  return z.strictObject(needsConfirm(def.operation) ? { ...def.input, ...CONFIRM_SHAPE } : def.input);
}

/**
 * Built once per tool: a zod object compiles a validator (a generated function) on its first parse,
 * so building it per call made every call compile one again, garbage that the long-running server's
 * heap grew on.
 */
const outputSchemas = new WeakMap<ToolDefinition, z.ZodObject>();

export function outputSchemaOf(def: ToolDefinition): z.ZodObject {
  let schema = outputSchemas.get(def);
  if (!schema) outputSchemas.set(def, (schema = z.object(def.output)));
  return schema;
}

/** One error shape for every tool: what went wrong, then what to do next. Never a stack trace. */
export function errorResult(err: unknown): CallToolResult {
  const e = err instanceof DbError ? err : toDbError(err);
  const firstLine = (e.message.split('\n')[0] ?? '').slice(0, 2000);
  const hint = e.hint ?? (e.code === 'INTERNAL' ? 'Unexpected failure; the server log (stderr) has details. Check the instance with db_status.' : undefined);
  const text = `Error [${e.code}]: ${firstLine}${hint && !firstLine.includes(hint) ? `\nNext: ${hint}` : ''}`;
  return { isError: true, content: [{ type: 'text', text }] };
}

/** Runs a tool: confirm gate, one core call, output parsed through the declared schema, audit. */
export async function invokeTool(def: ToolDefinition, args: Record<string, unknown>, ctx: ToolContext): Promise<CallToolResult> {
  const { confirm, ...rest } = args;
  try {
    if (!ctx.allowed.has(def.operation)) {
      // Unreachable through the SDK (the tool is not registered), kept as a guard for direct calls.
      throw new DbError(`${def.name} is a ${def.operation} tool and this server runs as ${ctx.role}.`, 'FORBIDDEN', 'Restart the server with --allow-write (or --role operator/admin).');
    }
    if (needsConfirm(def.operation) && confirm !== true) {
      // Core operations audit what they do (with via: 'mcp'); a refused destructive call is audited here.
      await audit({ action: def.name, ...auditFields(rest), via: 'mcp', ok: false, detail: 'refused: confirm: true missing' });
      const what = await def.confirmText?.(rest as never, ctx).catch(() => undefined);
      throw new DbError(`${what ? `${what} ` : ''}${def.name} may replace existing data, so it needs explicit confirmation.`, 'CONFIRMATION_REQUIRED', 'Ask the user, then call it again with "confirm": true.');
    }
    const configChange = def.changesConfig?.(rest as never) ?? false;
    const changesState = def.operation !== 'read' || configChange;
    if (configChange && ctx.role !== 'admin') {
      await audit({ action: def.name, ...auditFields(rest), via: 'mcp', ok: false, detail: `refused: a configuration change needs the admin role (server runs as ${ctx.role})` });
      throw new DbError(`${def.name} with these arguments changes the server configuration, which needs the admin role; this server runs as ${ctx.role}.`, 'FORBIDDEN', 'Ask the user to run it, or to restart the server with --allow-write (admin by default) or --role admin.');
    }
    let outcome: Awaited<ReturnType<typeof def.run>>;
    try {
      outcome = await def.run(rest as never, ctx);
    } catch (err) {
      if (changesState) await audit({ action: def.name, ...auditFields(rest), via: 'mcp', ok: false, detail: toDbError(err).message.slice(0, 500) }).catch(() => undefined);
      throw err;
    }
    // every state-changing call is recorded; a call that cannot be recorded is reported as failed
    if (changesState) await audit({ action: def.name, ...auditFields(rest), via: 'mcp', ok: true, ...(configChange ? { detail: 'configuration change' } : {}) });
    const parsed = outputSchemaOf(def).safeParse(dropNulls(outcome.structured));
    if (!parsed.success) {
      ctx.log(`${def.name}: result does not match the output schema: ${parsed.error.message}`);
      throw new DbError(`${def.name} produced a result that does not match its declared output schema.`, 'INTERNAL', 'This is a bug in portunix-db; please report it with the tool arguments.');
    }
    return { content: [{ type: 'text', text: outcome.text }], structuredContent: parsed.data as Record<string, unknown> };
  } catch (err) {
    if (!(err instanceof DbError)) ctx.log(`${def.name}: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    return errorResult(err);
  }
}

/** Optional output fields are absent, never null: engines' nulls are dropped before validation. */
export function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== null && v !== undefined) out[k] = dropNulls(v);
    return out;
  }
  return value;
}

function auditFields(args: Record<string, unknown>): { engine?: string; instance?: string; target?: string } {
  const target = [args['database'], args['file'], args['target']].filter((v) => typeof v === 'string').join(' ');
  return {
    ...(target ? { target } : {}),
    ...(typeof args['type'] === 'string' ? { engine: args['type'] } : {}),
    ...(typeof args['instance'] === 'string' ? { instance: args['instance'] } : {}),
  };
}

/** Registers one tool (its calls go through the SDK and the zod schemas) and returns its compact tools/list entry. */
export function registerTool(server: McpServer, def: ToolDefinition, ctx: ToolContext): Tool {
  const inputSchema = inputSchemaOf(def);
  const outputSchema = outputSchemaOf(def);
  const annotations = annotationsFor(def.operation);
  server.registerTool(
    def.name,
    { title: def.title, description: def.description, inputSchema, outputSchema, annotations },
    (args: Record<string, unknown>, extra: RequestHandlerExtra<ServerRequest, ServerNotification>) => invokeTool(def, args, { ...ctx, progress: progressReporter(server, def.name, extra, ctx.log) }),
  );
  return listedTool({ name: def.name, title: def.title, description: def.description, input: inputSchema, output: outputSchema, annotations });
}

/** The call's progress reporter, or the log when the tool runs outside a request (direct invokeTool calls). */
export function reporter(ctx: ToolContext, tool: string): (message: string) => void {
  return ctx.progress ?? ((m) => ctx.log(`${tool}: ${m}`));
}

/** One call's progress reporter (ToolContext.progress). Notifications that cannot be sent are dropped: the call goes on. */
export function progressReporter(server: McpServer, tool: string, extra: Pick<RequestHandlerExtra<ServerRequest, ServerNotification>, '_meta' | 'sessionId' | 'sendNotification'>, log: (message: string) => void): (message: string) => void {
  const token = extra._meta?.progressToken;
  let step = 0;
  return (message) => {
    log(`${tool}: ${message}`);
    server.server.sendLoggingMessage({ level: 'info', logger: 'portunix-db', data: `${tool}: ${message}` }, extra.sessionId).catch(() => undefined);
    if (token !== undefined) extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: ++step, message } }).catch(() => undefined);
  };
}
