/**
 * The Redis backup against a scripted server on a loopback port: the SYNC stream in both
 * framings, the fallbacks to BGSAVE, and attack-shaped answers (cut off, a bad mark, an
 * oversized length), which must fail the backup instead of writing a short file as good.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InstanceContext } from '../../src/engines/contract.js';
import { backup } from '../../src/engines/redis/backup.js';
import { ReplyParser } from '../../src/engines/redis/resp.js';
import { DbError } from '../../src/core/errors.js';

const str = (s: string) => Buffer.concat([Buffer.from([s.length]), Buffer.from(s)]);
/** A small valid RDB: db0 with 2 string keys, db3 with 1. */
const RDB = Buffer.concat([
  Buffer.from('REDIS0010'),
  Buffer.from([0xfe, 0]), Buffer.from([0]), str('a'), str('1'), Buffer.from([0]), str('b'), str('2'),
  Buffer.from([0xfe, 3]), Buffer.from([0]), str('c'), str('3'),
  Buffer.from([0xff]), Buffer.alloc(8, 9),
]);
const MARK = '0123456789abcdef0123456789abcdef01234567';

interface Script {
  delay?: string;
  /** What SYNC is answered with (the server closes the connection after it unless `keepOpen`). */
  sync?: Buffer;
  keepOpen?: boolean;
  /** Before Redis 7.0: no rdb_saves in INFO, and (a save within the same second) LASTSAVE does not move. */
  noRdbSaves?: boolean;
  /** An AOF rewrite runs: BGSAVE is refused with Redis 7's message, BGSAVE SCHEDULE saves at the next INFO. */
  aofChild?: boolean;
}

const bulk = (s: string) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const arr = (xs: string[]) => `*${xs.length}\r\n${xs.map(bulk).join('')}`;

