import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, watch } from 'node:fs';
import assert from 'node:assert/strict';
import { cliOk } from './cli.js';

/**
 * Re-signs a backup's manifest with the home's own key, as portunix-db itself would. Tests use
 * it to model a backup that passes the HMAC (damaged before it was signed, or signed by a
 * holder of the key), to reach the checks behind the HMAC.
 */
export async function resignManifest(home: string, file: string): Promise<void> {
  process.env['PORTUNIX_HOME'] = home;
  process.env['PORTUNIX_DB_SECRET_BACKEND'] = process.env['PORTUNIX_DB_SECRET_BACKEND'] ?? 'file';
  const { resetSecretStore } = await import('../../src/core/secrets.js');
  resetSecretStore();
  const { writeManifest } = await import('../../src/core/backup-manifest.js');
  await writeManifest(file, JSON.parse(readFileSync(`${file}.manifest.json`, 'utf8')));
}

/**
 * `backup ARGS --encrypt --destination DEST` while inotify watches DEST, then the checks every
 * engine whose backup is sealed as it is written must pass: an age file, 0600, hashed as the
 * manifest says, written in place as `.partial.age`, and no plaintext `.partial` ever created.
 * Returns the command's JSON.
 */
export async function sealedBackup(args: string[], dest: string, opts: Parameters<typeof cliOk>[1]): Promise<{ file: string; manifest: { size_bytes: number; sha256: string } }> {
  mkdirSync(dest, { recursive: true, mode: 0o700 });
  const seen: string[] = [];
  const watcher = watch(dest, (_event, name) => {
    if (name) seen.push(String(name));
  });
  let json;
  try {
    json = (await cliOk(['backup', ...args, '--encrypt', '--destination', dest, '--json'], opts)).json;
  } finally {
    watcher.close();
  }
  const file = json.file as string;
  assert.equal(readFileSync(file).subarray(0, 22).toString(), 'age-encryption.org/v1\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(json.manifest.size_bytes, statSync(file).size);
  assert.equal(json.manifest.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'), 'the manifest hashes the encrypted bytes');
  assert.ok(seen.some((n) => n.endsWith('.partial.age')), `the sealed file was written in place: ${seen.join(', ')}`);
  assert.ok(!seen.some((n) => n.endsWith('.partial')), `no plaintext .partial was ever created: ${seen.join(', ')}`);
  return json;
}
