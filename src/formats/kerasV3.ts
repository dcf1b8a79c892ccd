/**
 * Keras 3 `.keras` model files: a zip (read with fflate) of config.json and model.weights.h5; see
 * keras/kerasV3.ts for the layout. The weights file is extracted to a private temporary file for
 * h5wasm, which reads host files only. Reading only: a rescaled .keras is not written yet.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { unzipSync } from 'fflate';
import type { Checkpoint } from '../model/spec';
import { FileProblem } from '../shared/errors';
import { describeFsError } from './fsErrors';
import { isJsonObject } from './jsonValues';
import { checkpointFromContents } from './keras';
import { countParameters, readWeightValues, withH5, type KerasH5Contents } from './keras/h5Layout';
import { loadH5wasm } from './keras/h5wasm';
import { kerasV3Config, kerasV3Weights } from './keras/kerasV3';
import type { CheckpointFormat, CheckpointSummary } from './registry';
import { topologyToModelSpec } from './tfjsLayersTopology';

export const KERAS_V3_FORMAT_ID = 'keras-v3';

/** Refuse archives that would unpack to more than this (a zip bomb, or not a small model). */
const MAX_UNPACKED_BYTES = 2 * 1024 ** 3;

export const kerasV3Format: CheckpointFormat = {
  id: KERAS_V3_FORMAT_ID,
  displayName: 'Keras 3 model (.keras)',
  match: (fileName, head) => /\.keras$/i.test(fileName) && head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04,
  read: readKerasV3,
  write: async (checkpoint, outPath) => {
    throw new FileProblem(resolve(outPath), `writing .keras files is not supported yet (read from ${checkpoint.path}); write a .h5 or TF.js model instead`);
  },
  filesWritten: (outPath) => [outPath],
  describe: describeKerasV3,
};

interface KerasArchive {
  readonly config: unknown;
  readonly weights: Uint8Array;
  readonly kerasVersion?: string;
}

async function readArchive(file: string): Promise<KerasArchive> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  let entries: Record<string, Uint8Array>;
  try {
    let total = 0;
    entries = unzipSync(bytes, {
      filter: (entry) => {
        if (entry.name !== 'config.json' && entry.name !== 'model.weights.h5' && entry.name !== 'metadata.json') return false;
        total += entry.originalSize;
        if (total > MAX_UNPACKED_BYTES) throw new Error(`it unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
        return true;
      },
    });
  } catch (error) {
    throw new FileProblem(file, `is not a readable .keras zip archive (${error instanceof Error ? error.message : String(error)})`);
  }
  const configBytes = entries['config.json'];
  const weights = entries['model.weights.h5'];
  if (configBytes === undefined) throw new FileProblem(file, 'has no config.json: not a Keras 3 model file');
  if (weights === undefined) throw new FileProblem(file, 'has no model.weights.h5: not a Keras 3 model file');
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(configBytes));
  } catch (error) {
    throw new FileProblem(file, `config.json is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  let kerasVersion: string | undefined;
  try {
    const metadata: unknown = JSON.parse(new TextDecoder().decode(entries['metadata.json'] ?? new Uint8Array()));
    if (isJsonObject(metadata) && typeof metadata.keras_version === 'string') kerasVersion = metadata.keras_version;
  } catch {
    // metadata.json is informational only.
  }
  return { config, weights, kerasVersion };
}

/** Runs `read` on the archive's model.weights.h5, extracted to a private temporary folder. */
async function withWeightsFile<T>(file: string, archive: KerasArchive, read: (weightsPath: string) => Promise<T> | T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flatness-keras-'));
  try {
    const weightsPath = join(dir, 'model.weights.h5');
    await writeFile(weightsPath, archive.weights, { flag: 'wx', mode: 0o600 });
    try {
      return await read(weightsPath);
    } catch (error) {
      // Name the .keras file in errors, not the temporary copy.
      if (error instanceof FileProblem && error.file === weightsPath) throw new FileProblem(file, `model.weights.h5: ${error.problem}`);
      throw error;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readContents<T>(path: string, use: (contents: KerasH5Contents, h5: { file: string; values: (w: KerasH5Contents['weights'][number]) => Float32Array }) => T): Promise<T> {
  const file = resolve(path);
  const archive = await readArchive(file);
  const { modelConfig, trainingConfig } = kerasV3Config(archive.config, file);
  const spec = topologyToModelSpec(modelConfig, file);
  const h5 = await loadH5wasm();
  return withWeightsFile(file, archive, (weightsPath) =>
    withH5(h5, weightsPath, 'r', (h5file) => {
      const weights = kerasV3Weights(h5file, spec.layers, file);
      const contents: KerasH5Contents = { modelConfig, trainingConfig, weights, kerasVersion: archive.kerasVersion };
      // Errors name the .keras file, not the temporary extracted copy.
      return use(contents, { file, values: (w) => readWeightValues(h5file, w, file) });
    }),
  );
}

export async function readKerasV3(path: string): Promise<Checkpoint> {
  return readContents(path, (contents, h5) => {
    const checkpoint = checkpointFromContents(contents, h5.file, h5.values, KERAS_V3_FORMAT_ID);
    return { ...checkpoint, notes: [...checkpoint.notes, 'Keras 3 .keras file: reading only; rescaled copies cannot be written as .keras yet'] };
  });
}

export async function describeKerasV3(path: string): Promise<CheckpointSummary> {
  return readContents(path, (contents, h5) => ({ parameters: countParameters(contents), files: [h5.file] }));
}
