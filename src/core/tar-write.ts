import { writeHashed, type Seal, type WrittenDigest } from './hashed-write.js';
import { run } from './process/exec.js';

/**
 * A directory's entries archived as tar.gz into a backup file, the archive streamed from tar's
 * stdout through the hash (and, with --encrypt, the seal) as it is written: the core reads
 * nothing back to hash or encrypt it, and with a seal no plain archive is ever on disk.
 */
export function writeTarGz(file: string, source: { tar: string; dir: string; entries: string[] }, seal?: Seal, timeoutMs = 6 * 60 * 60_000): Promise<WrittenDigest> {
  return writeHashed(file, (stdout) => run([source.tar, '-czf', '-', '-C', source.dir, ...source.entries], { stdout, timeoutMs }), seal);
}
