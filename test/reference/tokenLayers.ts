/**
 * Test reference only: the attention-block layers of src/engine/model/tokenLayers.ts over `Num`
 * tensors, written from their definitions with index loops (batch first, row-major).
 */
import type { LayerNode } from '../../src/engine/model/spec';
import { SumAccumulator, add, mul } from './hyperDual';
import type { Num } from './hyperDual';
import { numberOption } from './layerConfig';
import { ReferenceModelError, elementCount, resolveAxis } from './referenceTensor';
import type { ReferenceTensor } from './referenceTensor';

function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

/** Every multi-index of `shape` in row-major order. */
function* indices(shape: readonly number[]): Generator<number[]> {
  const total = elementCount(shape);
  const strides = stridesOf(shape);
  for (let flat = 0; flat < total; flat++) yield shape.map((d, i) => Math.floor(flat / strides[i]) % d);
}

function at(x: ReferenceTensor, index: readonly number[]): Num {
  const strides = stridesOf(x.shape);
  return x.data[index.reduce((sum, v, i) => sum + v * strides[i], 0)];
}

export function batchMatMul(node: LayerNode, a: ReferenceTensor, b: ReferenceTensor): ReferenceTensor {
  const rank = a.shape.length;
  const [m, k, n] = [a.shape[rank - 2], a.shape[rank - 1], b.shape[rank - 1]];
  if (b.shape.length !== rank || b.shape[rank - 2] !== k) throw new ReferenceModelError(node.name, `cannot multiply [${a.shape}] by [${b.shape}]`);
  const shape = [...a.shape.slice(0, -2), m, n];
  const data: Num[] = [];
  for (const index of indices(shape)) {
    const lead = index.slice(0, -2);
    const sum = new SumAccumulator();
    for (let j = 0; j < k; j++) sum.add(mul(at(a, [...lead, index[rank - 2], j]), at(b, [...lead, j, index[rank - 1]])));
    data.push(sum.result());
  }
  return { shape, data };
}

export function permute(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const perm = [0, ...(node.config.dims as number[])];
  const shape = perm.map((p) => x.shape[p]);
  const data: Num[] = [];
  for (const index of indices(shape)) {
    const source = new Array<number>(perm.length);
    perm.forEach((p, i) => (source[p] = index[i]));
    data.push(at(x, source));
  }
  return { shape, data };
}

/** Entries begin…begin+size−1 along `axis`; with `drop` (one entry) that axis removed. */
export function sliceAlong(node: LayerNode, x: ReferenceTensor, begin: number, size: number, drop: boolean): ReferenceTensor {
  const axis = resolveAxis(numberOption(node, 'axis', 1), x.shape.length, node.name);
  const shape = x.shape.map((d, i) => (i === axis ? size : d));
  const data: Num[] = [];
  for (const index of indices(shape)) data.push(at(x, index.map((v, i) => (i === axis ? v + begin : v))));
  return { shape: drop ? shape.filter((_, i) => i !== axis) : shape, data };
}

export function rescaling(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const scale = numberOption(node, 'scale', 1);
  const offset = numberOption(node, 'offset', 0);
  return { shape: x.shape, data: x.data.map((v) => add(mul(v, scale), offset)) };
}

export function broadcastParameter(x: ReferenceTensor, value: ReferenceTensor): ReferenceTensor {
  const data: Num[] = [];
  for (let n = 0; n < x.shape[0]; n++) data.push(...value.data);
  return { shape: [x.shape[0], ...value.shape], data };
}
