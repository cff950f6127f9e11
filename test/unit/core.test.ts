import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closest } from '../../src/core/did-you-mean.js';
import { parseEngineId } from '../../src/engines/ids.js';
import { page, decodeCursor, decodeKeyCursor, encodeCursor, encodeKeyCursor, keysetPage, pageLimit } from '../../src/core/paging.js';
import { configSchema } from '../../src/core/config-schema.js';
import { listInstances, loadConfig, putInstance, removeInstance, type InstanceConfig } from '../../src/core/config.js';
import { getSecretStore, resetSecretStore, generatePassword } from '../../src/core/secrets.js';
import { compareFingerprints } from '../../src/core/ops/backup.js';
import { versionNotice } from '../../src/core/versions.js';
import { validatePgIdentifier } from '../../src/engines/postgresql/client.js';
import { DbError } from '../../src/core/errors.js';
import { redact } from '../../src/core/process/exec.js';

describe('engine names', () => {
  it('accepts ids and aliases, and suggests on typos', () => {
    assert.equal(parseEngineId('postgres'), 'postgresql');
    assert.equal(parseEngineId('MariaDB'), 'mariadb');
    assert.throws(() => parseEngineId('postgress'), /Did you mean "postgresql"/);
    assert.throws(() => parseEngineId('oracle'), (e: DbError) => e.code === 'UNKNOWN_ENGINE' && !/Did you mean/.test(e.message));
    assert.equal(closest('stauts', ['status', 'start', 'stop']), 'status');
  });
});

describe('paging', () => {
  const items = Array.from({ length: 250 }, (_, i) => ({ i, pad: 'x'.repeat(100) }));
  it('cuts at the limit and gives a cursor that continues', () => {
    const p1 = page(items);
    assert.equal(p1.items.length, 100);
    assert.equal(p1.truncated, true);
    const p2 = page(items, { cursor: p1.next_cursor! });
    assert.equal(p2.items[0]!.i, 100);
    const p3 = page(items, { cursor: p2.next_cursor! });
    assert.equal(p3.items.length, 50);
    assert.equal(p3.truncated, false);
    assert.equal(p3.next_cursor, undefined);
  });
  it('cuts at the byte cap even under the item limit', () => {
    const p = page(items, { limit: 1000, maxBytes: 2000 });
    assert.ok(p.items.length < 20 && p.items.length > 0);
    assert.equal(p.truncated, true);
  });
  it('rejects a forged cursor', () => {
    assert.throws(() => decodeCursor('nonsense'));
  });
});

