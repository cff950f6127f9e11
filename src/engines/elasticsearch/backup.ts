import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { chownRecursive } from '../../core/process/service-user.js';
import type { BackupManifestView, BackupOutcome, InstanceContext, RestoreOutcome, TableFingerprint } from '../contract.js';
import { resolveDatabase } from './admin.js';
import { LONG_OPERATION_MS, nodeVersion, withEs, type EsConn } from './client.js';
import { seg, validateIdentifier } from './identifiers.js';
import { diskState } from './inspect.js';
import { repoRoot } from './instance.js';
import type { Seal } from '../../core/hashed-write.js';
import { systemTar, writeTarGz } from '../../core/tar-write.js';

const tar = () => systemTar('Elasticsearch backups are snapshot repositories archived with tar');

/** The one "table" a backup's manifest lists per index: its documents. */
export const DOCS = 'documents';
const PAGE = 1000;
const MOD = 1n << 256n;

/**
 * Order-independent content checksum: the sum (mod 2^256) of sha256([_id, _source]) over every
 * document, so it equals the checksum of the documents sorted by _id without sorting them. Pure
 * and incremental, for tests and for streaming.
 */
export class DocChecksum {
  private sum = 0n;
  rows = 0;
  add(id: string, source: unknown): void {
    const h = createHash('sha256').update(JSON.stringify([id, source ?? null])).digest('hex');
    this.sum = (this.sum + BigInt(`0x${h}`)) % MOD;
    this.rows++;
  }
  hex(): string {
    return this.sum.toString(16).padStart(64, '0');
  }
}

/**
 * Reads every document of an index with a point in time and search_after on `_shard_doc`, a page
 * of 1000 at a time (bounded memory), into a DocChecksum.
 */
export async function fingerprintIndex(c: EsConn, index: string): Promise<TableFingerprint> {
  const pit = await c.req<{ id: string }>('POST', `/${seg(index)}/_pit`, { query: { keep_alive: '2m' } });
  const sum = new DocChecksum();
  let pitId = pit.id;
  try {
    let after: unknown[] | undefined;
    for (;;) {
      const r = await c.req<{ pit_id?: string; hits: { hits: { _id: string; _source?: unknown; sort?: unknown[] }[] } }>('POST', '/_search', {
        body: { pit: { id: pitId, keep_alive: '2m' }, size: PAGE, sort: [{ _shard_doc: 'asc' }], track_total_hits: false, ...(after ? { search_after: after } : {}) },
      });
      if (r.pit_id) pitId = r.pit_id;
      const hits = r.hits.hits;
      for (const h of hits) sum.add(h._id, h._source);
      if (hits.length < PAGE) break;
      after = hits[hits.length - 1]!.sort;
    }
  } finally {
    await c.req('DELETE', '/_pit', { body: { id: pitId } }).catch(() => undefined);
  }
  return { name: DOCS, rows: sum.rows, checksum: sum.hex() };
}

export async function fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]> {
  return withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, database);
    await c.req('POST', `/${seg(db.name)}/_refresh`);
    return [await fingerprintIndex(c, db.name)];
  });
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

/** A throw-away index name next to `base` (valid, at most 255 bytes). */
export function scratchName(base: string, purpose: 'check' | 'verify' | 'restoring'): string {
  return validateIdentifier('database', `${base.slice(0, 200)}-pdb${purpose}-${randomBytes(4).toString('hex')}`);
}

