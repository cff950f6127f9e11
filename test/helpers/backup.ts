import { readFileSync } from 'node:fs';

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
