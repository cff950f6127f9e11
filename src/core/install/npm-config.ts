/**
 * Downloads behave like npm: the registry, `cafile`/`ca`, `strict-ssl`, `proxy`/`https-proxy`/
 * `noproxy` and the registry's `_authToken` come from npm's own configuration (npm_config_*
 * environment, the project, user and global npmrc), and NODE_EXTRA_CA_CERTS is added to the
 * trusted roots. A failed request names its real cause (TLS, DNS, connection, HTTP status) and
 * the setting that fixes it, instead of fetch's bare "fetch failed".
 */
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { connect as tlsConnect, rootCertificates } from 'node:tls';
import { isIP, type Socket } from 'node:net';
import { DbError } from '../errors.js';

export interface NpmSettings {
  registry: string;
  /** PEM certificates to trust in addition to Node's roots (cafile, ca, NODE_EXTRA_CA_CERTS). */
  ca: string[];
  caSources: string[];
  strictSsl: boolean;
  httpsProxy?: string;
  httpProxy?: string;
  noProxy: string[];
  /** `//host/path/:_authToken` entries, keyed by that prefix. Never printed. */
  authTokens: Record<string, string>;
}

/** Parses an npmrc: `key=value` lines, `;`/`#` comments, `${VAR}` expansion, `key[]=` arrays. */
export function parseNpmrc(text: string, env: NodeJS.ProcessEnv = process.env): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith(';') || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    let key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    value = value.replace(/\$\{([^}]+)\}/g, (_, name: string) => env[name] ?? '');
    const isArray = key.endsWith('[]');
    if (isArray) key = key.slice(0, -2);
    key = key.toLowerCase();
    out.set(key, isArray ? [...(out.get(key) ?? []), value] : [value]);
  }
  return out;
}

function npmrcFiles(env: NodeJS.ProcessEnv, cwd: string): string[] {
  const files: string[] = [];
  // lowest precedence first: global, user, project
  const prefix = env['npm_config_prefix'] ?? env['NPM_CONFIG_PREFIX'] ?? dirname(dirname(process.execPath));
  files.push(env['npm_config_globalconfig'] ?? env['NPM_CONFIG_GLOBALCONFIG'] ?? join(prefix, 'etc', 'npmrc'));
  files.push(env['npm_config_userconfig'] ?? env['NPM_CONFIG_USERCONFIG'] ?? join(homedir(), '.npmrc'));
  files.push(join(cwd, '.npmrc'));
  return files;
}

