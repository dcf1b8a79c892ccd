/**
 * Weights-only checkpoints as registry formats. Their tensors alone give data-free statistics; the
 * Hessian metrics and rescaling need an architecture, taken from (in this order) the caller's
 * `architecture` option, `<name>.architecture.json` next to the file, or `architecture.json` in its
 * folder. The architecture is an ONNX, Keras or TF.js Layers file whose weights are replaced by the
 * tensors of the same names, or a description (weights/architecture.ts).
 */
import { lstat, rm } from 'node:fs/promises';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { describeFsError } from '../../io/fsErrors';
import { graphToSpec, engineValues, type MappedGraph } from '../onnx/graphToSpec';
import { mapOnnxFile } from '../onnx/onnxFormat';
import { toOnnx, type WeightLayout } from '../onnx/layouts';
import { sourceOfKind, type CheckpointFormat, type CheckpointSummary, type ReadOptions, type WriteOptions } from '../checkpointFormat';
import { weightsToWrite } from '../weightsToWrite';
import { compileArchitecture, parseArchitecture, ARCHITECTURE_TAG } from './architecture';
import type { StoredTensor, TensorFile, TensorFileFormat } from './tensorFile';
import { readJobTextFile } from '../../io/jobFiles';
import { limits } from '../../../protocol/limits';

/** Raised when a weights-only file is read without an architecture; the report then has statistics only. */
export class ArchitectureMissing extends FileProblem {
  constructor(file: string) {
    super(
      file,
      'holds weights only, without the network that uses them. For the Hessian metrics and rescaling, give the architecture: ' +
        `put ${sidecarName(file)} (or architecture.json) next to it — a description of the layers, or {"flatnessLens": "${ARCHITECTURE_TAG}", "from": "model.onnx"} ` +
        'naming an ONNX, Keras or TF.js file of the same network — or pass --architecture FILE (setting flatnessLens.architectures in the editor)',
    );
    this.name = 'ArchitectureMissing';
  }
}

/** Where a weight of the bound checkpoint is stored in the weights file, and how its layout differs. */
interface StoredWeight {
  readonly tensor: string;
  readonly dims: readonly number[];
  readonly layout: WeightLayout;
}

export interface WeightsOnlySource {
  readonly kind: 'weights-only';
  readonly architecture: string;
  readonly storedWeights: Readonly<Record<string, StoredWeight>>;
  /** The architecture file's own text when it is a description (copied beside rescaled files). */
  readonly architectureText?: string;
}

export interface WeightsOnlyFormat extends CheckpointFormat<WeightsOnlySource> {
  readonly weightsOnly: true;
  readTensors(path: string): Promise<TensorFile>;
}

export function isWeightsOnlyFormat(format: CheckpointFormat): format is WeightsOnlyFormat {
  return (format as Partial<WeightsOnlyFormat>).weightsOnly === true;
}

/** `<name>.architecture.json` for `<name>.<ext>`. */
export function sidecarName(file: string): string {
  return `${basename(file, extname(file))}.architecture.json`;
}

