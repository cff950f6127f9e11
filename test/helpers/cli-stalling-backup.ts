/**
 * The CLI with a test seam set: every backup stalls after its data is written and before it
 * is named good, and says "stalled" on stderr, so a test can kill it at the worst moment.
 * The product reads no environment switch for this; the hook is set here, in-process.
 */
import { backupHooks } from '../../src/core/ops/backup.js';

backupHooks.afterWrite = async () => {
  process.stderr.write('  stalled (test hook)\n');
  await new Promise(() => undefined);
};
await import('../../src/cli/main.js');
