import { basename, resolve } from 'node:path';
import type { Checkpoint } from '../model/spec';
import type { CheckpointDescription, DescribeRequest } from '../../protocol/checkpointFiles';
import { FileProblem } from '../../protocol/errors';
import { contentHash } from '../io/contentHash';
import { kerasH5Format } from './keras/kerasH5Format';
import { kerasV3Format } from './keras/kerasV3Format';
import { onnxFormat } from './onnx/onnxFormat';
import { tfjsLayersFormat } from './tfjsLayers/tfjsLayersFormat';
import { isWeightsOnlyFormat, weightsOnlyFormat } from './weights/weightsOnlyFormat';
import { readJobFileHead } from '../io/jobFiles';
import { withOwnKeptFiles } from '../io/readLedger';
import { refuseNonFiniteWeights } from './nonFiniteWeights';
import { refuseImpossibleSizes } from './declaredSizes';
import { pytorchFile } from './weights/pytorch';
import { npzWeightsFile } from './weights/npzWeights';
import { safetensorsFile } from './weights/safetensors';
import type { TensorFile } from './weights/tensorFile';
import type { CheckpointFormat, ReadOptions } from './checkpointFormat';
import type { CheckpointSource, FormatCheckpoint } from './checkpointSource';

/** Formats in the order they are tried. Add new formats here. */
export const checkpointFormats: readonly CheckpointFormat<CheckpointSource>[] = [
  tfjsLayersFormat,
  onnxFormat,
  kerasH5Format,
  kerasV3Format,
  weightsOnlyFormat(safetensorsFile, (path) => readArchitectureModel(path)),
  weightsOnlyFormat(pytorchFile, (path) => readArchitectureModel(path)),
  weightsOnlyFormat(npzWeightsFile, (path) => readArchitectureModel(path)),
];

/** How much of a file `match` gets to see. */
export const HEAD_BYTES = 16 * 1024;

export function formatById(id: string): CheckpointFormat<CheckpointSource> | undefined {
  return checkpointFormats.find((format) => format.id === id);
}

/**
 * The format that recognizes the file, or undefined, from its first HEAD_BYTES. With
 * `wholeFileFollows` (the file is read next) the job reads and keeps the whole file now, so the
 * reader and the hash do not read it again (src/engine/io/jobFiles.ts).
 */
export async function formatFor(path: string, wholeFileFollows = false): Promise<CheckpointFormat<CheckpointSource> | undefined> {
  const head = await readJobFileHead(resolve(path), HEAD_BYTES, { role: 'the checkpoint', wholeFileFollows });
  const fileName = basename(path);
  return checkpointFormats.find((format) => format.match(fileName, head));
}

export async function readCheckpoint(path: string, options?: ReadOptions): Promise<FormatCheckpoint> {
  const checkpoint = await (await requireFormat(path)).read(path, options);
  refuseImpossibleSizes(resolve(path), checkpoint);
  if (!options?.allowNonFinite) refuseNonFiniteWeights(resolve(path), checkpoint);
  return checkpoint;
}

/** Why a file is refused: the formats that are read, and where the README describes them. */
function notACheckpoint(): string {
  const known = checkpointFormats.map((f) => f.displayName).join('; ');
  return `not a checkpoint format Flatness Lens reads: expected one of: ${known} (README, section "Checkpoints")`;
}

async function requireFormat(path: string): Promise<CheckpointFormat<CheckpointSource>> {
  const format = await formatFor(path, true);
  if (format === undefined) {
    throw new FileProblem(resolve(path), notACheckpoint());
  }
  return format;
}

/** A file that holds a whole network (not weights only), for use as an architecture source. */
async function readArchitectureModel(path: string): Promise<Checkpoint> {
  const format = await requireFormat(path);
  if (isWeightsOnlyFormat(format)) throw new FileProblem(resolve(path), `holds weights only (${format.displayName}); an architecture source must be an ONNX, Keras or TF.js Layers file, or a description`);
  return format.read(path);
}

/** The named tensors of a weights-only file, or undefined for formats that hold a whole network. */
export async function readTensorFile(path: string): Promise<TensorFile | undefined> {
  const format = await requireFormat(path);
  return isWeightsOnlyFormat(format) ? format.readTensors(path) : undefined;
}

/**
 * Every file of a checkpoint (its shards, external data and sidecar, and the architecture file
 * when one is given) and the content hash over them, each file read once for this and the
 * analysis that follows.
 */
export async function checkpointContentHash(path: string, architecture?: string): Promise<{ files: readonly string[]; contentHash: string }> {
  const { files } = await (await requireFormat(path)).describe(path);
  const withArchitecture = architecture === undefined || files.includes(resolve(architecture)) ? files : [...files, resolve(architecture)];
  return { files: withArchitecture, contentHash: await contentHash(withArchitecture) };
}

/** Format, size, files and (when asked) content hash of a file, for the host's list of checkpoints. */
export function describeForListing(request: DescribeRequest): Promise<CheckpointDescription> {
  // Apart from an analysis running beside it. Listing reads headers only; with the hash, whole
  // files, each once (kept for this describe alone).
  return withOwnKeptFiles(async () => {
    const format = await formatFor(request.checkpoint, request.contentHash);
    if (format === undefined) return { kind: 'not-a-checkpoint', reason: notACheckpoint() };
    const summary = await format.describe(request.checkpoint);
    const facts = { kind: 'checkpoint', format: format.id, weightsOnly: isWeightsOnlyFormat(format), parameters: summary.parameters, files: summary.files } as const;
    return request.contentHash ? { ...facts, contentHash: await contentHash(summary.files) } : facts;
  }, request.contentHash);
}
