/**
 * The rules every local HTTP listener of portunix-db follows (MCP over HTTP, the monitor's
 * Prometheus /metrics, the dashboard): a bearer token from a 0600 file, compared in constant
 * time; Host and Origin headers checked against the bound name (DNS rebinding); loopback-only
 * listen addresses where a listener serves data without further authorisation.
 */
import type { IncomingMessage } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { dirname } from 'node:path';
import { DbError, UsageError } from './errors.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]', '::1'];

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Reads a bearer token file: non-empty, at least 16 characters, not readable by others. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DbError(`Cannot read the token file ${file}: ${(err as Error).message}`, 'NOT_FOUND', 'Create it with a random token, e.g. `openssl rand -hex 32 > token && chmod 600 token`.');
  }
  const token = text.trim();
  if (token.length < 16) throw new UsageError(`The token in ${file} is shorter than 16 characters.`, 'USAGE', 'Use a long random token, e.g. `openssl rand -hex 32`.');
  if (process.platform !== 'win32') {
    const mode = (await stat(file)).mode & 0o077;
    if (mode !== 0) throw new UsageError(`The token file ${file} is readable by other users.`, 'PERMISSION_DENIED', `Run \`chmod 600 ${file}\`.`);
  }
  return token;
}

/**
 * The token file a listener uses when none is given: made on first use (0600, random 32
 * bytes as hex, created exclusively so two servers agree), then read like any token file.
 */
export async function ensureTokenFile(file: string): Promise<{ token: string; created: boolean }> {
  let created = false;
  try {
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    await writeFile(file, randomBytes(32).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new DbError(`Cannot create the token file ${file}: ${(err as Error).message}`, 'PERMISSION_DENIED', 'Pass --token-file FILE.');
  }
  return { token: await readTokenFile(file), created };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Hostname of a Host header or an Origin URL, without the port; IPv6 keeps its brackets. */
export function hostnameOf(value: string): string | undefined {
  try {
    return new URL(value.includes('://') ? value : `http://${value}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

export interface Refusal {
  status: number;
  message: string;
  headers?: Record<string, string>;
}

/** Checks one request; `bearer: false` skips the token (a page shell that holds no data). */
export type RequestGuard = (req: IncomingMessage, options?: { bearer?: boolean }) => Refusal | undefined;

/**
 * The checks for one listener. Throws when there is no token: loopback is not private (every
 * local user and process can connect to it).
 */
export function requestGuard(options: { host: string; token: string | undefined; allowedHosts?: string[]; what: string; log?: (m: string) => void }): RequestGuard {
  const { host } = options;
  if (!options.token) {
    throw new UsageError(
      `Refusing to serve ${options.what} on ${host} without a bearer token: ${isLoopback(host) ? 'every local user' : 'anyone on the network'} could reach your databases.`,
      'USAGE',
      'Pass --token-file FILE (a file with a long random token, mode 600); without it portunix-db makes one under PORTUNIX_HOME.',
    );
  }
  const wildcard = host === '0.0.0.0' || host === '::' || host === '[::]';
  const allowed = new Set<string>([...LOOPBACK_NAMES, ...(options.allowedHosts ?? [])].map((h) => h.toLowerCase()));
  if (!wildcard) allowed.add(hostnameOf(host) ?? host);
  const checkHost = !wildcard || (options.allowedHosts?.length ?? 0) > 0;
  if (!checkHost) options.log?.(`bound to ${host}: Host header check is off (pass --allowed-host NAME to turn it on); the bearer token protects every request`);
  const expected = digest(options.token);
  return (req, o = {}) => {
    // DNS rebinding: a page on evil.example resolving to 127.0.0.1 sends Host/Origin evil.example.
    const hostHeader = hostnameOf(req.headers.host ?? '');
    if (checkHost && (!hostHeader || !allowed.has(hostHeader))) return { status: 403, message: `Forbidden Host header "${req.headers.host ?? ''}".` };
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const h = hostnameOf(origin);
      if (!h || (!allowed.has(h) && (checkHost || h !== hostHeader))) return { status: 403, message: `Forbidden Origin "${origin}".` };
    }
    if (o.bearer === false) return undefined;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (!m || !timingSafeEqual(digest(m[1]!.trim()), expected)) return { status: 401, message: 'Missing or wrong bearer token.', headers: { 'www-authenticate': 'Bearer realm="portunix-db"' } };
    return undefined;
  };
}

/**
 * `--listen HOST:PORT` for listeners that must stay on this machine: 127.x.x.x, [::1] or
 * localhost (bound as 127.0.0.1), and a port 0-65535 (0: any free port). Anything else is a
 * usage error that says why.
 */
export function parseLoopbackListen(value: string, flag = '--listen'): { host: string; port: number } {
  const v = value.trim();
  const m = /^(\[[^\]]*\]|[^:[\]]*):(\d{1,5})$/.exec(v);
  const hint = `Use ${flag} 127.0.0.1:PORT (or [::1]:PORT; PORT 0 picks a free one).`;
  if (!m) throw new UsageError(`"${value}" is not HOST:PORT.`, 'USAGE', hint);
  const rawHost = m[1]!.toLowerCase();
  const port = Number(m[2]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`Port ${m[2]} in "${value}" is out of range.`, 'USAGE', hint);
  let host: string | undefined;
  if (rawHost === 'localhost') host = '127.0.0.1';
  else if (rawHost === '[::1]') host = '::1';
  else if (isIPv4(rawHost) && rawHost.startsWith('127.')) host = rawHost;
  if (!host) throw new UsageError(`Refusing to listen on "${m[1]}": only loopback addresses (127.0.0.1, [::1], localhost) are allowed.`, 'USAGE', `${hint} To scrape from another machine, put a reverse proxy with TLS in front.`);
  return { host, port };
}
