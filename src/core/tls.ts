import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync } from 'node:fs';
import { chmod, chown, copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import type { InstanceContext } from '../engines/contract.js';
import { shellQuote } from './install/plan.js';

/**
 * Every engine's instance gets its own self-signed server certificate, made with the openssl
 * CLI at initialisation, so connections are encrypted by default. The certificate is its own
 * CA: the tool's clients pin it, users' clients get its path (a world-readable copy).
 */
export const SERVER_CERT = 'server.crt';
export const SERVER_KEY = 'server.key';

/** An executable on PATH (or the usual system dirs), as an absolute path: ctx.exec would look a bare name up in bin_dir. */
export function findProgram(name: string, path = process.env['PATH'] ?? ''): string | undefined {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/bin', '/opt/homebrew/bin'];
  const exe = process.platform === 'win32' ? [`${name}.exe`, name] : [name];
  for (const dir of dirs) {
    for (const file of exe) {
      const candidate = join(dir, file);
      try {
        accessSync(candidate, fsConstants.X_OK);
        return candidate;
      } catch {
        /* next */
      }
    }
  }
  return undefined;
}

/** The openssl config for an instance's self-signed certificate. Pure, for tests. */
export function renderCertConfig(engine: string, instance: string): string {
  const cn = `portunix-db ${engine} ${instance}`.replace(/[^A-Za-z0-9._ -]/g, '_');
  return [
    '[req]',
    'distinguished_name = dn',
    'x509_extensions = v3',
    'prompt = no',
    '[dn]',
    `CN = ${cn}`,
    '[v3]',
    // self-signed: it is its own CA, which is what clients pin (sslrootcert / ssl.ca)
    'basicConstraints = critical, CA:TRUE',
    'subjectKeyIdentifier = hash',
    'subjectAltName = IP:127.0.0.1, IP:::1, DNS:localhost',
    '',
  ].join('\n');
}

/** `curl [--cacert CA] URL`: the client command of engines spoken to over HTTP(S). */
export function curlCommand(url: string, ca?: string): string {
  return ['curl', ...(ca ? ['--cacert', ca] : []), url].map(shellQuote).join(' ');
}

/** The world-readable copy of an instance's certificate, for users' clients. */
export function publicCertPath(ctx: Pick<InstanceContext, 'paths'>): string {
  return join(ctx.paths.root, 'tls', SERVER_CERT);
}

export function hasPublicCert(ctx: Pick<InstanceContext, 'paths'>): boolean {
  return existsSync(publicCertPath(ctx));
}

/**
 * A self-signed EC P-256 certificate valid 10 years, made as the service user (so the key is
 * its own, 0600) in `dir`. Returns the paths, or undefined with a progress message saying what
 * it means when openssl is missing or fails: the install goes on without TLS.
 */
export async function makeServerCertificate(ctx: InstanceContext, dir: string): Promise<{ cert: string; key: string } | undefined> {
  const openssl = findProgram('openssl');
  if (!openssl) {
    ctx.progress(`WARNING: openssl is not installed, so ${ctx.engine}/${ctx.name} gets no TLS certificate: TCP connections to it are not encrypted (the password still protects it). Install openssl and re-create the instance to get TLS.`);
    return undefined;
  }
  const cert = join(dir, SERVER_CERT);
  const key = join(dir, SERVER_KEY);
  const cnf = join(dir, `.portunix-openssl-${randomBytes(6).toString('hex')}.cnf`);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(cnf, renderCertConfig(ctx.engine, ctx.name), { mode: 0o600 });
  if (ctx.runAs) await chown(cnf, ctx.runAs.uid, ctx.runAs.gid);
  try {
    ctx.progress('openssl: making a self-signed TLS certificate for the server (EC P-256, 10 years, 127.0.0.1 / ::1 / localhost)');
    await ctx.exec(
      [openssl, 'req', '-x509', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '3650', '-config', cnf, '-keyout', key, '-out', cert],
      { timeoutMs: 60_000, env: { OPENSSL_CONF: cnf } },
    );
    await chmod(key, 0o600);
    await chmod(cert, 0o644);
    if (ctx.runAs) {
      await chown(key, ctx.runAs.uid, ctx.runAs.gid);
      await chown(cert, ctx.runAs.uid, ctx.runAs.gid);
    }
  } catch (err) {
    await rm(cert, { force: true });
    await rm(key, { force: true });
    ctx.progress(`WARNING: openssl could not make a TLS certificate (${(err as Error).message.split('\n')[0]}); ${ctx.engine}/${ctx.name} listens without TLS: TCP connections to it are not encrypted.`);
    return undefined;
  } finally {
    await rm(cnf, { force: true });
  }
  await publishCertificate(ctx, cert);
  return { cert, key };
}

/** Copies the certificate (public data) to a place any local user can read. */
export async function publishCertificate(ctx: InstanceContext, cert: string): Promise<string> {
  const target = publicCertPath(ctx);
  const dir = join(ctx.paths.root, 'tls');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
  await copyFile(cert, target);
  await chmod(target, 0o644);
  if (ctx.runAs) {
    await chown(dir, ctx.runAs.uid, ctx.runAs.gid);
    await chown(target, ctx.runAs.uid, ctx.runAs.gid);
  }
  return target;
}
