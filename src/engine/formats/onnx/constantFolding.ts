/**
 * Integer tensors that exporters compute inside the graph instead of storing them: target shapes
 * and paddings. torch.onnx exports `x.view(x.size(0), -1)` as Shape → Gather → Unsqueeze → Concat →
 * Reshape, and nn.ZeroPad2d as a Pad whose pads come out of Mul/Sub/ConstantOfShape/Concat/Reshape/
 * Slice/Transpose on constants. graphToSpec evaluates these while mapping, with the batch size kept
 * symbolic. Weights can pass through shape-only ops too (a per-channel PReLU slope [C] is unsqueezed
 * to [C, 1, 1]): `viewDims` gives the dims such a view has.
 */
import type { OnnxNode } from './proto';

/** The symbolic batch size: the one dimension a model input may leave open. */
export const BATCH = 'N';
/** A number, the batch size, or a multiple k·N of it (`N*k`: attention merges the batch with the heads). */
export type IntValue = number | typeof BATCH | `N*${number}`;

/** [k, true] for k·N, [v, false] for a number v. */
function batchFactor(x: IntValue): [number, boolean] {
  return typeof x === 'number' ? [x, false] : x === BATCH ? [1, true] : [Number(x.slice(2)), true];
}

function batchMultiple(k: number): IntValue {
  return k === 1 ? BATCH : `N*${k}`;
}

/** Whether a value depends on the batch size. */
export function isBatchDependent(x: IntValue): boolean {
  return typeof x !== 'number';
}

/** a·b where at most one is a batch multiple; undefined when both are. */
export function multiplyIntValues(a: IntValue, b: IntValue): IntValue | undefined {
  const [fa, ba] = batchFactor(a);
  const [fb, bb] = batchFactor(b);
  if (ba && bb) return undefined;
  return ba || bb ? batchMultiple(fa * fb) : fa * fb;
}

/** A small integer tensor known while mapping; values row-major. */
export interface IntTensor {
  readonly dims: readonly number[];
  readonly values: readonly IntValue[];
}

/** Ops evaluated on integer tensors (and Shape/Size of data tensors of known shape). */
export const foldedOps = ['Shape', 'Size', 'Gather', 'Unsqueeze', 'Squeeze', 'Concat', 'Cast', 'Reshape', 'Slice', 'Transpose', 'ConstantOfShape', 'Add', 'Sub', 'Mul', 'Div', 'Identity', 'Equal', 'Where'] as const;

/** Ops that only relabel a tensor's dims: a weight passed through them is still that weight. */
export const weightViewOps = ['Unsqueeze', 'Squeeze', 'Reshape', 'Identity'] as const;

/** Larger results are not shapes or paddings; refusing them keeps a hostile file from allocating. */
const MAX_FOLDED_VALUES = 1 << 20;

/** TensorProto data types of integers (Cast targets that keep the values). */
const INTEGER_TYPES = new Set([2, 3, 4, 5, 6, 7, 12, 13]);

export interface FoldInputs {
  readonly opset: number;
  /** The integer tensor at input i when it is known (a constant or a folded result). */
  int(i: number): IntTensor | undefined;
  /** The ONNX shape of input i when it is a data tensor the mapping knows. */
  shape(i: number): readonly IntValue[] | undefined;
  /** The values of a tensor-valued attribute (ConstantOfShape's `value`). */
  tensorAttribute(name: string): readonly number[] | undefined;
  readonly attr: { int(name: string, fallback: number): number; ints(name: string, fallback: number[]): number[] };
  fail(problem: string): never;
}

/**
 * The node's output when it computes an integer tensor from known ones, else undefined: then the
 * node works on data and the caller maps it as a layer.
 */
