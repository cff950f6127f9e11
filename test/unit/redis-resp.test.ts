import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { encodeCommand, MAX_BULK, MAX_DEPTH, MAX_LINE, ReplyParser, RespConnection, RespError, RespProtocolError } from '../../src/engines/redis/resp.js';

/** Every reply in `bytes`, fed `step` bytes at a time; undefined entries are never returned. */
function parseAll(bytes: Buffer | string, step = Infinity): unknown[] {
  const p = new ReplyParser();
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
  const out: unknown[] = [];
  for (let i = 0; i < b.length; i += Math.min(step, b.length)) {
    p.feed(b.subarray(i, i + step));
    for (let r = p.next(); r; r = p.next()) out.push(r.value);
  }
  return out;
}

test('RESP2 replies of every type parse whole and byte by byte', () => {
  const wire = '+OK\r\n-ERR no such key\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n*-1\r\n*0\r\n$2\r\nä\r\n';
  for (const step of [Infinity, 1, 3]) {
    const got = parseAll(Buffer.from(wire, 'utf8'), step);
    assert.equal(got.length, 11, `step ${step}`);
    assert.equal(got[0], 'OK');
    assert.ok(got[1] instanceof RespError && got[1].message === 'ERR no such key');
    assert.deepEqual(got.slice(2), [42, -7, 'hello', '', null, ['a', [1]], null, [], 'ä']);
  }
});

test('a long nested array in small chunks comes out whole, once', () => {
  const items = Array.from({ length: 5000 }, (_, i) => `member:${i}`);
  const wire = `*2\r\n*${items.length}\r\n${items.map((x) => `$${x.length}\r\n${x}\r\n`).join('')}:7\r\n+NEXT\r\n`;
  assert.deepEqual(parseAll(wire, 7), [[items, 7], 'NEXT']);
});

test('a bulk string that is binary-safe keeps its CRLF inside', () => {
  assert.deepEqual(parseAll('$4\r\na\r\nb\r\n'), ['a\r\nb']);
});

test('the bytes after the last reply are handed on (what follows the answer to SYNC)', () => {
  const p = new ReplyParser();
  p.feed(Buffer.from('+OK\r\n$EOF:'));
  assert.deepEqual(p.next(), { value: 'OK' });
  assert.equal(p.next(), undefined);
  p.feed(Buffer.from('abc'));
  assert.equal(p.rest().toString(), '$EOF:abc');
});

test('attack: malformed replies are protocol errors, not values', () => {
  const bad: [string, RegExp][] = [
    ['?what\r\n', /unexpected reply type byte 0x3f/],
    [':12a\r\n', /bad integer/],
    [':\r\n', /bad integer/],
    ['$abc\r\n', /bad bulk string length/],
    ['$-2\r\n', /bad bulk string length/],
    ['$1234567890123\r\n', /bad bulk string length/],
    [`$${MAX_BULK + 1}\r\n`, /over the limit/],
    ['*99999999999\r\n', /over the limit/],
    ['$3\r\nabcde\r\n', /does not end where its length says/],
    ['$3\r\nabc\n\n', /does not end where its length says/],
  ];
  for (const [wire, re] of bad) assert.throws(() => parseAll(wire), (e: Error) => e instanceof RespProtocolError && re.test(e.message), wire);
});

test('attack: a line without CRLF cannot grow without bound, nor arrays nest without bound', () => {
  assert.throws(() => parseAll(`+${'x'.repeat(MAX_LINE + 10)}`, 4096), /longer than/);
  assert.throws(() => parseAll(`${'*1\r\n'.repeat(MAX_DEPTH + 2)}:1\r\n`), /nested deeper/);
});

test('a truncated reply is waited for, not returned', () => {
  assert.deepEqual(parseAll('$10\r\nabc'), []);
  assert.deepEqual(parseAll('*2\r\n:1\r\n'), []);
  assert.deepEqual(parseAll('+OK'), []);
});

test('commands are written as arrays of bulk strings, lengths in bytes', () => {
  assert.equal(encodeCommand(['SET', 'k', 'ä']).toString('utf8'), '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nä\r\n');
});

async function fakeServer(onSocket: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onSocket);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port };
}

test('a connection pipelines commands and settles each with its own reply, errors rejecting', async () => {
  const seen: string[] = [];
  const { server, port } = await fakeServer((s) => {
    s.on('data', (d) => {
      seen.push(d.toString('latin1'));
      // both answers in one write, split mid-reply, as TCP may deliver them
      if (seen.join('').split('*').length - 1 === 2) {
        s.write('+PONG\r\n-WRONGTYPE Operation');
        setTimeout(() => s.write(' against a key\r\n'), 5);
      }
    });
  });
  try {
    const c = await RespConnection.open({ port, connectTimeoutMs: 2000 });
    const [a, b] = await Promise.allSettled([c.send(['PING']), c.send(['LPUSH', 's', 'x'])]);
    assert.deepEqual(a, { status: 'fulfilled', value: 'PONG' });
    assert.ok(b.status === 'rejected' && b.reason instanceof RespError && b.reason.message === 'WRONGTYPE Operation against a key');
    c.close();
    await assert.rejects(c.send(['PING']), /closed/);
  } finally {
    server.close();
  }
});

test('attack: a reply nobody asked for, or garbage, fails the connection and every pending command', async () => {
  const { server, port } = await fakeServer((s) => s.on('data', () => s.write('+OK\r\n+EXTRA\r\n')));
  try {
    const c = await RespConnection.open({ port, connectTimeoutMs: 2000 });
    assert.equal(await c.send(['PING']), 'OK');
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(c.send(['PING']), /no command asked for/);
  } finally {
    server.close();
  }
  const g = await fakeServer((s) => s.on('data', () => s.write('HTTP/1.1 400 Bad Request\r\n\r\n')));
  try {
    const c = await RespConnection.open({ port: g.port, connectTimeoutMs: 2000 });
    await assert.rejects(c.send(['PING']), (e: Error) => e instanceof RespProtocolError);
  } finally {
    g.server.close();
  }
});

test('a server that closes the connection rejects what is pending; a refused port keeps its ECONNREFUSED code', async () => {
  const { server, port } = await fakeServer((s) => s.on('data', () => s.destroy()));
  try {
    const c = await RespConnection.open({ port, connectTimeoutMs: 2000 });
    await assert.rejects(c.send(['SHUTDOWN']), /closed|ECONNRESET/);
  } finally {
    await new Promise((r) => server.close(r));
  }
  await assert.rejects(RespConnection.open({ port, connectTimeoutMs: 2000 }), (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED');
});

test('takeOver hands the socket over with the bytes that came after the last reply', async () => {
  const { server, port } = await fakeServer((s) =>
    s.on('data', (d) => {
      if (d.toString().includes('SYNC')) s.write('\n\n$3\r\nabc');
      else s.write('+OK\r\n');
    }),
  );
  try {
    const c = await RespConnection.open({ port, connectTimeoutMs: 2000 });
    assert.equal(await c.send(['REPLCONF', 'rdb-only', '1']), 'OK');
    const { socket, head } = c.takeOver(['SYNC']);
    let got = head.toString();
    for await (const chunk of socket) {
      got += (chunk as Buffer).toString();
      if (got.endsWith('abc')) break;
    }
    assert.equal(got, '\n\n$3\r\nabc');
    await assert.rejects(c.send(['PING']), /handed over|closed/);
    c.destroy();
  } finally {
    server.close();
  }
});
