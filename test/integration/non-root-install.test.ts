/**
 * Installs as an ordinary OS user (CI runs as root, so the test makes one with useradd): the
 * system's own server binaries are used instead of package steps that need sudo, and where root
 * is truly needed the error says so (NEEDS_ROOT) and names what root has to run.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { CLI, freshHome, runCli, type CliResult } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';

const isRoot = process.getuid?.() === 0;
const user = `pdbuser${randomBytes(3).toString('hex')}`;
let home = '';

function asUser(args: string[], timeoutMs = 180_000): Promise<CliResult> {
  return runCli(args, { home, timeoutMs, command: ['runuser', '-u', user, '--', process.execPath, CLI] });
}

describe('install as an ordinary user', { skip: isRoot ? false : 'needs root to create a second OS user (CI runs as root)', timeout: 10 * 60_000 }, () => {
  before(() => {
    home = freshHome('nonroot');
    execFileSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', user]);
    const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim());
    chownSync(home, uid, gid);
  });
  after(async () => {
    if (home) await asUser(['uninstall', 'redis', '--force', '--json']).catch(() => undefined);
    execFileSync('userdel', [user], { stdio: 'ignore' });
    rmSync(home, { recursive: true, force: true });
  });

  test('redis: the installed redis-server is used (no sudo step), and the instance runs as that user', { skip: existsSync('/usr/bin/redis-server') ? false : 'no /usr/bin/redis-server on this machine' }, async () => {
    const port = await freePort();
    const r = await asUser(['install', 'redis', '--port', String(port), '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = r.json as { notes: string[]; plan: { steps: { kind: string; sudo?: boolean }[] }; state?: string };
    assert.ok(!out.plan.steps.some((s) => s.sudo), JSON.stringify(out.plan.steps));
    assert.ok(out.notes.some((n) => /already installed in \/usr\/bin/.test(n)), out.notes.join('\n'));
    assert.equal(out.state, 'running');
    assert.doesNotMatch(r.stderr, /sudo: not found/);
    const status = (await asUser(['status', 'redis', '--json'])).json as { state: string; pid: number }[];
    assert.equal(status[0]?.state, 'running');
    assert.equal(execFileSync('ps', ['-o', 'user=', '-p', String(status[0]!.pid)], { encoding: 'utf8' }).trim(), user);
    assert.equal((await asUser(['stop', 'redis'])).code, 0);
  });

  test('MariaDB and PostgreSQL (apt): the plan adopts the installed server instead of apt-get', async (t) => {
    for (const [engine, version, bin] of [['mariadb', '10.11', '/usr/sbin/mariadbd'], ['postgresql', '15', '/usr/lib/postgresql/15/bin/postgres']] as const) {
      if (!existsSync(bin)) {
        t.diagnostic(`${engine}: ${bin} is not installed here, not checked`);
        continue;
      }
      const r = await asUser(['install', engine, '--version', version, '--dry-run', '--json']);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const out = r.json as { notes: string[]; plan: { steps: { kind: string; sudo?: boolean }[] } };
      assert.ok(!out.plan.steps.some((s) => s.sudo), `${engine}: ${JSON.stringify(out.plan.steps)}`);
      assert.ok(out.notes.some((n) => n.includes('already installed in')), out.notes.join('\n'));
    }
  });

  test('where root is truly needed: NEEDS_ROOT, nothing done, and a hint naming what to run as root', { skip: existsSync('/usr/bin/sudo') ? 'sudo is installed here: the install would ask sudo' : false }, async () => {
    const r = await asUser(['install', 'mysql', '--version', '8.4', '--json']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const e = (r.json as { error: { code: string; message: string; hint: string } }).error;
    assert.equal(e.code, 'NEEDS_ROOT');
    assert.match(e.message, /needs root/);
    assert.match(e.hint, /As root, run:\n {2}apt-get/);
    assert.doesNotMatch(e.hint, /sudo /);
    assert.match(e.hint, /--bin-dir/);
    const human = await asUser(['install', 'mysql', '--version', '8.4']);
    assert.match(human.stderr, /^error: .*needs root/m);
    assert.match(human.stderr, /^hint: {2}As root, run:/m);
    // a dry run still shows the plan, and says what root has to do
    const dry = await asUser(['install', 'mysql', '--version', '8.4', '--dry-run', '--json']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.ok((dry.json as { notes: string[] }).notes.some((n) => /needs root/.test(n)));
    // nothing was registered for mysql
    const all = (await asUser(['status', '--json'])).json as { engine: string }[];
    assert.deepEqual(all.filter((i) => i.engine === 'mysql'), []);
  });
});