/** Restores one index of a snapshot under another name, 0 replicas, and waits until it is usable. */
export async function restoreSnapshot(c: EsConn, repo: string, snapshot: string, from: string, to: string): Promise<void> {
  const r = await c.req<{ snapshot?: { shards?: { total?: number; failed?: number } } }>('POST', `/_snapshot/${repo}/${snapshot}/_restore`, {
    query: { wait_for_completion: true },
    timeoutMs: LONG_OPERATION_MS,
    body: { indices: from, include_global_state: false, include_aliases: false, rename_pattern: `^${escapeRegex(from)}$`, rename_replacement: to, index_settings: { 'index.number_of_replicas': 0 } },
  });
  const failed = r.snapshot?.shards?.failed ?? 0;
  if (failed > 0 || !r.snapshot) {
    // a shard refused by an allocation decider (a full disk, most often) is not a damaged snapshot: say which
    const why = await unassignedReason(c, to);
    const disk = await diskState(c).catch(() => undefined);
    if (why?.decider === 'disk_threshold' || (disk && disk.status !== 'ok')) {
      const explanation = why?.decider === 'disk_threshold' ? why.explanation : disk?.detail;
      throw new DbError(`Elasticsearch would not place the restored shards of ${to}: ${explanation}`, 'DISK_FULL', 'Free disk space on the volume of the data directory, or raise the watermarks: `portunix-db config set elasticsearch cluster.routing.allocation.disk.watermark.low 97%` (and .high, .flood_stage).');
    }
    throw new DbError(`Restoring ${from} from the snapshot into ${to} failed on ${failed} shards${why ? `: ${why.explanation}` : ''}.`, 'BACKUP_CORRUPT', 'The snapshot is damaged; use another backup.');
  }
  await c.req('GET', `/_cluster/health/${seg(to)}`, { query: { wait_for_status: 'yellow', timeout: '60s' }, timeoutMs: 90_000 });
}

interface Explain {
  unassigned_info?: { reason?: string; details?: string };
  node_allocation_decisions?: { deciders?: { decider: string; decision: string; explanation: string }[] }[];
  allocate_explanation?: string;
}

/** Why shard 0 of an index is unassigned, from the allocation explain API: the first NO decider, or ES's own summary. */
export function reasonFrom(e: Explain): { decider?: string; explanation: string } | undefined {
  for (const node of e.node_allocation_decisions ?? []) {
    const no = node.deciders?.find((d) => d.decision === 'NO');
    if (no) return { decider: no.decider, explanation: no.explanation };
  }
  const text = e.unassigned_info?.details ?? e.allocate_explanation;
  return text ? { explanation: text } : undefined;
}

async function unassignedReason(c: EsConn, index: string): Promise<{ decider?: string; explanation: string } | undefined> {
  const e = await c.req<Explain>('GET', '/_cluster/allocation/explain', { body: { index, shard: 0, primary: true } }).catch(() => undefined);
  return e ? reasonFrom(e) : undefined;
}

async function dropQuietly(c: EsConn, index: string): Promise<void> {
  await c.req('DELETE', `/${seg(index)}`).catch(() => undefined);
}

const SNAPSHOT = 'snapshot';

/**
 * Snapshot of one index into a throw-away fs repository under path.repo, archived (tar.gz) into
 * the core's file. The manifest's count and checksum come from the snapshot itself, restored into
 * a scratch index, so they describe exactly what the archive holds even while others write.
 */
export async function backup(ctx: InstanceContext, options: { database: string; file: string; seal?: Seal }): Promise<BackupOutcome> {
  const id = randomBytes(6).toString('hex');
  const repo = `portunix-backup-${id}`;
  const location = join(repoRoot(ctx), repo);
  return withEs(ctx, async (c) => {
    const db = await resolveDatabase(c, options.database);
    if (db.kind === 'data stream') {
      throw new NotApplicableError(`${db.name} is a data stream; portunix-db backs up indices only.`, `Snapshot it with the snapshot API (PUT _snapshot/<repo>/<snapshot> {"indices": "${db.name}"}), or back up its backing indices one by one: ${(db.backingIndices ?? []).join(', ')}.`);
    }
    const version = await nodeVersion(c);
    await c.req('PUT', `/_snapshot/${repo}`, { body: { type: 'fs', settings: { location, compress: true } } });
    try {
      ctx.progress(`snapshot of ${db.name} into the fs repository ${location}`);
      const snap = await c.req<{ snapshot?: { state?: string; shards?: { failed?: number }; failures?: unknown[] } }>('PUT', `/_snapshot/${repo}/${SNAPSHOT}`, {
        query: { wait_for_completion: true },
        timeoutMs: LONG_OPERATION_MS,
        body: { indices: db.name, include_global_state: false, ignore_unavailable: false },
      });
      if (snap.snapshot?.state !== 'SUCCESS') throw new DbError(`The snapshot of ${db.name} ended in state ${snap.snapshot?.state ?? 'unknown'}: ${JSON.stringify(snap.snapshot?.failures ?? [])}`, 'COMMAND_FAILED', 'Look at `portunix-db health elasticsearch` and the log.');
      const check = scratchName(db.name, 'check');
      ctx.progress(`counting and checksumming the snapshot (restored into scratch index ${check})`);
      let fp: TableFingerprint;
      try {
        await restoreSnapshot(c, repo, SNAPSHOT, db.name, check);
        fp = await fingerprintIndex(c, check);
      } finally {
        await dropQuietly(c, check);
      }
      await c.req('DELETE', `/_snapshot/${repo}`);
      ctx.progress(`archiving the snapshot repository (tar.gz${options.seal ? ', encrypted as written' : ''})`);
      const written = await writeTarGz(options.file, { tar: tar(), dir: location, entries: ['.'] }, options.seal);
      return {
        written,
        method: `Elasticsearch snapshot (fs repository, ${db.name} only), archived as tar.gz`,
        format: 'snapshot.tar.gz',
        serverVersion: version,
        tables: [fp],
        scope: 'database',
        notes: ['Restore with `portunix-db restore FILE [--target NEW_INDEX] [--force]`; the archive is a snapshot repository that Elasticsearch 8 (same or newer minor) can read.'],
      };
    } finally {
      await c.req('DELETE', `/_snapshot/${repo}`).catch(() => undefined);
      await rm(location, { recursive: true, force: true });
    }
  });
}

