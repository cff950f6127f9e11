import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceContext } from '../../src/engines/contract.js';
import { need } from '../../src/engines/need.js';
import { engine } from '../../src/engines/redis/index.js';
import { renderConfig, renderListen } from '../../src/engines/redis/instance.js';
import { instanceCertificate, mapRedisError } from '../../src/engines/redis/client.js';
import { tlsCheck } from '../../src/engines/redis/inspect.js';
import { MANAGED } from '../../src/engines/redis/config.js';
import { RespProtocolError } from '../../src/engines/redis/resp.js';

function ctxAt(root: string, port = 6390): InstanceContext {
  return {
    name: 'main',
    engine: 'redis',
    config: { port },
    paths: { root, dataDir: join(root, 'data dir'), logFile: join(root, 'server.log'), runDir: join(root, 'run'), configFile: join(root, 'server.conf'), backupDir: join(root, 'b') },
  } as unknown as InstanceContext;
}

const lines = (text: string) => text.split('\n');

test('with TLS: no plain TCP port, the instance port is the TLS port, the certificate is its own CA, ACL passwords not client certs', () => {
  const conf = renderConfig(ctxAt('/h/i'), { tls: { certFile: '/h/i/data dir/server.crt', keyFile: '/h/i/data dir/server.key' } });
  for (const line of [
    'port 0',
    'tls-port 6390',
    'tls-cert-file "/h/i/data dir/server.crt"',
    'tls-key-file "/h/i/data dir/server.key"',
    'tls-ca-cert-file "/h/i/data dir/server.crt"',
    'tls-auth-clients no',
    'tls-protocols "TLSv1.2 TLSv1.3"',
    'bind 127.0.0.1',
    'protected-mode yes',
  ]) {
    assert.ok(lines(conf).includes(line), `missing: ${line}\n${conf}`);
  }
  assert.ok(!lines(conf).includes('port 6390'), 'no plain port line');
  assert.equal(lines(conf).filter((l) => /^port /.test(l)).length, 1);
  // backups stream the snapshot over SYNC: no 5 s wait for replicas before the fork
  assert.ok(lines(conf).includes('repl-diskless-sync-delay 0'));
  // no TLS for replication or cluster is configured (portunix-db manages neither)
  assert.ok(!/^tls-(replication|cluster) yes/m.test(conf));
});

test('without TLS (no openssl, or a redis-server built without it): the old plain port and no tls- line', () => {
  const conf = renderConfig(ctxAt('/h/i'));
  assert.ok(lines(conf).includes('port 6390'));
  assert.ok(!/^tls-/m.test(conf), conf);
  assert.match(conf, /^# no TLS: .*not encrypted/m);
  assert.deepEqual(renderListen(7000).filter((l) => !l.startsWith('#')), ['port 7000']);
});

test('the TLS settings are managed: config set refuses them', () => {
  for (const key of ['port', 'tls-port', 'tls-cert-file', 'tls-key-file', 'tls-ca-cert-file', 'tls-auth-clients']) assert.ok(MANAGED[key], key);
  assert.equal(MANAGED['tls-protocols'], undefined, 'protocols stay the user\'s choice');
});

test('connection URL: rediss:// when the instance has a certificate, redis:// when it has none', () => {
  const root = mkdtempSync(join(tmpdir(), 'pdb-redis-url-'));
  try {
    const ctx = ctxAt(root);
    const url = need(engine, 'connectionUrl');
    assert.equal(url(ctx, { showPassword: false, password: 'p w' }), 'redis://default:***@127.0.0.1:6390/0');
    mkdirSync(join(root, 'tls'));
    writeFileSync(join(root, 'tls', 'server.crt'), 'CERT');
    assert.equal(url(ctx, { showPassword: false, password: 'p w' }), 'rediss://default:***@127.0.0.1:6390/0');
    assert.equal(url(ctx, { showPassword: true, password: 'p w', database: '3' }), 'rediss://default:p%20w@127.0.0.1:6390/3');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the tool pins the certificate in the data dir; none there means an instance without TLS', async () => {
  const root = mkdtempSync(join(tmpdir(), 'pdb-redis-cert-'));
  try {
    const ctx = ctxAt(root);
    assert.equal(await instanceCertificate(ctx), undefined);
    mkdirSync(join(root, 'data dir'));
    writeFileSync(join(root, 'data dir', 'server.crt'), 'PEM');
    assert.deepEqual(await instanceCertificate(ctx), { path: join(root, 'data dir', 'server.crt'), pem: 'PEM' });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('health tls check: ok only with tls-port = the instance port and no plain port; warn without a certificate', () => {
  assert.equal(tlsCheck(6390, true, { port: '0', 'tls-port': '6390', 'tls-protocols': 'TLSv1.2 TLSv1.3', 'tls-auth-clients': 'no' }).status, 'ok');
  const open = tlsCheck(6390, true, { port: '6391', 'tls-port': '6390' });
  assert.equal(open.status, 'warn');
  assert.match(open.detail, /plain TCP is also open on port 6391/);
  assert.equal(tlsCheck(6390, true, { port: '6390', 'tls-port': '0' }).status, 'fail');
  const none = tlsCheck(6390, false, { port: '6390', 'tls-port': '0' });
  assert.equal(none.status, 'warn');
  assert.match(none.detail, /not encrypted/);
});

test('TLS failures map to CONNECTION_FAILED naming the certificate', () => {
  const ctx = ctxAt('/h/i');
  for (const err of [
    Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }),
    Object.assign(new Error('SSL routines:ssl3_get_record:wrong version number'), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' }),
  ]) {
    const e = mapRedisError(err, ctx);
    assert.equal(e.code, 'CONNECTION_FAILED', err.message);
    assert.match(e.hint ?? '', /server\.crt/);
  }
  assert.equal(mapRedisError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), ctx).code, 'NOT_RUNNING');
  // attack: something else on the port (an HTTP server) answers garbage: said so, not a query failure
  const other = mapRedisError(new RespProtocolError('unexpected reply type byte 0x48'), ctx);
  assert.equal(other.code, 'CONNECTION_FAILED');
  assert.match(other.message, /does not speak Redis/);
});
