/**
 * How an engine weight (Keras layout, channels-last) relates to the ONNX initializer it came from,
 * and the conversions both ways. The reader applies `toEngine`, the writer `toOnnx`.
 */
import type { Shape } from '../../model/spec';

export type WeightLayout =
  /** Same values in the same order (biases, BatchNorm vectors, PReLU slopes); only the shape may differ. */
  | { readonly kind: 'same' }
  /**
   * Dense kernel [in, out] from Gemm's B ([out, in] when transB, else [in, out]) or MatMul's B.
   * With `chw`, the layer's input is an NCHW tensor flattened in ONNX (feature c·H·W + h·W + w) but
   * channels-last in the engine (feature (h·W + w)·C + c): the kernel's rows are permuted to match.
   */
  | { readonly kind: 'dense'; readonly transB: boolean; readonly chw?: readonly [number, number, number] }
  /** Conv weight OIHW → HWIO. */
  | { readonly kind: 'conv' }
  /** Depthwise Conv weight [C·m, 1, kh, kw] → [kh, kw, C, m]: OIHW → HWIO with I = 1, then a reshape. */
  | { readonly kind: 'depthwise' };

/** Engine row r of a dense kernel ↔ ONNX row: the ONNX feature index of engine feature r. */
function onnxFeatureOf(chw: readonly [number, number, number] | undefined, features: number): Int32Array {
  const map = new Int32Array(features);
  if (!chw) {
    for (let r = 0; r < features; r++) map[r] = r;
    return map;
  }
  const [c, h, w] = chw;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) map[(y * w + x) * c + k] = k * h * w + y * w + x;
  return map;
}

/** Converts values in the ONNX layout `dims` to the engine layout (a new array). */
export function toEngine(values: Float32Array, dims: Shape, layout: WeightLayout): Float32Array {
  return convert(values, dims, layout, 'toEngine');
}

/** Converts engine values back to the ONNX layout `dims` (a new array). */
export function toOnnx(values: Float32Array, dims: Shape, layout: WeightLayout): Float32Array {
  return convert(values, dims, layout, 'toOnnx');
}

function convert(values: Float32Array, dims: Shape, layout: WeightLayout, direction: 'toEngine' | 'toOnnx'): Float32Array {
  const out = new Float32Array(values.length);
  // For each pair (engine index e, onnx index o): out[e] = values[o] or out[o] = values[e].
  const move = direction === 'toEngine' ? (e: number, o: number) => (out[e] = values[o]) : (e: number, o: number) => (out[o] = values[e]);
  switch (layout.kind) {
    case 'same':
      out.set(values);
      return out;
    case 'dense': {
      const [inUnits, outUnits] = layout.transB ? [dims[1], dims[0]] : [dims[0], dims[1]];
      const feature = onnxFeatureOf(layout.chw, inUnits);
      for (let r = 0; r < inUnits; r++) {
        const onnxRow = feature[r];
        for (let j = 0; j < outUnits; j++) move(r * outUnits + j, layout.transB ? j * inUnits + onnxRow : onnxRow * outUnits + j);
      }
      return out;
    }
    case 'conv':
    case 'depthwise': {
      const [o, i, kh, kw] = dims;
      for (let a = 0; a < o; a++)
        for (let b = 0; b < i; b++)
          for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) move(((y * kw + x) * i + b) * o + a, ((a * i + b) * kh + y) * kw + x);
      return out;
    }
  }
}
