/**
 * How each trainable weight is laid out as an input of the objective graph. Convolution kernels,
 * stored HWIO (Keras), enter as ONNX's Conv filters [O, I/group, kh, kw]: transposing them in JavaScript
 * once per weight point or direction costs far less than ONNX Runtime's 4-D Transpose inside every
 * run (on a ResNet the kernels outweigh the activations). Every other weight enters as stored.
 */
import type { NetworkFunction } from '../../model/network';
import type { Shape } from '../../model/spec';

export interface ParameterLayout {
  /** The graph input's shape. */
  readonly graphShape: Shape;
  /** The permutation of the stored axes the graph input holds, or undefined when it is the stored layout. */
  readonly permutation?: readonly number[];
}

type Values = Float32Array | Float64Array;

/**
 * The axes of a row-major rank-4 tensor permuted: the result's axis k is x's axis perm[k]. Reads
 * run along x's contiguous axis in tiles, so that a transpose of millions of values stays in cache.
 */
export function permuteAxes(x: Values, shape: Shape, perm: readonly number[]): Float32Array {
  if (shape.length !== 4 || perm.length !== 4) throw new Error(`permuteAxes takes rank-4 tensors, got shape [${shape.join(', ')}]`);
  const inStrides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const size = perm.map((p) => shape[p]);
  const read = perm.map((p) => inStrides[p]);
  const write = [size[1] * size[2] * size[3], size[2] * size[3], size[3], 1];
  const q = perm.indexOf(3);
  const [a, b, c] = [0, 1, 2, 3].filter((k) => k !== q);
  const y = new Float32Array(x.length);
  const tile = 32;
  for (let start = 0; start < size[q]; start += tile) {
    const length = Math.min(tile, size[q] - start);
    for (let i = 0; i < size[a]; i++) {
      for (let j = 0; j < size[b]; j++) {
        for (let k = 0; k < size[c]; k++) {
          const from = i * read[a] + j * read[b] + k * read[c] + start;
          const to = i * write[a] + j * write[b] + k * write[c] + start * write[q];
          for (let d = 0; d < length; d++) y[to + d * write[q]] = x[from + d];
        }
      }
    }
  }
  return y;
}

const hwioToOihw = [3, 2, 0, 1];
const depthwiseToFilters = [2, 3, 0, 1];

/** The ONNX filter layout of a weight read as `role` by a layer of class `className`, when it is a convolution's kernel. */
export function filterLayout(className: string | undefined, role: string, stored: Shape): ParameterLayout | undefined {
  if (stored.length !== 4) return undefined;
  // Conv2DTranspose's [kh, kw, filters, in] becomes ConvTranspose's [in, filters, kh, kw] alike.
  if ((className === 'Conv2D' || className === 'Conv2DTranspose') && role === 'kernel') return { graphShape: hwioToOihw.map((axis) => stored[axis]), permutation: hwioToOihw };
  // Depthwise [kh, kw, C, m] as [C, m, kh, kw] is the filter [C·m, 1, kh, kw], same values.
  if (className === 'DepthwiseConv2D' && role === 'depthwise_kernel') return { graphShape: [stored[2] * stored[3], 1, stored[0], stored[1]], permutation: depthwiseToFilters };
  return undefined;
}

export function parameterLayouts(network: NetworkFunction): ParameterLayout[] {
  const classOf = new Map(network.checkpoint.model.layers.map((l) => [l.name, l.className]));
  const byName = new Map(network.checkpoint.weights.map((w) => [w.name, w]));
  return network.parameters.map((p) => {
    const w = byName.get(p.name)!;
    const layouts = [{ layer: w.layer, role: w.role }, ...(w.alsoUsedBy ?? [])].map((use) => filterLayout(classOf.get(use.layer), use.role, p.shape));
    const first = layouts[0];
    return first && layouts.every((l) => l?.permutation === first.permutation) ? first : { graphShape: p.shape };
  });
}

/** Stored layout → graph layout. */
export function toGraphLayout(layout: ParameterLayout, stored: Shape, values: Float32Array): Float32Array {
  return layout.permutation ? permuteAxes(values, stored, layout.permutation) : values;
}

/** Graph layout → stored layout, in float32. */
export function fromGraphLayout(layout: ParameterLayout, stored: Shape, values: Values): Float32Array {
  if (!layout.permutation) return values instanceof Float32Array ? values : Float32Array.from(values);
  const perm = layout.permutation;
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return permuteAxes(values, perm.map((axis) => stored[axis]), inverse);
}
