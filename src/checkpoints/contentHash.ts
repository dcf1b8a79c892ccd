import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** sha256 over the contents of every file of a checkpoint, streamed (never blocks on a large shard). */
export async function contentHash(files: readonly string[]): Promise<string> {
  const hash = crypto.createHash('sha256');
  for (const file of files) {
    hash.update(`${file.length}:`);
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}
