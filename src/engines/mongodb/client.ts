import { cjsExports } from '../../core/cjs-interop.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db, Document, MongoClient } from 'mongodb';
import { DbError, NotApplicableError } from '../../core/errors.js';
import { publicCertPath, SERVER_CERT } from '../../core/tls.js';
import type { InstanceContext } from '../contract.js';
import { serverLabel, type ServerKind } from './servers.js';

/** The user portunix-db creates in `admin` at initialisation and manages the instance as. */
export const ADMIN_USER = 'admin';
export const AUTH_DB = 'admin';

type Driver = typeof import('mongodb');
let driver: Promise<Driver> | undefined;
/** The official driver, loaded on first use (keeps `--help` and `status` fast). */
export function loadDriver(): Promise<Driver> {
  driver ??= import('mongodb').then((m) => cjsExports(m));
  return driver;
}

/** Where initialisation puts the certificate (owned by the service user, in the data dir). */
export function serverCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, SERVER_CERT);
}

/** mongod's --tlsCertificateKeyFile takes one PEM holding the certificate and the key. */
export function serverPemPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.dataDir, 'server.pem');
}

/** The certificate the tool pins: the data-dir copy, or the public copy when the data dir is not readable. Undefined when the instance has none (no openssl at initialisation). */
export async function instanceCertificate(ctx: Pick<InstanceContext, 'paths'>): Promise<{ path: string; pem: string } | undefined> {
  for (const path of [serverCertPath(ctx), publicCertPath(ctx)]) {
    const pem = await readFile(path, 'utf8').catch(() => undefined);
    if (pem !== undefined) return { path, pem };
  }
  return undefined;
}

/** Server error codes that mean "this server does not have that". */
const UNSUPPORTED_CODES = new Set([59 /* CommandNotFound */, 115 /* CommandNotSupported */, 238 /* NotImplemented */, 40324 /* unrecognized pipeline stage */, 40415 /* unknown field */, 72 /* InvalidOptions */]);

export function isUnsupported(err: unknown): boolean {
  const e = err as { code?: number; codeName?: string; message?: string };
  if (typeof e?.code === 'number' && UNSUPPORTED_CODES.has(e.code)) return true;
  return /not implemented|no such command|unrecognized pipeline stage|not supported|is not allowed|Unrecognized pipeline stage/i.test(e?.message ?? '');
}

/**
 * The typed answer for a feature this server lacks: names the server (FerretDB is never
 * called MongoDB) and what to use instead.
 */
export function lacks(kind: ServerKind, version: string, feature: string, instead: string): NotApplicableError {
  return new NotApplicableError(`${serverLabel(kind, version)} does not support ${feature}.`, instead);
}

function startHint(ctx: InstanceContext): string {
  return `Start it with \`portunix-db start mongodb${ctx.name === 'main' ? '' : ` --instance ${ctx.name}`}\`.`;
}

/** Driver and server errors as codes with next steps; never a stack trace. */
export function mapMongoError(err: unknown, ctx: InstanceContext): DbError {
  if (err instanceof DbError) return err;
  const e = err as { code?: number | string; codeName?: string; message?: string; cause?: { code?: string; message?: string }; name?: string };
  const msg = e?.message ?? String(err);
  const causeCode = e?.cause?.code ?? '';
  const where = `mongodb/${ctx.name} on 127.0.0.1:${ctx.config.port}`;
  if (/CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(String(causeCode)) || /certificate|wrong version number|SSL routines/i.test(msg)) {
    return new DbError(`TLS to ${where} failed: ${msg}`, 'CONNECTION_FAILED', `The server must listen with TLS and present the certificate in ${serverCertPath(ctx)}; another server may be listening on this port.`);
  }
  if (/ECONNREFUSED/.test(`${causeCode} ${msg}`) || (e?.name === 'MongoServerSelectionError' && /connect/i.test(msg))) {
    return new DbError(`Instance mongodb/${ctx.name} refuses connections on 127.0.0.1:${ctx.config.port}.`, 'NOT_RUNNING', startHint(ctx));
  }
  if (e?.code === 18 || /Authentication failed|AuthenticationFailed/i.test(msg)) {
    return new DbError(`Authentication failed on ${where}.`, 'AUTH_FAILED', 'The stored admin password no longer matches the server; re-install the instance.');
  }
  if (e?.code === 13 || /not authorized|Unauthorized/i.test(msg)) return new DbError(`Permission denied on ${where}: ${msg}`, 'PERMISSION_DENIED');
  if (e?.name === 'MongoServerSelectionError' || /timed out|timeout/i.test(msg)) return new DbError(`${where} did not answer in time: ${msg}`, 'TIMEOUT', startHint(ctx));
  if (e?.code === 26 || e?.codeName === 'NamespaceNotFound') return new DbError(msg, 'NOT_FOUND');
  if (e?.code === 48 || e?.code === 11000 || e?.code === 51003) return new DbError(msg, 'ALREADY_EXISTS');
  return new DbError(msg, 'QUERY_FAILED');
}

export interface MongoConn {
  client: MongoClient;
  db(name: string): Db;
  /** A command on `admin`. */
  admin(command: Document): Promise<Document>;
}

export interface ConnectOptions {
  port?: number;
  timeoutMs?: number;
  /** Log in as this account (the read-only one) instead of the admin. */
  as?: { user: string; password: string };
}

/**
 * A short-lived authenticated connection to 127.0.0.1 (direct, no discovery), SCRAM-SHA-256 as
 * the admin user against `admin`, over TLS verified against the instance's own certificate
 * (its chain and the 127.0.0.1 subjectAltName), unless the instance has no certificate.
 */
export async function withMongo<T>(ctx: InstanceContext, fn: (conn: MongoConn) => Promise<T>, options: ConnectOptions = {}): Promise<T> {
  const { MongoClient } = await loadDriver();
  const timeout = options.timeoutMs ?? 5000;
  const cert = await instanceCertificate(ctx);
  const client = new MongoClient(`mongodb://127.0.0.1:${options.port ?? ctx.config.port}/`, {
    directConnection: true,
    auth: options.as ? { username: options.as.user, password: options.as.password } : { username: ADMIN_USER, password: await ctx.adminPassword() },
    authSource: AUTH_DB,
    authMechanism: 'SCRAM-SHA-256',
    serverSelectionTimeoutMS: timeout,
    connectTimeoutMS: timeout,
    socketTimeoutMS: Math.max(timeout, 10 * 60_000),
    retryWrites: false,
    retryReads: false,
    monitorCommands: false,
    appName: 'portunix-db',
    ...(cert ? { tls: true, ca: cert.pem } : {}),
  });
  try {
    await client.connect();
  } catch (err) {
    await client.close(true).catch(() => undefined);
    throw mapMongoError(err, ctx);
  }
  const conn: MongoConn = { client, db: (name) => client.db(name), admin: (command) => client.db(AUTH_DB).command(command) };
  try {
    return await fn(conn);
  } catch (err) {
    throw mapMongoError(err, ctx);
  } finally {
    await client.close(true).catch(() => undefined);
  }
}

/** A number out of a BSON reply (Int32, Long, Double, Decimal128 or plain). */
export function n(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  const v = value as { toNumber?: () => number; valueOf?: () => unknown; toString?: () => string };
  if (typeof v.toNumber === 'function') return v.toNumber();
  const num = Number(typeof v.valueOf === 'function' ? v.valueOf() : v.toString?.());
  return Number.isFinite(num) ? num : undefined;
}
