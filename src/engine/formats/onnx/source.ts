/** What the ONNX reader keeps in `checkpoint.source` for the writer, and the checked decode of a file. */
import type { CheckpointSourceTag } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import type { OnnxWeightSource } from './mapping';
import { decodeModel, type OnnxModel } from './proto';
import { WireError } from './wire';

/** What `read` keeps in `checkpoint.source` for the writer. */
export interface OnnxSource {
  readonly kind: 'onnx';
  /** The whole file as read (a private copy). */
  readonly onnxBytes: Uint8Array;
  /** Per engine weight name: its initializer, ONNX dims and layout conversion. */
  readonly onnxWeights: Readonly<Record<string, OnnxWeightSource>>;
}

export function isOnnxSource(source: CheckpointSourceTag): source is OnnxSource {
  return source.kind === 'onnx';
}

export function decodeOnnx(bytes: Uint8Array, file: string): OnnxModel {
  let onnx: OnnxModel;
  try {
    onnx = decodeModel(bytes);
  } catch (error) {
    if (error instanceof WireError) throw new FileProblem(file, `is not a valid ONNX model: ${error.message}`);
    throw error;
  }
  if (onnx.irVersion === undefined) throw new FileProblem(file, 'is not a valid ONNX model: it has no ir_version (field 1)');
  if (onnx.graph.sparseInitializers > 0) throw new FileProblem(file, `has ${onnx.graph.sparseInitializers} sparse initializers, which are not supported`);
  return onnx;
}

