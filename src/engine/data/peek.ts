import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import type { Shape } from '../model/spec';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { gunzipBounded, isGzip } from '../io/boundedGzip';
import { readJobFileHead } from '../io/jobFiles';
import { requireRegularFile } from '../io/regularFile';
import { dataFormatOf } from './load';

/** How much of a data file a peek reads: enough for every header and some rows of text. */
export const PEEK_BYTES = 64 * 1024;
/** A gzipped head may inflate to this much before the peek gives up on it. */
const PEEK_INFLATED_BYTES = 16 * 1024 * 1024;

export interface DataPeek {
  /** The data format that would read the file. */
  readonly format: string;
  /** Shape of one input sample; undefined when the first bytes cannot tell (an .npz or a large .json). */
  readonly sampleShape?: Shape;
}

/**
 * A quick look at a data file without loading it: its format and, where the first `PEEK_BYTES`
 * tell, the shape of one sample. A file no larger than that is read in full by its format's
 * reader, so every problem the loader would find is found. Throws a FileProblem naming the file
 * and what is wrong when the file cannot be a data set.
 */
export async function peekDataset(file: string, options: LoadDatasetOptions = {}): Promise<DataPeek> {
  const size = await requireRegularFile(file, 'the data file');
  const complete = size <= PEEK_BYTES;
  let head = await readJobFileHead(file, PEEK_BYTES, { role: 'the data file', wholeFileFollows: complete });
  if (isGzip(head)) {
    if (complete) head = (await gunzipBounded(file, head)).bytes;
    else {
      const inflated = inflatedHead(head);
      if (!inflated) return { format: 'gzip' };
      head = inflated;
    }
  }
  const format = dataFormatOf(file, head);
  if (complete) return { format: format.id, sampleShape: (await format.read(file, head, options)).sampleShape };
  return { format: format.id, sampleShape: format.peekSampleShape?.(file, head, options) };
}

/** The start of a gzip stream that is cut off, or undefined when even that does not inflate within bounds. */
function inflatedHead(compressed: Uint8Array): Uint8Array | undefined {
  try {
    return gunzipSync(compressed, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: PEEK_INFLATED_BYTES });
  } catch {
    return undefined;
  }
}
