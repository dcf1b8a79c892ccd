/**
 * Keras 3 `.keras` model files: a zip (read with fflate) of config.json and model.weights.h5; see
 * kerasV3Layout.ts for the layout and kerasV3Writer.ts for writing a rescaled copy. The
 * weights file is extracted to a private temporary file for h5wasm, which reads host files only.
 */
import { resolve } from 'node:path';
import type { Checkpoint } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { MAX_JSON_NESTING, isJsonObject, nestsDeeperThan } from '../../io/jsonValues';
import { checkpointFromContents } from './kerasH5Format';
import { countParameters, readWeightValues, withH5, type KerasH5Contents } from './h5Layout';
import { loadH5wasm } from './h5wasm';
import { readZipEntries, withExtractedFile } from './archive';
import { kerasV3Config, kerasV3Weights } from './kerasV3Layout';
import { WEIGHTS_ENTRY, writeKerasV3, type KerasV3Source } from './kerasV3Writer';
import type { CheckpointFormat, CheckpointSummary } from '../checkpointFormat';
import { topologyToModelSpec } from '../tfjsLayers/topology';

export const KERAS_V3_FORMAT_ID = 'keras-v3';

export const kerasV3Format: CheckpointFormat<KerasV3Source> = {
  id: KERAS_V3_FORMAT_ID,
  displayName: 'Keras 3 model (.keras)',
  match: (fileName, head) => /\.keras$/i.test(fileName) && head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04,
  read: readKerasV3,
  write: writeKerasV3,
  filesWritten: (outPath) => [outPath],
  describe: describeKerasV3,
};

interface KerasArchive {
  readonly config: unknown;
  readonly weights: Uint8Array;
  readonly kerasVersion?: string;
}

async function readArchive(file: string): Promise<KerasArchive> {
  const wanted = new Set(['config.json', WEIGHTS_ENTRY, 'metadata.json']);
  const entries = Object.fromEntries((await readZipEntries(file, (name) => wanted.has(name))).map((e) => [e.name, e.data]));
  const configBytes = entries['config.json'];
  const weights = entries[WEIGHTS_ENTRY];
  if (configBytes === undefined) throw new FileProblem(file, 'has no config.json: not a Keras 3 model file');
  if (weights === undefined) throw new FileProblem(file, 'has no model.weights.h5: not a Keras 3 model file');
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (error) {
    throw new FileProblem(file, `config.json is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (nestsDeeperThan(config, MAX_JSON_NESTING)) throw new FileProblem(file, `config.json nests lists and objects more than ${MAX_JSON_NESTING} levels deep; a Keras config needs far fewer`);
  let kerasVersion: string | undefined;
  try {
    const metadata: unknown = JSON.parse(new TextDecoder().decode(entries['metadata.json'] ?? new Uint8Array()));
    if (isJsonObject(metadata) && typeof metadata.keras_version === 'string') kerasVersion = metadata.keras_version;
  } catch {
    // metadata.json is informational only.
  }
  return { config, weights, kerasVersion };
}

async function readContents<T>(path: string, use: (contents: KerasH5Contents, h5: { file: string; values: (w: KerasH5Contents['weights'][number]) => Float32Array }) => T): Promise<T> {
  const file = resolve(path);
  const archive = await readArchive(file);
  const { modelConfig, trainingConfig } = kerasV3Config(archive.config, file);
  const spec = topologyToModelSpec(modelConfig, file);
  const h5 = await loadH5wasm();
  return withExtractedFile(file, WEIGHTS_ENTRY, archive.weights, (weightsPath) =>
    withH5(h5, weightsPath, 'r', (h5file) => {
      const weights = kerasV3Weights(h5file, spec.layers, file);
      const contents: KerasH5Contents = { modelConfig, trainingConfig, weights, kerasVersion: archive.kerasVersion };
      // Errors name the .keras file, not the temporary extracted copy.
      return use(contents, { file, values: (w) => readWeightValues(h5file, w, file) });
    }),
  );
}

export async function readKerasV3(path: string): Promise<Checkpoint<KerasV3Source>> {
  return readContents(path, (contents, h5) => {
    const checkpoint = checkpointFromContents(contents, h5.file, h5.values, KERAS_V3_FORMAT_ID);
    const source: KerasV3Source = { kind: 'keras-v3', kerasFile: h5.file, kerasDatasetPaths: Object.fromEntries(contents.weights.map((w) => [w.name, w.path])) };
    return { ...checkpoint, source: { ...source } };
  });
}

export async function describeKerasV3(path: string): Promise<CheckpointSummary> {
  return readContents(path, (contents, h5) => ({ parameters: countParameters(contents), files: [h5.file] }));
}
