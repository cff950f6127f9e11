/** `backup schedule --install`: the plan per scheduler and platform, quoting attacks, and the crontab / systemd steps against fake commands. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultScheduler, editCrontab, parseScheduler, planScheduler, type SchedulerKind, type SchedulerTarget } from '../../src/core/os-scheduler.js';
import { applySchedulerPlan } from '../../src/core/ops/backup-os-schedule.js';
import { DbError } from '../../src/core/errors.js';

const posixTarget = (over: Partial<SchedulerTarget> = {}): SchedulerTarget => ({ os: 'linux', scheduler: 'cron', toolHome: '/home/u/.portunix/db', userHome: '/home/u', node: '/usr/bin/node', script: '/opt/pdb/portunix-db.mjs', ...over });
const winTarget = (over: Partial<SchedulerTarget> = {}): SchedulerTarget => ({ os: 'windows', scheduler: 'schtasks', toolHome: 'C:\\Users\\u\\.portunix\\db', userHome: 'C:\\Users\\u', node: 'C:\\Program Files\\nodejs\\node.exe', script: 'C:\\pdb\\portunix-db.mjs', ...over });
const refused = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof DbError && e.code === 'USAGE' && re.test(e.message));

test('the default scheduler follows the platform; --scheduler names are checked', () => {
  assert.equal(defaultScheduler('linux', true), 'systemd');
  assert.equal(defaultScheduler('linux', false), 'cron');
  assert.equal(defaultScheduler('darwin', false), 'launchd');
  assert.equal(defaultScheduler('windows', false), 'schtasks');
  assert.equal(parseScheduler('crontab'), 'cron');
  assert.equal(parseScheduler('SYSTEMD'), 'systemd');
  refused(() => parseScheduler('at; rm -rf /'), /Unknown --scheduler/);
  // a scheduler that does not run on the platform is refused with the ones that do
  refused(() => planScheduler(posixTarget({ scheduler: 'launchd' }), 'install'), /does not run on linux/);
  refused(() => planScheduler(winTarget({ scheduler: 'cron' }), 'install'), /does not run on windows/);
  refused(() => planScheduler(posixTarget({ os: 'darwin', scheduler: 'systemd' }), 'install'), /does not run on darwin/);
});

test('each scheduler plans its files and commands, install and uninstall', () => {
  const cron = planScheduler(posixTarget(), 'install');
  assert.equal(cron.steps.length, 1);
  const c = cron.steps[0]!;
  assert.ok(c.kind === 'crontab' && c.block);
  assert.match(c.block, /^# >>> portunix-db-backup-[0-9a-f]{8} .*\n\*\/15 \* \* \* \* PORTUNIX_HOME=\/home\/u\/.portunix\/db \/usr\/bin\/node \/opt\/pdb\/portunix-db.mjs backup due --run --quiet\n# <<< portunix-db-backup-[0-9a-f]{8} <<<$/);
  const cronOff = planScheduler(posixTarget(), 'uninstall').steps[0]!;
  assert.ok(cronOff.kind === 'crontab' && cronOff.block === undefined);

  const sd = planScheduler(posixTarget({ scheduler: 'systemd' }), 'install');
  assert.deepEqual(sd.steps.map((s) => (s.kind === 'command' ? s.argv.join(' ') : `${s.kind} ${'path' in s ? s.path : ''}`)), [
    `write-file /home/u/.config/systemd/user/${sd.name}.service`,
    `write-file /home/u/.config/systemd/user/${sd.name}.timer`,
    'systemctl --user daemon-reload',
    `systemctl --user enable --now ${sd.name}.timer`,
  ]);
  const unit = sd.steps[0]!;
  assert.ok(unit.kind === 'write-file');
  assert.match(unit.content, /^ExecStart="\/usr\/bin\/node" "\/opt\/pdb\/portunix-db.mjs" "backup" "due" "--run" "--quiet"$/m);
  assert.match(unit.content, /^Environment="PORTUNIX_HOME=\/home\/u\/.portunix\/db"$/m);
  const timer = sd.steps[1]!;
  assert.ok(timer.kind === 'write-file' && /OnCalendar=\*:0\/15/.test(timer.content) && /Persistent=true/.test(timer.content));
  const sdOff = planScheduler(posixTarget({ scheduler: 'systemd' }), 'uninstall');
  assert.deepEqual(sdOff.steps.map((s) => s.kind), ['command', 'remove-file', 'remove-file', 'command']);

  const ld = planScheduler(posixTarget({ os: 'darwin', scheduler: 'launchd', userHome: '/Users/u' }), 'install');
  const plist = ld.steps.find((s) => s.kind === 'write-file')!;
  assert.ok(plist.kind === 'write-file' && plist.path.startsWith('/Users/u/Library/LaunchAgents/com.portunix-db.backup-'));
  assert.match(plist.content, /<key>StartInterval<\/key>\n {2}<integer>900<\/integer>/);
  assert.ok(ld.steps.some((s) => s.kind === 'command' && s.argv.join(' ') === `launchctl load -w ${plist.path}`));
  assert.ok(planScheduler(posixTarget({ os: 'darwin', scheduler: 'launchd', userHome: '/Users/u' }), 'uninstall').steps.some((s) => s.kind === 'command' && s.argv[1] === 'unload'));
  // cron works on macOS too
  assert.equal(planScheduler(posixTarget({ os: 'darwin' }), 'install').scheduler, 'cron');

  const st = planScheduler(winTarget(), 'install');
  const create = st.steps.find((s) => s.kind === 'command')!;
  assert.ok(create.kind === 'command');
  assert.deepEqual(create.argv, ['schtasks', '/Create', '/TN', st.name, '/SC', 'MINUTE', '/MO', '15', '/TR', '"C:\\Users\\u\\.portunix\\db\\backup-due.cmd"', '/F']);
  const wrapper = st.steps[0]!;
  assert.ok(wrapper.kind === 'write-file');
  assert.equal(wrapper.content, '@echo off\r\nset "PORTUNIX_HOME=C:\\Users\\u\\.portunix\\db"\r\n"C:\\Program Files\\nodejs\\node.exe" "C:\\pdb\\portunix-db.mjs" "backup" "due" "--run" "--quiet"\r\n');
  assert.deepEqual(planScheduler(winTarget(), 'uninstall').steps.map((s) => (s.kind === 'command' ? s.argv.slice(0, 2).join(' ') : s.kind)), ['schtasks /Delete', 'remove-file']);
  // two homes, two entries
  assert.notEqual(planScheduler(posixTarget({ toolHome: '/a' }), 'install').name, planScheduler(posixTarget({ toolHome: '/b' }), 'install').name);
});

const NASTY = `/tmp/it's a "home" $(touch /tmp/pwned) \`id\` & ; | > *`;

test('attack: a cron line with spaces, quotes, $() and backquotes gives sh exactly the argv and PORTUNIX_HOME', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pdb-cron-q-'));
  const script = join(dir, 'echo args.mjs');
  writeFileSync(script, 'console.log(JSON.stringify({ home: process.env.PORTUNIX_HOME, args: process.argv.slice(2) }));\n');
  const plan = planScheduler(posixTarget({ toolHome: NASTY, node: process.execPath, script }), 'install');
  const step = plan.steps[0]!;
  assert.ok(step.kind === 'crontab' && step.block);
  const line = step.block.split('\n')[1]!;
  const command = line.split(' ').slice(5).join(' ');
  const out = JSON.parse(execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' })) as { home: string; args: string[] };
  assert.equal(out.home, NASTY);
  assert.deepEqual(out.args, ['backup', 'due', '--run', '--quiet']);
  assert.equal(existsSync('/tmp/pwned'), false);
});

test('attack: % (cron makes it a newline), control characters and relative paths are refused, not mangled', () => {
  refused(() => planScheduler(posixTarget({ toolHome: '/tmp/100%' }), 'install'), /cron turns into a newline/);
  refused(() => planScheduler(posixTarget({ script: '/opt/%d/x.mjs' }), 'install'), /"%"/);
  for (const scheduler of ['cron', 'systemd'] as SchedulerKind[]) {
    refused(() => planScheduler(posixTarget({ scheduler, toolHome: '/tmp/a\n* * * * * rm -rf ~' }), 'install'), /control character/);
    refused(() => planScheduler(posixTarget({ scheduler, toolHome: 'relative/home' }), 'install'), /not absolute/);
  }
  refused(() => planScheduler(posixTarget({ os: 'darwin', scheduler: 'launchd', toolHome: '/tmp/a\rb' }), 'install'), /control character/);
  refused(() => planScheduler(winTarget({ toolHome: 'C:\\a\nb' }), 'install'), /control character/);
  refused(() => planScheduler(winTarget({ toolHome: 'C:\\a"b' }), 'install'), /Windows paths cannot hold/);
  refused(() => planScheduler(winTarget({ toolHome: `C:\\${'x'.repeat(300)}` }), 'install'), /261/);
});

test('attack: systemd specifiers and variables, plist XML and batch % are escaped', () => {
  const sd = planScheduler(posixTarget({ scheduler: 'systemd', toolHome: '/srv/100% "db" $HOME\\x' }), 'install');
  const unit = sd.steps[0]!;
  assert.ok(unit.kind === 'write-file');
  assert.match(unit.content, /^Environment="PORTUNIX_HOME=\/srv\/100%% \\"db\\" \$\$HOME\\\\x"$/m);
  assert.match(unit.content, /^Description=portunix-db scheduled backups \(\/srv\/100%% /m);
  const ld = planScheduler(posixTarget({ os: 'darwin', scheduler: 'launchd', toolHome: '/Users/u/a&b</string><string>evil' }), 'install');
  const plist = ld.steps.find((s) => s.kind === 'write-file')!;
  assert.ok(plist.kind === 'write-file');
  assert.ok(plist.content.includes('<string>/Users/u/a&amp;b&lt;/string&gt;&lt;string&gt;evil</string>'));
  assert.equal(plist.content.split('<string>').length - 1, 1 + 6 + 1, 'label, six program arguments and the home: no injected element');
  const st = planScheduler(winTarget({ toolHome: 'C:\\100%PATH%\\db & calc' }), 'install');
  const w = st.steps[0]!;
  assert.ok(w.kind === 'write-file');
  assert.ok(w.content.includes('set "PORTUNIX_HOME=C:\\100%%PATH%%\\db & calc"'));
});

const BEGIN = '# >>> portunix-db-backup-abcd1234 (x) >>>';
const END = '# <<< portunix-db-backup-abcd1234 <<<';
const BLOCK = `${BEGIN}\n*/15 * * * * run\n${END}`;

test('crontab editing keeps other entries, is idempotent, and removes only its own block', () => {
  const others = 'MAILTO=me@example.org\n0 3 * * * /usr/local/bin/other-tool --nightly\n# a comment\n';
  const once = editCrontab(others, BEGIN, END, BLOCK);
  assert.equal(once, `${others}${BLOCK}\n`);
  assert.equal(editCrontab(once, BEGIN, END, BLOCK), once, 'installing again changes nothing');
  const changed = editCrontab(once, BEGIN, END, `${BEGIN}\n*/15 * * * * run2\n${END}`);
  assert.equal(changed, `${others}${BEGIN}\n*/15 * * * * run2\n${END}\n`, 'replaced in place, not appended twice');
  assert.equal(editCrontab(once, BEGIN, END), others);
  assert.equal(editCrontab('', BEGIN, END, BLOCK), `${BLOCK}\n`);
  assert.equal(editCrontab(`${BLOCK}\n`, BEGIN, END), '');
  // another home's block is somebody else's entry
  const otherHome = '# >>> portunix-db-backup-ffff0000 (x) >>>\n1 * * * * x\n# <<< portunix-db-backup-ffff0000 <<<\n';
  assert.equal(editCrontab(editCrontab(otherHome, BEGIN, END, BLOCK), BEGIN, END), otherHome);
  assert.throws(() => editCrontab(`${BEGIN}\nhalf\n`, BEGIN, END), /not its end marker/);
});

function fakeBin(name: string, body: string): string {
  const dir = mkdtempSync(join(tmpdir(), `pdb-fake-${name}-`));
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return dir;
}

async function withPath<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const old = process.env['PATH'];
  process.env['PATH'] = `${dir}:${old ?? ''}`;
  try {
    return await fn();
  } finally {
    process.env['PATH'] = old;
  }
}

test('install and uninstall run `crontab -l` / `crontab -` (a fake crontab on PATH) and keep other entries', { skip: process.platform === 'win32' }, async () => {
  const store = join(mkdtempSync(join(tmpdir(), 'pdb-crontab-')), 'tab');
  const bin = fakeBin('crontab', `F='${store}'\ncase "$1" in\n  -l) if [ -f "$F" ]; then cat "$F"; else echo "no crontab for $(id -un)" >&2; exit 1; fi ;;\n  -) cat > "$F"; echo write >> "$F.writes" ;;\n  *) exit 2 ;;\nesac`);
  const plan = planScheduler(posixTarget({ toolHome: '/tmp/home with space' }), 'install');
  await withPath(bin, async () => {
    await applySchedulerPlan(plan); // no crontab yet
    const first = readFileSync(store, 'utf8');
    assert.match(first, /^# >>> portunix-db-backup-.*\n\*\/15 .*PORTUNIX_HOME='\/tmp\/home with space' .*backup due --run --quiet\n# <<< /);
    writeFileSync(store, `0 3 * * * other-tool\n${first}# later entry\n`);
    await applySchedulerPlan(plan);
    assert.equal(readFileSync(`${store}.writes`, 'utf8'), 'write\n', 'an unchanged crontab is not written again');
    await applySchedulerPlan(planScheduler(posixTarget({ toolHome: '/tmp/home with space' }), 'uninstall'));
    assert.equal(readFileSync(store, 'utf8'), '0 3 * * * other-tool\n# later entry\n');
  });
  const broken = fakeBin('crontab', 'echo "crontab: permission denied" >&2; exit 1');
  await withPath(broken, () => assert.rejects(applySchedulerPlan(plan), (e: unknown) => e instanceof DbError && e.code === 'COMMAND_FAILED' && /permission denied/.test(e.message)));
});

