/**
 * FerretDB v1.24.2 (a MongoDB wire-protocol server on SQLite), built from its Go module. It is a
 * STAND-IN for MongoDB: the tests install it with `install mongodb --bin-dir`, and everything
 * that reports on it says FerretDB.
 *
 * `go install …/cmd/ferretdb@v1.24.2` builds a binary that panics at start ("Invalid
 * build/version/version.txt"): the module zip has no generated version.txt. So the module is
 * downloaded with `go mod download`, copied, given the version.txt its release has, and built
 * with `go build` (the SQLite backend is in by default; the `ferretdb_no_sqlite` tag would drop it).
 *
 * The bin dir holds `ferretdb` and `mongod` (a symlink to it): the tool looks for a `mongod` in
 * a bin dir and tells FerretDB from MongoDB by what `mongod --version` prints.
 *
 * MongoDB Database Tools (mongodump/mongorestore) are not provisioned: the Go module proxy answers
 * 403 "This module version is not available" for github.com/mongodb/mongo-tools, so the tests
 * run the engine's driver-based backup.
 */
import { chmod, cp, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cached, log, sh, type ProvisionedServer, type TestServerModule } from './cache.js';

export const FERRETDB_VERSION = 'v1.24.2';
const MODULE = 'github.com/FerretDB/FerretDB';

async function build(dir: string): Promise<void> {
  const started = Date.now();
  const info = JSON.parse(await sh(['go', 'mod', 'download', '-json', `${MODULE}@${FERRETDB_VERSION}`], { cwd: dir })) as { Dir?: string; Error?: string };
  if (!info.Dir) throw new Error(`go mod download ${MODULE}@${FERRETDB_VERSION}: ${info.Error ?? 'no directory'}`);
  log(`ferretdb: module downloaded in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  const src = join(dir, 'src');
  await cp(info.Dir, src, { recursive: true });
  await sh(['chmod', '-R', 'u+w', src]);
  // what `bin/task gen-version` writes for the release (`git describe`)
  await writeFile(join(src, 'build', 'version', 'version.txt'), `${FERRETDB_VERSION}\n`);
  await writeFile(join(src, 'build', 'version', 'package.txt'), 'portunix-db-test\n');
  const bin = join(dir, 'bin');
  await mkdir(bin, { recursive: true });
  const compileStart = Date.now();
  await sh(['go', 'build', '-trimpath', '-buildvcs=false', '-o', join(bin, 'ferretdb'), './cmd/ferretdb'], { cwd: src, env: { CGO_ENABLED: '0', GOFLAGS: '-mod=mod' }, timeoutMs: 30 * 60_000 });
  log(`ferretdb: compiled in ${((Date.now() - compileStart) / 1000).toFixed(1)} s`);
  await symlink('ferretdb', join(bin, 'mongod'));
  // the service user (when tests run as root) must be able to run it
  await chmod(dir, 0o755);
  await chmod(bin, 0o755);
  await sh(['rm', '-rf', src]);
}

export const server: TestServerModule = {
  name: 'ferretdb',
  async provision(): Promise<ProvisionedServer> {
    const dir = await cached(`ferretdb-${FERRETDB_VERSION}`, build);
    const binDir = join(dir, 'bin');
    const out = await sh([join(binDir, 'ferretdb'), '--version']);
    const version = /version:\s*v?(\S+)/.exec(out)?.[1];
    if (version !== FERRETDB_VERSION.slice(1)) throw new Error(`ferretdb --version printed ${JSON.stringify(out)}, expected ${FERRETDB_VERSION}`);
    return {
      name: 'ferretdb',
      engine: 'mongodb',
      version,
      binDir,
      standIn: `FerretDB ${FERRETDB_VERSION} (SQLite backend), a MongoDB wire-protocol server standing in for MongoDB`,
      extra: { ferretdb: join(binDir, 'ferretdb') },
    };
  },
};
