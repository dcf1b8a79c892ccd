import { stat } from 'node:fs/promises';
import * as path from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { gunzipBounded, isGzip } from '../io/boundedGzip';
import { readJobFile } from '../io/jobFiles';

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
    const exists = await stat(candidate).then(
      () => true,
      (error: NodeJS.ErrnoException) => error.code !== 'ENOENT',
    );
    if (!exists) continue;
    const bytes = await readJobFile(candidate, { role: `the ${role} file` });
    return { file: candidate, bytes: isGzip(bytes) ? (await gunzipBounded(candidate, bytes)).bytes : bytes };
  }
  throw new FileProblem(file, `no ${role} file found beside it; looked for ${tried.map((name) => path.basename(name)).join(', ')}`);
}
