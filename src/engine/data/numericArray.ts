import { halfToFloat } from './halfFloat';
import type { Shape } from '../model/spec';

export type NumericValues =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/** A decoded n-dimensional array, row-major, in the element type it was stored with. */
export interface NumericArray {
  readonly shape: Shape;
  readonly values: NumericValues;
}

/** Element types shared by the binary formats (npy, IDX): kind letter and byte size, as in numpy. */
export type ElementType = 'f2' | 'f4' | 'f8' | 'i1' | 'u1' | 'i2' | 'u2' | 'i4' | 'u4' | 'i8' | 'u8';

export const BYTES_PER_ELEMENT: Readonly<Record<ElementType, number>> = {
  f2: 2, f4: 4, f8: 8, i1: 1, u1: 1, i2: 2, u2: 2, i4: 4, u4: 4, i8: 8, u8: 8,
};

export function hasIntegerElements(values: NumericValues): boolean {
  return !(values instanceof Float32Array || values instanceof Float64Array);
}

export function numberAt(values: NumericValues, index: number): number {
  const value = values[index];
  return typeof value === 'bigint' ? Number(value) : value;
}

/**
 * Copies `count` elements starting at `offset` into a new, aligned typed array, swapping bytes
 * when the stored order is big-endian (the host is little-endian on every platform Node supports).
 */
export function decodeElements(
  bytes: Uint8Array,
  offset: number,
  type: ElementType,
  count: number,
  bigEndian: boolean,
): NumericValues {
  const size = BYTES_PER_ELEMENT[type];
  const copy = new Uint8Array(bytes.subarray(offset, offset + count * size));
  if (bigEndian && size > 1) {
    for (let start = 0; start < copy.length; start += size) copy.subarray(start, start + size).reverse();
  }
  const buffer = copy.buffer;
  switch (type) {
    case 'f2': {
      // float16 has no typed array here: widened to float32, which holds every value exactly.
      const halves = new Uint16Array(buffer, 0, count);
      return Float32Array.from(halves, halfToFloat);
    }
    case 'f4': return new Float32Array(buffer, 0, count);
    case 'f8': return new Float64Array(buffer, 0, count);
    case 'i1': return new Int8Array(buffer, 0, count);
    case 'u1': return new Uint8Array(buffer, 0, count);
    case 'i2': return new Int16Array(buffer, 0, count);
    case 'u2': return new Uint16Array(buffer, 0, count);
    case 'i4': return new Int32Array(buffer, 0, count);
    case 'u4': return new Uint32Array(buffer, 0, count);
    case 'i8': return new BigInt64Array(buffer, 0, count);
    case 'u8': return new BigUint64Array(buffer, 0, count);
  }
}

/** Converts to float32, multiplied by `scale`; returns the array itself when nothing changes. */
export function toFloat32(values: NumericValues, scale = 1): Float32Array {
  if (values instanceof Float32Array && scale === 1) return values;
  const result = new Float32Array(values.length);
  if (values instanceof BigInt64Array || values instanceof BigUint64Array) {
    for (let i = 0; i < values.length; i++) result[i] = Number(values[i]) * scale;
  } else if (scale === 1) {
    result.set(values);
  } else {
    for (let i = 0; i < values.length; i++) result[i] = values[i] * scale;
  }
  return result;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/**
 * True when 32-bit integers look like float32 bit patterns stored under an integer dtype: every
 * non-zero value is at least 2^23 in magnitude (no real label or pixel count is) and, read as
 * float32, lies within [1e-6, 1e6]. 1.0f, for instance, reads as the integer 1065353216.
 */
export function looksLikeFloat32Bits(values: NumericValues): boolean {
  if (!(values instanceof Int32Array || values instanceof Uint32Array) || values.length === 0) return false;
  const floats = new Float32Array(values.buffer, values.byteOffset, values.length);
  let nonZero = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] === 0) continue;
    nonZero++;
    const magnitude = Math.abs(floats[i]);
    if (Math.abs(values[i]) < 2 ** 23 || !(magnitude >= 1e-6 && magnitude <= 1e6)) return false;
  }
  return nonZero > 0;
}