/** A loopback server speaking just enough Redis for a backup; `seen` collects the commands. */
async function scripted(script: Script, dir: string): Promise<{ port: number; seen: string[]; close: () => Promise<void> }> {
  const seen: string[] = [];
  const sockets = new Set<Socket>();
  let saves = 0;
  let scheduled = false;
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    const p = new ReplyParser();
    s.on('data', (d) => {
      p.feed(d);
      for (let r = p.next(); r; r = p.next()) {
        const [cmd = '', ...args] = (r.value as string[]).map(String);
        seen.push([cmd.toUpperCase(), ...(cmd.toUpperCase() === 'AUTH' ? [] : args)].join(' '));
        switch (cmd.toUpperCase()) {
          case 'AUTH':
            s.write('+OK\r\n');
            break;
          case 'REPLCONF':
            s.write(script.noRdbSaves && args[0] === 'rdb-only' ? '-ERR Unrecognized REPLCONF option: rdb-only\r\n' : '+OK\r\n');
            break;
          case 'INFO':
            if (scheduled) {
              writeFileSync(join(dir, 'dump.rdb'), RDB);
              saves++;
              scheduled = false;
            }
            s.write(bulk(args[0] === 'server' ? 'redis_version:7.0.99\r\n' : `rdb_bgsave_in_progress:0\r\n${script.noRdbSaves ? '' : `rdb_saves:${saves}\r\n`}rdb_last_save_time:1\r\nrdb_last_bgsave_status:ok\r\n`));
            break;
          case 'CONFIG':
            if (args[1] === 'repl-diskless-sync*') s.write(arr(['repl-diskless-sync', 'yes', 'repl-diskless-sync-delay', script.delay ?? '0']));
            else if (args[1] === 'dir') s.write(arr(['dir', dir]));
            else s.write(arr(['dbfilename', 'dump.rdb']));
            break;
          case 'LASTSAVE':
            s.write(':1\r\n');
            break;
          case 'BGSAVE':
            if (script.aofChild && args[0] !== 'SCHEDULE') {
              s.write("-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n");
            } else if (args[0] === 'SCHEDULE') {
              scheduled = true;
              s.write('+Background saving scheduled\r\n');
            } else {
              writeFileSync(join(dir, 'dump.rdb'), RDB);
              saves++;
              s.write('+Background saving started\r\n');
            }
            break;
          case 'SYNC':
            s.write(script.sync ?? Buffer.alloc(0));
            if (!script.keepOpen) s.end();
            break;
          default:
            s.write('-ERR unknown command\r\n');
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as { port: number }).port,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function run(script: Script): Promise<{ result?: Awaited<ReturnType<typeof backup>>; error?: unknown; file: string; seen: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-redis-stream-'));
  dirs.push(dir);
  const srv = await scripted(script, dir);
  // no certificate in the data dir: the instance is reached over plain TCP
  const ctx = { engine: 'redis', name: 't', config: { port: srv.port }, paths: { dataDir: dir, root: dir }, runAs: null, progress: () => undefined, adminPassword: async () => 'pw' } as unknown as InstanceContext;
  const file = join(dir, 'out.rdb');
  // a backup that waits for ever (for a save it cannot see) fails when the server goes away, instead of hanging the file
  const cutOff = setTimeout(() => void srv.close(), 20_000);
  try {
    return { result: await backup(ctx, { database: '0', file }), file, seen: srv.seen };
  } catch (error) {
    return { error, file, seen: srv.seen };
  } finally {
    clearTimeout(cutOff);
    await srv.close();
  }
}

const expectedTables = [{ name: 'db0', rows: 2 }, { name: 'db3', rows: 1 }];

test('diskless: $EOF:<mark>, the RDB, the mark; written, hashed and counted as it streams', async () => {
  const sync = Buffer.concat([Buffer.from(`\n\n$EOF:${MARK}\r\n`), RDB, Buffer.from(MARK)]);
  const { result, file, seen } = await run({ sync, keepOpen: true });
  assert.ok(result, 'backup succeeded');
  assert.deepEqual(readFileSync(file), RDB);
  assert.deepEqual(result.written, { sha256: createHash('sha256').update(RDB).digest('hex'), size: RDB.length });
  assert.deepEqual(result.tables, expectedTables);
  assert.match(result.method, /^SYNC .*RDB format v10, redis 7\.0\.99/);
  assert.deepEqual(seen.filter((c) => /REPLCONF|SYNC|BGSAVE/.test(c)), ['REPLCONF capa eof', 'REPLCONF rdb-only 1', 'SYNC']);
});

test('disk-based: $<length> and exactly that many bytes', async () => {
  const { result, file } = await run({ sync: Buffer.concat([Buffer.from(`$${RDB.length}\r\n`), RDB]) });
  assert.ok(result);
  assert.deepEqual(readFileSync(file), RDB);
  assert.deepEqual(result.tables, expectedTables);
});

test('with repl-diskless-sync-delay above 0 the backup does not wait for it: BGSAVE, and a note why', async () => {
  const { result, seen } = await run({ delay: '5' });
  assert.ok(result);
  assert.ok(!seen.includes('SYNC') && seen.includes('BGSAVE'));
  assert.match(result.method, /^BGSAVE \+ RDB copy/);
  assert.ok(result.notes?.some((n) => /repl-diskless-sync-delay 5/.test(n)));
  assert.deepEqual(result.tables, expectedTables);
});

test('before Redis 7.0 (no rdb_saves; LASTSAVE in the same second): a started BGSAVE is over once none is in progress', { timeout: 60_000 }, async () => {
  // the server refuses rdb-only, as Redis 6 does; a wait for LASTSAVE to move would never end here
  const { result, seen } = await run({ delay: '0', noRdbSaves: true });
  assert.ok(result);
  assert.ok(result.notes?.some((n) => /refused the replication stream \(ERR Unrecognized REPLCONF option: rdb-only\)/.test(n)));
  assert.ok(!seen.includes('SYNC'));
  assert.match(result.method, /^BGSAVE/);
  assert.deepEqual(result.tables, expectedTables);
  assert.ok(!seen.includes('BGSAVE SCHEDULE'));
});

test('an AOF rewrite running: BGSAVE SCHEDULE, and the backup waits for that save (rdb_saves moves on)', { timeout: 60_000 }, async () => {
  const { result, seen } = await run({ delay: '5', aofChild: true });
  assert.ok(result);
  assert.deepEqual(seen.filter((c) => c.startsWith('BGSAVE')), ['BGSAVE', 'BGSAVE SCHEDULE']);
  assert.deepEqual(result.tables, expectedTables);
});

test('a server that refuses SYNC (no right, a replica without its master): BGSAVE on a new connection', async () => {
  const { result, seen } = await run({ sync: Buffer.from("\n-NOPERM this user has no permissions to run the 'sync' command\r\n") });
  assert.ok(result);
  assert.match(result.method, /^BGSAVE/);
  assert.ok(result.notes?.some((n) => /refused the replication stream \(NOPERM/.test(n)));
  assert.equal(seen.filter((c) => c === 'AUTH').length, 2);
});

test('attack: a snapshot cut off, a bad EOF mark, an oversized or wrong length fail the backup', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['length, cut off', Buffer.concat([Buffer.from(`$${RDB.length}\r\n`), RDB.subarray(0, 20)]), /cut off after 20 of \d+ bytes/],
    ['eof, cut off before the mark', Buffer.concat([Buffer.from(`$EOF:${MARK}\r\n`), RDB]), /before its end mark/],
    ['a mark of 39 bytes', Buffer.from(`$EOF:${MARK.slice(1)}\r\n`), /has 39 bytes, not 40/],
    ['an oversized length', Buffer.from('$9999999999999999\r\n'), /too large/],
    ['a negative length', Buffer.from('$-1\r\n'), /not a snapshot length/],
    ['nothing at all', Buffer.alloc(0), /before it sent the snapshot/],
  ];
  for (const [what, sync, re] of cases) {
    const { error } = await run({ sync });
    assert.ok(error instanceof DbError, `${what}: ${String(error)}`);
    assert.equal(error.code, 'BACKUP_CORRUPT', what);
    assert.match(error.message, re, what);
  }
});
