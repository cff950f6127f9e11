/**
 * Elasticsearch 8 from Maven Central: Elastic's own integ-test distribution
 * (org.elasticsearch.distribution.integ-test-zip:elasticsearch:<8.x>:zip), the real server
 * without a bundled JDK and without x-pack beyond the security module. Fetched with
 * `mvn dependency:copy`, cached by version. The tests install it through the tool
 * (`install elasticsearch --archive FILE --sha256 H`) with ES_JAVA_HOME set to a JDK 17+.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { cached, sh, type TestServerModule } from './cache.js';

/** The newest 8.x that Maven Central's metadata listed (8.19.21). */
export const ES_VERSION = '8.19.21';

/** JDKs this machine kind has; Elasticsearch 8.19 runs on 17 and newer. */
const JDKS = ['/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/temurin-25-jdk-amd64', '/usr/lib/jvm/java-17-openjdk-arm64'];

function sha256(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

export const server: TestServerModule = {
  name: 'elasticsearch-8',
  async provision() {
    const javaHome = process.env['ES_JAVA_HOME'] ?? JDKS.find((j) => existsSync(join(j, 'bin', 'java')));
    if (!javaHome) throw new Error(`no JDK 17+ for Elasticsearch: none of ${JDKS.join(', ')} exists and ES_JAVA_HOME is not set`);
    const dir = await cached(`elasticsearch-${ES_VERSION}`, async (tmp) => {
      await sh(['mvn', '-q', '-B', 'org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy', `-Dartifact=org.elasticsearch.distribution.integ-test-zip:elasticsearch:${ES_VERSION}:zip`, `-DoutputDirectory=${tmp}`]);
      if (!existsSync(join(tmp, `elasticsearch-${ES_VERSION}.zip`))) throw new Error(`mvn dependency:copy left no elasticsearch-${ES_VERSION}.zip in ${tmp}`);
    });
    const archive = join(dir, `elasticsearch-${ES_VERSION}.zip`);
    return { name: 'elasticsearch-8', engine: 'elasticsearch', version: ES_VERSION, archive, sha256: await sha256(archive), extra: { javaHome } };
  },
};
