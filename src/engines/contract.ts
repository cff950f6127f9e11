/**
 * The one contract every engine fills in. Callers never test an engine's name: they ask
 * `need(engine, 'op')`, which returns the operation or throws a NotApplicableError whose
 * message the engine wrote (naming what to use instead).
 *
 * Engine modules must not import drivers at top level: drivers load with `import()` on
 * first use so that `--help` and `status` stay fast.
 */
import type { InstanceConfig } from '../core/config.js';
import type { ArtifactResolver, HostPlatform, InstallPlan, InstallRequest } from '../core/install/plan.js';
import type { EngineId, SourceId } from './ids.js';
import type { Compression, CompressionMethod } from '../core/backup-compression.js';
import type { Seal } from '../core/hashed-write.js';

// ---------- descriptive data ----------

export interface VersionInfo {
  /** The version users ask for: "16", "8.4", "10.11", "7.2", "3". */
  version: string;
  /** Latest release of this line we know of (used for "update available"). */
  latest?: string;
  /** ISO date when upstream support ends. */
  eol?: string;
}

export interface EngineInfo {
  id: EngineId;
  displayName: string;
  family: 'postgresql' | 'mysql' | 'sqlite' | 'mongodb' | 'redis' | 'elasticsearch' | 'influxdb';
  kind: 'server' | 'embedded';
  versions: VersionInfo[];
  defaultVersion: string;
  defaultPort?: number;
  sources: SourceId[];
  /** The version used when none is given on this host, when it differs from defaultVersion (e.g. what the distribution ships). */
  hostDefaultVersion?(host: HostPlatform): string | undefined;
  /** The source used when none is given, per host; may depend on what is installed. */
  defaultSource(host: HostPlatform, version: string): SourceId;
  /** Words for this engine's things, used in messages ("keyspace", "collection", "file"). */
  terms: { database: string; table: string };
  /** How long a start may take before the supervisor gives up (JVM engines need longer); PORTUNIX_DB_START_TIMEOUT_MS overrides it. */
  startTimeoutMs?: number;
  /** What `create --setting KEY=VALUE` sets, for engines that take creation settings; absent: --setting is refused. */
  creationSettings?: string;
  /** What `backup --jobs N` / `restore --jobs N` run in parallel, for engines that can; absent: jobs above 1 are refused. */
  parallelBackup?: string;
  /** The `backup --compress` methods this engine's dump tool takes, and what it uses when none is given; absent: --compress is refused. */
  backupCompression?: { methods: readonly CompressionMethod[]; default: string };
  /** Which of this engine's performance figures are the common ones the monitor plots and exports. */
  keyMetrics?: KeyMetrics;
}

/**
 * Names in this engine's PerformanceReport that mean the same thing in every engine, so the
 * monitor (plots, Prometheus) never tests an engine's name. Absent: the engine has no such figure.
 */
export interface KeyMetrics {
  /** Gauge: open client connections. */
  connections?: string;
  /** Gauge, 0..1: reads served from memory. */
  cacheHitRatio?: string;
  /** Counters whose sum counts transactions (SQL engines). */
  transactions?: string[];
  /** Counters whose sum counts operations or commands (the others). */
  operations?: string[];
  /** Gauge, seconds a replica is behind its primary (present only on a replica). */
  replicationLagSeconds?: string;
}

// ---------- runtime context ----------

export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

