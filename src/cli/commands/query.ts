import type { Command } from 'commander';
import { emit } from '../output.js';
import { intOption, type Flags } from './common.js';

const queryOps = () => import('../../core/ops/query.js');

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .description('Run a read-only query (SQL, or one Redis read command) as the instance\'s read-only account; the database refuses writes')
    .argument('<engine>')
    .argument('[text]', 'the query; "-" or absent reads it from stdin')
    .option('--instance <name>', 'instance name', 'main')
    .option('--database <name>', 'database (Redis: keyspace number; SQLite: database name)')
    .option('--limit <rows>', 'max rows (default 200, max 5000)', intOption)
    .option('--timeout <ms>', 'time limit in ms (default 30000)', intOption)
    .addHelpText('after', '\nExamples:\n  $ portunix-db query postgresql --database shop "SELECT id, email FROM users LIMIT 5"\n  $ portunix-db query redis "HGETALL user:1"\n  $ portunix-db query mariadb --database shop --json < report.sql')
    .action(async (engine: string, text: string | undefined, o: Flags & { instance: string; database?: string; limit?: number; timeout?: number }) => {
      const { runQuery, renderQuery } = await queryOps();
      await emit(
        o,
        async () =>
          runQuery({
            type: engine,
            instance: o.instance,
            text: text === undefined || text === '-' ? await readStdin() : text,
            ...(o.database !== undefined ? { database: o.database } : {}),
            ...(o.limit !== undefined ? { limit: o.limit } : {}),
            ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}),
          }),
        renderQuery,
      );
    });
}
