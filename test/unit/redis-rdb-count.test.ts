import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RdbKeyCounter, type RdbCount } from '../../src/engines/redis/rdb-count.js';

/** RDB length encoding. */
function len(n: number): Buffer {
  if (n < 64) return Buffer.from([n]);
  if (n < 16384) return Buffer.from([0x40 | (n >> 8), n & 0xff]);
  const b = Buffer.alloc(5);
  b[0] = 0x80;
  b.writeUInt32BE(n, 1);
  return b;
}
const str = (s: string | Buffer) => {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([len(b.length), b]);
};
const ms = (t: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0xfc;
  b.writeUInt32LE(t % 2 ** 32, 1);
  b.writeUInt32LE(Math.floor(t / 2 ** 32), 5);
  return b;
};
const NOW = 1_800_000_000_000;

/** One RDB with every walked encoding: db0 3 live keys (1 expired), db5 7 keys. */
function sample(version = '0011'): Buffer {
  const parts: Buffer[] = [
    Buffer.from(`REDIS${version}`),
    Buffer.from([0xfa]), str('redis-ver'), str('7.2.4'),
    Buffer.from([0xfa]), str('ctime'), Buffer.from([0xc2, 1, 2, 3, 4]), // an int-encoded aux value
    Buffer.from([0xfe]), len(0), Buffer.from([0xfb]), len(4), len(2),
    Buffer.from([0x00]), str('plain'), str('value'),
    ms(NOW - 1), Buffer.from([0x00]), str('expired'), str('x'),
    ms(NOW + 60_000), Buffer.from([0x00]), str('later'), Buffer.from([0xc0, 7]), // int8 value
    Buffer.from([0xf8]), len(12), Buffer.from([0x00]), str('idle'), Buffer.from([0xc3]), len(3), len(40), Buffer.from('abc'), // LZF value
    Buffer.from([0xfe]), len(5),
    Buffer.from([0x01]), str('list'), len(2), str('a'), str('b'),
    Buffer.from([0x03]), str('zset'), len(2), str('m1'), Buffer.from([3]), Buffer.from('1.5'), str('m2'), Buffer.from([254]),
    Buffer.from([0x04]), str('hash'), len(1), str('f'), str('v'),
    Buffer.from([0x05]), str('zset2'), len(1), str('m'), Buffer.alloc(8),
    Buffer.from([0xf7, 5]), Buffer.from([0x12]), str('quick2'), len(1), len(2), str(Buffer.alloc(100, 1)),
    Buffer.from([0x10]), str('listpack-hash'), str(Buffer.alloc(70_000, 2)), // a long trailing blob
    // a stream (v2 layout) with one listpack, one group, one pending entry and one consumer
    Buffer.from([0x13]), str('stream'), len(1), str(Buffer.alloc(16)), str(Buffer.alloc(30, 3)),
    len(1), len(1), len(0), len(1), len(0), len(0), len(0), len(1),
    len(1), str('g'), len(1), len(0), len(1), len(1), Buffer.alloc(24), len(1),
    len(1), str('c1'), Buffer.alloc(8), len(1), Buffer.alloc(16),
    Buffer.from([0xff]), Buffer.alloc(8),
  ];
  return Buffer.concat(parts);
}

function countIn(file: Buffer, step: number): RdbCount {
  const c = new RdbKeyCounter(NOW);
  for (let i = 0; i < file.length; i += step) c.push(file.subarray(i, i + step));
  return c.end();
}

test('RDB key counter: counts live keys per database, whatever the chunk boundaries', () => {
  const file = sample();
  for (const step of [1, 2, 3, 7, 64, 1000, 65536, file.length]) {
    const r = countIn(file, step);
    assert.ok(r.ok, `step ${step}: ${r.ok ? '' : r.reason}`);
    assert.deepEqual([...r.keys], [[0, 3], [5, 7]], `step ${step}`);
    assert.equal(r.version, 11);
  }
});

test('RDB key counter: a key whose expire time has passed is not counted (a load drops it)', () => {
  const later = new RdbKeyCounter(NOW + 120_000);
  later.push(sample());
  const r = later.end();
  assert.ok(r.ok);
  assert.equal(r.keys.get(0), 2); // "later" has expired too by then
});

test('RDB key counter: a truncated, padded or foreign file is refused, not counted', () => {
  const file = sample();
  for (const bad of [file.subarray(0, file.length - 3), file.subarray(0, file.length - 9), file.subarray(0, 200), Buffer.concat([file, Buffer.from('x')])]) {
    const r = countIn(bad, 4096);
    assert.equal(r.ok, false);
  }
  const foreign = countIn(Buffer.from('PK\u0003\u0004 not an rdb at all'), 5);
  assert.equal(foreign.ok, false);
  assert.match(foreign.ok ? '' : foreign.reason, /bad header/);
});

test('RDB key counter: types it cannot walk say so (the backup then counts in a scratch server)', () => {
  const head = Buffer.concat([Buffer.from('REDIS0011'), Buffer.from([0xfe]), len(0)]);
  const tail = Buffer.concat([Buffer.from([0xff]), Buffer.alloc(8)]);
  const oldModule = countIn(Buffer.concat([head, Buffer.from([0x06]), str('k'), Buffer.alloc(8), tail]), 3);
  assert.equal(oldModule.ok, false);
  assert.match(oldModule.ok ? '' : oldModule.reason, /module value of the old format/);
  const future = countIn(Buffer.concat([head, Buffer.from([0x19]), str('k'), str('v'), tail]), 3);
  assert.equal(future.ok, false);
  assert.match(future.ok ? '' : future.reason, /value type 25/);
  // a hostile length prefix is an error, never a giant allocation
  const hostile = countIn(Buffer.concat([head, Buffer.from([0x00]), Buffer.from([0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), tail]), 4);
  assert.equal(hostile.ok, false);
});

test('RDB key counter: an RDB of version < 5 has no checksum after EOF', () => {
  const v4 = Buffer.concat([Buffer.from('REDIS0004'), Buffer.from([0xfe]), len(0), Buffer.from([0x00]), str('k'), str('v'), Buffer.from([0xff])]);
  const r = countIn(v4, 2);
  assert.ok(r.ok);
  assert.deepEqual([...r.keys], [[0, 1]]);
});
