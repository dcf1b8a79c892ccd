/**
 * Writing a Keras `.h5` with new weight values: the original file is copied to a temporary name
 * beside the target, the weight datasets of the copy are overwritten in place (same dtype and
 * shape, so nothing else in the file moves), a root attribute `flatnessLens` records provenance,
 * and the copy is moved into place without ever replacing an existing file.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { copyFile, lstat, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError } from '../../io/fsErrors';
import { sourceOfKind, type WriteOptions } from '../checkpointFormat';
import { weightsToWrite } from '../weightsToWrite';
import { moveIntoPlaceWithoutOverwriting } from '../../io/atomicWrite';
import { readJobFileIfKept } from '../../io/jobFiles';
import { isDataset, withH5 } from './h5Layout';
import { loadH5wasm, type H5File } from './h5wasm';

/** Root attribute that holds the JSON provenance of a rewritten file. */
export const PROVENANCE_ATTRIBUTE = 'flatnessLens';

/** What a Keras checkpoint keeps in `source` so it can be written back. */
export interface KerasH5Source {
  readonly kind: 'keras-h5';
  /** The .h5 file whose bytes are copied (for .keras, the extracted model.weights.h5 is not written back). */
  readonly h5File: string;
  /** Weight name → dataset path inside the file. */
  readonly datasetPaths: Readonly<Record<string, string>>;
}

export function kerasH5SourceOf(checkpoint: Checkpoint, out: string): KerasH5Source {
  const source = sourceOfKind<KerasH5Source>(checkpoint, 'keras-h5');
  if (source === undefined) throw new FileProblem(out, `checkpoint ${checkpoint.path} was not read from a Keras .h5 file; cannot write it as one`);
  return source;
}

export async function writeKerasH5(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]> {
  const out = resolve(outPath);
  const source = kerasH5SourceOf(checkpoint, out);
  const weights = weightsToWrite(checkpoint, options.weights, out);
  await refuseIfExists(out);
  const h5 = await loadH5wasm();
  const temp = join(dirname(out), `.${basename(out)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    try {
      // The bytes the job read and analyzed, when it keeps them (src/engine/io/jobFiles.ts); else a copy of the file.
      const kept = await readJobFileIfKept(source.h5File, { role: 'the Keras model' });
      if (kept !== undefined) await writeFile(temp, kept, { flag: 'wx', mode: 0o644 });
      else await copyFile(source.h5File, temp, fsConstants.COPYFILE_EXCL);
    } catch (error) {
      if (error instanceof FileProblem) throw error;
      throw new FileProblem(out, `cannot copy ${source.h5File} to a temporary file beside it (${describeFsError(error)})`);
    }
    withH5(h5, temp, 'a', (h5file) => overwriteWeights(h5file, weights, source.datasetPaths, options.metadata, out, source.h5File));
    await moveIntoPlaceWithoutOverwriting(temp, out);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(out, `cannot write it (${describeFsError(error)}); nothing was written`);
  } finally {
    await rm(temp, { force: true }).catch(() => undefined);
  }
  return [out];
}

/**
 * Overwrites each weight's dataset in place (same shape and dtype, so nothing else in the file
 * moves) and sets the root attribute PROVENANCE_ATTRIBUTE to `metadata` as JSON.
 */
export function overwriteWeights(
  h5file: H5File,
  weights: readonly WeightTensor[],
  datasetPaths: Readonly<Record<string, string>>,
  metadata: Record<string, unknown> | undefined,
  out: string,
  sourceName: string,
): void {
  for (const weight of weights) {
    const path = datasetPaths[weight.name];
    const dataset = path === undefined ? undefined : h5file.get(path);
    if (path === undefined || !isDataset(dataset)) throw new FileProblem(out, `weight '${weight.name}' has no dataset in ${sourceName}`);
    const meta = dataset.metadata;
    const shape = meta.shape ?? [];
    if (shape.length !== weight.shape.length || shape.some((d, i) => d !== weight.shape[i])) {
      throw new FileProblem(out, `dataset ${path} has shape [${shape}], the weight has [${weight.shape}]`);
    }
    if (meta.type !== 1 || (meta.size !== 4 && meta.size !== 8) || !meta.littleEndian) {
      throw new FileProblem(out, `dataset ${path} is not little-endian float32/float64 (HDF5 class ${meta.type}, ${meta.size} bytes); Flatness Lens writes only those`);
    }
    const values = meta.size === 8 ? Float64Array.from(weight.values) : weight.values;
    dataset.write_slice(shape.map((d) => [0, d]), values);
  }
  let json: string;
  try {
    json = JSON.stringify(metadata ?? {});
  } catch (error) {
    throw new FileProblem(out, `the metadata cannot be stored as JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (Object.keys(h5file.attrs).includes(PROVENANCE_ATTRIBUTE)) h5file.delete_attribute(PROVENANCE_ATTRIBUTE);
  h5file.create_attribute(PROVENANCE_ATTRIBUTE, json);
}

async function refuseIfExists(target: string): Promise<void> {
  const exists = await lstat(target).then(
    () => true,
    () => false,
  );
  if (exists) throw new FileProblem(target, 'already exists; Flatness Lens never overwrites files');
}

