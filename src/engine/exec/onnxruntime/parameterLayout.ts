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
 * y[b, c, r, :] = x[b, r, c, :] for chunks of `chunk` contiguous values: a batch of transposes of
 * [rows, cols] matrices whose entries are chunks, in square tiles so that reads and writes both run
 * along memory (a transpose of millions of values that strides across pages is several times slower).
 */
function transposeChunks(x: Values, y: Float32Array, batch: number, rows: number, cols: number, chunk: number): void {
  if (chunk === 1) return transposeValues(x, y, batch, rows, cols);
  const tile = Math.max(8, Math.floor(32 / chunk));
  const matrix = rows * cols * chunk;
  for (let b = 0; b < batch; b++) {
    const base = b * matrix;
    for (let r0 = 0; r0 < rows; r0 += tile) {
      const r1 = Math.min(rows, r0 + tile);
      for (let c0 = 0; c0 < cols; c0 += tile) {
        const c1 = Math.min(cols, c0 + tile);
        for (let c = c0; c < c1; c++) {
          for (let r = r0; r < r1; r++) {
            const from = base + (r * cols + c) * chunk;
            const to = base + (c * rows + r) * chunk;
            for (let k = 0; k < chunk; k++) y[to + k] = x[from + k];
          }
        }
      }
    }
  }
}

/** transposeChunks for single values, the common case, with running indices (twice as fast). */
function transposeValues(x: Values, y: Float32Array, batch: number, rows: number, cols: number): void {
  const tile = 16;
  const matrix = rows * cols;
  for (let b = 0; b < batch; b++) {
    const base = b * matrix;
    for (let r0 = 0; r0 < rows; r0 += tile) {
      const r1 = Math.min(rows, r0 + tile);
      for (let c0 = 0; c0 < cols; c0 += tile) {
        const c1 = Math.min(cols, c0 + tile);
        for (let r = r0; r < r1; r++) {
          let from = base + r * cols + c0;
          let to = base + c0 * rows + r;
          for (let c = c0; c < c1; c++, from++, to += rows) y[to] = x[from];
        }
      }
    }
  }
}

/**
 * y[k, j, i] = x[i, j, k]: the order of three groups reversed (HWIO ↔ OIHW) in one pass. For each
 * j, runs of `tile` values of k are read along memory for every i, and their writes land on `tile`
 * cache lines that the next i fills further; two plain transposes in a row took ten times as long
 * on a ResNet's kernels.
 */
function reverseGroups(x: Values, y: Float32Array, a: number, b: number, c: number): void {
  const tile = 16;
  const rowStride = b * c;
  const writeStride = b * a;
  for (let j = 0; j < b; j++) {
    for (let k0 = 0; k0 < c; k0 += tile) {
      const k1 = Math.min(c, k0 + tile);
      for (let i = 0; i < a; i++) {
        let from = i * rowStride + j * c + k0;
        let to = (k0 * b + j) * a + i;
        for (let k = k0; k < k1; k++, from++, to += writeStride) y[to] = x[from];
      }
    }
  }
}

/**
 * The axes of a row-major rank-4 tensor permuted: the result's axis k is x's axis perm[k]. Axes that
 * stay neighbours are merged; the permutation of the (at most three) merged groups is then one or
 * two chunked matrix transposes.
 */
export function permuteAxes(x: Values, shape: Shape, perm: readonly number[], into?: Float32Array): Float32Array {
  if (shape.length !== 4 || perm.length !== 4) throw new Error(`permuteAxes takes rank-4 tensors, got shape [${shape.join(', ')}]`);
  // Groups of input axes that stay adjacent and in order in the output, in output order.
  const groups: number[][] = [];
  for (const axis of perm) {
    const last = groups[groups.length - 1];
    if (last && last[last.length - 1] + 1 === axis) last.push(axis);
    else groups.push([axis]);
  }
  const size = (group: readonly number[]) => group.reduce((n, axis) => n * shape[axis], 1);
  // The groups' sizes in input order (A, B, C) and the output's order of them.
  const inInputOrder = [...groups].sort((a, b) => a[0] - b[0]);
  const order = groups.map((g) => inInputOrder.indexOf(g)).join('');
  const [a, b, c] = inInputOrder.map(size);
  const y = into ?? new Float32Array(x.length);
  switch (order) {
    case '0':
    case '012':
      y.set(x);
      return y;
    case '10':
      transposeChunks(x, y, 1, a, b, 1);
      return y;
    case '102':
      transposeChunks(x, y, 1, a, b, c);
      return y;
    case '021':
      transposeChunks(x, y, a, b, c, 1);
      return y;
    case '120':
      transposeChunks(x, y, 1, a, b * c, 1);
      return y;
    case '201':
      transposeChunks(x, y, 1, a * b, c, 1);
      return y;
    case '210':
      reverseGroups(x, y, a, b, c);
      return y;
    default:
      return permuteEach(x, y, shape, perm);
  }
}

/** Any rank-4 permutation, value by value (four groups: no two axes stay neighbours). */
function permuteEach(x: Values, y: Float32Array, shape: Shape, perm: readonly number[]): Float32Array {
  const inStrides = [shape[1] * shape[2] * shape[3], shape[2] * shape[3], shape[3], 1];
  const size = perm.map((p) => shape[p]);
  const read = perm.map((p) => inStrides[p]);
  let o = 0;
  for (let i = 0; i < size[0]; i++)
    for (let j = 0; j < size[1]; j++)
      for (let k = 0; k < size[2]; k++)
        for (let l = 0; l < size[3]; l++) y[o++] = x[i * read[0] + j * read[1] + k * read[2] + l * read[3]];
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

/** Stored layout → graph layout (into `into` when given and the layout permutes). */
export function toGraphLayout(layout: ParameterLayout, stored: Shape, values: Float32Array, into?: Float32Array): Float32Array {
  return layout.permutation ? permuteAxes(values, stored, layout.permutation, into) : values;
}

/** Graph layout → stored layout, in float32: into `into` when given, else a new array unless `values` already is one. */
export function fromGraphLayout(layout: ParameterLayout, stored: Shape, values: Values, into?: Float32Array): Float32Array {
  if (!layout.permutation) {
    if (into) {
      into.set(values);
      return into;
    }
    return values instanceof Float32Array ? values : Float32Array.from(values);
  }
  const perm = layout.permutation;
  const inverse = perm.map((_, i) => perm.indexOf(i));
  return permuteAxes(values, perm.map((axis) => stored[axis]), inverse, into);
}
