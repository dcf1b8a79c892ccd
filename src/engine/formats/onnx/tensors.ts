/**
 * Initializer data: decoding float/float16/bfloat16/double TensorProtos (raw_data, the typed
 * repeated fields, or external files) into fresh float32 arrays, and encoding new values back into
 * a TensorProto that keeps every other field's bytes.
 */
import { stat } from 'node:fs/promises';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError } from '../../io/fsErrors';
import { resolveShardPath } from '../tfjsLayers/shards';
import { halfToFloat } from '../../data/halfFloat';
import { DataType, TensorField, dataTypeNames, type OnnxTensor } from './proto';
import { WireError, concatBytes, fixedBytesOf, int64sOf, lengthDelimitedField, type WireField } from './wire';
import { readJobFileRange } from '../../io/jobFiles';

const floatWidths: Record<number, number> = { [DataType.FLOAT]: 4, [DataType.FLOAT16]: 2, [DataType.BFLOAT16]: 2, [DataType.DOUBLE]: 8 };

export function isFloatTensor(tensor: OnnxTensor): boolean {
  return floatWidths[tensor.dataType] !== undefined;
}

export function numelOf(tensor: OnnxTensor, file: string): number {
  let n = 1;
  for (const d of tensor.dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw new FileProblem(file, `initializer '${tensor.name}' has an invalid dimension ${d} in dims [${tensor.dims}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new FileProblem(file, `initializer '${tensor.name}' is too large (dims [${tensor.dims}])`);
  return n;
}

function fieldsNumbered(tensor: OnnxTensor, number: number): WireField[] {
  return tensor.fields.filter((f) => f.number === number);
}

/** Where a float tensor's stored bytes are, already checked against what its dims need. */
interface LocatedData {
  /** The external data file's real path, when the data is not inline. */
  readonly externalFile?: string;
  /** The bytes in little-endian element layout (a copy). */
  read(): Promise<Uint8Array>;
}

const DECIMAL = /^[0-9]+$/;

/** Finds and size-checks the tensor's data without reading external files or copying raw_data. */
async function locateData(bytes: Uint8Array, tensor: OnnxTensor, file: string, modelDir: string): Promise<LocatedData> {
  const label = `initializer '${tensor.name}'`;
  const width = floatWidths[tensor.dataType];
  const numel = numelOf(tensor, file);
  const needed = numel * width;
  const describe = `dims [${tensor.dims}] of ${dataTypeNames[tensor.dataType]} need ${needed} bytes`;
  if (tensor.external) {
    const { location, offset, length } = tensor.external;
    if (location === undefined) throw new FileProblem(file, `${label} has external data without a 'location'`);
    const where = `${label} (external data)`;
    const path = await resolveShardPath(location, modelDir, file, where, 'external data');
    const start = offset === undefined ? 0 : DECIMAL.test(offset) ? Number(offset) : NaN;
    if (!Number.isSafeInteger(start)) throw new FileProblem(file, `${where}: invalid offset ${JSON.stringify(offset)} (expected a decimal byte count)`);
    if (length !== undefined && (!DECIMAL.test(length) || Number(length) !== needed)) throw new FileProblem(file, `${where}: length ${JSON.stringify(length)} does not match: ${describe}`);
    const info = await stat(path).catch((error: unknown) => {
      throw new FileProblem(file, `${where}: cannot read '${location}' (${describeFsError(error)})`);
    });
    if (!info.isFile()) throw new FileProblem(file, `${where}: '${location}' is not a file`);
    if (start + needed > info.size) throw new FileProblem(file, `${where}: ${describe} from offset ${start}, but '${location}' holds only ${info.size} bytes (truncated?)`);
    return { externalFile: path, read: () => readRange(path, start, needed, file, `${where}: '${location}'`) };
  }
  const raw = fieldsNumbered(tensor, TensorField.rawData);
  let held: number;
  let source: string;
  let read: () => Uint8Array;
  try {
    if (raw.length > 0) {
      const f = raw[raw.length - 1];
      held = f.valueEnd - f.valueStart;
      source = 'raw_data';
      read = () => bytes.subarray(f.valueStart, f.valueEnd);
    } else if (tensor.dataType === DataType.FLOAT || tensor.dataType === DataType.DOUBLE) {
      const double = tensor.dataType === DataType.DOUBLE;
      source = double ? 'double_data' : 'float_data';
      const data = fixedBytesOf(bytes, fieldsNumbered(tensor, double ? TensorField.doubleData : TensorField.floatData), double ? 8 : 4, `${label} ${source}`);
      held = data.byteLength;
      read = () => data;
    } else {
      // float16/bfloat16 in int32_data: one 16-bit pattern per (varint) int32.
      const words = int64sOf(bytes, fieldsNumbered(tensor, TensorField.int32Data), `${label} int32_data`);
      held = words.length * 2;
      source = 'int32_data';
      read = () => {
        const data = new Uint8Array(words.length * 2);
        const view = new DataView(data.buffer);
        words.forEach((w, i) => view.setUint16(2 * i, w & 0xffff, true));
        return data;
      };
    }
  } catch (error) {
    if (error instanceof WireError) throw new FileProblem(file, error.message);
    throw error;
  }
  if (held !== needed) {
    throw new FileProblem(file, `${label}: ${describe}, but its ${source} holds ${held} bytes` + (held < needed ? ' (truncated?)' : ' (extra bytes)'));
  }
  return { read: async () => read() };
}

/**
 * Exactly `length` bytes from `start` of an external data file: from the bytes this job keeps of
 * it (read once for all its tensors), or just the range when the file is too large to keep.
 */
async function readRange(path: string, start: number, length: number, file: string, what: string): Promise<Uint8Array> {
  try {
    return await readJobFileRange(path, start, length, { role: 'the external data file', keepWhole: true });
  } catch (error) {
    if (error instanceof FileProblem && error.file === path && /the file ended/.test(error.problem)) throw new FileProblem(file, `${what} changed while it was being read`);
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `${what}: cannot read it (${describeFsError(error)})`);
  }
}

/**
 * Checks, without decoding, that the tensor's stored data is as large as its dims need; returns
 * the real path of its external data file, if any.
 */
export async function checkStoredData(bytes: Uint8Array, tensor: OnnxTensor, file: string, modelDir: string): Promise<string | undefined> {
  return (await locateData(bytes, tensor, file, modelDir)).externalFile;
}

/** ONNX stores little-endian floats: on such a host float32 data is copied as bytes. */
const littleEndianHost = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/** The tensor's values as a new float32 array (never a view of the file's buffer). */
export async function decodeFloatTensor(bytes: Uint8Array, tensor: OnnxTensor, file: string, modelDir: string): Promise<Float32Array> {
  if (!isFloatTensor(tensor)) {
    throw new FileProblem(file, `initializer '${tensor.name}' has data type ${dataTypeNames[tensor.dataType] ?? tensor.dataType}; weights must be float, float16, bfloat16 or double`);
  }
  const data = await (await locateData(bytes, tensor, file, modelDir)).read();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const numel = numelOf(tensor, file);
  const values = new Float32Array(numel);
  if (tensor.dataType === DataType.FLOAT && littleEndianHost) {
    new Uint8Array(values.buffer).set(data.subarray(0, 4 * numel));
    return values;
  }
  for (let i = 0; i < numel; i++) {
    switch (tensor.dataType) {
      case DataType.FLOAT:
        values[i] = view.getFloat32(4 * i, true);
        break;
      case DataType.DOUBLE:
        values[i] = view.getFloat64(8 * i, true);
        break;
      case DataType.FLOAT16:
        values[i] = halfToFloat(view.getUint16(2 * i, true));
        break;
      default:
        values[i] = new Float32Array(new Uint32Array([view.getUint16(2 * i, true) << 16]).buffer)[0];
    }
  }
  return values;
}

/** The nearest float16 bit pattern (round to nearest even). */
export function floatToHalf(value: number): number {
  const f32 = new Float32Array([value]);
  const bits = new Uint32Array(f32.buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  return half;
}

function encodeValues(values: Float32Array, dataType: number): Uint8Array {
  const width = floatWidths[dataType];
  const out = new Uint8Array(values.length * width);
  const view = new DataView(out.buffer);
  values.forEach((v, i) => {
    if (dataType === DataType.FLOAT) view.setFloat32(4 * i, v, true);
    else if (dataType === DataType.DOUBLE) view.setFloat64(8 * i, v, true);
    else if (dataType === DataType.FLOAT16) view.setUint16(2 * i, floatToHalf(v), true);
    else view.setUint16(2 * i, new Uint32Array(new Float32Array([v]).buffer)[0] >>> 16, true);
  });
  return out;
}

const dataFields = new Set<number>([TensorField.floatData, TensorField.int32Data, TensorField.rawData, TensorField.doubleData, TensorField.externalData, TensorField.dataLocation]);

/**
 * The tensor's TensorProto payload with its data replaced by `values` as raw_data in the same data
 * type (external data becomes inline). Every other field keeps its bytes and position.
 */
export function encodeTensorWithValues(bytes: Uint8Array, tensor: OnnxTensor, values: Float32Array): Uint8Array {
  const rawField = lengthDelimitedField(TensorField.rawData, encodeValues(values, tensor.dataType));
  const parts: Uint8Array[] = [];
  let placed = false;
  for (const field of tensor.fields) {
    if (!dataFields.has(field.number)) {
      parts.push(bytes.subarray(field.start, field.end));
    } else if (!placed) {
      parts.push(rawField);
      placed = true;
    }
  }
  if (!placed) parts.push(rawField);
  return concatBytes(parts);
}
