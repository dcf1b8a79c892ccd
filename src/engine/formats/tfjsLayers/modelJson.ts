/**
 * The on-disk shape of a TF.js Layers `model.json` and its validation. Weight bytes live in
 * shards.ts, the topology in topology.ts.
 */
import { FileProblem } from '../../../protocol/errors';
import { MAX_JSON_NESTING, describeJson, isJsonObject, nestsDeeperThan } from '../../io/jsonValues';
import type { JsonObject } from '../../io/jsonValues';
import { limits } from '../../../protocol/limits';

export const TFJS_LAYERS_FORMAT_ID = 'tfjs-layers';

/** What `read` keeps for the writer: the model.json as read, so a rewrite keeps every field. */
export interface TfjsLayersSource {
  readonly kind: 'tfjs-layers';
  readonly modelJson: JsonObject;
}

export type QuantizedDtype = 'uint8' | 'uint16' | 'float16';
export type StoredDtype = 'float32' | 'int32';

export interface TfjsQuantization {
  readonly dtype: QuantizedDtype;
  /** Present (and finite) for uint8/uint16: value = q * scale + min. */
  readonly scale?: number;
  readonly min?: number;
}

export interface TfjsWeightEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: StoredDtype;
  readonly quantization?: TfjsQuantization;
  /** `optimizer` marks optimizer state saved with the model; absent or `model` otherwise. */
  readonly group?: string;
}

export interface TfjsWeightsGroup {
  readonly paths: readonly string[];
  readonly weights: readonly TfjsWeightEntry[];
}

export interface ParsedModelJson {
  /** The whole parsed file, kept so a writer can reproduce every field. */
  readonly raw: JsonObject;
  /** The Keras model config: `{class_name, config}`. */
  readonly modelConfig: JsonObject;
  /** `training_config` (converter layout) or top-level `trainingConfig` (tfjs save layout). */
  readonly trainingConfig: unknown;
  readonly manifest: readonly TfjsWeightsGroup[];
}