test('systemd: the unit files are written and systemctl --user is called (a fake systemctl); uninstall removes them', { skip: process.platform === 'win32' }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'pdb-sd-home-'));
  const log = join(home, 'calls');
  const bin = fakeBin('systemctl', `echo "$*" >> '${log}'`);
  const target = posixTarget({ scheduler: 'systemd', userHome: home });
  const plan = planScheduler(target, 'install');
  await withPath(bin, () => applySchedulerPlan(plan));
  const unitDir = join(home, '.config', 'systemd', 'user');
  assert.match(readFileSync(join(unitDir, `${plan.name}.service`), 'utf8'), /ExecStart=/);
  assert.match(readFileSync(join(unitDir, `${plan.name}.timer`), 'utf8'), /OnCalendar=/);
  await withPath(bin, () => applySchedulerPlan(planScheduler(target, 'uninstall')));
  assert.equal(existsSync(join(unitDir, `${plan.name}.service`)), false);
  assert.equal(existsSync(join(unitDir, `${plan.name}.timer`)), false);
  assert.equal(readFileSync(log, 'utf8'), `--user daemon-reload\n--user enable --now ${plan.name}.timer\n--user disable --now ${plan.name}.timer\n--user daemon-reload\n`);
  // a failing systemctl fails the install with its message
  const failing = fakeBin('systemctl', 'echo "Failed to connect to bus" >&2; exit 1');
  await withPath(failing, () => assert.rejects(applySchedulerPlan(plan), /Failed to connect to bus/));
});
