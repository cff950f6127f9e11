/**
 * Enabling pg_stat_statements merges shared_preload_libraries, never replaces it: on Debian's
 * PostgreSQL 15 (apt), a library configured in the files but not yet running (what a fresh
 * TimescaleDB instance has for timescaledb; auto_explain here, which ships with every
 * PostgreSQL) is kept in what ALTER SYSTEM writes and is loaded after the restart.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliOk, freshHome, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/mcp.js';
import { pgQuery } from '../helpers/pg.js';

const home = freshHome('pgpreload');
const opts = { home };
const I = ['--instance', 'preload'];

describe('postgresql: enabling statements keeps the preload list', () => {
  after(async () => {
    await runCli(['stop', 'postgresql', ...I], opts);
  });

  it('a library in the files but not running survives --enable-statements and loads after the restart', async () => {
    const port = await freePort();
    await cliOk(['install', 'postgresql', '--version', '15', '--source', 'apt', ...I, '--port', String(port), '--json'], opts);
    const dataDir = join(home, 'instances', 'postgresql', 'preload', 'data');
    const conf = join(dataDir, 'portunix.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(/^shared_preload_libraries = .*$/m, "shared_preload_libraries = 'auto_explain'"));
    const running = await pgQuery<{ v: string }>(home, 'preload', 'postgres', `SELECT current_setting('shared_preload_libraries') AS v`);
    assert.equal(running[0]!.v, '', 'not loaded yet: the running server started without it');

    const r = await cliOk(['metrics', 'postgresql', ...I, '--enable-statements', '--json'], opts);
    assert.equal(r.json.restartRequired, true);
    assert.match(readFileSync(join(dataDir, 'postgresql.auto.conf'), 'utf8'), /^shared_preload_libraries = 'auto_explain, pg_stat_statements'$/m);

    await cliOk(['restart', 'postgresql', ...I], opts);
    const after = await pgQuery<{ v: string }>(home, 'preload', 'postgres', `SELECT current_setting('shared_preload_libraries') AS v`);
    assert.equal(after[0]!.v, 'auto_explain, pg_stat_statements');
    const again = await cliOk(['metrics', 'postgresql', ...I, '--enable-statements', '--json'], opts);
    assert.equal(again.json.changed, false);
    assert.equal(again.json.restartRequired, false);
  });
});
