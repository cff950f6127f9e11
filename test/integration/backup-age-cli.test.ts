/**
 * Issue 17: users "can decrypt with the standard `age` tool in an emergency". The real age
 * 1.1.1 CLI (Debian's package, test/servers/age.ts) decrypts what `backup --encrypt` wrote with
 * the key file `backup key export` printed, as docs/backup-and-recovery.md says (that page's
 * example itself runs in docs-examples.test.ts, with this `age` on PATH); another identity and a
 * damaged file are refused. The other way round: a key made by `age-keygen`, imported with
 * `backup key import`, encrypts new backups that age decrypts with that key file. SQLite
 * (embedded) and Redis 7.0 (Debian's package, installed by the tool).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { testServer } from '../servers/cache.js';
import { setRedisKey } from '../helpers/redis.js';

const age = testServer('age');
const home = freshHome('age-cli');
const opts = { home, timeoutMs: 300_000 };
const cli = (args: string[], h = home, input?: string) => cliOk([...args, '--json'], { ...opts, home: h, ...(input !== undefined ? { input } : {}) });
let sqliteDir = '';
let redisPort = 0;

/** Runs a program (age, age-keygen, redis-check-rdb) in `cwd`; never through a shell. */
function run(argv: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const rows = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare('SELECT v FROM t ORDER BY id').all().map((r) => (r as { v: string }).v);
  } finally {
    db.close();
  }
};

before(async () => {
  if (!age) return;
  sqliteDir = (await cli(['install', 'sqlite', '--source', 'embedded'])).json.data_dir;
  await cli(['create', 'ledger', '--type', 'sqlite']);
  const db = new Database(join(sqliteDir, 'ledger.db'));
  db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('age-marker-1'), ('age-marker-2'), ('age-marker-3')");
  db.close();
});

after(async () => {
  if (redisPort) await runCli(['stop', 'redis'], opts).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

test('age -d with the exported recovery key gives back the SQLite database; another identity is refused', { skip: !age && 'age not provisioned (node dist/test/servers/provision.js age)' }, async () => {
  const made = await cli(['backup', 'ledger', '--type', 'sqlite', '--encrypt', '--destination', join(home, 'ledger-backups')]);
  const file = made.json.file as string;
  assert.match(file, /sqlite-main-ledger-.*\.sqlite\.age$/);
  // the manifest's sha256 is the encrypted file's (it never names the plaintext)
  assert.equal(sha256(file), made.json.manifest.sha256);
  assert.equal(readFileSync(file).includes('age-marker'), false, 'no plaintext in the encrypted file');
  // exactly the docs' commands, in the docs' order (docs/backup-and-recovery.md, "Encryption at rest")
  const exported = await runCli(['backup', 'key', 'export'], opts);
  assert.equal(exported.code, 0, exported.stderr);
  const keyFile = join(home, 'portunix-db-backup-key.txt');
  writeFileSync(keyFile, exported.stdout, { mode: 0o600 });
  const out = join(home, 'ledger.sqlite');
  const dec = await run([age!.extra!['age']!, '--decrypt', '-i', keyFile, '-o', out, file], home);
  assert.equal(dec.code, 0, dec.stderr);
  assert.equal(readFileSync(out).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  assert.deepEqual(rows(out), ['age-marker-1', 'age-marker-2', 'age-marker-3']);
  // the rows the manifest counted are the rows age gave back
  const counted = (made.json.manifest.tables as { name: string; rows: number }[]).find((t) => t.name === 't' || t.name.endsWith('.t'));
  assert.equal(counted?.rows, 3);

  // another identity: age refuses and writes nothing
  const otherKey = join(home, 'other-key.txt');
  const gen = await run([age!.extra!['ageKeygen']!, '-o', otherKey], home);
  assert.equal(gen.code, 0, gen.stderr);
  const wrong = await run([age!.extra!['age']!, '--decrypt', '-i', otherKey, '-o', join(home, 'wrong.sqlite'), file], home);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /no identity matched any of the recipients/);
  assert.equal(existsSync(join(home, 'wrong.sqlite')), false);
  // a damaged file: age's own authentication catches it
  const damaged = join(home, 'damaged.sqlite.age');
  const bytes = readFileSync(file);
  bytes[bytes.length - 20] = bytes[bytes.length - 20]! ^ 0xff;
  writeFileSync(damaged, bytes);
  const bad = await run([age!.extra!['age']!, '--decrypt', '-i', keyFile, '-o', join(home, 'damaged.sqlite'), damaged], home);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /age: error: failed to decrypt and authenticate payload chunk/);
});

test('a Redis RDB backup decrypts with age into an RDB that redis-check-rdb accepts', { skip: !age && 'age not provisioned' }, async () => {
  redisPort = await freePort();
  await cli(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(redisPort)]);
  await setRedisKey(home, redisPort, 'age-marker', 'v1');
  const made = await cli(['backup', '0', '--type', 'redis', '--encrypt']);
  const file = made.json.file as string;
  assert.match(file, /\.rdb\.age$/);
  // the key file exported by the test above (this home has one key)
  const keyFile = join(home, 'portunix-db-backup-key.txt');
  assert.ok(readFileSync(keyFile, 'utf8').includes(made.json.manifest.encryption.recipient));
  const out = join(home, 'dump.rdb');
  const dec = await run([age!.extra!['age']!, '--decrypt', '-i', keyFile, '-o', out, file], home);
  assert.equal(dec.code, 0, dec.stderr);
  const plain = readFileSync(out);
  assert.equal(plain.subarray(0, 5).toString('latin1'), 'REDIS');
  assert.ok(plain.includes('age-marker'));
  assert.equal(readFileSync(file).includes('age-marker'), false);
  const check = await run(['redis-check-rdb', out], home);
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /RDB looks OK/);
  assert.match(check.stdout, /1 keys read/);
});

