/**
 * MySQL family TLS without a server: the option file's TLS settings, the client programs'
 * option file, the URL with the pinned certificate, and the "tls" health check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectionUrl, parseExtraSettings, renderOptionFile } from '../../src/engines/mysql-family/instance.js';
import { FLAVOURS, renderClientOptions } from '../../src/engines/mysql-family/client.js';
import { tlsCheck } from '../../src/engines/mysql-family/inspect.js';
import type { InstanceContext } from '../../src/engines/contract.js';

const lines = (text: string) => text.split('\n');

test('option file with a certificate: ssl-ca/ssl-cert/ssl-key in [mysqld] and require_secure_transport, for both flavours', () => {
  for (const flavour of [FLAVOURS.mariadb, FLAVOURS.mysql]) {
    const text = renderOptionFile({ flavour, port: 13306, dataDir: '/d/data', runDir: '/d/run', logFile: '/d/log', tls: { cert: '/d/data/server.crt', key: '/d/data/server.key' }, extra: { max_connections: '9' } });
    const mysqld = text.slice(text.indexOf('[mysqld]'), text.indexOf('[client]'));
    for (const line of ['ssl-ca=/d/data/server.crt', 'ssl-cert=/d/data/server.crt', 'ssl-key=/d/data/server.key', 'require_secure_transport=ON', 'tls_version=TLSv1.2,TLSv1.3']) {
      assert.ok(lines(mysqld).includes(line), `${flavour.id}: missing ${line} in [mysqld]\n${text}`);
    }
    assert.doesNotMatch(text.slice(text.indexOf('[client]')), /ssl/, 'the [client] section (the socket) is left alone');
    assert.deepEqual(parseExtraSettings(text), { max_connections: '9' }, 'config set settings still round-trip');
  }
});

test('option file without a certificate: no TLS settings at all, and it says why', () => {
  const text = renderOptionFile({ flavour: FLAVOURS.mariadb, port: 13306, dataDir: '/d/data', runDir: '/d/run', logFile: '/d/log' });
  assert.doesNotMatch(text, /^(ssl-|require_secure_transport|tls_version)/m);
  assert.match(text, /^# no TLS: /m);
});

test('client programs: TCP to 127.0.0.1, the CA pinned and verified the way each flavour spells it', () => {
  const base = { user: 'root', password: 'pw-123456', port: 13306 };
  const maria = lines(renderClientOptions({ ...base, flavour: FLAVOURS.mariadb, ca: '/d/data/server.crt' }));
  for (const line of ['[client]', 'host=127.0.0.1', 'protocol=TCP', 'port=13306', 'ssl-ca=/d/data/server.crt', 'ssl-verify-server-cert']) assert.ok(maria.includes(line), `mariadb: missing ${line}`);
  assert.ok(!maria.some((l) => l.startsWith('ssl-mode')), 'MariaDB clients have no ssl-mode');
  const my = lines(renderClientOptions({ ...base, flavour: FLAVOURS.mysql, ca: '/d/data/server.crt' }));
  for (const line of ['ssl-ca=/d/data/server.crt', 'ssl-mode=VERIFY_CA']) assert.ok(my.includes(line), `mysql: missing ${line}`);
  assert.ok(!my.includes('ssl-verify-server-cert'), 'MySQL 8 clients removed ssl-verify-server-cert');
  const plain = renderClientOptions({ ...base, flavour: FLAVOURS.mariadb });
  assert.doesNotMatch(plain, /ssl/, 'no certificate: no TLS options');
  assert.match(plain, /^host=127\.0\.0\.1$/m);
});

test('URL: MySQL URI TLS parameters naming the public certificate when there is one', () => {
  const root = mkdtempSync(join(tmpdir(), 'portunix my url '));
  try {
    const ctx = { config: { port: 13306 }, paths: { root, dataDir: join(root, 'data') } } as unknown as InstanceContext;
    assert.equal(connectionUrl(ctx, { showPassword: false, password: 'x' }), 'mysql://root:***@127.0.0.1:13306/');
    mkdirSync(join(root, 'tls'));
    writeFileSync(join(root, 'tls', 'server.crt'), 'cert');
    const url = connectionUrl(ctx, { database: 'shop', showPassword: true, password: 'p@ss word' });
    const u = new URL(url);
    assert.equal(u.password, encodeURIComponent('p@ss word'));
    assert.equal(u.pathname, '/shop');
    assert.equal(u.searchParams.get('ssl-mode'), 'VERIFY_CA');
    assert.equal(u.searchParams.get('ssl-ca'), join(root, 'tls', 'server.crt'), 'the path survives spaces (percent-encoded)');
    assert.doesNotMatch(url, / /);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('tls health check', () => {
  assert.equal(tlsCheck(false, {}).status, 'warn');
  assert.match(tlsCheck(false, {}).detail, /not encrypted/);
  const ok = tlsCheck(true, { haveSsl: 'YES', requireSecure: 'ON', version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
  assert.equal(ok.status, 'ok');
  assert.match(ok.detail, /TLSv1\.3 \(TLS_AES_256_GCM_SHA384\)/);
  assert.equal(tlsCheck(true, { haveSsl: 'DISABLED', requireSecure: 'ON' }).status, 'fail');
  assert.equal(tlsCheck(true, { haveSsl: 'YES', requireSecure: 'ON', cipher: '' }).status, 'fail');
  assert.equal(tlsCheck(true, { haveSsl: 'YES', requireSecure: 'OFF', version: 'TLSv1.3', cipher: 'X' }).status, 'warn');
  assert.equal(tlsCheck(true, { requireSecure: 'ON', version: 'TLSv1.3', cipher: 'X' }).status, 'ok', 'MySQL 8.4 has no have_ssl');
});
