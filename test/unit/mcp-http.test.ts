import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createMcpServer } from '../../src/mcp/server.js';
import { serveHttp, isLoopback, type HttpHandle } from '../../src/mcp/transports.js';
import { fakeCore } from './mcp-fake-core.js';

const TOKEN = 'test-token-0123456789abcdef';
let handle: HttpHandle;

before(async () => {
  handle = await serveHttp({ host: '127.0.0.1', port: 0, token: TOKEN, createServer: () => createMcpServer({ role: 'reader', core: fakeCore(), log: () => undefined }).server, log: () => undefined });
});
after(async () => handle.close());

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '0' } } });

function post(headers: Record<string, string>, body = INIT, path = '/mcp'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: handle.port, path, method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers } }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('HTTP: a request without the bearer token is refused', async () => {
  assert.equal((await post({})).status, 401);
  assert.equal((await post({ authorization: 'Bearer wrong-token-wrong-token' })).status, 401);
});

test('HTTP: foreign Host and Origin are refused (DNS rebinding)', async () => {
  const auth = { authorization: `Bearer ${TOKEN}` };
  assert.equal((await post({ ...auth, host: `evil.example:${handle.port}` })).status, 403);
  assert.equal((await post({ ...auth, origin: 'http://evil.example' })).status, 403);
  assert.equal((await post({ ...auth, origin: `http://localhost:${handle.port}` })).status, 200);
});

test('HTTP: only /mcp is served', async () => {
  assert.equal((await post({ authorization: `Bearer ${TOKEN}` }, INIT, '/')).status, 404);
});

test('HTTP: the SDK client with the token lists tools and calls one', async () => {
  const client = new Client({ name: 't', version: '0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(handle.url), { requestInit: { headers: { authorization: `Bearer ${TOKEN}` } } }));
  const { tools } = await client.listTools();
  assert.equal(tools.length, 12); // the read-only set: 11 inspection tools and db_query
  const r = await client.callTool({ name: 'db_status', arguments: {} });
  assert.equal((r.structuredContent as { instances: unknown[] }).instances.length, 2);
  await client.close();
});

test('HTTP: loopback without a token is refused too (every local user can reach 127.0.0.1)', async () => {
  await assert.rejects(
    serveHttp({ host: '127.0.0.1', port: 0, createServer: () => createMcpServer({ role: 'reader', core: fakeCore(), log: () => undefined }).server, log: () => undefined }),
    /without a bearer token: every local user/,
  );
});

test('HTTP: binding to a non-loopback address without a token is refused', async () => {
  await assert.rejects(
    serveHttp({ host: '0.0.0.0', port: 0, createServer: () => createMcpServer({ role: 'reader', core: fakeCore(), log: () => undefined }).server, log: () => undefined }),
    /without a bearer token/,
  );
  assert.equal(isLoopback('127.0.0.1'), true);
  assert.equal(isLoopback('[::1]'), true);
  assert.equal(isLoopback('localhost'), true);
  assert.equal(isLoopback('192.168.1.2'), false);
});