test('a key from age-keygen, imported with `backup key import`, encrypts new backups that age decrypts with that key file', { skip: !age && 'age not provisioned' }, async () => {
  const home2 = freshHome('age-cli-import');
  try {
    const keyFile = join(home2, 'my-age-key.txt');
    const gen = await run([age!.extra!['ageKeygen']!, '-o', keyFile], home2);
    assert.equal(gen.code, 0, gen.stderr);
    const publicKey = /^# public key: (age1[0-9a-z]+)$/m.exec(readFileSync(keyFile, 'utf8'))?.[1];
    assert.ok(publicKey, 'age-keygen wrote a public key line');
    assert.equal(statSync(keyFile).mode & 0o077, 0, 'age-keygen writes the key owner-only');
    // attacks first: a public key, two identities of which one is garbage, an empty input
    for (const input of [`${publicKey}\n`, 'AGE-SECRET-KEY-1NOTAKEY\n', '', '# only a comment\n']) {
      const r = await runCli(['backup', 'key', 'import', '--json'], { ...opts, home: home2, input });
      assert.equal(r.code, 2, `refused: ${JSON.stringify(input)}\n${r.stdout}${r.stderr}`);
    }
    const imp = await cli(['backup', 'key', 'import'], home2, readFileSync(keyFile, 'utf8'));
    assert.equal(imp.json.added, true);
    assert.equal(imp.json.recipient, publicKey);
    await cli(['install', 'sqlite', '--source', 'embedded'], home2);
    await cli(['create', 'notes', '--type', 'sqlite'], home2);
    const made = await cli(['backup', 'notes', '--type', 'sqlite', '--encrypt'], home2);
    assert.equal(made.json.manifest.encryption.recipient, publicKey, 'the imported key is the one new backups are encrypted to');
    const out = join(home2, 'notes.sqlite');
    const dec = await run([age!.extra!['age']!, '--decrypt', '-i', keyFile, '-o', out, made.json.file], home2);
    assert.equal(dec.code, 0, dec.stderr);
    assert.equal(readFileSync(out).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    // and portunix-db itself still verifies it (the key is in this home's secret store)
    assert.equal((await cli(['backup', 'verify', made.json.file], home2)).json.ok, true);
    // the export of a home with two keys (its own + an imported one) imports into a third home
    await cli(['backup', 'key', 'import'], home, readFileSync(keyFile, 'utf8'));
    const both = await runCli(['backup', 'key', 'export', '--force'], opts);
    assert.equal(both.code, 0, both.stderr);
    assert.equal((both.stdout.match(/^AGE-SECRET-KEY-1/gm) ?? []).length, 2);
    const home3 = freshHome('age-cli-third');
    try {
      const third = await cli(['backup', 'key', 'import'], home3, both.stdout);
      assert.equal(third.json.added, true);
      assert.equal(third.json.recipients.length, 2);
      // and age reads the same two-key file
      const bothFile = join(home3, 'both.txt');
      writeFileSync(bothFile, both.stdout, { mode: 0o600 });
      const again = await run([age!.extra!['age']!, '--decrypt', '-i', bothFile, '-o', join(home3, 'notes.sqlite'), made.json.file], home3);
      assert.equal(again.code, 0, again.stderr);
    } finally {
      rmSync(home3, { recursive: true, force: true });
    }
  } finally {
    rmSync(home2, { recursive: true, force: true });
  }
});
