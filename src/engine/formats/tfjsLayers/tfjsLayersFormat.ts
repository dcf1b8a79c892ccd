/**
 * TF.js Layers format: a `model.json` (Keras topology + weights manifest) and binary weight shards.
 * Read with plain fs; the manifest's sizes, dtypes and shard lengths are checked against each other
 * before any weight is decoded.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { sizeOf } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError } from '../../io/fsErrors';
import { isJsonObject } from '../../io/jsonValues';
import type { CheckpointFormat, CheckpointSummary } from '../checkpointFormat';
import { TFJS_LAYERS_FORMAT_ID, parseModelJson, storedBytesPerValue, type ParsedModelJson, type TfjsLayersSource } from './modelJson';
import { checkGroupShards, readGroupBytes } from './shards';
import { topologyToModelSpec } from './topology';
import { decodeWeightValues, isTrainableWeight, ownerOfWeight } from './weights';
import { writeTfjsLayers } from './writer';
import { readJobTextFile } from '../../io/jobFiles';

export const tfjsLayersFormat: CheckpointFormat<TfjsLayersSource> = {
  id: TFJS_LAYERS_FORMAT_ID,
  displayName: 'TF.js Layers model (model.json + .bin weight shards)',
  match: matchTfjsLayers,
  read: readTfjsLayers,
  write: writeTfjsLayers,
  filesWritten: (outPath) => [outPath, outPath.replace(/\.json$/i, '') + '.weights.bin'],
  describe: describeTfjsLayers,
};

/** model.json holds the topology and manifest only (weights are in the shards): a few MB at most. */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

async function readModelJson(file: string): Promise<ParsedModelJson> {
  let text: string;
  try {
    const { size } = await stat(file);
    if (size > MAX_MODEL_JSON_BYTES) {
      throw new FileProblem(file, `is ${size} bytes, more than the ${MAX_MODEL_JSON_BYTES}-byte limit for a model.json (which holds no weights); refusing to read it`);
    }
    text = await readJobTextFile(file, { role: 'the model.json' });
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  return parseModelJson(text, file);
}

/** Parameter count from the manifest, and the shard files with the same path and size checks as read(). */
export async function describeTfjsLayers(path: string): Promise<CheckpointSummary> {
  const file = resolve(path);
  const parsed = await readModelJson(file);
  const modelDir = await realpath(dirname(file));
  const files: string[] = [file];
  let parameters = 0;
  for (const [g, group] of parsed.manifest.entries()) {
    files.push(...(await checkGroupShards(group, g, modelDir, file)).shardPaths);
    for (const entry of group.weights) if (entry.group !== 'optimizer') parameters += sizeOf(entry.shape);
  }
  return { parameters, files };
}

/**
 * `weightsManifest` usually follows the whole topology, beyond the head, so only `modelTopology`
 * is required here; a file without a manifest gets a clear error from read(). TF.js graph models
 * match too, so that reading one says why it cannot be analyzed (it has no layers to rebuild).
 */
export function matchTfjsLayers(fileName: string, head: Uint8Array): boolean {
  if (!fileName.toLowerCase().endsWith('.json')) return false;
  return new TextDecoder('utf-8', { fatal: false }).decode(head).includes('"modelTopology"');
}

export async function readTfjsLayers(path: string): Promise<Checkpoint<TfjsLayersSource>> {
  const file = resolve(path);
  const parsed = await readModelJson(file);
  const model = { ...topologyToModelSpec(parsed.modelConfig, file), trainingLoss: trainingLossOf(parsed.trainingConfig), ...learningRateField(parsed.trainingConfig) };
  const layerConfigs = new Map(model.layers.map((layer) => [layer.name, layer.config]));
  const layerNames = new Set(layerConfigs.keys());
  const modelDir = await realpath(dirname(file));

  const weights: WeightTensor[] = [];
  const ownerOf = new Map<string, string>();
  const quantizedDtypes = new Set<string>();
  let optimizerWeights = 0;
  for (const [g, group] of parsed.manifest.entries()) {
    const bytes = await readGroupBytes(group, g, modelDir, file);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let offset = 0;
    for (const entry of group.weights) {
      const values = decodeWeightValues(entry, view, offset, file);
      offset += sizeOf(entry.shape) * storedBytesPerValue(entry);
      if (entry.group === 'optimizer') {
        optimizerWeights++;
        continue;
      }
      if (entry.quantization !== undefined) quantizedDtypes.add(entry.quantization.dtype);
      const { layer, role } = ownerOfWeight(entry.name, layerNames, file);
      const key = `${layer}/${role}`;
      const previous = ownerOf.get(key);
      if (previous !== undefined) throw new FileProblem(file, `weights '${previous}' and '${entry.name}' are both the ${role} of layer '${layer}'`);
      ownerOf.set(key, entry.name);
      const trainable = isTrainableWeight(role, layerConfigs.get(layer) ?? {});
      weights.push({ name: entry.name, layer, role, shape: entry.shape, values, trainable });
    }
  }

  const notes: string[] = [];
  if (quantizedDtypes.size > 0) {
    notes.push(`weights were ${[...quantizedDtypes].join('/')}-quantized; dequantized; a rewritten file will store float32`);
  }
  if (optimizerWeights > 0) notes.push(`${optimizerWeights} optimizer weights were skipped; a rewritten file will not include them`);
  return { path: file, format: TFJS_LAYERS_FORMAT_ID, model, weights, notes, source: { kind: 'tfjs-layers', modelJson: parsed.raw } };
}

/**
 * The loss name in a Keras training config: a string, a serialized Keras 3 loss object, or a
 * per-output dict/list with exactly one entry. Anything else (several losses) → undefined.
 */
export function trainingLossOf(trainingConfig: unknown): string | undefined {
  if (!isJsonObject(trainingConfig)) return undefined;
  return lossName(trainingConfig.loss);
}

/**
 * The learning rate in a Keras training config (`optimizer_config.config.learning_rate`, or `lr` in
 * old files) when it is a plain positive number; a schedule (an object) gives none.
 */
export function learningRateField(trainingConfig: unknown): { trainingLearningRate?: number } {
  if (!isJsonObject(trainingConfig) || !isJsonObject(trainingConfig.optimizer_config)) return {};
  const config = trainingConfig.optimizer_config.config;
  if (!isJsonObject(config)) return {};
  const rate = config.learning_rate ?? config.lr;
  return typeof rate === 'number' && Number.isFinite(rate) && rate > 0 ? { trainingLearningRate: rate } : {};
}

function lossName(loss: unknown): string | undefined {
  if (typeof loss === 'string') return loss;
  if (Array.isArray(loss)) return loss.length === 1 ? lossName(loss[0]) : undefined;
  if (!isJsonObject(loss)) return undefined;
  if (typeof loss.class_name === 'string' && isJsonObject(loss.config)) {
    return typeof loss.config.name === 'string' ? loss.config.name : loss.class_name;
  }
  const values = Object.values(loss);
  return values.length === 1 ? lossName(values[0]) : undefined;
}
