/**
 * The Keras 2 legacy HDF5 layout (keras/saving/legacy/hdf5_format.py), read through h5wasm:
 *   root attrs   model_config, training_config (JSON), keras_version, backend
 *   model_weights/            attr layer_names (or layer_names0, layer_names1, … when over 64 KB)
 *   model_weights/<layer>/    attr weight_names, e.g. `dense/kernel:0`
 *   model_weights/<layer>/<weight_name>   the dataset
 * Group keys come back sorted, so order is taken from layer_names / weight_names only.
 */
import { statSync } from 'node:fs';
import { basename } from 'node:path';
import type { Shape } from '../../model/spec';
import { FileProblem, ModelProblem } from '../../../protocol/errors';
import { MAX_JSON_NESTING, isJsonObject, nestsDeeperThan, type JsonObject } from '../../io/jsonValues';
import { halfToFloat } from '../../data/halfFloat';
import { confinedTo, describeH5Error, type H5Dataset, type H5File, type H5Group, type H5wasm } from './h5wasm';

/** HDF5 datatype class numbers (H5T_class_t) that h5wasm reports in `metadata.type`. */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;

export interface KerasH5Weight {
  /** Stored weight name, e.g. `dense/kernel:0`. */
  readonly name: string;
  /** Owning layer (the group under model_weights). */
  readonly layer: string;
  /** Last path segment without `:0`, e.g. `kernel`. */
  readonly role: string;
  /** Dataset path inside the file, e.g. `model_weights/dense/dense/kernel:0`. */
  readonly path: string;
  readonly shape: Shape;
  /** Bytes per stored value (2, 4 or 8 for floats). */
  readonly byteWidth: number;
  readonly isFloat: boolean;
}

export interface KerasH5Contents {
  readonly modelConfig: JsonObject;
  readonly trainingConfig: unknown;
  readonly kerasVersion?: string;
  readonly backend?: string;
  /** Weights in layer_names × weight_names order. */
  readonly weights: readonly KerasH5Weight[];
}

/** Opens `file` read-only or read-write; HDF5's complaints become a FileProblem naming the file. */
export function openH5(h5: H5wasm, path: string, mode: 'r' | 'a', file = path): H5File {
  try {
    return new h5.File(path, mode);
  } catch (error) {
    throw new FileProblem(file, `cannot open it as an HDF5 file (${describeH5Error(error)})`);
  }
}

/**
 * Runs `read` on the open file at `path`, which may not pull data from other files; library
 * exceptions become FileProblems naming `file` (the user's file when `path` is a private copy of
 * it); the file is always closed.
 */
export function withH5<T>(h5: H5wasm, path: string, mode: 'r' | 'a', read: (h5file: H5File) => T, file = path): T {
  return confinedTo(h5, path, (refused) => {
    const otherFile = () =>
      new FileProblem(
        file,
        `refers to another file ('${refused[0]}') through an HDF5 external link, external data file or virtual dataset; ` +
          'Flatness Lens reads a model only from the file itself',
      );
    const h5file = openH5(h5, path, mode, file);
    try {
      const result = read(h5file);
      if (refused.length > 0) throw otherFile();
      return result;
    } catch (error) {
      if (refused.length > 0) throw otherFile();
      if (error instanceof FileProblem || error instanceof ModelProblem || !(error instanceof Error)) throw error;
      throw new FileProblem(file, `HDF5 error (${describeH5Error(error)}); the file may be damaged`);
    } finally {
      try {
        h5file.close();
      } catch {
        // Closing a file that failed half-way can fail too; the first error is the one to report.
      }
    }
  });
}

