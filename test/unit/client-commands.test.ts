import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEngine } from '../../src/engines/registry.js';
import type { EngineId } from '../../src/engines/ids.js';

const dir = mkdtempSync(join(tmpdir(), 'pdb-client-cmd-'));
const ca = join(dir, 'tls', 'server.crt');
const ctx = (engine: string, port: number, extra: Record<string, unknown> = {}) =>
  ({ engine, name: 'main', config: { port, version: '2', ...extra }, paths: { root: dir, dataDir: join(dir, 'data') } }) as never;

async function command(engine: EngineId, url: string, withCa: boolean, port = 5555, extra?: Record<string, unknown>): Promise<string> {
  const e = await loadEngine(engine);
  assert.equal(typeof e.clientCommand, 'function', `${engine} offers a client command`);
  return e.clientCommand!(ctx(engine, port, extra), { url, ...(withCa ? { ca } : {}) });
}

test('each engine prints its usual client, trusting the instance CA when it has TLS', async () => {
  assert.equal(await command('redis', 'rediss://default:***@127.0.0.1:5555/0', true), `redis-cli --tls --cacert ${ca} -u 'rediss://default:***@127.0.0.1:5555/0'`);
  assert.equal(await command('redis', 'redis://default:***@127.0.0.1:5555/0', false), "redis-cli -u 'redis://default:***@127.0.0.1:5555/0'");
  const pg = `postgresql://postgres:****@127.0.0.1:5555/postgres?sslmode=verify-full&sslrootcert=${ca}`;
  assert.equal(await command('postgresql', pg, true), `psql '${pg}'`);
  assert.equal(await command('mariadb', `mysql://root:***@127.0.0.1:5555/shop?ssl-mode=VERIFY_CA`, true), `mariadb --ssl-ca=${ca} --ssl-verify-server-cert -h 127.0.0.1 -P 5555 -u root -p shop`);
  assert.equal(await command('mysql', 'mysql://root:***@127.0.0.1:5555/', true), `mysql --ssl-ca=${ca} --ssl-mode=VERIFY_CA -h 127.0.0.1 -P 5555 -u root -p`);
  assert.equal(await command('mysql', 'mysql://root:***@127.0.0.1:5555/', false), 'mysql -h 127.0.0.1 -P 5555 -u root -p');
  assert.match(await command('mongodb', 'mongodb://admin:***@127.0.0.1:5555/?authSource=admin&tls=true', true), /^mongosh 'mongodb:\/\/admin:\*\*\*@127\.0\.0\.1:5555\/\?authSource=admin&tls=true'$/);
  assert.equal(await command('elasticsearch', 'https://elastic:***@127.0.0.1:5555', true), `curl --cacert ${ca} 'https://elastic:***@127.0.0.1:5555'`);
  assert.equal(await command('elasticsearch', 'http://127.0.0.1:5555', true), 'curl http://127.0.0.1:5555');
  assert.equal(await command('influxdb', 'https://127.0.0.1:5555?org=portunix&bucket=b', true), `curl --cacert ${ca} https://127.0.0.1:5555/ping`);
  assert.equal(await command('sqlite', 'file:///tmp/it%27s%20a.db', false), `sqlite3 '/tmp/it'\\''s a.db'`);
});

test('a hostile database name in the URL stays one quoted word', async () => {
  const cmd = await command('postgresql', "postgresql://postgres:****@127.0.0.1:5555/x';rm -rf ~;'", false);
  assert.equal(cmd, `psql 'postgresql://postgres:****@127.0.0.1:5555/x'\\'';rm -rf ~;'\\'''`);
});
