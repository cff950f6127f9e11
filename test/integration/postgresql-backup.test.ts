/**
 * PostgreSQL backup internals that the big suite does not reach (issue 14), against Debian's
 * PostgreSQL 15 installed through the tool:
 * - the per-table content checksum (sum of 64-bit row hashes): order-independent, one changed
 *   row changes it, and it needs no memory or temp space that grows with the table (the old
 *   md5-of-sorted-hashes query fails under the same limits);
 * - manifests written with the old checksums still verify;
 * - `--jobs N`: a directory-format dump, each file in the signed manifest; restore and verify
 *   with workers; a changed, extra or missing file refused before anything is touched;
 * - bad `--jobs` values refused;
 * - `--compress`: the default zlib level 1, level 9 and none each restore and verify; a method
 *   pg_dump 15 lacks, a malformed value, and --compress on an engine without it are refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { pgClient, pgQuery } from '../helpers/pg.js';
import { resignManifest, sealedBackup } from '../helpers/backup.js';
import { checksumQuery } from '../../src/engines/postgresql/backup.js';

const home = freshHome('pg-backup');
const opts = { home };
const checksums = (m: { tables: { name: string; rows: number; checksum: string }[] }) => Object.fromEntries(m.tables.map((t) => [t.name, t.checksum]));

describe('postgresql backups: checksums, --jobs', () => {
  before(async () => {
    await cliOk(['install', 'postgresql', '--version', '15', '--source', 'apt', '--port', String(await freePort()), '-q'], opts);
    await cliOk(['create', 'shop', '--type', 'postgresql'], opts);
    const c = await pgClient(home, 'main', 'shop');
    // the same rows, loaded in opposite orders (and a third table whose rows move on disk)
    await c.query(`CREATE TABLE a (id int, label text, at timestamptz, amount numeric, tags text[]);
                   CREATE TABLE b (LIKE a);
                   CREATE TABLE moved (LIKE a);
                   INSERT INTO a SELECT g, 'row ' || g, '2026-01-01'::timestamptz + g * interval '1 minute', g / 7.0, ARRAY['t' || (g % 5)] FROM generate_series(1, 5000) g ORDER BY g;
                   INSERT INTO b SELECT * FROM a ORDER BY id DESC;
                   INSERT INTO moved SELECT * FROM a ORDER BY random();
                   UPDATE moved SET label = label WHERE id % 3 = 0;`);
    await c.end();
  });
  after(async () => {
    await runCli(['stop', 'postgresql'], opts);
  });

  it('the content checksum ignores row order and catches one changed row', async () => {
    const b1 = await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts);
    const sums = checksums(b1.json.manifest);
    assert.match(sums['public.a']!, /^cols64:-?\d+$/);
    assert.equal(sums['public.b'], sums['public.a'], 'same rows, opposite insert order');
    assert.equal(sums['public.moved'], sums['public.a'], 'same rows, shuffled and updated in place');
    await pgQuery(home, 'main', 'shop', "UPDATE b SET label = 'row 4242 ' WHERE id = 4242");
    const b2 = await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts);
    const after2 = checksums(b2.json.manifest);
    assert.notEqual(after2['public.b'], after2['public.a'], 'one changed row (a trailing space) changes the checksum');
    assert.equal(after2['public.a'], sums['public.a']);
    const v = await cliOk(['backup', 'verify', b2.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    await pgQuery(home, 'main', 'shop', "UPDATE b SET label = 'row 4242' WHERE id = 4242");
  });

  it('needs no space that grows with the table: the old sorted-md5 query fails where the new one runs', async () => {
    await cliOk(['create', 'big', '--type', 'postgresql'], opts);
    await pgQuery(home, 'main', 'big', 'CREATE TABLE wide AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 200000) g');
    // a stand-in for the 1 GB string cap, reachable in a test: every session of this database may sort only in
    // 64 kB of memory and spill at most 1 MB to disk; the old query's sorted string of 200,000 row hashes needs ~6 MB
    await pgQuery(home, 'main', 'postgres', "ALTER DATABASE big SET work_mem = '64kB'; ALTER DATABASE big SET temp_file_limit = '1MB'");
    const c = await pgClient(home, 'main', 'big');
    try {
      await assert.rejects(c.query(checksumQuery('public.wide', 'md5-sorted')), /temp_file_limit|temporary file size/);
      for (const scheme of ['sum64', 'cols64'] as const) {
        const r = await c.query<{ n: string; sum: string }>(checksumQuery('public.wide', scheme, [{ name: 'id', type: 23 }, { name: 'v', type: 25 }]));
        assert.equal(Number(r.rows[0]!.n), 200000, scheme);
      }
    } finally {
      await c.end();
    }
    // the whole backup (its fingerprints run in such a session) and its verify go through
    const b = await cliOk(['backup', 'big', '--type', 'postgresql', '--json'], opts);
    assert.deepEqual(b.json.manifest.tables.map((t: { rows: number }) => t.rows), [200000]);
    const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
  });

  for (const [scheme, looks] of [['md5-sorted', /^[0-9a-f]{32}$/], ['sum64', /^sum64:-?\d+$/]] as const) {
    it(`a manifest with the older ${scheme} checksums still verifies and restores (checked its own way)`, async () => {
      const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts);
      const file = b.json.file as string;
      const c = await pgClient(home, 'main', 'shop');
      const manifest = JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8'));
      try {
        await c.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex'");
        for (const t of manifest.tables) t.checksum = (await c.query<{ sum: string }>(checksumQuery(t.name, scheme))).rows[0]!.sum;
      } finally {
        await c.end();
      }
      assert.match(manifest.tables[0].checksum, looks);
      writeFileSync(`${file}.manifest.json`, JSON.stringify(manifest));
      await resignManifest(home, file);
      const v = await cliOk(['backup', 'verify', file, '--json'], opts);
      assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
      assert.ok(v.json.tables.every((t: { checksum_match: boolean }) => t.checksum_match === true));
      // and a wrong checksum of that scheme is still caught
      manifest.tables[0].checksum = scheme === 'sum64' ? 'sum64:12345' : '0'.repeat(32);
      writeFileSync(`${file}.manifest.json`, JSON.stringify(manifest));
      await resignManifest(home, file);
      const bad = await runCli(['backup', 'verify', file, '--json'], opts);
      assert.notEqual(bad.code, 0);
      assert.match(JSON.stringify(bad.json), /checksum differs/);
    });
  }

  it('--jobs 2: a directory dump with every file in the signed manifest; restore and verify with workers', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--jobs', '2', '--json'], opts);
    const dir = b.json.file as string;
    assert.match(b.json.manifest.method, /directory format, 2 jobs/);
    assert.ok(statSync(dir).isDirectory());
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const manifest = JSON.parse(readFileSync(`${dir}.manifest.json`, 'utf8'));
    assert.deepEqual(manifest.files.map((f: { path: string }) => f.path).sort(), readdirSync(dir).sort());
    assert.ok(manifest.files.some((f: { path: string }) => f.path === 'toc.dat'));
    assert.equal(manifest.size_bytes, manifest.files.reduce((s: number, f: { size_bytes: number }) => s + f.size_bytes, 0));
    const listed = await cliOk(['backup', 'list', '--type', 'postgresql', '--json'], opts);
    assert.ok(listed.json.some((e: { file: string }) => e.file === dir), 'a directory backup is listed as good');
    const v = await cliOk(['backup', 'verify', dir, '--jobs', '2', '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    const r = await cliOk(['restore', dir, '--target', 'shop_jobs', '--jobs', '2', '--json'], opts);
    assert.equal(r.json.target, 'shop_jobs');
    const n = await pgQuery<{ n: string }>(home, 'main', 'shop_jobs', 'SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM b) + (SELECT count(*) FROM moved) AS n');
    assert.equal(Number(n[0]!.n), 15000);
    // a single-file dump restores with workers too
    const single = await cliOk(['backup', 'shop', '--type', 'postgresql', '--json'], opts);
    await cliOk(['restore', single.json.file, '--target', 'shop_jobs1', '--jobs', '2', '--json'], opts);
  });

  it('a directory backup with a changed, an extra or a missing file is refused before anything is touched', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--jobs', '2', '--json'], opts);
    const dir = b.json.file as string;
    const data = readdirSync(dir).find((f) => f !== 'toc.dat')!;
    const keep = readFileSync(join(dir, data));
    const attempt = async () => {
      const r = await runCli(['restore', dir, '--target', 'shop_tampered', '--json'], opts);
      assert.equal(r.code, 1, r.stdout);
      assert.equal(r.json.error.code, 'BACKUP_CORRUPT', JSON.stringify(r.json));
      const dbs = await pgQuery<{ n: string }>(home, 'main', 'postgres', "SELECT count(*) AS n FROM pg_database WHERE datname LIKE 'shop_tampered%'");
      assert.equal(Number(dbs[0]!.n), 0, 'nothing was created');
      return r.json.error.message as string;
    };
    appendFileSync(join(dir, data), 'x');
    assert.match(await attempt(), new RegExp(`${data} has`));
    writeFileSync(join(dir, data), Buffer.concat([keep.subarray(0, keep.length - 1), Buffer.from([keep[keep.length - 1]! ^ 1])]));
    assert.match(await attempt(), /sha256 of/);
    writeFileSync(join(dir, data), keep);
    writeFileSync(join(dir, 'extra.dat'), 'x');
    assert.match(await attempt(), /extra\.dat is not in the manifest/);
    rmSync(join(dir, 'extra.dat'));
    rmSync(join(dir, data));
    assert.match(await attempt(), /is missing/);
    writeFileSync(join(dir, data), keep);
    // an edited manifest (a file dropped from its list) fails its HMAC
    const manifest = JSON.parse(readFileSync(`${dir}.manifest.json`, 'utf8'));
    manifest.files = manifest.files.filter((f: { path: string }) => f.path !== data);
    writeFileSync(`${dir}.manifest.json`, JSON.stringify(manifest));
    const r = await runCli(['restore', dir, '--target', 'shop_tampered', '--json'], opts);
    assert.equal(r.json.error.code, 'BACKUP_TAMPERED');
  });

  it('--compress: gzip:1 by default with pg_dump 15, gzip:9 and none on request; each restores and verifies', async () => {
    const sizes: Record<string, number> = {};
    for (const [compress, label] of [[undefined, 'gzip:1'], ['gzip:9', 'gzip:9'], ['none', 'none']] as const) {
      const b = await cliOk(['backup', 'shop', '--type', 'postgresql', ...(compress ? ['--compress', compress] : []), '--json'], opts);
      assert.match(b.json.manifest.method, new RegExp(`^pg_dump custom format, ${label} \\(pg_dump 15\\.`), b.json.manifest.method);
      sizes[label] = b.json.manifest.size_bytes;
      const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
      assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
      const target = `shop_${label.replace(':', '')}`;
      await cliOk(['restore', b.json.file, '--target', target, '--json'], opts);
      const n = await pgQuery<{ n: string }>(home, 'main', target, 'SELECT count(*) AS n FROM a');
      assert.equal(Number(n[0]!.n), 5000);
    }
    // the levels did reach pg_dump: uncompressed is the biggest, level 9 the smallest
    assert.ok(sizes['none']! > sizes['gzip:1']! && sizes['gzip:1']! > sizes['gzip:9']!, JSON.stringify(sizes));
    const dir = await cliOk(['backup', 'shop', '--type', 'postgresql', '--jobs', '2', '--compress', 'gzip:6', '--json'], opts);
    assert.match(dir.json.manifest.method, /^pg_dump directory format, 2 jobs, gzip:6 \(/);
    assert.ok(readdirSync(dir.json.file).some((f) => f.endsWith('.dat.gz')), 'compressed table files');
  });

  it('--compress: what pg_dump 15 lacks, malformed values and engines without it are refused; nothing is written', async () => {
    const before = (await cliOk(['backup', 'list', '--json'], opts)).json.length;
    const zstd = await runCli(['backup', 'shop', '--type', 'postgresql', '--compress', 'zstd', '--json'], opts);
    assert.equal(zstd.json.error.code, 'NOT_APPLICABLE', zstd.stdout);
    assert.match(zstd.json.error.message, /needs pg_dump 16 or newer; the one found is 15\./);
    for (const bad of ['gzip:0', 'gzip:10', 'brotli', 'gzip:1;touch /tmp/pwned', '--file=/etc/x', 'none:3', '']) {
      const r = await runCli(['backup', 'shop', '--type', 'postgresql', `--compress=${bad}`, '--json'], opts);
      assert.equal(r.code, 2, `--compress ${bad}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json.error.code, 'USAGE', `--compress ${bad}`);
    }
    assert.ok(!existsSync('/tmp/pwned'));
    await cliOk(['install', 'sqlite', '--source', 'embedded', '-q'], opts);
    await cliOk(['create', 'x', '--type', 'sqlite'], opts);
    const sqlite = await runCli(['backup', 'x', '--type', 'sqlite', '--compress', 'gzip', '--json'], opts);
    assert.equal(sqlite.json.error.code, 'NOT_APPLICABLE', sqlite.stdout);
    assert.match(sqlite.json.error.message, /SQLite backups take no --compress/);
    assert.ok((await cliOk(['backup', 'x', '--type', 'sqlite', '--json'], opts)).json.file, 'without it the backup runs');
    const after = (await cliOk(['backup', 'list', '--json'], opts)).json.length;
    assert.equal(after, before + 1);
  });

  it('--encrypt: the dump goes through age as pg_dump writes it; no plaintext file ever appears; it verifies and restores', async () => {
    const dest = join(home, 'sealed');
    const file = (await sealedBackup(['shop', '--type', 'postgresql'], dest, opts)).file;
    assert.match(file, /\.dump\.age$/);
    assert.ok(!readFileSync(file).includes(Buffer.from('PGDMP')), 'no plaintext pg_dump header in the file');
    const v = await cliOk(['backup', 'verify', file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    await cliOk(['restore', file, '--target', 'shop_sealed', '--json'], opts);
    const n = await pgQuery<{ n: string }>(home, 'main', 'shop_sealed', 'SELECT count(*) AS n FROM moved');
    assert.equal(Number(n[0]!.n), 5000);
    // a directory dump is still refused with --encrypt, and leaves nothing behind
    const dir = await runCli(['backup', 'shop', '--type', 'postgresql', '--jobs', '2', '--encrypt', '--destination', dest, '--json'], opts);
    assert.equal(dir.json.error.code, 'NOT_APPLICABLE', dir.stdout);
    assert.deepEqual(readdirSync(dest).filter((f) => f.includes('partial')), []);
    // a full disk under the encrypting writer: DISK_FULL, pg_dump stopped (no hang), nothing left
    const tiny = join(home, 'tiny-sealed');
    mkdirSync(tiny, { recursive: true, mode: 0o700 });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', tiny]);
    try {
      const full = await runCli(['backup', 'shop', '--type', 'postgresql', '--encrypt', '--compress', 'none', '--destination', tiny, '--json'], opts);
      assert.equal(full.code, 1, full.stdout);
      assert.equal(full.json.error.code, 'DISK_FULL', JSON.stringify(full.json));
      assert.deepEqual(readdirSync(tiny), []);
    } finally {
      execFileSync('umount', [tiny]);
    }
  });

  it('refuses --jobs values that are not 1 to 64, before anything runs', async () => {
    const before = (await cliOk(['backup', 'list', '--json'], opts)).json.length;
    for (const bad of ['0', '-1', '1000', 'x', '2.5', '1e2', '']) {
      const r = await runCli(['backup', 'shop', '--type', 'postgresql', `--jobs=${bad}`, '--json'], opts);
      assert.equal(r.code, 2, `--jobs ${bad}: ${r.stdout}${r.stderr}`);
      assert.equal(r.json.error.code, 'USAGE', `--jobs ${bad}`);
      const rr = await runCli(['restore', '/nonexistent.dump', `--jobs=${bad}`, '--json'], opts);
      assert.equal(rr.json.error.code, 'USAGE', `restore --jobs ${bad}`);
    }
    assert.equal((await cliOk(['backup', 'list', '--json'], opts)).json.length, before);
    assert.ok(!existsSync(join(home, 'x')));
  });
});

describe('postgresql physical snapshot (portable 16, no pg_dump 16 here)', () => {
  before(async () => {
    await cliOk(['install', 'postgresql', '--version', '16', '--instance', 'snap', '--port', String(await freePort()), '-q'], opts);
    await cliOk(['create', 'shop', '--type', 'postgresql', '--instance', 'snap'], opts);
    await pgQuery(home, 'snap', 'shop', 'CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 20000) g');
    // WAL beyond what a backup needs: segments written (and kept) before the backup starts
    for (let i = 0; i < 3; i++) await pgQuery(home, 'snap', 'shop', 'INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 20000) g; SELECT pg_switch_wal()');
  });
  after(async () => {
    await runCli(['stop', 'postgresql', '--instance', 'snap'], opts);
  });

  it('copies only the WAL segments from backup start to stop, and the snapshot verifies with cols64 checksums', async () => {
    const b = await cliOk(['backup', 'shop', '--type', 'postgresql', '--instance', 'snap', '--json'], opts);
    assert.match(b.json.manifest.method, /physical snapshot/);
    assert.deepEqual(b.json.manifest.tables.map((t: { rows: number }) => t.rows), [80000]);
    assert.match(b.json.manifest.tables[0].checksum, /^cols64:/);
    const live = (await pgQuery<{ n: string }>(home, 'snap', 'postgres', "SELECT count(*) AS n FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'"))[0]!.n;
    const kept = execFileSync('tar', ['-tzf', b.json.file], { encoding: 'utf8' }).split('\n').filter((l) => /pg_wal\/[0-9A-F]{24}$/.test(l));
    assert.ok(kept.length >= 1 && kept.length <= 2, `WAL segments in the snapshot: ${kept.join(', ')}`);
    assert.ok(kept.length < Number(live), `fewer than the ${live} segments in pg_wal`);
    const v = await cliOk(['backup', 'verify', b.json.file, '--json'], opts);
    assert.equal(v.json.ok, true, JSON.stringify(v.json.problems));
    const jobs = await runCli(['backup', 'shop', '--type', 'postgresql', '--instance', 'snap', '--jobs', '2', '--json'], opts);
    assert.equal(jobs.json.error.code, 'NOT_APPLICABLE', 'no pg_dump 16: --jobs is refused, naming what to do');
    const compress = await runCli(['backup', 'shop', '--type', 'postgresql', '--instance', 'snap', '--compress', 'gzip:9', '--json'], opts);
    assert.equal(compress.json.error.code, 'NOT_APPLICABLE', 'no pg_dump 16: --compress is refused too');
    assert.match(compress.json.error.message, /physical snapshot\) is always gzipped/);
  });
});
