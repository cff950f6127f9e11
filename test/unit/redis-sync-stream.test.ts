import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EOF_MARK_LENGTH, MAX_HEADER, SyncPayloadReader } from '../../src/engines/redis/sync-stream.js';
import { RespError, RespProtocolError } from '../../src/engines/redis/resp.js';
import { syncStartsAtOnce } from '../../src/engines/redis/backup.js';

const MARK = 'a'.repeat(20) + '0123456789abcdef0123';
const RDB = Buffer.concat([Buffer.from('REDIS0010'), Buffer.alloc(300, 7), Buffer.from([0xff]), Buffer.alloc(8, 1)]);

/** Feeds `wire` in pieces of `step` bytes; what came out, and whether the reader finished. */
function read(wire: Buffer, step: number, end = true): { payload: Buffer; done: boolean } {
  const r = new SyncPayloadReader();
  const out: Buffer[] = [];
  for (let i = 0; i < wire.length && !r.done; i += step) out.push(...r.push(wire.subarray(i, i + step)));
  if (end) r.end();
  return { payload: Buffer.concat(out), done: r.done };
}

test('a disk-based answer: keep-alives, $<length>, exactly that many bytes', () => {
  const wire = Buffer.concat([Buffer.from('\n\n\n$' + RDB.length + '\r\n'), RDB, Buffer.from('*1\r\n$4\r\nPING\r\n')]);
  for (const step of [1, 7, 40, 41, 4096]) {
    const { payload, done } = read(wire, step);
    assert.ok(done, `step ${step}`);
    // what follows the declared length is not part of the snapshot
    assert.deepEqual(payload, RDB, `step ${step}`);
  }
});

test('a diskless answer: $EOF:<40 bytes>, the RDB, the same 40 bytes; the mark is held back, never written', () => {
  const wire = Buffer.concat([Buffer.from(`\n$EOF:${MARK}\r\n`), RDB, Buffer.from(MARK)]);
  for (const step of [1, 3, 39, 40, 41, 100, 4096]) {
    const { payload, done } = read(wire, step);
    assert.ok(done, `step ${step}`);
    assert.deepEqual(payload, RDB, `step ${step}`);
  }
});

test('a payload that only contains a part of the mark goes on until the whole mark', () => {
  const body = Buffer.concat([Buffer.from('REDIS0010'), Buffer.from(MARK.slice(0, 39)), Buffer.from('x')]);
  const wire = Buffer.concat([Buffer.from(`$EOF:${MARK}\r\n`), body, Buffer.from(MARK)]);
  for (const step of [1, 5, 50]) assert.deepEqual(read(wire, step).payload, body);
});

test('attack: a stream cut short is refused, in either framing and inside the header', () => {
  const short = Buffer.concat([Buffer.from(`$${RDB.length}\r\n`), RDB.subarray(0, 100)]);
  assert.throws(() => read(short, 16), (e: Error) => e instanceof RespProtocolError && /cut off after 100 of 318 bytes/.test(e.message));
  const noMark = Buffer.concat([Buffer.from(`$EOF:${MARK}\r\n`), RDB, Buffer.from(MARK.slice(0, 20))]);
  assert.throws(() => read(noMark, 16), /cut off after 338 bytes, before its end mark/);
  const wrongMark = Buffer.concat([Buffer.from(`$EOF:${MARK}\r\n`), RDB, Buffer.from(MARK.replace('a', 'b'))]);
  assert.throws(() => read(wrongMark, 64), /before its end mark/);
  assert.throws(() => read(Buffer.from('\n\n$12'), 1), /ended inside its header/);
  assert.throws(() => read(Buffer.from('\n\n'), 1), /closed the connection before it sent the snapshot/);
  assert.throws(() => read(Buffer.alloc(0), 1), /before it sent the snapshot/);
});

test('attack: a bad EOF mark, a wrong or oversized length, or another reply is not a snapshot', () => {
  const bad: [string, RegExp][] = [
    [`$EOF:${MARK.slice(1)}\r\n`, new RegExp(`has ${EOF_MARK_LENGTH - 1} bytes, not ${EOF_MARK_LENGTH}`)],
    [`$EOF:${MARK}x\r\n`, /has 41 bytes/],
    ['$EOF:\r\n', /has 0 bytes/],
    ['$-1\r\n', /not a snapshot length/],
    ['$12x\r\n', /not a snapshot length/],
    ['$ 12\r\n', /not a snapshot length/],
    ['$\r\n', /not a snapshot length/],
    ['$9999999999999999\r\n', /snapshot length 9999999999999999 is too large/],
    ['$12345678901234567890\r\n', /not a snapshot length/],
    ['+FULLRESYNC 8de1787ba490483314a4d30f1c628bc5025eb761 0\r\n', /not a snapshot length/],
    [':1\r\n', /not a snapshot length/],
  ];
  for (const [wire, re] of bad) assert.throws(() => read(Buffer.from(wire, 'latin1'), 3), (e: Error) => e instanceof RespProtocolError && re.test(e.message), wire);
  assert.throws(() => read(Buffer.from('$' + '1'.repeat(MAX_HEADER + 5)), 64), /no header line within 512 bytes/);
});

test('an error reply to SYNC is the server saying no (the caller falls back to BGSAVE)', () => {
  assert.throws(() => read(Buffer.from("\n-NOPERM this user has no permissions to run the 'sync' command\r\n"), 5), (e: Error) => e instanceof RespError && /^NOPERM/.test(e.message));
});

test('the stream is used only when the server starts it at once', () => {
  const m = (o: Record<string, string>) => new Map(Object.entries(o));
  assert.deepEqual(syncStartsAtOnce(m({ 'repl-diskless-sync': 'yes', 'repl-diskless-sync-delay': '0' })), { ok: true });
  assert.deepEqual(syncStartsAtOnce(m({ 'repl-diskless-sync': 'no', 'repl-diskless-sync-delay': '5' })), { ok: true });
  assert.deepEqual(syncStartsAtOnce(m({ 'repl-diskless-sync': 'yes', 'repl-diskless-sync-delay': '5' })), { ok: false, delay: 5 });
  // Redis 6.0 and later default to diskless with a 5 s delay: unknown settings are taken as that
  assert.deepEqual(syncStartsAtOnce(m({})), { ok: false, delay: 5 });
});