describe('keyset paging', () => {
  const rows = Array.from({ length: 250 }, (_, i) => ({ schema: 'public', name: `t_${String(i).padStart(3, '0')}` }));
  const keyOf = (r: { schema: string; name: string }) => [r.schema, r.name];
  /** What an engine does: the rows after the key, at most `limit` of them. */
  const after = (key: string[] | undefined, limit: number) => rows.filter((r) => !key || r.schema > key[0]! || (r.schema === key[0] && r.name > key[1]!)).slice(0, limit);
  it('walks every row once: the cursor is the last key of the page', () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const key = decodeKeyCursor(cursor, 2);
      const p = keysetPage(after(key, pageLimit(40) + 1), rows.length, keyOf, { limit: 40 });
      assert.equal(p.total, 250);
      assert.ok(p.items.length <= 40);
      seen.push(...p.items.map((r) => r.name));
      if (p.truncated) assert.deepEqual(decodeKeyCursor(p.next_cursor, 2), keyOf(p.items[p.items.length - 1]!));
      else assert.equal(p.next_cursor, undefined);
      cursor = p.next_cursor;
      pages++;
    } while (cursor);
    assert.equal(pages, 7);
    assert.deepEqual(seen, rows.map((r) => r.name));
  });
  it('a page that fills the limit exactly, with nothing after it, is the last', () => {
    const p = keysetPage(rows.slice(0, 40), 40, keyOf, { limit: 40 });
    assert.equal(p.truncated, false);
    assert.equal(p.next_cursor, undefined);
  });
  it('cuts at the byte cap and continues after the last item it kept', () => {
    const p = keysetPage(rows.slice(0, 101), 250, keyOf, { limit: 100, maxBytes: 500 });
    assert.ok(p.items.length > 0 && p.items.length < 20);
    assert.equal(p.truncated, true);
    assert.deepEqual(decodeKeyCursor(p.next_cursor, 2), keyOf(p.items[p.items.length - 1]!));
  });
  it('refuses forged, tampered and wrong-kind cursors with a USAGE error', () => {
    const forged = [
      'nonsense',
      encodeCursor(100), // an offset cursor where the engine pages by key
      encodeKeyCursor(['public']), // wrong width
      encodeKeyCursor(['public', 't', 'x']),
      Buffer.from('k:{"a":1}').toString('base64url'),
      Buffer.from('k:[1,2]').toString('base64url'),
      Buffer.from('k:["a",').toString('base64url'),
      Buffer.from('k:["a","b\\u0000"]').toString('base64url'),
      encodeKeyCursor(['public', 'x'.repeat(300)]),
      encodeKeyCursor(['public', 't']) + '!!',
    ];
    for (const c of forged) assert.throws(() => decodeKeyCursor(c, 2), (e: DbError) => e.code === 'USAGE' && /Invalid cursor/.test(e.message) && !!e.hint, c);
    assert.throws(() => decodeCursor(encodeKeyCursor(['public', 't'])), (e: DbError) => e.code === 'USAGE', 'a key cursor is no offset');
    assert.deepEqual(decodeKeyCursor(encodeKeyCursor(["it's", 'a "name"; --']), 2), ["it's", 'a "name"; --'], 'any name round-trips (it is bound as a parameter)');
    assert.equal(decodeKeyCursor(undefined, 2), undefined);
  });
});

describe('config', () => {
  const inst: InstanceConfig = { version: '16', port: 5432, host: '127.0.0.1', data_dir: '/d', backup_dir: '/b', auto_backup: false, backup_schedule: 'daily' };
  it("keeps the seed's shape for main and nests named instances", () => {
    let c = putInstance({ databases: {} }, { engine: 'postgresql', name: 'main' }, inst);
    c = putInstance(c, { engine: 'postgresql', name: 'pg15' }, { ...inst, version: '15', port: 5433 });
    const pg = c.databases.postgresql as Record<string, unknown>;
    assert.equal(pg['version'], '16');
    assert.equal((pg['instances'] as Record<string, { port: number }>)['pg15']!.port, 5433);
    assert.deepEqual(listInstances(c).map((i) => i.name), ['main', 'pg15']);
    assert.ok(configSchema.safeParse(c).success);
    c = removeInstance(c, { engine: 'postgresql', name: 'main' });
    assert.deepEqual(listInstances(c).map((i) => i.name), ['pg15']);
  });
  it('accepts the seed config from the spec as is', () => {
    const seed = { databases: { postgresql: { version: '16', port: 5432, data_dir: '/var/lib/postgresql/data', backup_dir: '/backups/postgresql', auto_backup: true, backup_schedule: 'daily' } } };
    assert.ok(configSchema.safeParse(seed).success);
  });
  it('names the file and the key of a bad value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cfg-'));
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({ databases: { redis: { ...inst, port: 70000 } } }));
    await assert.rejects(loadConfig(file), (e: DbError) => e.code === 'INVALID_CONFIG' && e.message.includes(file) && e.message.includes('databases.redis'));
    writeFileSync(file, '{ not json');
    await assert.rejects(loadConfig(file), (e: DbError) => e.code === 'INVALID_CONFIG' && e.message.includes('not valid JSON'));
  });
});