export function readKerasH5Layout(h5file: H5File, file: string): KerasH5Contents {
  const attrNames = Object.keys(h5file.attrs);
  if (!attrNames.includes('model_config')) {
    const weightsOnly = attrNames.includes('layer_names') || attrNames.some((n) => /^layer_names\d+$/.test(n));
    throw new FileProblem(
      file,
      weightsOnly
        ? 'is a Keras weights-only file (save_weights): it has no model_config, so there is no architecture to analyze; save the whole model with model.save()'
        : 'is an HDF5 file but not a Keras model: it has no root attribute model_config',
    );
  }
  const modelConfig = parseJsonAttribute(h5file, 'model_config', file);
  if (!isJsonObject(modelConfig)) throw new FileProblem(file, 'root attribute model_config is not a JSON object');
  const trainingConfig = attrNames.includes('training_config') ? parseJsonAttribute(h5file, 'training_config', file) : undefined;

  const weightsRoot = h5file.get('model_weights');
  if (!isGroup(weightsRoot)) throw new FileProblem(file, 'has a model_config but no model_weights group');
  const weights: KerasH5Weight[] = [];
  const room = storageRoom(h5file);
  for (const layer of stringListAttribute(weightsRoot, 'layer_names', 'model_weights', file)) {
    const layerGroup = weightsRoot.get(layer);
    if (!isGroup(layerGroup)) throw new FileProblem(file, `model_weights/layer_names lists '${layer}', but there is no group model_weights/${layer}`);
    for (const name of stringListAttribute(layerGroup, 'weight_names', `model_weights/${layer}`, file)) {
      const path = `model_weights/${layer}/${name}`;
      const dataset = layerGroup.get(name);
      if (!isDataset(dataset)) throw new FileProblem(file, `model_weights/${layer} lists weight '${name}', but there is no dataset ${path}`);
      const meta = dataset.metadata;
      const isFloat = meta.type === H5T_FLOAT;
      if (!isFloat && meta.type !== H5T_INTEGER) throw new FileProblem(file, `weight '${name}' (${path}) is not numeric (HDF5 type class ${meta.type})`);
      checkDeclaredSize(dataset, path, room, file);
      const segments = name.split('/');
      const role = segments[segments.length - 1].replace(/:\d+$/, '');
      weights.push({ name, layer, role, path, shape: meta.shape ?? [], byteWidth: meta.size, isFloat });
    }
  }
  return {
    modelConfig,
    trainingConfig,
    kerasVersion: optionalStringAttribute(h5file, 'keras_version'),
    backend: optionalStringAttribute(h5file, 'backend'),
    weights,
  };
}

/** Deflate, HDF5's usual filter, compresses at most about 1032:1. */
const MAX_FILTER_RATIO = 1032;

/** The name and size of the HDF5 file itself, for checkDeclaredSize. */
export interface StorageRoom {
  readonly name: string;
  readonly bytes: number;
}

export function storageRoom(h5file: H5File): StorageRoom {
  return { name: basename(h5file.filename), bytes: statSync(h5file.filename).size };
}

/**
 * Refuses a dataset that declares more values than the file could hold, even compressed, before
 * h5wasm allocates them: chunks never written read as fill values, so a few bytes of header can
 * declare gigabytes.
 */
export function checkDeclaredSize(dataset: H5Dataset, path: string, room: StorageRoom, file: string): void {
  const meta = dataset.metadata;
  const shape = meta.shape ?? [];
  const bytes = shape.reduce((n, d) => n * d, 1) * meta.size;
  const filtered = dataset.filters.length > 0;
  if (bytes > room.bytes * (filtered ? MAX_FILTER_RATIO : 1)) {
    throw new FileProblem(
      file,
      `dataset ${path} declares shape [${shape.join(', ')}] (${bytes} bytes), more than ${room.name} (${room.bytes} bytes) can hold${filtered ? ' even compressed' : ''}; refusing to read it`,
    );
  }
}