export function foldNode(node: OnnxNode, io: FoldInputs): IntTensor | undefined {
  const ints = node.inputs.map((name, i) => (name === '' ? undefined : io.int(i)));
  if (node.opType === 'Shape' || node.opType === 'Size') {
    const dims = ints[0]?.dims ?? io.shape(0);
    if (dims === undefined) return undefined;
    if (node.opType === 'Size') {
      if (dims.some(isBatchDependent)) io.fail('the size of a batch of data depends on the batch size; not supported');
      return result(io, [], [product(dims as number[])]);
    }
    const rank = dims.length;
    const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
    const start = clamp(io.attr.int('start', 0));
    const values = dims.slice(start, Math.max(start, clamp(io.attr.int('end', rank))));
    return result(io, [values.length], values);
  }
  const x = ints[0];
  if (x === undefined || node.inputs.some((name, i) => name !== '' && ints[i] === undefined)) return undefined;
  const numbers = (i: number, role: string): number[] => {
    const t = ints[i];
    if (t === undefined) return io.fail(`its ${role} (input ${i}) must be a constant`);
    if (t.values.some(isBatchDependent)) io.fail(`its ${role} depends on the batch size; not supported`);
    return t.values as number[];
  };
  switch (node.opType) {
    case 'Identity':
      return x;
    case 'Cast':
      return INTEGER_TYPES.has(io.attr.int('to', 0)) ? x : undefined;
    case 'Unsqueeze':
    case 'Squeeze':
    case 'Reshape':
      return result(io, viewDims(node, x.dims, io, numbers), x.values);
    case 'Gather':
      return gather(x, ints[1]!, io, numbers(1, 'indices'));
    case 'Concat':
      return concat(ints as IntTensor[], io);
    case 'Transpose':
      return transpose(x, io.attr.ints('perm', x.dims.map((_, i) => x.dims.length - 1 - i)), io);
    case 'Slice':
      return slice(x, io, numbers);
    case 'ConstantOfShape': {
      const dims = numbers(0, 'shape');
      const value = io.tensorAttribute('value') ?? [0];
      if (value.length !== 1) io.fail(`its value has ${value.length} elements, expected 1`);
      if (dims.some((d) => !Number.isInteger(d) || d < 0)) io.fail(`shape [${dims}] must be non-negative integers`);
      checkResultSize(io, dims);
      return result(io, dims, new Array<number>(product(dims)).fill(value[0]));
    }
    case 'Add':
    case 'Sub':
      return arithmetic(node.opType, { ...x, values: numbers(0, 'first operand') }, { ...ints[1]!, values: numbers(1, 'second operand') }, io);
    case 'Mul':
    case 'Div':
    case 'Equal':
      return arithmetic(node.opType, x, ints[1]!, io);
    case 'Where':
      return where(x, ints[1]!, ints[2]!, io);
    default:
      return undefined;
  }
}

/**
 * Dims after Unsqueeze, Squeeze, Reshape or Identity of a tensor with `dims`; `numbers(i)` reads
 * the constant at input i (axes from opset 13, Reshape's shape).
 */
export function viewDims(node: OnnxNode, dims: readonly number[], io: Pick<FoldInputs, 'opset' | 'attr' | 'fail'>, numbers: (i: number, role: string) => number[]): number[] {
  const axesOf = (rank: number): number[] | undefined => {
    const axes = io.opset >= 13 ? (node.inputs[1] ? numbers(1, 'axes') : undefined) : io.attr.ints('axes', []);
    if (axes === undefined || (io.opset < 13 && axes.length === 0)) return undefined;
    return axes.map((a) => normalizeAxis(a, rank, io.fail));
  };
  switch (node.opType) {
    case 'Identity':
      return [...dims];
    case 'Unsqueeze': {
      const rank = dims.length + (io.opset >= 13 ? numbers(1, 'axes').length : io.attr.ints('axes', []).length);
      const axes = new Set(axesOf(rank) ?? io.fail('has no axes'));
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < rank; i++) out.push(axes.has(i) ? 1 : dims[k++]);
      if (k !== dims.length) io.fail('repeats an axis');
      return out;
    }
    case 'Squeeze': {
      const axes = axesOf(dims.length);
      if (axes?.some((a) => dims[a] !== 1)) io.fail(`cannot squeeze axes [${axes}] of dims [${dims}]`);
      return dims.filter((d, i) => (axes ? !axes.includes(i) : d !== 1));
    }
    case 'Reshape': {
      const target = numbers(1, 'shape');
      const allowZero = io.attr.int('allowzero', 0) === 1;
      const out = target.map((d, i) => (d === 0 && !allowZero ? (dims[i] ?? io.fail(`shape [${target}] copies dimension ${i}, which [${dims}] lacks`)) : d));
      const inferred = out.indexOf(-1);
      if (out.some((d, i) => (d < 0 && i !== inferred) || !Number.isInteger(d))) io.fail(`shape [${target}] is not a valid target shape`);
      if (inferred >= 0) {
        const rest = product(out.filter((_, i) => i !== inferred));
        if (rest === 0 || product(dims) % rest !== 0) io.fail(`cannot reshape [${dims}] to [${target}]`);
        out[inferred] = product(dims) / rest;
      }
      if (product(out) !== product(dims)) io.fail(`cannot reshape [${dims}] to [${target}]`);
      return out;
    }
    default:
      return io.fail(`${node.opType} is not a view of its input`);
  }
}

/** Refuses a result of `dims` before it is computed (broadcasting and gathering can multiply sizes). */
function checkResultSize(io: Pick<FoldInputs, 'fail'>, dims: readonly number[]): void {
  const count = product(dims);
  if (count > MAX_FOLDED_VALUES) io.fail(`would compute a constant of dims [${dims}] (${count} values); only small shape computations are evaluated`);
}