describe('secret store (encrypted file fallback)', () => {
  beforeEach(() => {
    process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'sec-'));
    process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';
    resetSecretStore();
  });
  it('round-trips secrets in a 0600 file that does not contain them in clear', async () => {
    const store = getSecretStore();
    assert.equal(await store.backend(), 'encrypted-file');
    const secret = generatePassword();
    await store.set('k1', secret);
    assert.equal(await store.get('k1'), secret);
    const file = join(process.env['PORTUNIX_HOME']!, 'secrets', 'secrets.enc');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(!readFileSync(file, 'utf8').includes(secret));
    await store.delete('k1');
    assert.equal(await store.get('k1'), undefined);
  });
  it('detects tampering', async () => {
    const store = getSecretStore();
    await store.set('k', 'v-123456');
    const file = join(process.env['PORTUNIX_HOME']!, 'secrets', 'secrets.enc');
    const payload = JSON.parse(readFileSync(file, 'utf8'));
    payload.data = Buffer.from('tampered!').toString('base64');
    writeFileSync(file, JSON.stringify(payload));
    await assert.rejects(store.get('k'), (e: DbError) => e.code === 'SECRET_STORE');
  });
  it('uses a passphrase when one is set', async () => {
    process.env['PORTUNIX_DB_SECRET_PASSPHRASE'] = 'correct horse';
    try {
      await getSecretStore().set('k', 'v-123456');
      resetSecretStore();
      assert.equal(await getSecretStore().get('k'), 'v-123456');
      delete process.env['PORTUNIX_DB_SECRET_PASSPHRASE'];
      resetSecretStore();
      await assert.rejects(getSecretStore().get('k'), /PORTUNIX_DB_SECRET_PASSPHRASE/);
    } finally {
      delete process.env['PORTUNIX_DB_SECRET_PASSPHRASE'];
    }
  });
  it('redacts secrets from command output', () => {
    assert.equal(redact('FATAL: password hunter2hunter2 wrong', ['hunter2hunter2']), 'FATAL: password ******** wrong');
  });
});

describe('backup verification', () => {
  it('compares row counts and checksums and names each problem', () => {
    const r = compareFingerprints(
      [{ name: 'a', rows: 2, checksum: 'x' }, { name: 'b', rows: 5, checksum: 'y' }, { name: 'c', rows: 1 }],
      [{ name: 'a', rows: 2, checksum: 'x' }, { name: 'b', rows: 5, checksum: 'z' }, { name: 'd', rows: 0 }],
    );
    assert.deepEqual(r.tables.map((t) => t.ok), [true, false, false]);
    assert.equal(r.problems.length, 3);
  });
});

describe('version notices', () => {
  const info = { displayName: 'PostgreSQL', defaultVersion: '16', versions: [{ version: '14', eol: '2026-11-12', latest: '14.23' }, { version: '16', eol: '2028-11-09', latest: '16.14' }] } as never;
  it('flags end of life and available updates', () => {
    const n = versionNotice(info, '14', '14.20', new Date('2026-11-26'));
    assert.equal(n.eol, true);
    assert.equal(n.update_available, '14.23');
    assert.equal(versionNotice(info, '16', '16.14', new Date('2026-11-26')).message, undefined);
  });
});

describe('postgresql identifiers', () => {
  it('quotes good names and rejects injection', () => {
    assert.equal(validatePgIdentifier('database', 'shop_2'), '"shop_2"');
    for (const bad of ['x"; DROP DATABASE postgres; --', '', 'a'.repeat(64), "o'neil", 'semi;colon', 'new\nline']) {
      assert.throws(() => validatePgIdentifier('database', bad), (e: DbError) => e.code === 'INVALID_IDENTIFIER');
    }
  });
});

describe('admin password lookup', () => {
  it('names the keychain when the password was stored there but this run only has the file', async () => {
    process.env['PORTUNIX_HOME'] = mkdtempSync(join(tmpdir(), 'sec-'));
    process.env['PORTUNIX_DB_SECRET_BACKEND'] = 'file';
    resetSecretStore();
    const { createInstanceContext } = await import('../../src/core/instance-context.js');
    const base = { version: '16', port: 5432, host: '127.0.0.1', data_dir: '/d', backup_dir: '/b', auto_backup: false, backup_schedule: 'daily' } as const;
    const inKeychain = createInstanceContext('postgresql', 'main', { ...base, secret_store: 'keychain' });
    await assert.rejects(inKeychain.adminPassword(), (e: DbError) => e.code === 'SECRET_STORE' && /OS keychain/.test(e.message) && /unlocked/.test(e.hint ?? ''));
    const plain = createInstanceContext('postgresql', 'main', { ...base });
    await assert.rejects(plain.adminPassword(), (e: DbError) => e.code === 'AUTH_FAILED');
  });
});
