import pg from 'pg';
import { cliOk } from './cli.js';

/** A pg client for the instance, using the URL the CLI prints (`url --show-password`). */
export async function pgClient(home: string, instance: string, database: string): Promise<pg.Client> {
  const r = await cliOk(['url', 'postgresql', '--instance', instance, '--database', database, '--show-password', '--json'], { home });
  const client = new pg.Client({ connectionString: r.json.url });
  await client.connect();
  return client;
}

export async function pgQuery<T extends pg.QueryResultRow = Record<string, unknown>>(home: string, instance: string, database: string, sql: string): Promise<T[]> {
  const c = await pgClient(home, instance, database);
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}