const BYTES_PER_VALUE: Readonly<Record<StoredDtype | QuantizedDtype, number>> = {
  float32: 4,
  int32: 4,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes one value of the weight takes in its shard. */
export function storedBytesPerValue(entry: TfjsWeightEntry): number {
  return BYTES_PER_VALUE[entry.quantization?.dtype ?? entry.dtype];
}

export function parseModelJson(text: string, file: string): ParsedModelJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new FileProblem(file, `is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isJsonObject(raw)) throw new FileProblem(file, `expected a JSON object at the top level, found ${describeJson(raw)}`);
  if (nestsDeeperThan(raw, MAX_JSON_NESTING)) throw new FileProblem(file, `nests lists and objects more than ${MAX_JSON_NESTING} levels deep; a model.json needs far fewer`);

  const format = raw.format;
  if (format === 'graph-model') {
    throw new FileProblem(file, 'is a TF.js graph model ("format": "graph-model"); graph models have no layers to rebuild, so Flatness Lens reads only Layers models');
  }
  if (format !== undefined && format !== 'layers-model') {
    throw new FileProblem(file, `unknown "format" ${describeJson(format)}; expected "layers-model"`);
  }

  const topology = raw.modelTopology;
  if (!isJsonObject(topology)) throw new FileProblem(file, `"modelTopology" should be an object, found ${describeJson(topology)}`);
  let modelConfig: unknown = topology;
  let trainingConfig: unknown = raw.trainingConfig;
  if (!('class_name' in topology) && 'model_config' in topology) {
    modelConfig = topology.model_config;
    trainingConfig = topology.training_config ?? trainingConfig;
  }
  if (!isJsonObject(modelConfig) || typeof modelConfig.class_name !== 'string') {
    throw new FileProblem(file, '"modelTopology" has neither a "class_name" nor a "model_config" with one');
  }

  return { raw, modelConfig, trainingConfig, manifest: parseManifest(raw.weightsManifest, file) };
}

function parseManifest(value: unknown, file: string): TfjsWeightsGroup[] {
  if (!Array.isArray(value)) throw new FileProblem(file, `"weightsManifest" should be a list of groups, found ${describeJson(value)}`);
  const shards = value.reduce((n: number, group: unknown) => n + (isJsonObject(group) && Array.isArray(group.paths) ? group.paths.length : 0), 0);
  if (shards > limits.shardCount.value) throw new FileProblem(file, `"weightsManifest" lists ${shards} shard files, more than the limit of ${limits.shardCount.value} (${limits.shardCount.what})`);
  const seenNames = new Set<string>();
  return value.map((group: unknown, g) => {
    const where = `weightsManifest[${g}]`;
    if (!isJsonObject(group)) throw new FileProblem(file, `${where} should be an object, found ${describeJson(group)}`);
    const { paths, weights } = group;
    if (!Array.isArray(paths) || !paths.every((p): p is string => typeof p === 'string')) {
      throw new FileProblem(file, `${where}.paths should be a list of file names, found ${describeJson(paths)}`);
    }
    if (!Array.isArray(weights)) throw new FileProblem(file, `${where}.weights should be a list, found ${describeJson(weights)}`);
    const entries = weights.map((w: unknown, i) => parseWeightEntry(w, `${where}.weights[${i}]`, file));
    for (const entry of entries) {
      if (seenNames.has(entry.name)) throw new FileProblem(file, `weight name '${entry.name}' appears more than once in weightsManifest`);
      seenNames.add(entry.name);
    }
    return { paths, weights: entries };
  });
}

function parseWeightEntry(value: unknown, where: string, file: string): TfjsWeightEntry {
  if (!isJsonObject(value)) throw new FileProblem(file, `${where} should be an object, found ${describeJson(value)}`);
  const { name, shape, dtype, quantization, group } = value;
  if (typeof name !== 'string' || name === '') throw new FileProblem(file, `${where} has no name`);
  const label = `weight '${name}'`;
  if (!Array.isArray(shape)) throw new FileProblem(file, `${label}: shape should be a list, found ${describeJson(shape)}`);
  let numel = 1;
  for (const dim of shape) {
    if (typeof dim !== 'number' || !Number.isSafeInteger(dim) || dim < 0) {
      throw new FileProblem(file, `${label}: shape ${JSON.stringify(shape)} has ${describeJson(dim)}; dimensions must be non-negative integers`);
    }
    numel *= dim;
  }
  if (!Number.isSafeInteger(numel)) throw new FileProblem(file, `${label}: shape ${JSON.stringify(shape)} is too large`);
  if (dtype !== 'float32' && dtype !== 'int32') {
    throw new FileProblem(file, `${label}: dtype ${describeJson(dtype)} is not supported (float32 or int32, optionally quantized)`);
  }
  if (group !== undefined && typeof group !== 'string') throw new FileProblem(file, `${label}: group should be a string`);
  const entry: TfjsWeightEntry = { name, shape: shape as number[], dtype, ...(group === undefined ? {} : { group }) };
  if (quantization === undefined) return entry;
  return { ...entry, quantization: parseQuantization(quantization, label, dtype, file) };
}

function parseQuantization(value: unknown, label: string, dtype: StoredDtype, file: string): TfjsQuantization {
  if (!isJsonObject(value)) throw new FileProblem(file, `${label}: quantization should be an object, found ${describeJson(value)}`);
  const { dtype: quantizedDtype, scale, min } = value;
  if (quantizedDtype === 'float16') {
    if (dtype !== 'float32') throw new FileProblem(file, `${label}: float16 quantization needs dtype float32, found ${dtype}`);
    return { dtype: quantizedDtype };
  }
  if (quantizedDtype !== 'uint8' && quantizedDtype !== 'uint16') {
    throw new FileProblem(file, `${label}: quantization dtype ${describeJson(quantizedDtype)} is not supported (uint8, uint16 or float16)`);
  }
  if (typeof scale !== 'number' || !Number.isFinite(scale) || typeof min !== 'number' || !Number.isFinite(min)) {
    throw new FileProblem(file, `${label}: ${quantizedDtype} quantization needs finite "scale" and "min", found scale ${describeJson(scale)}, min ${describeJson(min)}`);
  }
  return { dtype: quantizedDtype, scale, min };
}