export interface ExecOptions {
  env?: Record<string, string>;
  cwd?: string;
  input?: string | Buffer;
  /** Run as the instance's service user (when the tool runs as root). Default true for server binaries. */
  asServiceUser?: boolean;
  timeoutMs?: number;
  /** Send stdout to this file instead of capturing it (large dumps). */
  stdoutFile?: string;
  /** Do not throw on a non-zero exit. */
  allowFailure?: boolean;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface InstancePaths {
  root: string;
  dataDir: string;
  logFile: string;
  pidFile: string;
  configFile: string;
  runDir: string;
  backupDir: string;
}

export interface Progress {
  (message: string): void;
}

export interface InstanceContext {
  engine: EngineId;
  name: string;
  config: InstanceConfig;
  paths: InstancePaths;
  runAs: RunAs | null;
  progress: Progress;
  /** Runs a program, with LD_LIBRARY_PATH for portable binaries and the service user applied. */
  exec(argv: string[], options?: ExecOptions): Promise<ExecResult>;
  /** The superuser (admin) password, from the secret store. Never log it. */
  adminPassword(): Promise<string>;
  setAdminPassword(password: string): Promise<void>;
  /** Writes a file only the owner can read (option files, password files). */
  writePrivateFile(path: string, content: string, options?: { ownedByServiceUser?: boolean }): Promise<void>;
}

/** A spawned foreground server process the core supervisor detaches and watches. */
export interface LaunchSpec {
  argv: string[];
  env?: Record<string, string>;
  cwd?: string;
}

// ---------- results ----------

export interface DatabaseSummary {
  name: string;
  sizeBytes?: number;
  owner?: string;
  encoding?: string;
  collation?: string;
  /** Redis keyspaces: number of keys. */
  keys?: number;
  /** SQLite: the file. */
  path?: string;
}

export interface TableSummary {
  schema?: string;
  name: string;
  kind: string; // table, view, materialized view, key type, collection...
  rows?: number;
  rowsEstimated?: boolean;
  sizeBytes?: number;
  /** Engine-specific facts (TimescaleDB: hypertable dimensions, chunks, compression, policies). */
  details?: Record<string, unknown>;
}

export interface ColumnInfo {
  name: string;
  type: string;
  nullable: boolean;
  default?: string | null;
  comment?: string | null;
}

export interface TableInfo {
  schema?: string;
  name: string;
  kind: string;
  columns: ColumnInfo[];
  primaryKey?: string[];
  rows?: number;
  rowsEstimated?: boolean;
  sizeBytes?: number;
  comment?: string | null;
  /** Engine-specific facts (a document store's validator and sample size; TimescaleDB's dimensions, chunks, compression, policies). */
  details?: Record<string, unknown>;
  notes?: string[];
}

export interface SchemaSummary {
  database: string;
  schemas: { name: string; tables: number; views: number; owner?: string }[];
  objects?: { schema?: string; name: string; kind: string; columns?: number }[];
  /** How the answer was found, when it is not exact (e.g. fields from a bounded sample). */
  notes?: string[];
}

/** One page of db_schema: every schema's counts, and a keyset page of the objects with their total. */
export interface SchemaPage extends Omit<SchemaSummary, 'objects'> {
  objects: { items: NonNullable<SchemaSummary['objects']>; total: number };
}

export interface IndexInfo {
  schema?: string;
  table: string;
  name: string;
  columns: string[];
  unique: boolean;
  primary: boolean;
  method?: string;
  sizeBytes?: number;
  scans?: number;
  /** Never scanned since statistics were reset (and not backing a constraint). */
  unused?: boolean;
  invalid?: boolean;
  /** Name of another index on the same table with the same columns. */
  duplicateOf?: string;
  definition?: string;
}

export interface ConstraintInfo {
  schema?: string;
  table: string;
  name: string;
  type: 'primary key' | 'foreign key' | 'unique' | 'check' | 'exclusion' | 'not null';
  columns: string[];
  references?: { schema?: string; table: string; columns: string[]; onDelete?: string; onUpdate?: string };
  definition?: string;
}

export interface ConnectionInfo {
  id: string;
  client?: string;
  user?: string;
  database?: string;
  state?: string;
  queryStart?: string;
  durationMs?: number;
  query?: string;
}

export interface PerformanceReport {
  /** Counters that are cumulative since server start; the core turns them into rates between samples. */
  counters: Record<string, number>;
  /** Point-in-time values. */
  gauges: Record<string, number | string | null>;
  slowQueries?: { query: string; calls?: number; totalMs?: number; meanMs?: number; rows?: number }[];
  slowQueriesNote?: string;
  bloat?: { schema?: string; table: string; deadTuples?: number; wastedBytes?: number; ratio?: number }[];
  unusedIndexes?: { schema?: string; table: string; index: string; sizeBytes?: number }[];
  notes?: string[];
  /** Engine-specific sections (TimescaleDB: background jobs and their failures). */
  details?: Record<string, unknown>;
}

export interface HealthCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

export interface ConfigSetting {
  name: string;
  value: string;
  unit?: string;
  source?: string;
  restartRequired?: boolean;
  description?: string;
}

export interface ConfigChange {
  name: string;
  previous?: string;
  value: string;
  /** How it took effect. */
  applied: 'live' | 'reload' | 'restart-required';
  persisted: string; // where: "ALTER SYSTEM (postgresql.auto.conf)", "redis.conf", ...
}

export interface UserSummary {
  name: string;
  superuser?: boolean;
  canLogin?: boolean;
  grants?: string[];
}

export interface TableFingerprint {
  name: string;
  rows: number;
  /** Order-independent checksum of the table's content, when the engine can compute it. */
  checksum?: string;
}

/** One file of a directory backup (parallel pg_dump), as the manifest records it. */
export interface BackupFileDigest {
  /** Relative to the backup directory, "/"-separated. */
  path: string;
  size_bytes: number;
  sha256: string;
}

export interface BackupOutcome {
  /** e.g. "pg_dump custom (pg_dump 16.4)", "physical snapshot", "mariadb-dump + gzip", "rdb", "sqlite online backup". */
  method: string;
  /** The backup file's extension without the dot: "dump", "tar.gz", "sql.gz", "rdb", "sqlite". The core names the file with it. */
  format: string;
  serverVersion: string;
  tables: TableFingerprint[];
  /** Whole-instance backups restore the instance, not one database. */
  scope: 'database' | 'instance';
  notes?: string[];
  /** Versions of extensions the backup depends on (TimescaleDB: {timescaledb: "2.23.0"}); restore checks them. */
  extensions?: Record<string, string>;
  /** Whole-instance backups: what the snapshot holds (shown before and after restoring it). */
  contents?: InstanceContents;
  /**
   * The sha256 and size the engine computed while it wrote the file, so the core reads nothing
   * back; or, for a directory backup, each of its files. Absent: the core hashes the file.
   */
  written?: { sha256: string; size: number } | { files: BackupFileDigest[] };
}

/** What a whole instance holds: what restoring a whole-instance backup replaces. */
export interface InstanceContents {
  databases: string[];
  /** Users / roles (login and group), without the server's built-in ones. */
  roles: string[];
  /** Settings changed from their defaults, as "name = value". */
  settings: string[];
  /** When the snapshot's data is from (a backup's end of copy); absent for a live instance. */
  taken_at?: string;
}

export interface BackupManifestView {
  engine: EngineId;
  instance: string;
  database: string;
  method: string;
  format: string;
  scope: 'database' | 'instance';
  serverVersion: string;
  tables: TableFingerprint[];
  /** Versions of extensions the backup depends on (TimescaleDB: {timescaledb: "2.23.0"}); restore checks them. */
  extensions?: Record<string, string>;
  /** Whole-instance backups: what the snapshot holds. */
  contents?: InstanceContents;
}

export interface RestoreOutcome {
  target: string;
  /** What changed, for the user: "created database x", "replaced database y (old copy kept as y_old_...)" */
  actions: string[];
  tables?: TableFingerprint[];
}

export interface VacuumOutcome {
  actions: string[];
  details?: Record<string, unknown>;
}

// ---------- read-only access (queries for AI assistants) ----------

/** The account `readonlyAccount` provisions; the core generates the password and keeps it in the secret store. */
export interface ReadonlyAccountSpec {
  user: string;
  password: string;
  /** Statement time limit the server enforces for this account where it can (statement_timeout, max_statement_time). */
  statementTimeoutMs: number;
}

export interface ReadonlyAccountOutcome {
  user: string;
  created: boolean;
  /** What the server now enforces for this account, for humans (no secrets): "pg_read_all_data", "default_transaction_read_only=on"... */
  enforcement: string[];
  /**
   * False when this server cannot hold the account to reads (FerretDB 1.x has no roles; an
   * Elasticsearch without security has no accounts): only the query paths portunix-db offers keep
   * it read-only, and every answer says so. Absent means the server enforces it.
   */
  serverEnforced?: boolean;
  /** A credential the server generated (an InfluxDB 2.x read token): the core keeps it instead of the password. */
  secret?: string;
}

/** Credentials the query path connects with. Absent only for engines without accounts (SQLite opens files read-only). */
export interface QueryAccount {
  user: string;
  password: string;
  /** Set by the core when the server does not enforce read-only for this account (ReadonlyAccountOutcome.serverEnforced false): why, for the answer. */
  unenforced?: string;
}

export interface QueryRequest {
  /** Database (keyspace number for Redis, registered name for SQLite); the engine's default when absent. */
  database?: string;
  /** SQL for SQL engines, one command line for Redis (`HGETALL user:1`), a JSON find/aggregate for MongoDB, a search body for Elasticsearch, InfluxQL (1.x) or Flux (2.x). Passed to the server as is: the account, not a parser, makes it read-only. */
  text: string;
  account?: QueryAccount;
  maxRows: number;
  timeoutMs: number;
}

export interface QueryResult {
  columns: string[];
  rows: unknown[][];
  /** True when the server returned more rows than maxRows (the rest were dropped). */
  truncated: boolean;
  /** Statement tag where the engine has one ("SELECT 3"). */
  command?: string;
}

/** The upstream MCP servers portunix-db can wrap. */
export type UpstreamId = 'dbhub' | 'mongodb' | 'elasticsearch';

/**
 * How an upstream MCP server reaches one instance under an account. `settings` are the upstream's
 * own names (the upstream module knows where each goes; secrets never go to argv):
 *  - dbhub: a [[sources]] entry: `dsn` (with the password), `sslmode`, `sslrootcert`;
 *  - mongodb (mongodb-mcp-server): `MDB_MCP_CONNECTION_STRING`;
 *  - elasticsearch (@elastic/mcp-server-elasticsearch): `ES_URL`, `ES_USERNAME`, `ES_PASSWORD` or `ES_API_KEY`, `ES_CA_CERT`.
 */
export interface UpstreamConnection {
  upstream: UpstreamId;
  settings: Record<string, string>;
}

// ---------- operations ----------

/**
 * Server programs an engine can run from a folder the tool did not install itself: the
 * `--archive FILE` source (unpacked into the cache) and the `--bin-dir DIR` source (adopted in
 * place) both find them through this. The core locates `required[0]` in the tree, checks the
 * rest, and asks `version` what the binary itself reports.
 */
export interface LocalBinaries {
  /** Programs that must be in the bin dir, the server first: ['redis-server', 'redis-cli'], ['mongod']. */
  required: string[];
  /** Programs used when present (clients, dump tools). */
  optional?: string[];
  /** The full version the server binary reports ("7.2.0", "11.4.5"), read by running it. */
  version(binDir: string, run: (argv: string[]) => Promise<string>): Promise<string>;
  /** Vendor archives whose sha256 we know, so `--archive` needs no `--sha256` for them. */
  knownArchives?: { sha256: string; name: string; version: string }[];
}

export interface InstallOps {
  /** How archive and bin-dir installs find and identify this engine's binaries. */
  localBinaries?: LocalBinaries;
  /** Pure (apart from resolving registry metadata): the steps for this source on this host. */
  plan(request: InstallRequest, host: HostPlatform, resolver: ArtifactResolver): Promise<InstallPlan>;
  /** Runs an `engine-step` from a plan (e.g. re-create portable .so symlinks). */
  runStep?(action: string, params: Record<string, string>, progress: Progress): Promise<void>;
  /** Finds already-installed binaries of this version, if any (system packages). */
  detect?(version: string, host: HostPlatform): Promise<{ binDir: string; libDir?: string; source: SourceId } | undefined>;
}

/** Operations an engine may lack. Each is optional; `need()` turns absence into a typed error. */
export interface EngineOps {
  // lifecycle (server engines)
  initialize(ctx: InstanceContext): Promise<void>;
  launchSpec(ctx: InstanceContext): Promise<LaunchSpec>;
  /** True once the server accepts authenticated connections. */
  isReady(ctx: InstanceContext): Promise<boolean>;
  /**
   * Without a connection or a driver: whether the server process `pid` says it accepts
   * connections (PostgreSQL: the status line of postmaster.pid, as `pg_ctl -w` reads it).
   * undefined when it cannot tell; callers then connect (isReady). `readyWatch` names the files
   * whose changes announce a new answer, so start and status wake on them instead of polling.
   */
  readyState(ctx: InstanceContext, pid: number): Promise<boolean | undefined>;
  readyWatch(ctx: InstanceContext): string[];
  /** Graceful stop through the server's own means; the supervisor falls back to signals. */
  shutdown(ctx: InstanceContext): Promise<void>;
  serverVersion(ctx: InstanceContext): Promise<string>;
  /** Embedded engines report status without a process. */
  embeddedStatus(ctx: InstanceContext): Promise<Record<string, unknown>>;
  connectionUrl(ctx: InstanceContext, options: { database?: string; showPassword: boolean; password: string }): string;
  /** A command line of the engine's usual client that connects with `url` (as printed) and trusts `ca` (the instance certificate, when it has TLS). */
  clientCommand(ctx: InstanceContext, conn: { url: string; ca?: string }): string;

