/**
 * `status`: every instance's state from its files, without loading what install, backup or a
 * database driver need. Running servers are probed in parallel, the cheap way when the engine
 * can tell without a connection (supervisor.acceptsConnections); the live server version is
 * asked once per server process and remembered beside its pid record.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { listInstances, loadConfig, loadConfigLenient } from '../config.js';
import { createInstanceContext } from '../instance-context.js';
import { processStatus, readPidRecord, type ProcessState } from '../process/supervisor.js';
import { versionNotice, type VersionNotice } from '../versions.js';
import { parseEngineId, type EngineId } from '../../engines/ids.js';
import { loadEngine } from '../../engines/registry.js';
import { has, need } from '../../engines/need.js';
import type { Engine, InstanceContext } from '../../engines/contract.js';

export interface StatusEntry {
  engine: EngineId;
  instance: string;
  state: ProcessState | 'embedded' | 'invalid';
  /** With state "invalid": what is wrong with this instance's config entry. */
  problem?: string;
  version: string;
  full_version?: string;
  source?: string;
  port?: number;
  pid?: number;
  uptime_seconds?: number;
  data_dir: string;
  log_tail?: string[];
  details?: Record<string, unknown>;
  notice?: VersionNotice;
}

export async function status(options: { type?: string; instance?: string } = {}): Promise<StatusEntry[]> {
  const engineId = options.type ? parseEngineId(options.type) : undefined;
  const { config, invalid } = await loadConfigLenient();
  const instances = listInstances(config, engineId).filter((i) => !options.instance || i.name === options.instance);
  const broken: StatusEntry[] = invalid
    .filter((i) => (!engineId || i.engine === engineId) && (!options.instance || i.instance === options.instance))
    .map((i) => ({ engine: (i.engine ?? '?') as EngineId, instance: i.instance ?? '?', state: 'invalid', problem: `${i.key}: ${i.message}`, version: '?', data_dir: '?' }));
  if (options.instance && engineId && instances.length === 0 && broken.length === 0) {
    const { openInstance } = await import('./instances.js');
    await openInstance({ type: engineId, instance: options.instance }); // throws the helpful NOT_INSTALLED
  }
  const valid = await Promise.all(
    instances.map(async (inst) => {
      const engine = await loadEngine(inst.engine);
      const ctx = createInstanceContext(inst.engine, inst.name, inst.config);
      const base: StatusEntry = {
        engine: inst.engine,
        instance: inst.name,
        state: 'stopped',
        version: inst.config.version,
        ...(inst.config.full_version ? { full_version: inst.config.full_version } : {}),
        ...(inst.config.source ? { source: inst.config.source } : {}),
        ...(inst.config.port !== undefined ? { port: inst.config.port } : {}),
        data_dir: inst.config.data_dir,
      };
      if (!has(engine, 'launchSpec')) {
        base.state = 'embedded';
        if (has(engine, 'embeddedStatus')) base.details = await need(engine, 'embeddedStatus')(ctx).catch((e: Error) => ({ error: e.message }));
      } else {
        const ps = await processStatus(engine, ctx);
        base.state = ps.state;
        if (ps.pid !== undefined && ps.state !== 'crashed') base.pid = ps.pid;
        if (ps.uptimeSeconds !== undefined) base.uptime_seconds = ps.uptimeSeconds;
        if (ps.logTail) base.log_tail = ps.logTail;
        if (ps.state === 'running' && has(engine, 'serverVersion')) {
          const live = await liveVersion(engine, ctx);
          if (live) base.full_version = live;
        }
      }
      const notice = versionNotice(engine.info, inst.config.version, base.full_version);
      if (notice.message) base.notice = notice;
      return base;
    }),
  );
  return [...valid, ...broken];
}

/**
 * The version the running server reports. A server process cannot change its version, so the
 * answer is kept in <pid file>.version for that process (same pid and start time): later
 * `status` runs need no connection, and no driver.
 */
async function liveVersion(engine: Engine, ctx: InstanceContext): Promise<string | undefined> {
  const record = await readPidRecord(ctx.paths.pidFile);
  if (!record) return undefined;
  const file = `${ctx.paths.pidFile}.version`;
  const known = await readFile(file, 'utf8').then((t) => JSON.parse(t) as { pid?: number; started_at?: string; version?: string }, () => undefined);
  if (known?.pid === record.pid && known.started_at === record.started_at && typeof known.version === 'string' && known.version) return known.version;
  const live = await need(engine, 'serverVersion')(ctx).catch(() => undefined);
  if (live) {
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ pid: record.pid, started_at: record.started_at, version: live }) + '\n', { mode: 0o600 })
      .then(() => rename(tmp, file))
      .catch(() => undefined);
  }
  return live;
}

/** `status`'s backup marker per scheduled instance; the backup code loads only when an instance is scheduled. */
export async function scheduledBackupHealth(filter: { type?: string; instance?: string }): Promise<{ engine: EngineId; instance: string; marker: string | undefined }[]> {
  try {
    const engineId = filter.type ? parseEngineId(filter.type) : undefined;
    const scheduled = listInstances(await loadConfig(), engineId).some((i) => i.config.auto_backup && i.config.backup_schedule !== 'manual' && (!filter.instance || i.name === filter.instance));
    if (!scheduled) return [];
    const { backupHealth, healthMarker } = await import('./backup-schedule.js');
    return (await backupHealth(filter)).map((h) => ({ engine: h.engine, instance: h.instance, marker: healthMarker(h) }));
  } catch {
    return [];
  }
}