function result(io: Pick<FoldInputs, 'fail'>, dims: readonly number[], values: readonly IntValue[]): IntTensor {
  if (values.length > MAX_FOLDED_VALUES) io.fail(`computes a constant of ${values.length} values; only small shape computations are evaluated`);
  if (values.length !== product(dims)) io.fail(`computes ${values.length} values for dims [${dims}]`);
  return { dims: [...dims], values };
}

function product(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function normalizeAxis(axis: number, rank: number, fail: (problem: string) => never): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) fail(`axis ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) strides[i] = strides[i + 1] * dims[i + 1];
  return strides;
}

/** Calls `visit` with each multi-index of `dims` in row-major order. */
function forEachIndex(dims: readonly number[], visit: (index: readonly number[]) => void): void {
  if (dims.some((d) => d === 0)) return;
  const index = new Array<number>(dims.length).fill(0);
  for (;;) {
    visit(index);
    let axis = dims.length - 1;
    while (axis >= 0 && ++index[axis] === dims[axis]) index[axis--] = 0;
    if (axis < 0) return;
  }
}

function gather(x: IntTensor, indices: IntTensor, io: FoldInputs, picks: number[]): IntTensor {
  const axis = normalizeAxis(io.attr.int('axis', 0), x.dims.length, io.fail);
  const n = x.dims[axis];
  const inner = product(x.dims.slice(axis + 1));
  const outer = product(x.dims.slice(0, axis));
  const dims = [...x.dims.slice(0, axis), ...indices.dims, ...x.dims.slice(axis + 1)];
  checkResultSize(io, dims);
  const values: IntValue[] = [];
  for (let o = 0; o < outer; o++) {
    for (const pick of picks) {
      if (!Number.isInteger(pick) || pick < -n || pick >= n) io.fail(`index ${pick} is out of range for dimension ${n}`);
      const k = pick < 0 ? pick + n : pick;
      for (let i = 0; i < inner; i++) values.push(x.values[(o * n + k) * inner + i]);
    }
  }
  return result(io, dims, values);
}

function concat(parts: readonly IntTensor[], io: FoldInputs): IntTensor {
  const rank = parts[0].dims.length;
  const axis = normalizeAxis(io.attr.int('axis', 0), rank, io.fail);
  if (parts.some((p) => p.dims.length !== rank || p.dims.some((d, i) => i !== axis && d !== parts[0].dims[i]))) {
    io.fail(`inputs of dims ${parts.map((p) => `[${p.dims}]`).join(', ')} cannot be concatenated along axis ${axis}`);
  }
  const outer = product(parts[0].dims.slice(0, axis));
  const values: IntValue[] = [];
  for (let o = 0; o < outer; o++) {
    for (const p of parts) {
      const chunk = product(p.dims.slice(axis));
      values.push(...p.values.slice(o * chunk, (o + 1) * chunk));
    }
  }
  const dims = [...parts[0].dims];
  dims[axis] = parts.reduce((sum, p) => sum + p.dims[axis], 0);
  return result(io, dims, values);
}

function transpose(x: IntTensor, perm: number[], io: FoldInputs): IntTensor {
  const rank = x.dims.length;
  if (perm.length !== rank || new Set(perm.map((p) => normalizeAxis(p, rank, io.fail))).size !== rank) io.fail(`perm [${perm}] is not a permutation of ${rank} axes`);
  const strides = stridesOf(x.dims);
  const dims = perm.map((p) => x.dims[p]);
  const values: IntValue[] = [];
  forEachIndex(dims, (index) => values.push(x.values[index.reduce((offset, v, i) => offset + v * strides[perm[i]], 0)]));
  return result(io, dims, values);
}

function slice(x: IntTensor, io: FoldInputs, numbers: (i: number, role: string) => number[]): IntTensor {
  const rank = x.dims.length;
  const fromInputs = io.opset >= 10;
  const starts = fromInputs ? numbers(1, 'starts') : io.attr.ints('starts', []);
  const ends = fromInputs ? numbers(2, 'ends') : io.attr.ints('ends', []);
  const axes = (fromInputs ? (io.int(3) ? numbers(3, 'axes') : undefined) : io.attr.ints('axes', [])) ?? starts.map((_, i) => i);
  const steps = fromInputs && io.int(4) ? numbers(4, 'steps') : starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) io.fail('starts, ends, axes and steps differ in length');
  const picks = x.dims.map((d) => Array.from({ length: d }, (_, i) => i));
  axes.forEach((a, k) => {
    const axis = normalizeAxis(a, rank, io.fail);
    const d = x.dims[axis];
    const step = steps[k];
    if (step === 0 || !Number.isInteger(step)) io.fail(`step ${step} is not supported`);
    const wrap = (v: number) => (v < 0 ? v + d : v);
    const start = step > 0 ? Math.min(Math.max(wrap(starts[k]), 0), d) : Math.min(Math.max(wrap(starts[k]), 0), d - 1);
    const end = step > 0 ? Math.min(Math.max(wrap(ends[k]), 0), d) : Math.min(Math.max(wrap(ends[k]), -1), d - 1);
    const chosen: number[] = [];
    for (let i = start; step > 0 ? i < end : i > end; i += step) chosen.push(i);
    picks[axis] = chosen;
  });
  const strides = stridesOf(x.dims);
  const dims = picks.map((p) => p.length);
  const values: IntValue[] = [];
  forEachIndex(dims, (index) => values.push(x.values[index.reduce((offset, v, i) => offset + picks[i][v] * strides[i], 0)]));
  return result(io, dims, values);
}

function arithmetic(op: string, a: IntTensor, b: IntTensor, io: FoldInputs): IntTensor {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (dims: readonly number[]) => [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const [da, db] = [pad(a.dims), pad(b.dims)];
  const dims = da.map((d, i) => {
    if (d !== db[i] && d !== 1 && db[i] !== 1) io.fail(`operands of dims [${a.dims}] and [${b.dims}] do not broadcast`);
    return d === 1 ? db[i] : d;
  });
  checkResultSize(io, dims);
  const [sa, sb] = [stridesOf(da), stridesOf(db)];
  const at = (t: IntTensor, d: number[], s: number[], index: readonly number[]) => t.values[index.reduce((offset, v, i) => offset + (d[i] === 1 ? 0 : v * s[i]), 0)];
  const values: IntValue[] = [];
  forEachIndex(dims, (index) => {
    const [x, y] = [at(a, da, sa, index), at(b, db, sb, index)];
    values.push(typeof x === 'number' && typeof y === 'number' ? numeric(op, x, y, io) : symbolic(op, x, y, io));
  });
  return result(io, dims, values);
}

function numeric(op: string, x: number, y: number, io: FoldInputs): number {
  if (op === 'Div' && y === 0) io.fail('divides by zero');
  return op === 'Add' ? x + y : op === 'Sub' ? x - y : op === 'Mul' ? x * y : op === 'Equal' ? Number(x === y) : Math.trunc(x / y);
}

/** Mul, Div and Equal where an operand is a batch multiple k·N (N ≥ 1 but otherwise unknown). */
function symbolic(op: string, x: IntValue, y: IntValue, io: FoldInputs): IntValue {
  const [fx, bx] = batchFactor(x);
  const [fy, by] = batchFactor(y);
  if (op === 'Mul') return multiplyIntValues(x, y) ?? io.fail('multiplies the batch size by itself; not supported');
  if (op === 'Div' && bx && !by && fy !== 0 && fx % fy === 0) return batchMultiple(fx / fy);
  if (op === 'Equal') {
    if (bx && by) return Number(fx === fy);
    // k·N with N ≥ 1 differs from every number below k.
    if ((bx && fy < fx) || (by && fx < fy)) return 0;
  }
  return io.fail(`${op} of ${String(x)} and ${String(y)} depends on the batch size; not supported`);
}

/** Where(condition, x, y), the three broadcast to one shape. */
function where(condition: IntTensor, x: IntTensor, y: IntTensor, io: FoldInputs): IntTensor {
  const rank = Math.max(condition.dims.length, x.dims.length, y.dims.length);
  const pad = (dims: readonly number[]) => [...new Array<number>(rank - dims.length).fill(1), ...dims];
  const padded = [condition, x, y].map((t) => pad(t.dims));
  const dims = padded[0].map((_, i) => Math.max(...padded.map((d) => d[i])));
  if (padded.some((d) => d.some((v, i) => v !== 1 && v !== dims[i]))) io.fail(`operands of dims ${[condition, x, y].map((t) => `[${t.dims}]`).join(', ')} do not broadcast`);
  checkResultSize(io, dims);
  const strides = padded.map(stridesOf);
  const pick = (k: number, index: readonly number[]) => [condition, x, y][k].values[index.reduce((offset, v, i) => offset + (padded[k][i] === 1 ? 0 : v * strides[k][i]), 0)];
  const values: IntValue[] = [];
  forEachIndex(dims, (index) => values.push(pick(0, index) !== 0 ? pick(1, index) : pick(2, index)));
  return result(io, dims, values);
}
