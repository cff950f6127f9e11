/**
 * PostgreSQL inspection, admin, config and maintenance through the built CLI, against Debian's
 * PostgreSQL 15 installed by the tool (`--source apt`). Structure, indexes (unused / duplicate),
 * constraints (FK with its referenced table, check, unique), grants that really work for the
 * user, config set with reload vs restart, vacuum, and the security of a fresh instance.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { pgClient, pgQuery, pgSsl, tlsFacts } from '../helpers/pg.js';
import { freePort } from '../helpers/mcp.js';

const home = freshHome('pginspect');
const opts = { home };
const I = ['--type', 'postgresql', '--instance', 'insp'];
let port = 0;

describe('postgresql inspection and admin (apt 15)', () => {
  before(async () => {
    const r = await cliOk(['install', 'postgresql', '--version', '15', '--source', 'apt', '--instance', 'insp', '--port', String(await freePort()), '--json'], opts);
    assert.equal(r.json.state, 'running');
    port = r.json.port;
    await cliOk(['create', 'shop', ...I], opts);
    const c = await pgClient(home, 'insp', 'shop');
    try {
      await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL, age int CHECK (age >= 0))`);
      await c.query(`COMMENT ON COLUMN customers.email IS 'login name'`);
      await c.query(`CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, customer_id int NOT NULL REFERENCES customers(id) ON DELETE CASCADE, total numeric(10,2))`);
      await c.query(`CREATE INDEX orders_customer_a ON orders(customer_id)`);
      await c.query(`CREATE INDEX orders_customer_b ON orders(customer_id)`);
      await c.query(`INSERT INTO customers (email, age) SELECT 'u' || g || '@example.org', g % 90 FROM generate_series(1, 200) g`);
      await c.query(`INSERT INTO orders (customer_id, total) SELECT (g % 200) + 1, g FROM generate_series(1, 1000) g`);
      await c.query(`DELETE FROM orders WHERE id % 2 = 0`);
    } finally {
      await c.end();
    }
  });

  after(async () => {
    await runCli(['stop', 'postgresql', '--instance', 'insp'], opts);
  });

  it('is secured from the first start: loopback only, scram only, no trust', async () => {
    const status = await cliOk(['status', 'postgresql', '--instance', 'insp', '--json'], opts);
    const dataDir: string = status.json[0].data_dir;
    const hba = readFileSync(join(dataDir, 'pg_hba.conf'), 'utf8');
    const rules = hba.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
    assert.ok(rules.length > 0 && rules.every((l) => /scram-sha-256\s*$/.test(l) || /^hostnossl\s.*\sreject\s*$/.test(l)), hba);
    assert.ok(!rules.some((l) => /^host\s/.test(l)), 'no TCP rule without TLS');
    const settings = await pgQuery<{ name: string; setting: string }>(home, 'insp', 'postgres', `SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'password_encryption')`);
    assert.deepEqual(Object.fromEntries(settings.map((s) => [s.name, s.setting])), { listen_addresses: '127.0.0.1', password_encryption: 'scram-sha-256' });
    const wrong = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password: 'wrong', database: 'postgres', ssl: await pgSsl(home, 'insp') });
    await assert.rejects(wrong.connect(), /password authentication failed/);
    await wrong.end().catch(() => undefined);
    const url = await cliOk(['url', 'postgresql', '--instance', 'insp'], opts);
    assert.match(url.stdout, /postgresql:\/\/postgres:\*\*\*\*@127\.0\.0\.1:\d+\/postgres/);
  });

  it('encrypts TCP by default: a self-signed certificate, TLS required, verified by the tool, pg and psql', async () => {
    const status = await cliOk(['status', 'postgresql', '--instance', 'insp', '--json'], opts);
    const dataDir: string = status.json[0].data_dir;
    const key = statSync(join(dataDir, 'server.key'));
    const crt = statSync(join(dataDir, 'server.crt'));
    assert.equal(key.mode & 0o777, 0o600);
    assert.equal(crt.mode & 0o777, 0o644);
    const conf = readFileSync(join(dataDir, 'portunix.conf'), 'utf8');
    assert.match(conf, /^ssl = on$/m);
    assert.match(conf, /^ssl_min_protocol_version = 'TLSv1\.2'$/m);
    const settings = await pgQuery<{ ssl: string; min: string }>(home, 'insp', 'postgres', `SELECT current_setting('ssl') AS ssl, current_setting('ssl_min_protocol_version') AS min`);
    assert.deepEqual([settings[0]!.ssl, settings[0]!.min], ['on', 'TLSv1.2']);
    if (process.getuid?.() === 0) assert.notEqual(key.uid, 0, 'the key belongs to the service user, not root');

    const facts = await tlsFacts(home, 'insp', port);
    assert.match(facts.plainError, /pg_hba\.conf rejects connection .*no encryption/);
    assert.match(facts.unpinnedError, /self[- ]signed certificate/, 'a client that does not pin the certificate cannot verify it');
    assert.equal(facts.ssl, true);
    assert.match(facts.version, /^TLSv1\.[23]$/);
    assert.equal(facts.psql, 'psql true');
    const url = await cliOk(['url', 'postgresql', '--instance', 'insp', '--json'], opts);
    assert.match(url.json.url, /\?sslmode=verify-full&sslrootcert=\//);

    const h = await cliOk(['health', 'postgresql', '--instance', 'insp', '--json'], opts);
    const tls = h.json.checks.find((c: { name: string }) => c.name === 'tls');
    assert.equal(tls?.status, 'ok', JSON.stringify(tls));
    assert.match(tls.detail, /TLSv1\.[23]/);
  });

  it('backs up with pg_dump 15 over verified TLS and verifies the dump', async () => {
    const b = await cliOk(['backup', 'shop', ...I, '--json'], opts);
    assert.match(b.json.manifest.method, /pg_dump custom format, gzip:1 \(pg_dump 15\./);
    const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json));
    assert.ok(v.json.tables.length >= 2 && v.json.tables.every((t: { checksum_match: boolean }) => t.checksum_match === true));
  });

  it('lists tables with estimated rows and sizes, and the schema', async () => {
    const t = await cliOk(['tables', 'shop', ...I, '--sizes', '--json'], opts);
    const byName = Object.fromEntries(t.json.items.map((x: { name: string }) => [x.name, x]));
    assert.equal(byName['customers'].rows, 200);
    assert.ok(byName['orders'].sizeBytes > 0);
    const s = await cliOk(['schema', 'shop', ...I, '--json'], opts);
    assert.deepEqual(s.json.schemas.find((x: { name: string }) => x.name === 'public').tables, 2);
  });

  it('describes a table: types, nullability, defaults, comments, primary key', async () => {
    const r = await cliOk(['table-info', 'orders', '--database', 'shop', ...I, '--json'], opts);
    assert.deepEqual(r.json.primaryKey, ['id']);
    const cols = Object.fromEntries(r.json.columns.map((c: { name: string }) => [c.name, c]));
    assert.equal(cols['id'].default, 'GENERATED ALWAYS AS IDENTITY');
    assert.equal(cols['total'].type, 'numeric(10,2)');
    assert.equal(cols['customer_id'].nullable, false);
    const cust = await cliOk(['table-info', 'customers', '--database', 'shop', ...I, '--json'], opts);
    assert.equal(cust.json.columns.find((c: { name: string }) => c.name === 'email').comment, 'login name');
  });

  it('flags duplicate and unused indexes, not the primary key', async () => {
    const r = await cliOk(['indexes', 'shop', ...I, '--table', 'orders', '--json'], opts);
    const by = Object.fromEntries(r.json.items.map((i: { name: string }) => [i.name, i]));
    assert.equal(by['orders_customer_b'].duplicateOf, 'orders_customer_a');
    assert.equal(by['orders_customer_a'].duplicateOf, undefined);
    assert.equal(by['orders_pkey'].primary, true);
    assert.equal(by['orders_pkey'].unused, false);
    assert.equal(by['orders_customer_b'].unused, true);
  });

  it('lists constraints: primary, foreign (with the referenced table), unique, check', async () => {
    const r = await cliOk(['constraints', 'shop', ...I, '--json'], opts);
    const types = new Set(r.json.items.map((c: { type: string }) => c.type));
    for (const t of ['primary key', 'foreign key', 'unique', 'check']) assert.ok(types.has(t), t);
    const fk = r.json.items.find((c: { type: string }) => c.type === 'foreign key');
    assert.deepEqual(fk.references, { schema: 'public', table: 'customers', columns: ['id'], onDelete: 'CASCADE', onUpdate: 'NO ACTION' });
    const check = r.json.items.find((c: { type: string }) => c.type === 'check');
    assert.equal(check.definition, 'CHECK (age >= 0)');
  });

  it('grants read then write to a user, who can then do exactly that', async () => {
    await cliOk(['user', 'create', 'reader1', ...I], { home, env: { PORTUNIX_DB_PASSWORD: 'Reader-pw-42' } });
    const g = await cliOk(['user', 'grant', 'reader1', ...I, '--database', 'shop', '--privileges', 'read', '--json'], opts);
    assert.ok(JSON.stringify(g.json).includes('GRANT SELECT ON ALL TABLES IN SCHEMA public TO \\"reader1\\"'));
    assert.ok(!JSON.stringify(g.json).includes('Reader-pw-42'));
    const asUser = new pg.Client({ host: '127.0.0.1', port, user: 'reader1', password: 'Reader-pw-42', database: 'shop', ssl: await pgSsl(home, 'insp') });
    await asUser.connect();
    try {
      assert.equal((await asUser.query('SELECT count(*)::int AS n FROM customers')).rows[0].n, 200);
      await assert.rejects(asUser.query(`INSERT INTO customers (email) VALUES ('x@example.org')`), /permission denied/);
      await cliOk(['user', 'grant', 'reader1', ...I, '--database', 'shop', '--privileges', 'write'], opts);
      await asUser.query(`INSERT INTO customers (email) VALUES ('x@example.org')`);
      await cliOk(['user', 'revoke', 'reader1', ...I, '--database', 'shop', '--privileges', 'write'], opts);
      await assert.rejects(asUser.query(`INSERT INTO customers (email) VALUES ('y@example.org')`), /permission denied/);
    } finally {
      await asUser.end();
    }
    const bad = await runCli(['user', 'grant', 'reader1', ...I, '--database', 'shop', '--privileges', 'raed', '--json'], opts);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stdout + bad.stderr, /Did you mean read/);
  });

  it('refuses injection attempts in table and database names', async () => {
    const t = await runCli(['table-info', `x'; DROP TABLE orders; --`, '--database', 'shop', ...I, '--json'], opts);
    assert.equal(t.code, 2);
    const d = await runCli(['tables', 'shop"; DROP DATABASE shop; --', ...I, '--json'], opts);
    assert.equal(d.code, 2);
    const still = await pgQuery<{ n: number }>(home, 'insp', 'shop', 'SELECT count(*)::int AS n FROM orders');
    assert.equal(still[0]!.n, 500);
  });

  it('config set: reload for work_mem, restart for shared_buffers; unknown names get a suggestion', async () => {
    const a = await cliOk(['config', 'set', 'postgresql', 'work_mem', '8MB', '--instance', 'insp', '--json'], opts);
    assert.equal(a.json.applied, 'reload');
    assert.equal(a.json.value, '8192');
    const b = await cliOk(['config', 'set', 'postgresql', 'shared_buffers', '64MB', '--instance', 'insp', '--json'], opts);
    assert.equal(b.json.applied, 'restart-required');
    const c = await runCli(['config', 'get', 'postgresql', 'work_mme', '--instance', 'insp', '--json'], opts);
    assert.notEqual(c.code, 0);
    assert.match(c.stdout + c.stderr, /Did you mean work_mem/);
    const d = await runCli(['config', 'set', 'postgresql', 'listen_addresses', '*', '--instance', 'insp', '--json'], opts);
    assert.notEqual(d.code, 0);
  });

  it('vacuum removes dead tuples and metrics show them before', async () => {
    const m = await cliOk(['metrics', 'postgresql', '--instance', 'insp', '--database', 'shop', '--json'], opts);
    assert.ok(m.json.bloat.some((b: { table: string; deadTuples: number }) => b.table === 'orders' && b.deadTuples >= 500), JSON.stringify(m.json.bloat));
    assert.ok(m.json.unusedIndexes.some((u: { index: string }) => u.index === 'orders_customer_b'));
    assert.match(m.json.slowQueriesNote, /pg_stat_statements/);
    const v = await cliOk(['vacuum', 'shop', ...I, '--table', 'orders', '--analyze', '--json'], opts);
    assert.ok(v.json.details.dead_tuples_before >= 500, JSON.stringify(v.json));
    assert.equal(v.json.details.dead_tuples_after, 0);
  });

  it('health passes on a running instance', async () => {
    const h = await cliOk(['health', 'postgresql', '--instance', 'insp', '--json'], opts);
    assert.equal(h.json.healthy, true);
    assert.ok(h.json.checks.some((c: { name: string }) => c.name === 'transaction ID wraparound'));
  });
});
