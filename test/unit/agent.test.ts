/** The monitor agent's runner: one agent per home, tasks on their nextRun, clean abort, the alert hook and its audit. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentPaths, runAgent, runAlertHook, sleepFor, type AgentOptions } from '../../src/core/agent/agent.js';
import { checkHookCommand } from '../../src/cli/commands/monitor.js';
import type { AgentLog, AgentTask } from '../../src/core/agent/task.js';

const quiet: AgentLog = { info: () => undefined, warn: () => undefined };

function withHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = mkdtempSync(join(tmpdir(), 'agent-backups-unit-'));
  const before = process.env['PORTUNIX_HOME'];
  process.env['PORTUNIX_HOME'] = home;
  return fn(home).finally(() => {
    if (before === undefined) delete process.env['PORTUNIX_HOME'];
    else process.env['PORTUNIX_HOME'] = before;
    rmSync(home, { recursive: true, force: true });
  });
}

/** A task that runs every `everyMs` and counts; `untilRuns` aborts the agent after that many rounds. */
function countingTask(everyMs: number, untilRuns: number, stop: AbortController, onRun?: (n: number, signal: AbortSignal) => Promise<void>): AgentTask & { runs: number } {
  const t = {
    name: 'count',
    runs: 0,
    nextRun: (now: Date, last: Date | undefined) => (last ? new Date(last.getTime() + everyMs) : now),
    async run(ctx: { signal: AbortSignal }) {
      t.runs++;
      await onRun?.(t.runs, ctx.signal);
      if (t.runs >= untilRuns) stop.abort();
    },
  };
  return t;
}

test('tasks run on their nextRun until the agent is stopped; the pid and status files go away', async () => {
  await withHome(async () => {
    const stop = new AbortController();
    const task = countingTask(20, 3, stop);
    let sawPid = false;
    const probe: AgentTask = { name: 'probe', nextRun: (now, last) => (last ? undefined : now), run: async () => void (sawPid = existsSync(agentPaths.pidFile())) };
    await runAgent({ tasks: [task, probe], log: quiet, tickMs: 50, signal: stop.signal });
    assert.equal(task.runs, 3);
    assert.ok(sawPid, 'the pid file exists while the agent runs');
    assert.equal(existsSync(agentPaths.pidFile()), false);
    assert.equal(existsSync(agentPaths.statusFile()), false);
  });
});

test('a failing task is logged and runs again; it does not stop the agent', async () => {
  await withHome(async () => {
    const stop = new AbortController();
    const warnings: string[] = [];
    const task = countingTask(10, 3, stop, async (n) => {
      if (n < 3) throw new Error(`boom ${n}`);
    });
    await runAgent({ tasks: [task], log: { info: () => undefined, warn: (m) => warnings.push(m) }, tickMs: 50, signal: stop.signal });
    assert.equal(task.runs, 3);
    assert.deepEqual(warnings, ['count: boom 1', 'count: boom 2']);
  });
});

test('stopping aborts ctx.signal of a running task, and services are stopped after the tasks', async () => {
  await withHome(async () => {
    const stop = new AbortController();
    const order: string[] = [];
    const task: AgentTask = {
      name: 'long',
      nextRun: (now, last) => (last ? undefined : now),
      async run(ctx) {
        order.push('task started');
        setTimeout(() => stop.abort(), 20);
        await sleepFor(60_000, ctx.signal);
        order.push(`task saw abort: ${ctx.signal.aborted}`);
      },
    };
    await runAgent({ tasks: [task], services: [{ name: 'svc', start: async () => (order.push('svc started'), { describe: 'x', stop: async () => void order.push('svc stopped') }) }], log: quiet, tickMs: 50, signal: stop.signal });
    assert.deepEqual(order, ['svc started', 'task started', 'task saw abort: true', 'svc stopped']);
  });
});

test('one agent per home: a second is refused while the first runs; a dead agent\'s pid file is taken over', async () => {
  await withHome(async (home) => {
    const stop = new AbortController();
    let second: unknown;
    const task: AgentTask = {
      name: 'try-second',
      nextRun: (now, last) => (last ? undefined : now),
      async run() {
        second = await runAgent({ tasks: [], log: quiet, tickMs: 50 }).then(() => 'ran', (e: Error & { code?: string }) => e.code);
        stop.abort();
      },
    };
    await runAgent({ tasks: [task], log: quiet, tickMs: 50, signal: stop.signal });
    assert.equal(second, 'ALREADY_EXISTS');
    // a pid file left by a process that is gone (kill -9) does not block the next agent
    mkdirSync(join(home, 'state'), { recursive: true });
    writeFileSync(agentPaths.pidFile(), JSON.stringify({ pid: 2 ** 22 + 12345, started_at: new Date().toISOString(), program: 'main.js', home }));
    const again = new AbortController();
    const t = countingTask(10, 1, again);
    await runAgent({ tasks: [t], log: quiet, tickMs: 50, signal: again.signal });
    assert.equal(t.runs, 1);
  });
});

test('alerts are audited with via "agent" and reach the hook; alert text never becomes shell syntax', async () => {
  await withHome(async (home) => {
    const out = join(home, 'hook-out');
    const pwned = join(home, 'pwned');
    const stop = new AbortController();
    const evil = `$(touch ${pwned}); touch ${pwned}; \`touch ${pwned}\``;
    const task: AgentTask = {
      name: 'alerter',
      nextRun: (now, last) => (last ? undefined : now),
      async run(ctx) {
        await ctx.alert({ kind: 'backup-failed', engine: 'sqlite', instance: 'main', message: evil });
        stop.abort();
      },
    };
    const options: AgentOptions = { tasks: [task], log: quiet, tickMs: 50, signal: stop.signal, onAlert: `printf '%s|%s' "$PORTUNIX_DB_ALERT_KIND" "$PORTUNIX_DB_ALERT_MESSAGE" > ${out}; cat >> ${out}` };
    await runAgent(options);
    const got = readFileSync(out, 'utf8');
    assert.ok(got.startsWith(`backup-failed|${evil}`), got);
    assert.equal(JSON.parse(got.slice(got.indexOf('{'))).message, evil, 'the alert also arrives as JSON on stdin');
    assert.equal(existsSync(pwned), false, 'nothing in the alert ran');
    const audit = readFileSync(join(home, 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const alert = audit.find((e) => e.action === 'agent-alert');
    assert.equal(alert.via, 'agent');
    assert.equal(alert.target, 'backup-failed');
    assert.equal(alert.detail, evil);
    assert.deepEqual(audit.map((e) => e.action), ['agent-start', 'agent-alert', 'agent-stop']);
  });
});

test('a hook that hangs is killed after its timeout; a hook that fails is logged', async () => {
  const warnings: string[] = [];
  const log: AgentLog = { info: () => undefined, warn: (m) => warnings.push(m) };
  const hung = await runAlertHook('sleep 30', { kind: 'backup-skipped', message: 'x' }, log, 200);
  assert.equal(hung.code, null);
  const failed = await runAlertHook('echo nope >&2; exit 3', { kind: 'backup-skipped', message: 'x' }, log);
  assert.equal(failed.code, 3);
  assert.ok(warnings.some((w) => w.includes('exited 3') && w.includes('nope')), warnings.join('\n'));
});

test('--on-alert takes one command line', () => {
  assert.equal(checkHookCommand('logger -t portunix-db'), 'logger -t portunix-db');
  for (const bad of ['', '   ', 'a\nb', 'a\0b', 'x'.repeat(5000)]) assert.throws(() => checkHookCommand(bad), /on-alert/);
});