export function weightsOnlyFormat(parts: TensorFileFormat, readModel: (path: string) => Promise<Checkpoint>): WeightsOnlyFormat {
  return {
    id: parts.id,
    displayName: parts.displayName,
    weightsOnly: true,
    match: parts.match,
    readTensors: parts.readTensors,
    async read(path: string, options?: ReadOptions): Promise<Checkpoint<WeightsOnlySource>> {
      const file = resolve(path);
      const architecture = options?.architecture !== undefined ? resolve(options.architecture) : await findSidecar(file);
      if (architecture === undefined) throw new ArchitectureMissing(file);
      const tensorFile = await parts.readTensors(file);
      return bindArchitecture(tensorFile, architecture, readModel);
    },
    async write(checkpoint: Checkpoint, outPath: string, options: WriteOptions): Promise<string[]> {
      const out = resolve(outPath);
      const source = sourceOfKind<WeightsOnlySource>(checkpoint, 'weights-only');
      if (source === undefined || checkpoint.format !== parts.id) {
        throw new FileProblem(out, `only checkpoints read from a ${parts.displayName} file can be written as one (${checkpoint.path} is ${checkpoint.format})`);
      }
      const weights = weightsToWrite(checkpoint, options.weights, out);
      const replacements = new Map(
        weights.map((w) => {
          const stored = source.storedWeights[w.name];
          return [stored.tensor, toOnnx(w.values, stored.dims, stored.layout)] as const;
        }),
      );
      const written = await parts.writeTensors(checkpoint.path, replacements, out, options.metadata);
      // The architecture goes beside the copy, so the copy can be analyzed on its own.
      const sidecar = join(dirname(out), sidecarName(out));
      const text = source.architectureText ?? `${JSON.stringify({ flatnessLens: ARCHITECTURE_TAG, from: relative(dirname(out), source.architecture) }, null, 2)}\n`;
      try {
        await writeNewFilesAtomically([{ path: sidecar, data: text }]);
      } catch (error) {
        await Promise.all(written.map((path) => rm(path, { force: true })));
        throw error;
      }
      return [...written, sidecar];
    },
    filesWritten: (outPath) => [resolve(outPath), join(dirname(resolve(outPath)), sidecarName(outPath))],
    async describe(path: string): Promise<CheckpointSummary> {
      const file = resolve(path);
      const sidecar = await findSidecar(file);
      return { parameters: await parts.countParameters(file), files: sidecar === undefined ? [file] : [file, sidecar] };
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function findSidecar(file: string): Promise<string | undefined> {
  for (const candidate of [join(dirname(file), sidecarName(file)), join(dirname(file), 'architecture.json')]) {
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readJobTextFile(file, { role: `the ${what}`, maxBytes: limits.metadataBytes.value });
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read the ${what} (${describeFsError(error)})`);
  }
}

/** The weights file's tensors placed into the architecture's network. */
export async function bindArchitecture(tensorFile: TensorFile, architecture: string, readModel: (path: string) => Promise<Checkpoint>): Promise<Checkpoint<WeightsOnlySource>> {
  const tensors = new Map(tensorFile.tensors.map((t) => [t.name, t]));
  const notes = [...tensorFile.notes];
  let bound: BoundWeights;
  let architectureText: string | undefined;
  const text = architecture.toLowerCase().endsWith('.json') ? await readText(architecture, 'architecture file') : undefined;
  const description = text !== undefined && !looksLikeTfjsModel(text) ? parseArchitecture(text, architecture) : undefined;
  if (description?.kind === 'layers') {
    architectureText = text;
    const onnx = compileArchitecture(description, tensors, architecture, tensorFile.path);
    bound = bindMappedGraph(graphToSpec(onnx, architecture, (tensor) => {
      throw new FileProblem(architecture, `constant '${tensor.name}' cannot be read from a description`);
    }), tensors, architecture, tensorFile.path);
    const trainingLoss = description.loss === undefined ? undefined : { ce: 'categorical_crossentropy', bce: 'binary_crossentropy', mse: 'mse' }[description.loss];
    bound = { ...bound, model: { ...bound.model, trainingLoss } };
    notes.push(`architecture from ${architecture}`);
  } else if (description?.kind === 'from') {
    const target = resolve(dirname(architecture), description.from);
    if (target === tensorFile.path) throw new FileProblem(architecture, '"from" names the weights file itself');
    bound = await bindToModelFile(tensorFile, tensors, target, readModel);
    notes.push(`architecture from ${target} (named by ${architecture})`);
  } else {
    bound = await bindToModelFile(tensorFile, tensors, architecture, readModel);
    notes.push(`architecture from ${architecture}`);
  }
  notes.push(...bound.notes);
  const usedTensors = new Set(Object.values(bound.storedWeights).map((s) => s.tensor));
  const unused = tensorFile.tensors.filter((t) => !usedTensors.has(t.name));
  if (unused.length > 0) notes.push(`${unused.length} tensor${unused.length === 1 ? ' is' : 's are'} not used by the architecture: ${listNames(unused.map((t) => t.name))}`);
  const source: WeightsOnlySource = { kind: 'weights-only', architecture, storedWeights: bound.storedWeights, ...(architectureText !== undefined ? { architectureText } : {}) };
  return { path: tensorFile.path, format: tensorFile.format, model: bound.model, weights: bound.weights, notes, source: { ...source } };
}

interface BoundWeights {
  readonly model: Checkpoint['model'];
  readonly weights: WeightTensor[];
  readonly storedWeights: Record<string, StoredWeight>;
  readonly notes: readonly string[];
}

/** A TF.js model.json (not a description) given as the architecture. */
function looksLikeTfjsModel(text: string): boolean {
  return /"modelTopology"\s*:/.test(text) && !text.includes(ARCHITECTURE_TAG);
}

function listNames(names: readonly string[]): string {
  return names.length <= 6 ? names.join(', ') : `${names.slice(0, 6).join(', ')} and ${names.length - 6} more`;
}

function takeValues(tensors: ReadonlyMap<string, StoredTensor>, name: string, dims: readonly number[], where: string, weightsFile: string): Float32Array {
  const stored = tensors.get(name);
  if (stored === undefined) throw new FileProblem(weightsFile, `has no tensor '${name}', which ${where} needs (it has ${listNames([...tensors.keys()])})`);
  if (stored.values === undefined) throw new FileProblem(weightsFile, `tensor '${name}' is ${stored.dtype}; ${where} needs a float tensor`);
  if (stored.shape.length !== dims.length || stored.shape.some((d, i) => d !== dims[i])) {
    throw new FileProblem(weightsFile, `tensor '${name}' has shape [${stored.shape}], ${where} needs [${dims}]`);
  }
  return stored.values;
}

/** An ONNX graph's weights (from a file or a compiled description) taken from the tensors of the same names. */
function bindMappedGraph(mapped: MappedGraph, tensors: ReadonlyMap<string, StoredTensor>, architecture: string, weightsFile: string): BoundWeights {
  const storedWeights: Record<string, StoredWeight> = {};
  const weights = mapped.weights.map(({ tensor, weight, source }) => {
    storedWeights[weight.name] = { tensor: tensor.name, dims: source.dims, layout: source.layout };
    const values = takeValues(tensors, tensor.name, source.dims, `initializer '${tensor.name}' of ${architecture}`, weightsFile);
    return { ...weight, values: engineValues(values, source) };
  });
  return { model: mapped.model, weights, storedWeights, notes: mapped.notes };
}

/** The weights of an architecture-bearing file, replaced by the tensors of the same names. */
async function bindToModelFile(tensorFile: TensorFile, tensors: ReadonlyMap<string, StoredTensor>, architecture: string, readModel: (path: string) => Promise<Checkpoint>): Promise<BoundWeights> {
  if (architecture.toLowerCase().endsWith('.onnx')) return bindMappedGraph((await mapOnnxFile(architecture)).mapped, tensors, architecture, tensorFile.path);
  const model = await readModel(architecture);
  const storedWeights: Record<string, StoredWeight> = {};
  const weights = model.weights.map((weight) => {
    const name = [weight.name, `${weight.name}:0`, weight.name.replace(/:0$/, '')].find((candidate) => tensors.has(candidate)) ?? weight.name;
    storedWeights[weight.name] = { tensor: name, dims: weight.shape, layout: { kind: 'same' } };
    return { ...weight, values: takeValues(tensors, name, weight.shape, `weight '${weight.name}' of ${architecture}`, tensorFile.path) };
  });
  return { model: model.model, weights, storedWeights, notes: [] };
}
