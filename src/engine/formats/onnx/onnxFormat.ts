/**
 * ONNX models (`.onnx`): a protobuf ModelProto, decoded by a small hand-written wire-format reader
 * (no native code, no dependency), mapped onto the engine's channels-last Keras layers; see
 * onnx/graphToSpec.ts for what is supported and how NCHW is handled. External data is read by
 * range and only from files inside the model's folder.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Checkpoint, WeightTensor } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError } from '../../io/fsErrors';
import { graphToSpec, engineValues, refuseUnknownOperators, type MappedGraph, type OnnxWeightSource } from './graphToSpec';
import { DataType, TensorField, dataTypeNames, type OnnxModel, type OnnxTensor } from './proto';
import { checkStoredData, decodeFloatTensor, isFloatTensor, numelOf } from './tensors';
import { WireError, fixedBytesOf, int64sOf } from './wire';
import { decodeOnnx, type OnnxSource } from './source';
import { writeOnnx } from './writer';
import type { CheckpointFormat, CheckpointSummary } from '../checkpointFormat';
import { readJobFile } from '../../io/jobFiles';

export const ONNX_FORMAT_ID = 'onnx';

/** protobuf's hard limit on a serialized message. */
const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;

export const onnxFormat: CheckpointFormat<OnnxSource> = {
  id: ONNX_FORMAT_ID,
  displayName: 'ONNX model (.onnx)',
  match: matchOnnx,
  read: readOnnx,
  write: writeOnnx,
  filesWritten: (outPath) => [outPath],
  describe: describeOnnx,
};

/** `.onnx` and a ModelProto's usual first field: ir_version (field 1, varint) or graph (field 7). */
export function matchOnnx(fileName: string, head: Uint8Array): boolean {
  if (!fileName.toLowerCase().endsWith('.onnx') || head.length < 2) return false;
  return head[0] === 0x08 || head[0] === 0x3a;
}

async function readModelFile(path: string): Promise<{ file: string; bytes: Uint8Array; onnx: OnnxModel }> {
  const file = resolve(path);
  let bytes: Uint8Array;
  try {
    const { size } = await stat(file);
    if (size > MAX_PROTOBUF_BYTES) {
      throw new FileProblem(file, `is not a valid ONNX model: it is ${size} bytes, more than the 2 GiB a protobuf message can hold (larger models keep their weights in external data files)`);
    }
    // The job's own copy of the file (src/engine/io/jobFiles.ts), never a view into Node's shared Buffer pool; only read from.
    bytes = await readJobFile(file, { role: 'the ONNX model' });
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  return { file, bytes, onnx: decodeOnnx(bytes, file) };
}

/** An ONNX file read, checked and mapped onto the engine's layers (weights still undecoded). */
export async function mapOnnxFile(path: string): Promise<{ file: string; bytes: Uint8Array; onnx: OnnxModel; mapped: MappedGraph }> {
  const { file, bytes, onnx } = await readModelFile(path);
  return { file, bytes, onnx, mapped: graphToSpec(onnx, file, (tensor) => constantNumbers(bytes, tensor, file)) };
}

export async function readOnnx(path: string): Promise<Checkpoint<OnnxSource>> {
  const { file, bytes, onnx, mapped } = await mapOnnxFile(path);
  const modelDir = await realpath(dirname(file));
  const weights: WeightTensor[] = [];
  const onnxWeights: Record<string, OnnxWeightSource> = {};
  const external: string[] = [];
  const converted = new Set<string>();
  for (const { tensor, weight, source } of mapped.weights) {
    const values = engineValues(await decodeFloatTensor(bytes, tensor, file, modelDir), source);
    weights.push({ ...weight, values });
    onnxWeights[weight.name] = source;
    if (tensor.external) external.push(tensor.name);
    if (tensor.dataType !== DataType.FLOAT) converted.add(dataTypeNames[tensor.dataType]);
  }
  const notes = [...mapped.notes];
  if (external.length > 0) notes.push(`${external.length} weights were stored in external data files; a rewritten file stores them inline`);
  if (converted.size > 0) notes.push(`weights stored as ${[...converted].join('/')} were converted to float32; a rewritten file stores them in their original type`);
  const opset = onnx.opsets.get('') ?? onnx.opsets.get('ai.onnx');
  if (onnx.producer || opset !== undefined) notes.push(`ONNX model${onnx.producer ? ` from ${onnx.producer}` : ''}${opset !== undefined ? `, opset ${opset}` : ''}`);
  const source: OnnxSource = { kind: 'onnx', onnxBytes: bytes, onnxWeights };
  return { path: file, format: ONNX_FORMAT_ID, model: mapped.model, weights, notes, source: { ...source } };
}

/** Parameter count from the dims of the float initializers, whose data sizes are checked but not decoded. */
export async function describeOnnx(path: string): Promise<CheckpointSummary> {
  const { file, bytes, onnx } = await readModelFile(path);
  refuseUnknownOperators(onnx.graph, file);
  let parameters = 0;
  const files = [file];
  const modelDir = await realpath(dirname(file));
  for (const tensor of onnx.graph.initializers) {
    if (!isFloatTensor(tensor)) continue;
    parameters += numelOf(tensor, file);
    const external = await checkStoredData(bytes, tensor, file, modelDir);
    if (external !== undefined && !files.includes(external)) files.push(external);
  }
  return { parameters, files };
}

/** A small int64, int32 or float constant, e.g. Reshape's target shape or Pad's constant_value. */
function constantNumbers(bytes: Uint8Array, tensor: OnnxTensor, file: string): number[] {
  const values = decodeConstant(bytes, tensor, file);
  // Shape computations trust a constant's dims, so they must agree with its data.
  const expected = tensor.dims.reduce((n, d) => n * d, 1);
  if (values.length !== expected) throw new FileProblem(file, `constant '${tensor.name}' has dims [${tensor.dims}] (${expected} values) but holds ${values.length} values`);
  return values;
}

function decodeConstant(bytes: Uint8Array, tensor: OnnxTensor, file: string): number[] {
  const label = `constant '${tensor.name}'`;
  if (tensor.external) throw new FileProblem(file, `${label} is stored externally; only weights may be`);
  try {
    const raw = tensor.fields.filter((f) => f.number === TensorField.rawData);
    if (tensor.dataType === DataType.INT64) {
      if (raw.length === 0) return int64sOf(bytes, tensor.fields.filter((f) => f.number === TensorField.int64Data), label);
      const data = fixedBytesOf(bytes, raw, 8, label);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      return Array.from({ length: data.byteLength / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    }
    if (tensor.dataType === DataType.INT32) {
      if (raw.length === 0) return int64sOf(bytes, tensor.fields.filter((f) => f.number === TensorField.int32Data), label);
      const data = fixedBytesOf(bytes, raw, 4, label);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      return Array.from({ length: data.byteLength / 4 }, (_, i) => view.getInt32(4 * i, true));
    }
    if (tensor.dataType === DataType.FLOAT) {
      const data = fixedBytesOf(bytes, raw.length > 0 ? raw : tensor.fields.filter((f) => f.number === TensorField.floatData), 4, label);
      const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
      return Array.from({ length: data.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
    }
  } catch (error) {
    if (error instanceof WireError) throw new FileProblem(file, `${label}: ${error.message}`);
    throw error;
  }
  throw new FileProblem(file, `${label} has data type ${dataTypeNames[tensor.dataType] ?? tensor.dataType}, expected int64, int32 or float`);
}