  // databases
  listDatabases(ctx: InstanceContext): Promise<DatabaseSummary[]>;
  /** `settings`: engine-specific creation settings (`--setting KEY=VALUE`: Elasticsearch index settings). */
  /** `path`: embedded engines register (or create) a database file at that path instead of in the instance directory. */
  createDatabase(ctx: InstanceContext, name: string, options: { owner?: string; charset?: string; collation?: string; path?: string; settings?: Record<string, string> }): Promise<{ created: boolean; message?: string }>;
  dropDatabase(ctx: InstanceContext, name: string): Promise<void>;

  // users
  listUsers(ctx: InstanceContext): Promise<UserSummary[]>;
  createUser(ctx: InstanceContext, name: string, password: string): Promise<void>;
  deleteUser(ctx: InstanceContext, name: string): Promise<void>;
  grant(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]>;
  revoke(ctx: InstanceContext, user: string, privileges: string[], database?: string): Promise<string[]>;

  // inspection
  databaseSizes(ctx: InstanceContext, database?: string): Promise<DatabaseSummary[]>;
  listTables(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean }): Promise<TableSummary[]>;
  /**
   * listTables one page at a time in the catalog query itself (keyset paging): at most `limit`
   * tables after `after` (the previous page's last [schema, name]) in (schema, name) order, with
   * sizes only for those, and `total`, the count of them all. Engines whose catalogs get big have
   * it; the others are paged from listTables.
   */
  listTablesPage(ctx: InstanceContext, options: { database: string; schema?: string; includeSizes: boolean; limit: number; after?: readonly string[] }): Promise<{ items: TableSummary[]; total: number }>;
  schema(ctx: InstanceContext, options: { database: string; schema?: string }): Promise<SchemaSummary>;
  /** schema with its objects paged in the catalog query as listTablesPage pages tables: at most `limit` after `after` ([schema, name]). */
  schemaPage(ctx: InstanceContext, options: { database: string; schema?: string; limit: number; after?: readonly string[] }): Promise<SchemaPage>;
  tableInfo(ctx: InstanceContext, options: { database: string; schema?: string; table: string }): Promise<TableInfo>;
  indexes(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<IndexInfo[]>;
  constraints(ctx: InstanceContext, options: { database: string; schema?: string; table?: string }): Promise<ConstraintInfo[]>;
  connections(ctx: InstanceContext): Promise<ConnectionInfo[]>;
  performance(ctx: InstanceContext, options: { database?: string }): Promise<PerformanceReport>;
  health(ctx: InstanceContext): Promise<HealthCheck[]>;
  /** Turns on what deeper metrics need (pg_stat_statements, performance_schema...). */
  enableStatements(ctx: InstanceContext): Promise<{ changed: boolean; restartRequired: boolean; message: string }>;

  // backup
  /** `jobs`: parallel workers, for engines whose dump tool has them (PostgreSQL: a directory-format pg_dump). */
  /**
   * `compress`: checked against `info.backupCompression` already; absent: the engine's default.
   * `seal` (with --encrypt): an engine whose backup is one file written in one pass, and not read
   * back, writes it through `writeHashed(file, produce, seal)`, so it is encrypted on its way to
   * disk and `file` is never created; any other backup is written plain and encrypted after.
   */
  backup(ctx: InstanceContext, options: { database: string; file: string; jobs?: number; compress?: Compression; seal?: Seal }): Promise<BackupOutcome>;
  /** `scratch`: the target is a throw-away server made for verification (no roles or users of the live one exist there). */
  restore(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; target: string; replace: boolean; scratch?: boolean; jobs?: number }): Promise<RestoreOutcome>;
  /** Row counts and checksums of a database, compared against a manifest by verify. */
  fingerprint(ctx: InstanceContext, database: string): Promise<TableFingerprint[]>;
  /** Verifies a backup without touching live data; used instead of the core's restore-to-scratch when present. */
  verifyBackup(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView }): Promise<{ tables: TableFingerprint[]; method: string }>;
  /** What the running instance holds now (databases, roles, changed settings): what a whole-instance restore replaces. */
  instanceContents(ctx: InstanceContext): Promise<InstanceContents>;
  /**
   * Instead of `initialize`: makes a new instance's data dir from a whole-instance backup of
   * `source` (same engine and major), with the new instance's own port, certificate and admin
   * password. Used by `restore --as-instance NAME`.
   */
  initializeFromBackup(ctx: InstanceContext, options: { file: string; manifest: BackupManifestView; source: InstanceContext }): Promise<void>;

  // configuration
  configList(ctx: InstanceContext): Promise<ConfigSetting[]>;
  configGet(ctx: InstanceContext, name: string): Promise<ConfigSetting>;
  configSet(ctx: InstanceContext, name: string, value: string): Promise<ConfigChange>;

  // maintenance
  vacuum(ctx: InstanceContext, options: { database: string; table?: string; full: boolean; analyze: boolean }): Promise<VacuumOutcome>;
  /** Named maintenance beyond vacuum (`vacuum --task`): TimescaleDB's "compress" and "run-job". Unknown tasks are USAGE errors naming the known ones. */
  maintenanceTask(ctx: InstanceContext, options: { database: string; task: string; table?: string; job?: number }): Promise<VacuumOutcome>;

  // read-only access
  /**
   * Creates or updates (idempotently) the least-privilege read-only account the server itself
   * enforces: a query under it that tries to write, read server files or run programs is refused
   * by the database. PostgreSQL: pg_read_all_data, default_transaction_read_only, timeouts;
   * MySQL family: SELECT and SHOW VIEW; Redis: ACL +@read -@dangerous; MongoDB: the `read` role;
   * Elasticsearch: a read-only role; InfluxDB: a READ authorization. Engines without accounts
   * (SQLite) lack it and enforce read-only in `query` itself.
   */
  readonlyAccount(ctx: InstanceContext, spec: ReadonlyAccountSpec): Promise<ReadonlyAccountOutcome>;
  /** Runs one read-only query under `account` (which must be the read-only one), bounded by rows and time. */
  query(ctx: InstanceContext, request: QueryRequest): Promise<QueryResult>;
  /** What an upstream MCP server needs to reach this instance as `account` (see UpstreamConnection); without an account, as the admin (only for `--allow-write` admin servers). */
  upstreamConnection(ctx: InstanceContext, options: { upstream: UpstreamId; account?: QueryAccount; database?: string }): Promise<UpstreamConnection>;

  /** Quotes an identifier by the engine's rules; throws INVALID_IDENTIFIER when it is not acceptable. */
  validateIdentifier(kind: 'database' | 'table' | 'user' | 'schema', name: string): string;
}

export type Operation = keyof EngineOps;

export interface Engine extends Partial<EngineOps> {
  readonly info: EngineInfo;
  readonly install: InstallOps;
  /** Why an absent operation is absent, and what to use instead. */
  readonly unsupported: Partial<Record<Operation, string>>;
}
