import { halfToFloat } from '../../data/halfFloat';

/** Floating-point element encodings of weights-only files, all little-endian. */
export type FloatEncoding = 'f64' | 'f32' | 'f16' | 'bf16';

export const FLOAT_WIDTH: Readonly<Record<FloatEncoding, number>> = { f64: 8, f32: 4, f16: 2, bf16: 2 };

/** `count` values starting at `offset`, converted to float32 (NaN stays NaN; no checks at this level). */
export function decodeFloats(bytes: Uint8Array, offset: number, count: number, encoding: FloatEncoding): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, count * FLOAT_WIDTH[encoding]);
  const values = new Float32Array(count);
  switch (encoding) {
    case 'f32':
      for (let i = 0; i < count; i++) values[i] = view.getFloat32(4 * i, true);
      break;
    case 'f64':
      for (let i = 0; i < count; i++) values[i] = view.getFloat64(8 * i, true);
      break;
    case 'f16':
      for (let i = 0; i < count; i++) values[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
    case 'bf16': {
      // bfloat16 is the upper half of a float32.
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < count; i++) {
        word.setUint32(0, view.getUint16(2 * i, true) << 16, true);
        values[i] = word.getFloat32(0, true);
      }
      break;
    }
  }
  return values;
}

/** Little-endian float32 bytes of `values` (bit patterns kept, NaN payloads included). */
export function float32Bytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < values.length; i++) view.setUint32(4 * i, bits[i], true);
  return bytes;
}

/** "float16 and bfloat16 tensors were converted to float32", or nothing when no dtype was converted. */
export function conversionNotes(dtypes: ReadonlySet<string>, what: string): string[] {
  const names = [...dtypes];
  if (names.length === 0) return [];
  const listed = names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  return [`${listed} ${what} were converted to float32`];
}
