/**
 * Read-only queries on SQLite: no accounts, so the file is opened read-only (mode=ro) with
 * `PRAGMA query_only = ON` in a child process that is killed at the time limit.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { InstanceContext, QueryRequest, QueryResult } from '../contract.js';
import { DbError, UsageError } from '../../core/errors.js';
import { listFiles, mapSqliteError, requireDatabase } from './instance.js';

/**
 * The worker script: beside this module in tsc's output; in the plugin's bundle it is its own
 * entry (scripts/bundle.mjs), dist/bundle/sqlite-query-worker.mjs, and this code sits in a chunk
 * one level down or in the entry itself.
 */
function workerPath(): string {
  const candidates = ['./query-worker.js', '../sqlite-query-worker.mjs', './sqlite-query-worker.mjs'].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  const found = candidates.find((c) => existsSync(c));
  if (!found) throw new DbError('The SQLite query worker is missing from this installation.', 'INTERNAL', `Looked for: ${candidates.join(', ')}. Reinstall portunix-db.`);
  return found;
}

export async function query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult> {
  let name = request.database;
  if (!name) {
    const all = await listFiles(ctx);
    if (all.length !== 1) throw new UsageError(`${ctx.engine}/${ctx.name} has ${all.length} databases${all.length ? `: ${all.map((f) => f.name).join(', ')}` : ''}.`, 'USAGE', all.length ? 'Name one with `database`.' : 'Create one with `portunix-db create NAME --type sqlite`.');
    name = all[0]!.name;
  }
  const file = await requireDatabase(ctx, name);
  const worker = fork(workerPath(), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
  worker.send({ path: file.path, text: request.text, maxRows: request.maxRows });
  try {
    const answer = await new Promise<QueryResult | { error: { code: string; message: string } }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new DbError(`The query did not finish within ${request.timeoutMs} ms and was stopped.`, 'TIMEOUT', 'Narrow it (WHERE, LIMIT) or raise the time limit.')), request.timeoutMs);
      worker.once('message', (m) => {
        clearTimeout(timer);
        resolve(m as never);
      });
      worker.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new DbError(`The query process ended without an answer (${signal ?? `exit ${code}`}).`, 'QUERY_FAILED'));
      });
    });
    if ('error' in answer) throw mapSqliteError(Object.assign(new Error(answer.error.message), { code: answer.error.code }), file.path);
    return answer;
  } finally {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  }
}
