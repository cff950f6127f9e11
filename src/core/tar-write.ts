import { DbError } from './errors.js';
import { writeHashed, type Seal, type WrittenDigest } from './hashed-write.js';
import { run } from './process/exec.js';
import { findProgram } from './tls.js';

/** The system tar, by path (an engine's ctx.exec would look for a bare name in its own bin/); `why` says what needs it. */
export function systemTar(why: string): string {
  const found = findProgram('tar');
  if (!found) throw new DbError(`tar is not installed; ${why}.`, 'NOT_INSTALLED', 'Install tar (apt-get install tar; it ships with macOS and Windows 10+).');
  return found;
}

/**
 * A directory's entries archived as tar.gz into a backup file, the archive streamed from tar's
 * stdout through the hash (and, with --encrypt, the seal) as it is written: the core reads
 * nothing back to hash or encrypt it, and with a seal no plain archive is ever on disk.
 */
export function writeTarGz(file: string, source: { tar: string; dir: string; entries: string[] }, seal?: Seal, timeoutMs = 6 * 60 * 60_000): Promise<WrittenDigest> {
  return writeHashed(file, (stdout) => run([source.tar, '-czf', '-', '-C', source.dir, ...source.entries], { stdout, timeoutMs }), seal);
}
