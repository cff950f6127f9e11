/** Friction 4 (issue 15): --platform accepts the short forms users type; a dry run of another OS's source shows that OS's plan. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { platformHost } from '../../src/core/install/host.js';
import { freshHome, runCli } from '../helpers/cli.js';

test('short and other-release platform names', () => {
  assert.equal(platformHost('macos')?.os, 'darwin');
  assert.equal(platformHost('macOS')?.arch, 'arm64');
  assert.equal(platformHost('macos-x64')?.arch, 'x64');
  assert.equal(platformHost('windows')?.os, 'windows');
  assert.deepEqual(platformHost('ubuntu-22.04')?.distro, { id: 'ubuntu', idLike: ['debian'], versionId: '22.04', codename: 'jammy' });
  assert.equal(platformHost('debian-11')?.distro?.codename, 'bullseye');
  assert.equal(platformHost('rhel-8')?.distro?.versionId, '8');
  assert.equal(platformHost('rocky-9')?.distro?.idLike.includes('rhel'), true);
  assert.equal(platformHost('solaris'), undefined);
  assert.equal(platformHost('ubuntu-22.04; rm -rf /'), undefined);
});

test('the CLI: short forms work, unknown ones list what exists, brew on Linux shows the macOS plan', async () => {
  const home = freshHome('platforms');
  const mac = await runCli(['install', 'postgresql', '--dry-run', '--platform', 'macos', '--json'], { home });
  assert.equal(mac.code, 0, mac.stderr);
  assert.equal(mac.json.plan.platform.os, 'darwin');
  const bad = await runCli(['install', 'postgresql', '--dry-run', '--platform', 'solaris'], { home });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Known: debian-12, .*macos/);
  if (process.platform === 'linux') {
    const brew = await runCli(['install', 'postgresql', '--source', 'brew', '--dry-run', '--json'], { home });
    assert.equal(brew.code, 0, brew.stdout + brew.stderr);
    assert.equal(brew.json.plan.platform.os, 'darwin');
    assert.match(brew.json.notes.join('\n'), /macos-arm64 plan/);
  }
});
