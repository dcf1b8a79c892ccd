import * as crypto from 'node:crypto';
import * as fs from 'node:fs';

/** Feeds a file's bytes to a hash, streamed: a large file never blocks the event loop or fills memory. */
export async function hashFileInto(hash: crypto.Hash, file: string): Promise<void> {
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
}

