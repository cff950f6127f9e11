/**
 * Examples that cannot rot (issue 15): every fenced block in README.md and docs/ (pages other
 * helpers add included) opened with ```sh runnable is run with bash -euo pipefail, in a fresh
 * PORTUNIX_HOME per page (the blocks of one page run in order, like a reader following it), with
 * `portunix-db` on PATH as the bundle the plugin ships. Blocks opened with ```sh plan hold
 * commands that cannot run here (brew, winget, other platforms): each line is run with
 * --dry-run (added when missing) and must print its plan and exit 0. A failing example fails CI.
 * Downloads are shared between pages (one cache), so a page's PostgreSQL is fetched once per run.
 * The standard `age` CLI (test server `age`, Debian's package) is on PATH too, for the emergency
 * decryption example.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshHome } from '../helpers/cli.js';
import { testServer } from '../servers/cache.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const BUNDLE = join(ROOT, 'dist', 'bundle', 'portunix-db.mjs');

export interface Example {
  file: string;
  line: number;
  kind: 'runnable' | 'plan';
  code: string;
}

/** The marked blocks of one Markdown text. Unmarked ```sh blocks are prose, not checked. */
export function extractExamples(file: string, text: string): Example[] {
  const out: Example[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(\s*)```sh\s+(runnable|plan)\s*$/.exec(lines[i]!);
    if (!m) continue;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]!); j++) body.push(lines[j]!.slice(m[1]!.length));
    out.push({ file, line: i + 1, kind: m[2] as Example['kind'], code: body.join('\n') });
    i = j;
  }
  return out;
}

function markdownFiles(): string[] {
  const files = [join(ROOT, 'README.md')];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) files.push(join(dir, e.name));
    }
  };
  walk(join(ROOT, 'docs'));
  return files;
}

/** The real `age` tool; undefined outside CI when it was not provisioned (its examples are then skipped). */
const age = testServer('age');
const usesAge = (code: string) => /^\s*age\s/m.test(code);

/** A bin dir whose `portunix-db` is the shipped bundle, and a download cache shared by all pages. */
const shared = mkdtempSync(join(tmpdir(), 'pdb-docs-'));
const bin = join(shared, 'bin');
const downloads = join(shared, 'downloads');
mkdirSync(bin);
mkdirSync(downloads);
writeFileSync(join(bin, 'portunix-db'), `#!/bin/sh\nexec "${process.execPath}" "${BUNDLE}" "$@"\n`);
chmodSync(join(bin, 'portunix-db'), 0o755);

function pageHome(label: string): string {
  const home = freshHome(`docs-${label.replace(/[^a-z0-9]+/gi, '-')}`);
  mkdirSync(join(home, 'cache'), { recursive: true });
  symlinkSync(downloads, join(home, 'cache', 'downloads'));
  return home;
}

function bash(script: string, home: string, cwd: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
      cwd,
      env: { ...process.env, PATH: `${bin}:${age?.binDir ? `${age.binDir}:` : ''}${process.env.PATH ?? ''}`, PORTUNIX_HOME: home, PORTUNIX_DB_SECRET_BACKEND: process.env.PORTUNIX_DB_SECRET_BACKEND ?? 'file', NO_COLOR: '1', HOME: process.env.HOME ?? home },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

/** A plan line: a portunix-db command, checked as --dry-run. */
function planScript(code: string): string {
  return code
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      assert.match(l, /^portunix-db\s/, `a plan block holds portunix-db commands only: ${l}`);
      return l.includes('--dry-run') ? l : `${l} --dry-run`;
    })
    .join('\n');
}

const pages = markdownFiles()
  .map((file) => ({ file, examples: extractExamples(relative(ROOT, file), readFileSync(file, 'utf8')) }))
  .filter((p) => p.examples.length);

test('the doc examples are found (README.md and docs/)', () => {
  assert.ok(existsSync(BUNDLE), 'run `npm run build` first: the bundle is missing');
  const runnable = pages.flatMap((p) => p.examples).filter((e) => e.kind === 'runnable');
  assert.ok(runnable.length >= 5, `only ${runnable.length} runnable examples found`);
  assert.ok(pages.some((p) => p.file.endsWith('README.md')), 'README.md has marked examples');
});

for (const page of pages) {
  test(`examples of ${relative(ROOT, page.file)} run`, { timeout: 20 * 60_000 }, async (t) => {
    const home = pageHome(relative(ROOT, page.file));
    const cwd = mkdtempSync(join(tmpdir(), 'pdb-docs-cwd-'));
    chmodSync(cwd, 0o755);
    try {
      for (const ex of page.examples) {
        if (!age && usesAge(ex.code)) {
          t.skip(`${ex.file}:${ex.line} and after need the age CLI (node dist/test/servers/provision.js age)`);
          break;
        }
        const script = ex.kind === 'plan' ? planScript(ex.code) : ex.code;
        const r = await bash(script, home, cwd);
        assert.equal(r.code, 0, `${ex.file}:${ex.line} (${ex.kind}) exited ${r.code}\n--- example ---\n${ex.code}\n--- output ---\n${r.output.slice(-4000)}`);
      }
    } finally {
      // stop whatever the page started, so no server outlives the test
      await bash('for e in $(portunix-db status --json | node -e \'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);for(const i of (j.instances??j)) if(i.state==="running") console.log(i.engine+":"+i.instance)})\'); do portunix-db stop "${e%%:*}" --instance "${e##*:}" -q || true; done', home, cwd);
    }
  });
}
