import { gunzip } from 'node:zlib';
import { constants as bufferConstants } from 'node:buffer';
import { promisify } from 'node:util';
import { FileProblem } from '../shared/errors';

const gunzipAsync = promisify(gunzip);

/** Largest decompressed size we accept; a gzip stream that inflates past it is refused, not buffered. */
export const MAX_DECOMPRESSED_BYTES = Math.min(4 * 1024 ** 3, bufferConstants.MAX_LENGTH);

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export async function gunzipFile(file: string, bytes: Uint8Array): Promise<Uint8Array> {
  try {
    return await gunzipAsync(bytes, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FileProblem(file, `gzip data decompresses to more than ${MAX_DECOMPRESSED_BYTES} bytes; refusing to load it`);
    }
    if (code === 'Z_BUF_ERROR') throw new FileProblem(file, 'gzip data is truncated (unexpected end of file)');
    throw new FileProblem(file, `gzip data is corrupt (${(error as Error).message})`);
  }
}
