/**
 * Keras legacy HDF5 checkpoints (`.h5`, `.hdf5`, from `model.save('x.h5')`), read and rewritten with
 * h5wasm (keras/h5wasm.ts). The model_config is the same Keras JSON a TF.js Layers model.json
 * holds, so topologyToModelSpec builds the ModelSpec. See keras/h5Layout.ts for the file layout and
 * what is checked (HDF5 may open only the file itself; sizes are checked before allocating).
 */
import { basename, resolve } from 'node:path';
import { readJobFileIfKept } from '../../io/jobFiles';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { countParameters, readKerasH5Layout, readWeightValues, withH5, type KerasH5Contents } from './h5Layout';
import { loadH5wasm, type H5File } from './h5wasm';
import { withExtractedFile } from './archive';
import { writeKerasH5, type KerasH5Source } from './h5Writer';
import { checkWeightShape } from './weightShapes';
import type { CheckpointFormat, CheckpointSummary } from '../checkpointFormat';
import { learningRateField, trainingLossOf } from '../tfjsLayers/tfjsLayersFormat';
import { topologyToModelSpec } from '../tfjsLayers/topology';
import { isTrainableWeight } from '../tfjsLayers/weights';

export const KERAS_H5_FORMAT_ID = 'keras-h5';

/** The 8-byte HDF5 signature (at offset 0 for files Keras writes; HDF5 allows 512, 1024, … too). */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export const kerasH5Format: CheckpointFormat<KerasH5Source> = {
  id: KERAS_H5_FORMAT_ID,
  displayName: 'Keras HDF5 model (.h5)',
  match: matchKerasH5,
  read: readKerasH5,
  write: writeKerasH5,
  filesWritten: (outPath) => [outPath],
  describe: describeKerasH5,
};

/** `.h5`/`.hdf5` whose first bytes are the HDF5 signature, or any head at all for a too-short file (read says why). */
export function matchKerasH5(fileName: string, head: Uint8Array): boolean {
  if (!/\.(h5|hdf5)$/i.test(fileName)) return false;
  return hasHdf5Signature(head) || head.length < HDF5_SIGNATURE.length;
}

export function hasHdf5Signature(head: Uint8Array): boolean {
  return head.length >= HDF5_SIGNATURE.length && HDF5_SIGNATURE.every((b, i) => head[i] === b);
}

/**
 * Runs `read` on the HDF5 file. h5wasm opens files by path only, so in a job it opens a private
 * copy of the bytes the job keeps (src/engine/io/jobFiles.ts): matching, reading and hashing read
 * the file from the disk once, and all three see the same bytes. A file too large to keep, or one
 * read outside a job, HDF5 reads in place.
 */
async function withKerasH5File<T>(file: string, read: (h5file: H5File) => T): Promise<T> {
  const h5 = await loadH5wasm();
  const bytes = await readJobFileIfKept(file, { role: 'the Keras model' });
  if (bytes === undefined) return withH5(h5, file, 'r', read);
  return withExtractedFile(file, basename(file), bytes, (copy) => withH5(h5, copy, 'r', read, file));
}

async function readContents(file: string): Promise<KerasH5Contents> {
  return withKerasH5File(file, (h5file) => readKerasH5Layout(h5file, file));
}

export async function readKerasH5(path: string): Promise<Checkpoint<KerasH5Source>> {
  const file = resolve(path);
  return withKerasH5File(file, (h5file) => {
    const contents = readKerasH5Layout(h5file, file);
    const checkpoint = checkpointFromContents(contents, file, (w) => readWeightValues(h5file, w, file));
    const source: KerasH5Source = { kind: 'keras-h5', h5File: file, datasetPaths: Object.fromEntries(contents.weights.map((w) => [w.name, w.path])) };
    return { ...checkpoint, source: { ...source } };
  });
}

/** Shared by .h5 and .keras: the ModelSpec from model_config and the weights tied to its layers. */
export function checkpointFromContents(
  contents: KerasH5Contents,
  file: string,
  valuesOf: (weight: KerasH5Contents['weights'][number]) => Float32Array,
  format = KERAS_H5_FORMAT_ID,
): Checkpoint {
  const model = { ...topologyToModelSpec(contents.modelConfig, file), trainingLoss: trainingLossOf(contents.trainingConfig), ...learningRateField(contents.trainingConfig) };
  const nodes = new Map(model.layers.map((layer) => [layer.name, layer]));
  const weights: WeightTensor[] = [];
  const owners = new Map<string, string>();
  const names = new Set<string>();
  for (const stored of contents.weights) {
    const node = nodes.get(stored.layer);
    if (node === undefined) throw new FileProblem(file, `weight '${stored.name}' belongs to layer '${stored.layer}', which is not in model_config`);
    if (names.has(stored.name)) throw new FileProblem(file, `weight name '${stored.name}' occurs twice`);
    names.add(stored.name);
    const key = `${stored.layer}/${stored.role}`;
    const previous = owners.get(key);
    if (previous !== undefined) throw new FileProblem(file, `weights '${previous}' and '${stored.name}' are both the ${stored.role} of layer '${stored.layer}'`);
    owners.set(key, stored.name);
    checkWeightShape(node, stored.name, stored.role, stored.shape, file);
    const values = valuesOf(stored);
    const trainable = isTrainableWeight(stored.role, node.config);
    weights.push({ name: stored.name, layer: stored.layer, role: stored.role, shape: stored.shape, values, trainable });
  }
  const notes: string[] = [];
  const origin = [contents.kerasVersion && `Keras ${contents.kerasVersion}`, contents.backend && `backend ${contents.backend}`].filter(Boolean).join(', ');
  if (origin) notes.push(`saved by ${origin}`);
  const converted = contents.weights.filter((w) => !w.isFloat || w.byteWidth !== 4);
  if (converted.length > 0) notes.push(`${converted.length} weights not stored as float32 were converted to float32 for analysis`);
  return { path: file, format, model, weights, notes, source: { kind: 'none' } };
}

/** Parameter count from dataset shapes; no weight values are read. */
export async function describeKerasH5(path: string): Promise<CheckpointSummary> {
  const file = resolve(path);
  const contents = await readContents(file);
  return { parameters: countParameters(contents), files: [file] };
}
