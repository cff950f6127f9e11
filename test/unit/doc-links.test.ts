/** Issue 15: `portunix-db --help` and each command's help link to the matching doc page. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMAND_DOCS } from '../../src/cli/doc-links.js';
import { freshHome, runCli } from '../helpers/cli.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** Pages other helpers write (issue 15 assigns them elsewhere). */
const ELSEWHERE = new Set(['mcp.md', 'security.md']);

test('every command has a doc page, and the page exists', async () => {
  const r = await runCli(['--help-ai'], { home: freshHome('doclinks') });
  const names = (JSON.parse(r.stdout) as { commands: { name: string }[] }).commands.map((c) => c.name).filter((n) => n !== 'help');
  for (const n of names) {
    const page = COMMAND_DOCS[n];
    assert.ok(page, `no doc page for ${n}`);
    if (!ELSEWHERE.has(page)) assert.ok(existsSync(join(ROOT, 'docs', page)), `docs/${page} missing (for ${n})`);
  }
});

test('help output ends with the page', async () => {
  const home = freshHome('doclinks2');
  const top = await runCli(['--help'], { home });
  assert.match(top.stdout, /Docs: .*docs\/getting-started\.md/);
  const sub = await runCli(['backup', 'verify', '--help'], { home });
  assert.match(sub.stdout, /Docs: .*docs\/backup-and-recovery\.md/);
});
