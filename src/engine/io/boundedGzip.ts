import { createGunzip } from 'node:zlib';
import { FileProblem } from '../../protocol/errors';
import { formatLimitValue, limits } from '../../protocol/limits';

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export interface GunzipOptions {
  /** Largest decompressed size accepted (default: the decompressedBytes limit). */
  readonly maxBytes?: number;
  /** Called with each decompressed chunk; returning true stops inflating (the rest is not needed). */
  readonly enough?: (chunk: Uint8Array) => boolean;
}

export interface Gunzipped {
  readonly bytes: Uint8Array;
  /** False when `enough` stopped the stream before its end. */
  readonly complete: boolean;
}

/**
 * Inflates gzip data as a stream: it stops as soon as the output passes `maxBytes` (a gzip bomb
 * never fills memory) or `enough` says the caller has what it needs (e.g. the first N CSV rows).
 */
export function gunzipBounded(file: string, compressed: Uint8Array, options: GunzipOptions = {}): Promise<Gunzipped> {
  const maxBytes = options.maxBytes ?? limits.decompressedBytes.value;
  return new Promise((resolve, reject) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const finish = (complete: boolean) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      resolve({ bytes: Buffer.concat(chunks, total), complete });
    };
    const fail = (problem: string) => {
      if (settled) return;
      settled = true;
      gunzip.destroy();
      reject(new FileProblem(file, problem));
    };
    gunzip.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        fail(`gzip data decompresses to more than ${formatLimitValue(maxBytes)} (the limit on ${limits.decompressedBytes.what}); refusing to load it`);
        return;
      }
      chunks.push(chunk);
      if (options.enough?.(chunk)) finish(false);
    });
    gunzip.on('end', () => finish(true));
    gunzip.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'Z_BUF_ERROR') fail('gzip data is truncated (unexpected end of file)');
      else fail(`gzip data is corrupt (${error.message})`);
    });
    gunzip.end(compressed);
  });
}

/** A stop test for `gunzipBounded` that is satisfied once `lines` line breaks have been seen. */
export function enoughLines(lines: number): (chunk: Uint8Array) => boolean {
  let seen = 0;
  return (chunk) => {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x0a && ++seen >= lines) return true;
    return false;
  };
}

/** The bytes up to and including the `lines`-th line break (all of them when there are fewer). */
export function firstLines(bytes: Uint8Array, lines: number): Uint8Array {
  let seen = 0;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a && ++seen >= lines) return bytes.subarray(0, i + 1);
  return bytes;
}