/** The dataset's values as float32 (non-finite values are refused for every format in registry.ts). */
export function readWeightValues(h5file: H5File, weight: KerasH5Weight, file: string): Float32Array {
  const dataset = h5file.get(weight.path);
  if (!isDataset(dataset)) throw new FileProblem(file, `dataset ${weight.path} disappeared while reading`);
  const raw = dataset.value;
  let values: Float32Array;
  if (weight.isFloat && weight.byteWidth === 2 && raw instanceof Uint16Array) values = Float32Array.from(raw, halfToFloat);
  else if (ArrayBuffer.isView(raw) && !(raw instanceof DataView) && !(raw instanceof BigInt64Array) && !(raw instanceof BigUint64Array)) {
    values = Float32Array.from(raw as ArrayLike<number>);
  } else if (typeof raw === 'number') values = Float32Array.of(raw);
  else throw new FileProblem(file, `weight '${weight.name}' (${weight.path}) has values h5wasm cannot decode as numbers`);
  const expected = weight.shape.reduce((n, d) => n * d, 1);
  if (values.length !== expected) throw new FileProblem(file, `weight '${weight.name}' has ${values.length} values, its shape [${weight.shape}] needs ${expected}`);
  return values;
}

export function isGroup(value: unknown): value is H5Group {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Group';
}

export function isDataset(value: unknown): value is H5Dataset {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'Dataset';
}

/** A string attribute (variable or fixed length, str or bytes), trailing NULs stripped. */
function stringAttribute(owner: H5Group, name: string, where: string, file: string): string {
  const value = owner.get_attribute(name, true);
  const text = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (typeof text !== 'string') throw new FileProblem(file, `attribute ${name} of ${where} is not a string`);
  return text.replace(/\0+$/, '');
}

function optionalStringAttribute(owner: H5Group, name: string): string | undefined {
  if (!Object.keys(owner.attrs).includes(name)) return undefined;
  const value = owner.get_attribute(name, true);
  return typeof value === 'string' ? value.replace(/\0+$/, '') : undefined;
}

function parseJsonAttribute(owner: H5Group, name: string, file: string): unknown {
  const text = stringAttribute(owner, name, 'the root group', file);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FileProblem(file, `root attribute ${name} is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (nestsDeeperThan(value, MAX_JSON_NESTING)) throw new FileProblem(file, `root attribute ${name} nests lists and objects more than ${MAX_JSON_NESTING} levels deep; a Keras config needs far fewer`);
  return value;
}

/**
 * A list-of-strings attribute, possibly split by Keras into `name0`, `name1`, … because HDF5 limits
 * an attribute's header to 64 KB. An empty list is stored as an empty float array.
 */
function stringListAttribute(owner: H5Group, name: string, where: string, file: string): string[] {
  const present = Object.keys(owner.attrs);
  const parts: string[] = [];
  if (present.includes(name)) parts.push(name);
  else for (let i = 0; present.includes(`${name}${i}`); i++) parts.push(`${name}${i}`);
  if (parts.length === 0) throw new FileProblem(file, `${where} has no attribute ${name}`);
  const list: string[] = [];
  for (const part of parts) {
    const value = owner.get_attribute(part, true);
    const items: unknown[] = Array.isArray(value) ? flattenList(value) : [value];
    for (const item of items) {
      if (typeof item !== 'string') {
        // Keras writes an empty list as np.asarray([]), a float array of length 0.
        throw new FileProblem(file, `attribute ${part} of ${where} holds ${typeof item}s, expected strings`);
      }
      list.push(item.replace(/\0+$/, ''));
    }
  }
  if (new Set(list).size !== list.length) throw new FileProblem(file, `attribute ${name} of ${where} lists a name twice`);
  return list;
}

function flattenList(value: readonly unknown[]): unknown[] {
  return value.flatMap((item) => (Array.isArray(item) ? flattenList(item) : [item]));
}

/** Parameter count from dataset shapes, without reading values. */
export function countParameters(contents: KerasH5Contents): number {
  return contents.weights.reduce((n, w) => n + w.shape.reduce((m, d) => m * d, 1), 0);
}

export type { H5File };
