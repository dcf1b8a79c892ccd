import * as crypto from 'node:crypto';
import { hashFileInto } from './sha256';

/** sha256 over the contents of every file of a checkpoint, streamed (never blocks on a large shard). */
export async function contentHash(files: readonly string[]): Promise<string> {
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file.length}:`);
    await hashFileInto(hash, file);
  }
  return hash.digest('hex');
}