/** npm's effective settings for this process, the way npm itself would see them. */
export function npmSettings(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): NpmSettings {
  const merged = new Map<string, string[]>();
  for (const file of npmrcFiles(env, cwd)) {
    if (!existsSync(file)) continue;
    try {
      for (const [k, v] of parseNpmrc(readFileSync(file, 'utf8'), env)) merged.set(k, v);
    } catch {
      /* an unreadable npmrc is ignored, as npm does */
    }
  }
  // the environment wins: npm_config_foo / NPM_CONFIG_FOO (npm treats _ and - alike)
  for (const [k, v] of Object.entries(env)) {
    const m = /^npm_config_(.+)$/i.exec(k);
    if (m && v !== undefined) merged.set(m[1]!.toLowerCase().replace(/_/g, '-'), [v]);
  }
  const one = (key: string) => merged.get(key)?.[0];
  const ca: string[] = [];
  const caSources: string[] = [];
  const cafile = one('cafile');
  if (cafile) {
    const file = resolve(cafile.replace(/^~(?=$|\/)/, homedir()));
    try {
      ca.push(...splitPem(readFileSync(file, 'utf8')));
      caSources.push(`npm cafile ${file}`);
    } catch (err) {
      throw new DbError(`npm's cafile ${file} cannot be read: ${(err as Error).message}`, 'INVALID_CONFIG', 'Fix or remove the cafile setting (`npm config get cafile`).');
    }
  }
  const inline = merged.get('ca')?.filter((c) => c && c !== 'null') ?? [];
  if (inline.length) {
    ca.push(...inline.map((c) => c.replace(/\\n/g, '\n')));
    caSources.push('npm ca');
  }
  const extra = env['NODE_EXTRA_CA_CERTS'];
  if (extra && existsSync(extra)) {
    ca.push(...splitPem(readFileSync(extra, 'utf8')));
    caSources.push(`NODE_EXTRA_CA_CERTS ${extra}`);
  }
  const registry = one('registry') ?? 'https://registry.npmjs.org/';
  const authTokens: Record<string, string> = {};
  for (const [k, v] of merged) {
    const m = /^(\/\/.+):_authtoken$/.exec(k);
    if (m && v[0]) authTokens[m[1]!.replace(/\/?$/, '/')] = v[0];
  }
  const httpsProxy = one('https-proxy') ?? env['HTTPS_PROXY'] ?? env['https_proxy'] ?? one('proxy') ?? env['HTTP_PROXY'] ?? env['http_proxy'];
  const httpProxy = one('proxy') ?? env['HTTP_PROXY'] ?? env['http_proxy'];
  const noProxy = (one('noproxy') ?? env['NO_PROXY'] ?? env['no_proxy'] ?? '').split(/[,\s]+/).filter(Boolean);
  return {
    registry: registry.endsWith('/') ? registry : registry + '/',
    ca,
    caSources,
    strictSsl: !/^(false|0|no)$/i.test(one('strict-ssl') ?? 'true'),
    ...(httpsProxy && httpsProxy !== 'null' ? { httpsProxy } : {}),
    ...(httpProxy && httpProxy !== 'null' ? { httpProxy } : {}),
    noProxy,
    authTokens,
  };
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

function bypassesProxy(host: string, noProxy: string[]): boolean {
  return noProxy.some((p) => p === '*' || host === p.replace(/^\./, '') || host.endsWith(p.startsWith('.') ? p : '.' + p));
}

function authFor(url: URL, settings: NpmSettings): string | undefined {
  const target = `//${url.host}${url.pathname}`;
  let best: string | undefined;
  for (const prefix of Object.keys(settings.authTokens)) if (target.startsWith(prefix) && (!best || prefix.length > best.length)) best = prefix;
  return best ? settings.authTokens[best] : undefined;
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|DEPTH_ZERO|EPROTO/;

/** What went wrong and what fixes it, from the low-level error (its code is kept, not dropped). */
export function describeFailure(url: string, err: unknown, settings?: Pick<NpmSettings, 'caSources' | 'httpsProxy' | 'strictSsl'>): DbError {
  const e = (err as { cause?: unknown }).cause && !(err as NodeJS.ErrnoException).code ? ((err as { cause: unknown }).cause as NodeJS.ErrnoException) : (err as NodeJS.ErrnoException);
  const code = String(e?.code ?? '');
  const message = e?.message ?? String(err);
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  const via = settings?.httpsProxy ? ` (through the proxy ${redactProxy(settings.httpsProxy)})` : '';
  const details = { url, cause: code || message };
  if (TLS_CODES.test(code)) {
    const trusted = settings?.caSources.length ? ` Trusted in addition to Node's roots: ${settings.caSources.join(', ')}.` : '';
    return new DbError(
      `Download of ${url} failed: TLS certificate check failed (${code}: ${message})${via}.${trusted}`,
      'DOWNLOAD_FAILED',
      "A proxy or mirror presents a certificate Node does not trust. Point npm at its CA, as `npm ci` uses it: `npm config set cafile /path/to/ca.pem` (or export NODE_EXTRA_CA_CERTS=/path/to/ca.pem), then run the install again. `npm config set strict-ssl false` also works but turns certificate checks off.",
      details,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new DbError(
      `Download of ${url} failed: DNS cannot resolve ${host} (${code})${via}.`,
      'DOWNLOAD_FAILED',
      'Check the host name (`npm config get registry`), your DNS, or set the proxy npm uses (`npm config set https-proxy http://proxy:port`).',
      details,
    );
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'TIMEOUT') {
    return new DbError(
      `Download of ${url} failed: cannot connect to ${settings?.httpsProxy ? redactProxy(settings.httpsProxy) : host} (${code}: ${message}).`,
      'DOWNLOAD_FAILED',
      settings?.httpsProxy ? 'Check the proxy setting (`npm config get https-proxy`) and that the proxy is up.' : 'Check the network; behind a proxy, set it for npm: `npm config set https-proxy http://proxy:port`.',
      details,
    );
  }
  return new DbError(`Download of ${url} failed: ${code ? `${code}: ` : ''}${message}${via}.`, 'DOWNLOAD_FAILED', 'Check the network and npm\'s settings (`npm config list`), then run the install again; finished downloads are cached.', details);
}

function httpStatusError(url: string, status: number): DbError {
  const hint =
    status === 401 || status === 403
      ? 'The registry refused the request: set its token for npm (`npm config set //host/:_authToken TOKEN`) or use a registry you may read.'
      : status === 404
        ? 'The registry or mirror does not have this file: check `npm config get registry`, or choose another --version.'
        : status === 407
          ? 'The proxy wants credentials: put them in the proxy URL (`npm config set https-proxy http://user:pass@proxy:port`).'
          : 'The server failed; try again later or use another mirror (`npm config set registry URL`).';
  return new DbError(`Download of ${url} failed: HTTP ${status}.`, 'DOWNLOAD_FAILED', hint, { url, status });
}

function redactProxy(proxy: string): string {
  try {
    const u = new URL(proxy);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return proxy;
  }
}

/** A CONNECT tunnel through an HTTP proxy, then TLS to the target over it. */
function tunnel(proxy: URL, target: URL, tlsOptions: RequestOptions, timeoutMs: number): Promise<Socket> {
  return new Promise((resolvePromise, reject) => {
    const auth = proxy.username ? { 'proxy-authorization': 'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64') } : {};
    const port = target.port || '443';
    const req = httpRequest({ host: proxy.hostname, port: proxy.port || 80, method: 'CONNECT', path: `${target.hostname}:${port}`, headers: { host: `${target.hostname}:${port}`, ...auth }, timeout: timeoutMs });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return reject(Object.assign(new Error(`the proxy answered CONNECT with HTTP ${res.statusCode}`), { proxyStatus: res.statusCode }));
      }
      const secure = tlsConnect({ socket, host: target.hostname, ...(isIP(target.hostname) ? {} : { servername: target.hostname }), ...(tlsOptions.ca ? { ca: tlsOptions.ca } : {}), rejectUnauthorized: tlsOptions.rejectUnauthorized !== false });
      secure.once('secureConnect', () => resolvePromise(secure));
      secure.once('error', reject);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('the proxy did not answer'), { code: 'TIMEOUT' })));
    req.on('error', reject);
    req.end();
  });
}

