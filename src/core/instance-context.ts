import { chown, mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { InstanceConfig } from './config.js';
import type { EngineId } from '../engines/ids.js';
import type { ExecOptions, InstanceContext, InstancePaths, Progress, RunAs } from '../engines/contract.js';
import { homePaths } from './home.js';
import { run } from './process/exec.js';
import { serviceUser } from './process/service-user.js';
import { getSecretStore, secretKey } from './secrets.js';
import { DbError } from './errors.js';

export function instancePaths(engine: EngineId, name: string, config: InstanceConfig): InstancePaths {
  const root = homePaths.instanceDir(engine, name);
  return {
    root,
    dataDir: config.data_dir,
    logFile: config.log_file ?? join(root, 'server.log'),
    pidFile: config.pid_file ?? join(root, 'run', 'server.pid'),
    configFile: config.config_file ?? join(root, 'server.conf'),
    runDir: config.socket_dir ?? join(root, 'run'),
    backupDir: config.backup_dir,
  };
}

export const stderrProgress: Progress = (message) => {
  process.stderr.write(`  ${message}\n`);
};
export const silentProgress: Progress = () => undefined;

export function createInstanceContext(engine: EngineId, name: string, config: InstanceConfig, progress: Progress = silentProgress): InstanceContext {
  const paths = instancePaths(engine, name, config);
  const runAs: RunAs | null = config.run_as ? serviceUser(true, config.run_as) : null;
  const libEnv: Record<string, string> = config.lib_dir ? { LD_LIBRARY_PATH: [config.lib_dir, process.env['LD_LIBRARY_PATH'] ?? ''].filter(Boolean).join(':') } : {};
  const store = getSecretStore();
  const adminKey = secretKey(engine, name, 'admin');
  let cachedPassword: string | undefined;
  const ctx: InstanceContext = {
    engine,
    name,
    config,
    paths,
    runAs,
    progress,
    async exec(argv: string[], options: ExecOptions = {}) {
      const program = config.bin_dir && argv[0] && !argv[0].includes('/') ? join(config.bin_dir, argv[0]) : argv[0]!;
      return run([program, ...argv.slice(1)], {
        env: { ...libEnv, ...(options.env ?? {}) },
        cwd: options.cwd ?? (runAs ? '/' : undefined),
        input: options.input,
        runAs: options.asServiceUser === false ? null : runAs,
        timeoutMs: options.timeoutMs,
        stdoutFile: options.stdoutFile,
        allowFailure: options.allowFailure,
        redact: cachedPassword ? [cachedPassword] : [],
      });
    },
    async adminPassword() {
      if (cachedPassword) return cachedPassword;
      const value = await store.get(adminKey);
      if (!value) {
        if (config.secret_store && config.secret_store !== (await store.backend())) {
          throw new DbError(
            `The admin password of ${engine}/${name} is in the ${config.secret_store === 'keychain' ? 'OS keychain' : 'encrypted secret file'}, but this run uses the ${config.secret_store === 'keychain' ? 'encrypted secret file (no keychain answered)' : 'OS keychain'}.`,
            'SECRET_STORE',
            config.secret_store === 'keychain'
              ? 'Run portunix-db where that keychain is unlocked (your desktop session), or set PORTUNIX_DB_SECRET_BACKEND=keychain to see why it does not answer.'
              : 'Set PORTUNIX_DB_SECRET_BACKEND=file.',
          );
        }
        throw new DbError(`No stored admin password for ${engine}/${name}.`, 'AUTH_FAILED', "The password is lost: reset it with the engine's own tools, or re-install the instance.");
      }
      cachedPassword = value;
      return value;
    },
    async setAdminPassword(password: string) {
      await store.set(adminKey, password);
      cachedPassword = password;
    },
    async writePrivateFile(path: string, content: string, options = {}) {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      await writeFile(tmp, content, { mode: 0o600 });
      if (options.ownedByServiceUser && runAs) await chown(tmp, runAs.uid, runAs.gid);
      await rename(tmp, path);
    },
  };
  return ctx;
}
