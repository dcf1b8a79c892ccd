import * as crypto from 'node:crypto';
import { hashJobFileInto } from './jobFiles';

/**
 * sha256 over the contents of every file of a checkpoint (each preceded by its path's length),
 * from the bytes the job read already where it kept them, else streamed (never blocks on a large shard).
 */
export async function contentHash(files: readonly string[]): Promise<string> {
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file.length}:`);
    await hashJobFileInto(hash, file);
  }
  return hash.digest('hex');
}