export interface GetOptions {
  headers?: Record<string, string>;
  timeoutMs?: number;
  settings?: NpmSettings;
  maxRedirects?: number;
}

/**
 * GET with npm's settings. Resolves with the response (status 2xx, body unread); any failure
 * is a DOWNLOAD_FAILED DbError that names the cause. Follows redirects.
 */
export async function npmGet(url: string, options: GetOptions = {}): Promise<IncomingMessage> {
  const settings = options.settings ?? npmSettings();
  const timeoutMs = options.timeoutMs ?? 30_000;
  let current = new URL(url);
  for (let hop = 0; hop <= (options.maxRedirects ?? 5); hop++) {
    const res = await getOnce(current, settings, options.headers ?? {}, timeoutMs).catch((err: unknown) => {
      const status = (err as { proxyStatus?: number }).proxyStatus;
      throw status ? httpStatusError(current.toString(), status) : describeFailure(current.toString(), err, settings);
    });
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && res.headers.location) {
      res.resume();
      current = new URL(res.headers.location, current);
      continue;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw httpStatusError(current.toString(), status);
    }
    return res;
  }
  throw new DbError(`Download of ${url} failed: too many redirects.`, 'DOWNLOAD_FAILED', 'Check the registry URL (`npm config get registry`).');
}

async function getOnce(url: URL, settings: NpmSettings, headers: Record<string, string>, timeoutMs: number): Promise<IncomingMessage> {
  const token = authFor(url, settings);
  const allHeaders = { 'user-agent': 'portunix-db', ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) };
  const secure = url.protocol === 'https:';
  const tlsOptions: RequestOptions = { ...(settings.ca.length ? { ca: [...rootCertificates, ...settings.ca] } : {}), rejectUnauthorized: settings.strictSsl };
  const proxyUrl = secure ? settings.httpsProxy : settings.httpProxy;
  const proxy = proxyUrl && !bypassesProxy(url.hostname, settings.noProxy) ? new URL(proxyUrl) : undefined;
  return new Promise((resolvePromise, reject) => {
    const send = (extra: RequestOptions) => {
      const req = (secure ? httpsRequest : httpRequest)({ method: 'GET', headers: allHeaders, timeout: timeoutMs, agent: false, ...extra }, resolvePromise);
      req.on('timeout', () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs / 1000} s`), { code: 'TIMEOUT' })));
      req.on('error', reject);
      req.end();
    };
    const target = { host: url.hostname, port: url.port || (secure ? 443 : 80), path: url.pathname + url.search };
    if (!proxy) return send({ ...target, ...(secure ? tlsOptions : {}) });
    if (!secure) return send({ host: proxy.hostname, port: proxy.port || 80, path: url.toString() });
    tunnel(proxy, url, tlsOptions, timeoutMs).then(
      (socket) => send({ ...target, ...tlsOptions, createConnection: () => socket, agent: false } as RequestOptions),
      reject,
    );
  });
}
