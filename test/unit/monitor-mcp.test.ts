/** Issue 16: db_performance `window` (trend from the monitor's samples) and db_status with the monitor's alerts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { createMcpServer } from '../../src/mcp/server.js';
import type { CoreOps } from '../../src/mcp/core.js';
import { fakeCore } from './mcp-fake-core.js';

async function call(core: CoreOps, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  const { server } = createMcpServer({ role: 'reader', core, log: () => undefined });
  const [c, s] = InMemoryTransport.createLinkedPair();
  await server.connect(s);
  const client = new Client({ name: 'test', version: '0' });
  await client.connect(c);
  try {
    return (await client.callTool({ name, arguments: args })) as CallToolResult;
  } finally {
    await client.close();
  }
}
const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');

test('db_performance window: compact min/avg/max/last from the samples', async () => {
  const core = fakeCore();
  const r = await call(core, 'db_performance', { type: 'postgresql', window: '1h' });
  assert.ok(!r.isError, text(r));
  const trend = (r.structuredContent as { trend: { window: string; metrics: Record<string, { min: number; last: number }> } }).trend;
  assert.equal(trend.window, '1h');
  assert.equal(trend.metrics['connections']!.min, 1);
  assert.match(text(r), /trend over 1h/);
  assert.match(text(r), /connections\s+1\s+4\.5\s+9\s+3\s+240/);
  assert.deepEqual(core.calls.find((c) => c.op === 'trend')!.args, { type: 'postgresql', window: '1h' });
  // without window no trend is read
  const plain = fakeCore();
  const p = await call(plain, 'db_performance', { type: 'postgresql' });
  assert.equal((p.structuredContent as Record<string, unknown>)['trend'], undefined);
  assert.equal(plain.calls.some((c) => c.op === 'trend'), false);
});

test('db_performance window: bad values are refused by the schema or the core', async () => {
  for (const w of ['1y', '1h; DROP TABLE x', '', '-1h', 'PT1H', 3600, '12345h']) {
    const r = await call(fakeCore(), 'db_performance', { type: 'postgresql', window: w });
    assert.equal(r.isError, true, `window ${JSON.stringify(w)} accepted`);
  }
  const { trend } = await import('../../src/core/monitor/query.js');
  const r = await call(fakeCore({ trend }), 'db_performance', { type: 'postgresql', window: '9999d' });
  assert.equal(r.isError, true);
  assert.match(text(r), /USAGE.*outside 1m\.\.30d/);
});

test('db_status: the monitor\'s open alerts, filtered to the instances asked about', async () => {
  const r = await call(fakeCore(), 'db_status', {});
  const s = r.structuredContent as { monitor: { running: boolean; alerts: { kind: string }[] } };
  assert.equal(s.monitor.running, true);
  assert.equal(s.monitor.alerts[0]!.kind, 'instance-crashed');
  assert.match(text(r), /ALERT instance-crashed .*redis\/main crashed/);
  const pgOnly = fakeCore({ status: async () => [{ engine: 'postgresql', instance: 'main', state: 'running', version: '16', data_dir: '/x' }] });
  const p = await call(pgOnly, 'db_status', { type: 'postgresql' });
  assert.deepEqual((p.structuredContent as { monitor: { alerts: unknown[] } }).monitor.alerts, []);
  const none = await call(fakeCore({ monitorAlerts: async () => undefined }), 'db_status', {});
  assert.equal((none.structuredContent as Record<string, unknown>)['monitor'], undefined);
  const stale = await call(fakeCore({ monitorAlerts: async () => ({ running: false, last_sample_at: '2024-01-01T00:00:00.000Z', alerts: [] }) }), 'db_status', {});
  assert.match(text(stale), /monitor: not sampling/);
});