/** `tar -tv` lines: only plain files and directories, relative, no "..", and a snapshot repository's files (pure, for tests). */
export function checkArchiveListing(listing: string): string | undefined {
  const names: string[] = [];
  for (const line of listing.split('\n')) {
    if (!line.trim()) continue;
    const type = line[0];
    const name = line.split(/\s+/).slice(5).join(' ');
    if (type !== '-' && type !== 'd') return `it holds a link or special file (${name})`;
    if (name.startsWith('/') || name.split('/').includes('..')) return `it holds a path outside the archive (${name})`;
    names.push(name.replace(/^\.\//, ''));
  }
  if (!names.includes('index.latest') || !names.some((n) => /^index-\d+$/.test(n)) || !names.some((n) => /^snap-.+\.dat$/.test(n))) return 'it is not a snapshot repository (index.latest, index-N and snap-*.dat missing)';
  return undefined;
}

interface Mounted {
  repo: string;
  location: string;
  snapshot: string;
}

/** Unpacks the archive under path.repo, registers it read-only and checks it holds one good snapshot of the manifest's index. */
async function mount(ctx: InstanceContext, c: EsConn, file: string, manifest: BackupManifestView): Promise<Mounted> {
  const listing = await ctx.exec([tar(), '-tvzf', file], { asServiceUser: false, allowFailure: true, timeoutMs: 600_000 });
  const problem = listing.code !== 0 ? `tar cannot read it (${listing.stderr.trim().split('\n')[0]})` : checkArchiveListing(listing.stdout);
  if (problem) throw new DbError(`Backup ${file} is refused: ${problem}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
  const id = randomBytes(6).toString('hex');
  const repo = `portunix-restore-${id}`;
  const location = join(repoRoot(ctx), repo);
  await mkdir(location, { recursive: true, mode: 0o700 });
  try {
    await ctx.exec([tar(), '-xzf', file, '-C', location, '--no-same-owner', '--no-same-permissions'], { asServiceUser: false, timeoutMs: 3_600_000 });
    if (ctx.runAs) await chownRecursive(location, ctx.runAs);
    await c.req('PUT', `/_snapshot/${repo}`, { body: { type: 'fs', settings: { location, readonly: true } } });
    const snaps = await c.req<{ snapshots: { snapshot: string; state: string; indices: string[] }[] }>('GET', `/_snapshot/${repo}/_all`).catch((err: unknown) => {
      throw new DbError(`Backup ${file} is refused: Elasticsearch cannot read the snapshot repository in it (${(err as Error).message}).`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    });
    const good = snaps.snapshots.filter((s) => s.state === 'SUCCESS' && s.indices.includes(manifest.database));
    if (snaps.snapshots.length !== 1 || good.length !== 1) {
      throw new DbError(`Backup ${file} is refused: it should hold one successful snapshot of ${manifest.database}, it holds ${snaps.snapshots.map((s) => `${s.snapshot} (${s.state}: ${s.indices.join(',')})`).join('; ') || 'none'}.`, 'BACKUP_CORRUPT', 'Nothing was changed. Use another backup.');
    }
    return { repo, location, snapshot: good[0]!.snapshot };
  } catch (err) {
    await unmount(c, { repo, location, snapshot: '' });
    throw err;
  }
}

async function unmount(c: EsConn, m: Mounted): Promise<void> {
  await c.req('DELETE', `/_snapshot/${m.repo}`).catch(() => undefined);
  await rm(m.location, { recursive: true, force: true });
}

function expected(manifest: BackupManifestView): TableFingerprint {
  const e = manifest.tables.find((t) => t.name === DOCS);
  if (!e) throw new DbError(`The manifest lists no "${DOCS}" fingerprint for ${manifest.database}.`, 'BACKUP_CORRUPT', 'The backup was not made by this engine; use another one.');
  return e;
}

/** Restores the snapshot into a scratch index and checksums it: the staging step of restore and all of verify. */
async function stageAndCheck(ctx: InstanceContext, c: EsConn, m: Mounted, manifest: BackupManifestView, staging: string): Promise<TableFingerprint> {
  ctx.progress(`restoring the snapshot into scratch index ${staging} and checking it against the manifest`);
  await restoreSnapshot(c, m.repo, m.snapshot, manifest.database, staging);
  await c.req('POST', `/${seg(staging)}/_refresh`);
  return fingerprintIndex(c, staging);
}

/**
 * Restore with rename (a new index) or replace (`--force`): the snapshot is first restored into
 * a scratch index and compared with the manifest; only a copy that matches touches the target
 * (a corrupt or tampered snapshot is refused with the target as it was).
 */
export async function restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean }): Promise<RestoreOutcome> {
  validateIdentifier('database', options.target);
  const want = expected(options.manifest);
  return withEs(ctx, async (c) => {
    if (options.replace) {
      const current = await resolveDatabase(c, options.target);
      if (current.kind === 'data stream') throw new NotApplicableError(`${options.target} is a data stream; a snapshot of an index cannot replace it.`, 'Restore into a new name with --target.');
    }
    const m = await mount(ctx, c, options.file, options.manifest);
    const staging = scratchName(options.target, 'restoring');
    let keepStaging = false;
    try {
      const got = await stageAndCheck(ctx, c, m, options.manifest, staging);
      if (got.rows !== want.rows || got.checksum !== want.checksum) {
        throw new DbError(`Backup ${options.file} is refused: the snapshot holds ${got.rows} documents (checksum ${got.checksum?.slice(0, 12)}), the manifest says ${want.rows} (${want.checksum?.slice(0, 12)}).`, 'BACKUP_CORRUPT', `Nothing was changed: ${options.target} is as it was. Use another backup.`);
      }
      const actions: string[] = [`checked the snapshot in scratch index ${staging}: ${got.rows} documents, checksum matches the manifest`];
      if (options.replace) {
        await c.req('DELETE', `/${seg(options.target)}`);
        actions.push(`deleted the old index ${options.target}`);
        keepStaging = true;
      }
      await restoreSnapshot(c, m.repo, m.snapshot, options.manifest.database, options.target);
      keepStaging = false;
      actions.push(`restored ${options.manifest.database} from the snapshot as ${options.target}`);
      return { target: options.target, actions, tables: [got] };
    } catch (err) {
      if (keepStaging && err instanceof DbError) {
        throw new DbError(`${err.message} The old ${options.target} was already deleted; the verified copy is kept as index ${staging}.`, 'RESTORE_FAILED', `Restore again, or use ${staging}.`);
      }
      throw err;
    } finally {
      if (!keepStaging) await dropQuietly(c, staging);
      await unmount(c, m);
    }
  });
}

/** Restores into a scratch index, checksums it and drops it; the live index is never touched. */
export async function verifyBackup(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView }): Promise<{ tables: TableFingerprint[]; method: string }> {
  expected(options.manifest);
  return withEs(ctx, async (c) => {
    const m = await mount(ctx, c, options.file, options.manifest);
    const scratch = scratchName(options.manifest.database, 'verify');
    try {
      const got = await stageAndCheck(ctx, c, m, options.manifest, scratch);
      return { tables: [got], method: `restored the snapshot into scratch index ${scratch}, read it with a point in time and compared` };
    } finally {
      await dropQuietly(c, scratch);
      await unmount(c, m);
    }
  });
}
