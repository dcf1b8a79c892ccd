import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { FileProblem } from '../shared/errors';
import { gunzipFile, isGzip } from './gzip';

/**
 * Reads the first of `candidates` that exists (each also tried with and without `.gz`), gunzipping
 * it if needed. Used for labels kept in a separate file (IDX, .npy).
 */
export async function readCompanionFile(
  file: string,
  candidates: readonly string[],
  role: string,
): Promise<{ file: string; bytes: Uint8Array }> {
  const tried = [...new Set(candidates.flatMap((name) => [name, /\.gz$/i.test(name) ? name.slice(0, -3) : `${name}.gz`]))]
    .filter((name) => path.resolve(name) !== path.resolve(file));
  for (const candidate of tried) {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(candidate);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new FileProblem(candidate, `cannot read the ${role} file: ${(error as Error).message}`);
    }
    return { file: candidate, bytes: isGzip(bytes) ? await gunzipFile(candidate, bytes) : bytes };
  }
  throw new FileProblem(file, `no ${role} file found beside it; looked for ${tried.map((name) => path.basename(name)).join(', ')}`);
}
