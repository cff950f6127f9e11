/** Writing to a test's Redis instance the way a client would: over TLS pinned to its certificate, as `default`. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliOk } from './cli.js';

/** SET key value on the home's redis/main (an empty Redis lists no keyspace, so nothing would be backed up). */
export async function setRedisKey(home: string, port: number, key: string, value: string): Promise<void> {
  const url = (await cliOk(['url', 'redis', '--show-password', '--json'], { home })).json.url as string;
  const ca = readFileSync(join(home, 'instances', 'redis', 'main', 'tls', 'server.crt'), 'utf8');
  const { createClient } = await import('redis');
  const client = createClient({ socket: { host: '127.0.0.1', port, tls: true, ca, reconnectStrategy: false } as any, username: 'default', password: decodeURIComponent(new URL(url).password), RESP: 2 });
  client.on('error', () => undefined);
  await client.connect();
  await client.sendCommand(['SET', key, value]);
  await client.close();
}
