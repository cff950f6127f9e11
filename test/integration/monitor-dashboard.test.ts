/**
 * Issue 16 end to end, against real servers the tool installs (Redis 7.0 from Debian's package,
 * SQLite, built in): the monitor agent samples them every second, /metrics serves them (parsed by a real
 * exposition parser, token and Host checked), and the dashboard is driven in headless Chromium
 * (Debian's `chromium` package, test/servers/chromium.ts, through playwright-core):
 *  - the page loads and the instances appear, with sizes;
 *  - a plot has points;
 *  - after a kill -9 of redis-server, the first sampling round that starts after the kill shows
 *    it crashed (in the API, the page, /metrics, and as an audited alert);
 *  - a SQLite file overwritten with junk shows its failing health check in place;
 *  - a screenshot is saved under test-artifacts/ (the path is printed).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { CLI, cliOk, freshHome } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { testServer } from '../servers/cache.js';
import { get } from '../unit/monitor-fixtures.js';

const chromium = testServer('chromium');
const home = freshHome('monitor');
const opts = { home };
const cli = (args: string[], code = 0) => cliOk([...args, '--json'], opts, code);
const children: ChildProcess[] = [];
const ARTIFACTS = resolve(process.env['PORTUNIX_TEST_ARTIFACTS'] ?? 'test-artifacts');

function start(args: string[]): { child: ChildProcess; out: () => string; err: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'file', PORTUNIX_DB_AGENT_TICK_MS: '250', NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return { child, out: () => out, err: () => err };
}

async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}


let redisPort = 0;
let metricsPort = 0;
let token = '';

before(async () => {
  redisPort = await freePort();
  const r = await cli(['install', 'redis', '--version=7.0', '--source', 'apt', '--port', String(redisPort)]);
  assert.equal(r.json.state, 'running');
  await cli(['install', 'sqlite', '--source', 'embedded']);
  await cli(['create', 'shop', '--type', 'sqlite']);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  await new Promise((r) => setTimeout(r, 500));
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await cliOk(['stop', 'redis'], opts).catch(() => undefined);
  rmSync(home, { recursive: true, force: true });
});

test('monitor: bad --interval and non-loopback --listen are refused before anything runs', async () => {
  // the parsers' attack cases are unit tests (test/unit/monitor.test.ts); here: the CLI refuses through them
  for (const bad of [['--interval', '1s; id'], ['--listen', '192.168.0.1:80'], ['--token-file', '/etc/passwd']]) {
    const r = await cli(['monitor', ...bad], 2);
    assert.equal(r.json.error.code, 'USAGE', `${bad.join(' ')}: ${r.stdout}`);
  }
  const dash = await cli(['dashboard', '--listen', '0.0.0.0:8766'], 2);
  assert.match(dash.json.error.message, /only loopback/);
});

test('the agent samples both instances; /metrics serves them behind the token and Host check', async () => {
  metricsPort = await freePort();
  const agent = start(['monitor', '--interval', '1s', '--listen', `127.0.0.1:${metricsPort}`]);
  const tokenFile = join(home, 'monitor', 'http.token');
  token = await until('the token file', () => (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined));
  const families = await until('redis in /metrics', async () => {
    const r = await get(metricsPort, '/metrics', { authorization: `Bearer ${token}` });
    if (r.status !== 200) return undefined;
    const f = parsePrometheusTextFormat(r.body);
    const up = f.find((x) => x.name === 'portunix_db_up')?.metrics ?? [];
    return up.some((m) => m.labels?.['engine'] === 'redis') && up.some((m) => m.labels?.['engine'] === 'sqlite') && f.find((x) => x.name === 'portunix_db_operations_total')?.metrics.length ? f : undefined;
  }).catch((err) => {
    throw new Error(`${(err as Error).message}\nagent stderr:\n${agent.err().slice(-3000)}`);
  });
  const value = (name: string, labels: Record<string, string>) => families.find((f) => f.name === name)?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
  assert.equal(value('portunix_db_up', { engine: 'redis', instance: 'main' }), '1');
  assert.equal(value('portunix_db_up', { engine: 'sqlite', instance: 'main' }), '1');
  assert.ok(Number(value('portunix_db_connections', { engine: 'redis' })) >= 1, 'redis reports its clients');
  assert.ok(Number(value('portunix_db_database_size_bytes', { engine: 'sqlite', database: 'shop' })) > 0, 'sqlite file size');
  assert.equal(families.find((f) => f.name === 'portunix_db_operations_total')!.type, 'COUNTER');
  assert.equal((await get(metricsPort, '/metrics')).status, 401);
  assert.equal((await get(metricsPort, '/metrics', { authorization: `Bearer ${token}`, host: 'rebind.evil.test' })).status, 403);
  const status = await cli(['monitor', 'status']);
  assert.ok(status.json.tasks?.sample, `sample task in ${status.stdout}`);
});

test('dashboard in headless Chromium: instances, a plot with points, and a kill -9 shown as crashed by the next round', async (t) => {
  if (!chromium) return t.skip('chromium not provisioned (node dist/test/servers/provision.js chromium)');
  const dash = start(['dashboard', '--listen', '127.0.0.1:0', '--json']);
  const info = await until('the dashboard URL', () => {
    try {
      return JSON.parse(dash.out()) as { url: string; open: string; port: number };
    } catch {
      return undefined;
    }
  }, 30_000);
  assert.match(info.open, /^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  const { chromium: pw } = await import('playwright-core');
  const browser = await pw.launch({ executablePath: chromium.extra!['executablePath']!, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && errors.push(m.text())));
    // without the token the page says what to do and shows no data
    await page.goto(info.url);
    await page.waitForSelector('#problem:not([hidden])');
    assert.match(await page.textContent('#problem') ?? '', /No access token/);
    assert.equal(await page.locator('#instances tbody tr').count(), 0);
    // the URL with the token, opened over it (a same-page navigation: the page reloads itself)
    await page.goto(info.open);
    await until('the token out of the address bar', () => (new URL(page.url()).hash === '' ? true : undefined), 30_000);
    const redisRow = page.locator('tr[data-instance="redis/main"]');
    await redisRow.waitFor({ timeout: 30_000 });
    // (the page's CSP forbids eval, so waits are locators and polls, never string predicates)
    await page.locator('tr[data-instance="redis/main"] .state', { hasText: /^running/ }).waitFor({ timeout: 30_000 });
    await page.locator('tr[data-instance="sqlite/main"]').waitFor();
    assert.match(await page.locator('tr[data-instance="sqlite/main"] .state').textContent() ?? '', /embedded/);
    assert.match(await redisRow.locator('td').nth(2).textContent() ?? '', /^7\.0/);
    assert.match(await redisRow.textContent() ?? '', new RegExp(String(redisPort)));
    assert.match(await page.locator('tr[data-instance="redis/main"] .notice').textContent() ?? '', /end of life/i, 'the EOL notice of Redis 7.0 is shown');
    // plots of redis (the first instance) get points as rounds come in
    await page.selectOption('#pick', 'redis/main');
    await until('a plot with points', async () => (Number((await page.getAttribute('[data-plot="connections"]', 'data-points', { timeout: 1000 }).catch(() => null)) ?? 0) >= 2 ? true : undefined), 30_000);
    assert.equal(await page.locator('[data-plot="connections"] canvas').count(), 1, 'uPlot drew a canvas');
    await page.click('#ranges button[data-range="6h"]');
    assert.equal(await page.getAttribute('#ranges button[data-range="6h"]', 'aria-pressed'), 'true');

    // kill -9 the server; the first round that starts after it must show it crashed
    const st = await cli(['status', 'redis']);
    const pid = (st.json as { pid: number }[])[0]!.pid;
    assert.ok(pid > 0);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const overview = async () => JSON.parse((await get(info.port, '/api/overview', { authorization: `Bearer ${token}` })).body) as { last_round_at?: string; instances: { engine: string; state: string }[] };
    const firstAfter = await until('a round that started after the kill', async () => {
      const o = await overview();
      return o.last_round_at && Date.parse(o.last_round_at) > killedAt ? o : undefined;
    });
    assert.equal(firstAfter.instances.find((i) => i.engine === 'redis')!.state, 'crashed', 'the first round after the kill sees the crash');
    await page.locator('tr[data-instance="redis/main"] .state', { hasText: /^crashed/ }).waitFor({ timeout: 30_000 });
    await page.locator('#alerts [data-kind="instance-crashed"]').waitFor({ timeout: 30_000 });
    // a failing health check is shown in place, on the instance's row: the SQLite file is overwritten with junk
    const list = await cli(['list', '--type', 'sqlite']);
    const shop = (list.json as { databases?: { name: string; path?: string }[] }[]).flatMap((g) => g.databases ?? []).find((d) => d.name === 'shop')!;
    assert.ok(shop.path && existsSync(shop.path), `shop's file: ${list.stdout}`);
    writeFileSync(shop.path, randomBytes(8192));
    const failing = page.locator('tr[data-instance="sqlite/main"] .health .check[data-status="fail"]');
    await failing.first().waitFor({ timeout: 30_000 });
    assert.match(await failing.first().textContent() ?? '', /shop.*not a SQLite database/);
    await page.locator('#alerts [data-kind="health-failed"]').waitFor({ timeout: 30_000 });
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, `dashboard-${new Date().toISOString().replace(/[:.]/g, '-')}.png`);
    await page.screenshot({ path: shot, fullPage: true });
    process.stderr.write(`dashboard screenshot: ${shot}\n`);
    assert.deepEqual(errors, [], 'no script errors in the page');
  } finally {
    await browser.close();
  }
  // the same crash in /metrics and as an audited alert
  const m = parsePrometheusTextFormat((await get(metricsPort, '/metrics', { authorization: `Bearer ${token}` })).body);
  assert.equal(m.find((f) => f.name === 'portunix_db_up')!.metrics.find((x) => x.labels?.['engine'] === 'redis')!.value, '0');
  assert.equal(m.find((f) => f.name === 'portunix_db_alerts_active')!.metrics.find((x) => x.labels?.['kind'] === 'instance-crashed')!.value, '1');
  const audit = readFileSync(join(home, 'audit.log'), 'utf8');
  assert.match(audit, /"action":"agent-alert".*"target":"instance-crashed"/);
});
