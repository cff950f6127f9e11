import { readFileSync } from 'node:fs';
import pg from 'pg';
import { cliOk } from './cli.js';

/** The URL the CLI prints (`url --show-password`): with TLS it carries sslmode=verify-full and sslrootcert. */
export async function pgUrl(home: string, instance: string, database = 'postgres'): Promise<string> {
  const r = await cliOk(['url', 'postgresql', '--instance', instance, '--database', database, '--show-password', '--json'], { home });
  return r.json.url as string;
}

/** TLS options that verify the instance's certificate (the one its URL pins), for hand-built pg clients. */
export async function pgSsl(home: string, instance: string): Promise<{ ca: string; rejectUnauthorized: true }> {
  const rootcert = new URL(await pgUrl(home, instance)).searchParams.get('sslrootcert');
  if (!rootcert) throw new Error(`the URL of postgresql/${instance} has no sslrootcert: the instance has no TLS`);
  return { ca: readFileSync(rootcert, 'utf8'), rejectUnauthorized: true };
}

/** A pg client for the instance, using the URL the CLI prints (`url --show-password`). */
export async function pgClient(home: string, instance: string, database: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: await pgUrl(home, instance, database) });
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

/**
 * The TLS facts of an instance, checked the way a user meets them: TCP without TLS is refused by
 * pg_hba.conf, TLS without the pinned certificate fails verification, the URL's client is
 * encrypted (pg_stat_ssl), and psql accepts the same URL.
 */
export async function tlsFacts(home: string, instance: string, port: number): Promise<{ plainError: string; unpinnedError: string; ssl: boolean; version: string; psql: string }> {
  const password = new URL(await pgUrl(home, instance)).password;
  const base = { host: '127.0.0.1', port, user: 'postgres', password: decodeURIComponent(password), database: 'postgres', connectionTimeoutMillis: 5000 };
  const failure = async (config: pg.ClientConfig): Promise<string> => {
    const c = new pg.Client(config);
    try {
      await c.connect();
      return 'connected';
    } catch (err) {
      return (err as Error).message;
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  const plainError = await failure({ ...base, ssl: false });
  const unpinnedError = await failure({ ...base, ssl: { rejectUnauthorized: true } });
  const rows = await pgQuery<{ ssl: boolean; version: string }>(home, instance, 'postgres', 'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  const { execFileSync } = await import('node:child_process');
  const psql = execFileSync('/usr/bin/psql', [await pgUrl(home, instance), '-Atc', "SELECT 'psql ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"], { encoding: 'utf8', timeout: 30_000 }).trim();
  return { plainError, unpinnedError, ssl: rows[0]!.ssl, version: rows[0]!.version, psql };
}
