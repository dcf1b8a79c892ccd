/** Writes a checkpoint read from a TF.js Layers model.json back as `<name>.json` + `<name>.weights.bin`. */
import { basename, dirname, join, resolve } from 'node:path';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { weightsToWrite } from '../weightsToWrite';
import { isJsonObject } from '../../io/jsonValues';
import type { JsonObject } from '../../io/jsonValues';
import { sourceOfKind, type WriteOptions } from '../checkpointFormat';
import type { TfjsLayersSource } from './modelJson';
import { layersModelJsonFor } from './topologyWriter';
import { toolVersion } from '../../../protocol/version';

/** Top-level key of model.json where we store provenance; tfjs ignores unknown keys. */
export const PROVENANCE_KEY = 'flatnessLens';

/**
 * Same topology and other fields as the source file; one float32 shard (quantization is dropped,
 * because re-quantizing changed weights would change the function); `options.metadata` under
 * PROVENANCE_KEY. Returns [json, shard].
 */
export async function writeTfjsLayers(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]> {
  const out = resolve(outPath);
  if (!out.toLowerCase().endsWith('.json') || basename(out).length <= '.json'.length) {
    throw new FileProblem(out, 'a TF.js Layers model is written as <name>.json (with <name>.weights.bin beside it)');
  }
  const readFromLayersJson = sourceOfKind<TfjsLayersSource>(checkpoint, 'tfjs-layers')?.modelJson;
  const sourceJson = readFromLayersJson ?? layersModelJsonFor(checkpoint.model, `flatness-lens ${toolVersion}`);
  const weights = weightsToWrite(checkpoint, options.weights, out);
  const shardName = `${basename(out).slice(0, -'.json'.length)}.weights.bin`;
  const shardPath = join(dirname(out), shardName);

  const modelJson: JsonObject = {
    ...sourceJson,
    weightsManifest: [{ paths: [encodeURIComponent(shardName)], weights: weights.map((w) => ({ name: readFromLayersJson ? w.name : `${w.layer}/${w.role}`, shape: [...w.shape], dtype: 'float32' })) }],
  };
  delete modelJson[PROVENANCE_KEY];
  const droppedQuantization = sourceWasQuantized(sourceJson);
  if (options.metadata !== undefined || droppedQuantization) {
    const note = droppedQuantization ? { writerNote: 'the source weights were quantized; they are stored here dequantized, as float32' } : {};
    modelJson[PROVENANCE_KEY] = { ...options.metadata, ...note };
  }
  let text: string;
  try {
    text = JSON.stringify(modelJson);
  } catch (error) {
    throw new FileProblem(out, `the metadata cannot be stored as JSON (${error instanceof Error ? error.message : String(error)})`);
  }

  await writeNewFilesAtomically([
    { path: shardPath, data: float32Bytes(weights) },
    { path: out, data: text },
  ]);
  return [out, shardPath];
}


function float32Bytes(weights: readonly WeightTensor[]): Uint8Array {
  const bytes = new Uint8Array(weights.reduce((total, w) => total + 4 * w.values.length, 0));
  const view = new DataView(bytes.buffer);
  let offset = 0;
  for (const w of weights) {
    for (const v of w.values) {
      view.setFloat32(offset, v, true);
      offset += 4;
    }
  }
  return bytes;
}

function sourceWasQuantized(sourceJson: JsonObject): boolean {
  const manifest = sourceJson.weightsManifest;
  if (!Array.isArray(manifest)) return false;
  return manifest.some(
    (group: unknown) => isJsonObject(group) && Array.isArray(group.weights) && group.weights.some((w: unknown) => isJsonObject(w) && w.quantization !== undefined),
  );
}
