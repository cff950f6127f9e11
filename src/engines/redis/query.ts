/**
 * Read-only access for assistants: an ACL user limited to the read commands that are not
 * dangerous (+@read -@dangerous: no KEYS, DEBUG, CONFIG, MONITOR...), so a write is answered
 * NOPERM by Redis itself.
 */
import type { InstanceContext, QueryRequest, QueryResult, ReadonlyAccountOutcome, ReadonlyAccountSpec } from '../contract.js';
import { DbError, UsageError } from '../../core/errors.js';
import { withRedis } from './client.js';
import { validateIdentifier } from './identifiers.js';

/** The ACL rules of the read-only user (without its password). Pure, for tests. */
export const READONLY_RULES = ['reset', 'on', '~*', '&*', '-@all', '+@read', '-@dangerous', '-keys', '-debug', '-config', '+ping', '+select', '+echo'];

export async function readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome> {
  validateIdentifier('user', spec.user);
  return withRedis(ctx, async (c) => {
    const existing = (await c.send(['ACL', 'USERS'])) as string[];
    await c.send(['ACL', 'SETUSER', spec.user, ...READONLY_RULES, `>${spec.password}`]);
    await c.send(['ACL', 'SAVE']);
    return { user: spec.user, created: !existing.map(String).includes(spec.user), enforcement: [`ACL ${READONLY_RULES.filter((r) => r !== 'reset' && r !== 'on').join(' ')}`] };
  });
}

/** Splits one command line like redis-cli does: spaces separate, quotes group, backslash escapes in double quotes. */
export function splitCommand(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quote: '"' | "'" | undefined;
  let started = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quote) {
      if (ch === quote) quote = undefined;
      else if (ch === '\\' && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      started = true;
    } else if (/\s/.test(ch)) {
      if (started) out.push(cur);
      cur = '';
      started = false;
    } else {
      cur += ch;
      started = true;
    }
  }
  if (quote) throw new UsageError('Unbalanced quotes in the Redis command.', 'USAGE', 'Close the quote, e.g. GET "my key".');
  if (started) out.push(cur);
  return out;
}

function cell(v: unknown): unknown {
  return Array.isArray(v) ? JSON.stringify(v) : v;
}

export async function query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  if (!request.account) throw new DbError(`Queries on redis/${ctx.name} run only under the read-only account.`, 'INTERNAL', 'This is a bug in portunix-db: the core passes the account.');
  const args = splitCommand(request.text.trim());
  if (args.length === 0) throw new UsageError('Empty Redis command.', 'USAGE', 'Pass one command, e.g. `HGETALL user:1`.');
  let database: number | undefined;
  if (request.database !== undefined) {
    if (!/^\d{1,2}$/.test(request.database)) throw new UsageError(`Redis keyspaces are numbers; "${request.database}" is not one.`, 'USAGE', 'Pass --database 0 (or another keyspace number).');
    database = Number(request.database);
  }
  const reply = await withRedis(
    ctx,
    async (c) =>
      Promise.race([
        c.send(args),
        new Promise((_, reject) => setTimeout(() => reject(new DbError(`The Redis command did not finish within ${request.timeoutMs} ms.`, 'TIMEOUT')), request.timeoutMs).unref()),
      ]),
    { user: request.account.user, password: request.account.password, ...(database !== undefined ? { database } : {}) },
  );
  const rows = Array.isArray(reply) ? reply.map((v) => [cell(v)]) : [[cell(reply)]];
  return { columns: ['value'], rows: rows.slice(0, request.maxRows), truncated: rows.length > request.maxRows, command: args[0]!.toUpperCase() };
}
