/**
 * Writing a Keras 3 `.keras` archive with new weight values. Every entry except model.weights.h5
 * is copied with its bytes and compression (metadata.json and config.json stay byte-identical, so
 * Keras rebuilds the same model); model.weights.h5 is the original with the weight datasets
 * overwritten in place and the provenance in its root attribute `flatnessLens`, which Keras's
 * loader never looks at. The new archive is moved into place without replacing any file.
 */
import { readFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import type { Checkpoint } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { sourceOfKind, type WriteOptions } from '../checkpointFormat';
import { weightsToWrite } from '../weightsToWrite';
import { readZipEntries, withExtractedFile } from './archive';
import { withH5 } from './h5Layout';
import { loadH5wasm } from './h5wasm';
import { overwriteWeights } from './h5Writer';

export const WEIGHTS_ENTRY = 'model.weights.h5';

/** What a checkpoint read from a .keras file keeps in `source` so it can be written back. */
export interface KerasV3Source {
  readonly kind: 'keras-v3';
  /** The .keras archive whose entries are copied. */
  readonly kerasFile: string;
  /** Weight name → dataset path inside model.weights.h5. */
  readonly kerasDatasetPaths: Readonly<Record<string, string>>;
}

function kerasV3SourceOf(checkpoint: Checkpoint, out: string): KerasV3Source {
  const source = sourceOfKind<KerasV3Source>(checkpoint, 'keras-v3');
  if (source === undefined) throw new FileProblem(out, `checkpoint ${checkpoint.path} was not read from a Keras .keras file; cannot write it as one`);
  return source;
}

export async function writeKerasV3(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]> {
  const out = resolve(outPath);
  // Keras's load_model refuses any other extension.
  if (!/\.keras$/.test(out) || basename(out).length <= '.keras'.length) throw new FileProblem(out, 'a Keras 3 model is written as <name>.keras');
  const source = kerasV3SourceOf(checkpoint, out);
  const weights = weightsToWrite(checkpoint, options.weights, out);
  const entries = await readZipEntries(source.kerasFile);
  const weightsEntry = entries.find((e) => e.name === WEIGHTS_ENTRY);
  if (weightsEntry === undefined) throw new FileProblem(source.kerasFile, `has no ${WEIGHTS_ENTRY}: not a Keras 3 model file`);
  const h5 = await loadH5wasm();
  const newWeights = await withExtractedFile(source.kerasFile, WEIGHTS_ENTRY, weightsEntry.data, async (path) => {
    withH5(h5, path, 'a', (h5file) => overwriteWeights(h5file, weights, source.kerasDatasetPaths, options.metadata, out, `${source.kerasFile} (${WEIGHTS_ENTRY})`));
    return new Uint8Array(await readFile(path));
  });
  const zippable: Zippable = {};
  for (const entry of entries) {
    const data = entry === weightsEntry ? newWeights : entry.data;
    zippable[entry.name] = [data, { level: entry.compression === 0 ? 0 : 6 }];
  }
  await writeNewFilesAtomically([{ path: out, data: zipSync(zippable) }]);
  return [out];
}
