/**
 * What attention blocks add on tensors (tensorLayout.ts): MatMul of two computed values, Slice and
 * Gather of data along one axis, Expand of a parameter over the batch (a class token), and scaling
 * by a constant number (Div or Mul by 1/√d, arithmetic.ts and merge.ts).
 */
import { BATCH, isBatchDependent } from '../constantFolding';
import type { NodeMapping, OperatorHandler, TensorValue } from '../mapping';
import { asTensor, normalized, onnxDims } from '../tensorLayout';

/** The engine axes of `x` in the order [leading…, rows, columns] for a batched product; a Permute if needed. */
function forProduct(n: NodeMapping, x: TensorValue, role: string): TensorValue {
  const rank = x.axes.length;
  const [rows, columns] = [x.axes[rank - 2], x.axes[rank - 1]];
  if (rows.length !== 1 || columns.length !== 1 || rows[0] === 0 || columns[0] === 0) n.fail(`its ${role} [${onnxDims(x)}] does not keep its matrix axes apart from the batch; not supported`);
  const order = [...x.axes.slice(0, -2).flat(), rows[0], columns[0]];
  if (order[0] !== 0) n.fail(`its ${role} [${onnxDims(x)}] does not lead with the batch; not supported`);
  if (order.every((e, i) => e === i)) return x;
  const layer = n.graph.addLayer(`${n.label}.${role}`, 'Permute', { dims: order.slice(1) }, [x.layer]);
  const position = new Map(order.map((e, i) => [e, i]));
  return { ...x, layer: layer.name, engine: order.slice(1).map((e) => x.engine[e - 1]), axes: x.axes.map((g) => g.map((e) => position.get(e)!)) };
}

/** MatMul of two computed values [..., m, k] · [..., k, n]: a BatchMatMul layer. */
export function productOfTwo(n: NodeMapping): void {
  const [a, b] = [forProduct(n, asTensor(n.valueOf(0)), 'first operand'), forProduct(n, asTensor(n.valueOf(1)), 'second operand')];
  const lead = (x: TensorValue) => x.engine.slice(0, -2);
  if (a.axes.length !== b.axes.length || JSON.stringify(lead(a)) !== JSON.stringify(lead(b)) || JSON.stringify(a.axes.slice(0, -2)) !== JSON.stringify(b.axes.slice(0, -2))) {
    n.fail(`operands [${onnxDims(a)}] and [${onnxDims(b)}] differ in their leading axes (broadcasting is not supported)`);
  }
  if (a.engine[a.engine.length - 1] !== b.engine[b.engine.length - 2]) n.fail(`operands [${onnxDims(a)}] and [${onnxDims(b)}] do not fit`);
  const layer = n.graph.addLayer(n.label, 'BatchMatMul', {}, [a.layer, b.layer]);
  const rank = a.engine.length + 1;
  n.output(normalized({ ...a, layer: layer.name, engine: [...lead(a), a.engine[a.engine.length - 2], b.engine[b.engine.length - 1]], axes: [...a.axes.slice(0, -2), [rank - 2], [rank - 1]], nonNegative: false }));
}

/** The one engine axis behind ONNX axis `axis`, which must not hold the batch. */
function engineAxisOf(n: NodeMapping, x: TensorValue, axis: number): number {
  const resolved = axis < 0 ? axis + x.axes.length : axis;
  const group = x.axes[resolved];
  if (group === undefined || group.length !== 1 || group[0] === 0) n.fail(`axis ${axis} of [${onnxDims(x)}] is not one data axis; not supported`);
  return group[0];
}

const slice: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const known = (i: number, role: string): number[] | undefined => {
    if (!n.node.inputs[i]) return undefined;
    const t = n.graph.intOf(n.node.inputs[i]);
    if (!t || t.values.some(isBatchDependent)) return n.fail(`its ${role} must be constants, or computed from shapes and constants`);
    return t.values as number[];
  };
  const starts = known(1, 'starts') ?? n.fail('has no starts');
  const ends = known(2, 'ends') ?? n.fail('has no ends');
  const axes = known(3, 'axes') ?? starts.map((_, i) => i);
  const steps = known(4, 'steps') ?? starts.map(() => 1);
  let current = x;
  axes.forEach((axis, k) => {
    if (steps[k] !== 1) n.fail(`step ${steps[k]} is not supported (1 only)`);
    const e = engineAxisOf(n, current, axis);
    const size = current.engine[e - 1];
    const wrap = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
    const [begin, end] = [wrap(starts[k]), wrap(ends[k])];
    if (end <= begin) n.fail(`takes nothing from axis ${axis}`);
    if (begin === 0 && end === size) return;
    const layer = n.graph.addLayer(`${n.label}${k > 0 ? `.${k}` : ''}`, 'SliceAxis', { axis: e, begin, size: end - begin }, [current.layer]);
    current = { ...current, layer: layer.name, engine: current.engine.map((d, i) => (i === e - 1 ? end - begin : d)) };
  });
  n.output(normalized(current));
};

/** Gather of one position along a data axis (torch's x[:, 0], the class token). */
const gather: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const indices = n.graph.intOf(n.node.inputs[1]);
  if (!indices || indices.dims.length !== 0 || typeof indices.values[0] !== 'number') n.fail('only a single constant index is supported');
  const axis = n.attr.int('axis', 0);
  const e = engineAxisOf(n, x, axis);
  const resolvedAxis = axis < 0 ? axis + x.axes.length : axis;
  const layer = n.graph.addLayer(n.label, 'TakeIndex', { axis: e, index: indices!.values[0] as number }, [x.layer]);
  const axes = x.axes.filter((_, i) => i !== resolvedAxis).map((g) => g.map((a) => (a > e ? a - 1 : a)));
  n.output(normalized({ ...x, layer: layer.name, engine: x.engine.filter((_, i) => i !== e - 1), axes }));
};

/** A parameter [1, d₁, …] expanded to [N, d₁, …]: a BroadcastParameter layer. */
const expand: OperatorHandler = (n) => {
  const weight = n.constantInput(0, 'input (a parameter)');
  const shape = n.graph.intOf(n.node.inputs[1]);
  const target = shape?.values ?? n.fail('its shape must be computed from shapes and constants');
  const broadcastOverBatch = target.length === weight.dims.length && weight.dims[0] === 1 && target[0] === BATCH && target.slice(1).every((d, i) => d === 1 || d === weight.dims[i + 1]);
  if (!broadcastOverBatch) n.fail(`expanding [${weight.dims}] to [${target}] is not supported (a parameter [1, …] over the batch only)`);
  n.output(broadcastParameter(n, weight.dims.slice(1), n.node.inputs[0]));
}

/** A layer holding initializer `name` (its dims [1, ...shape]) repeated over the batch. */
export function broadcastParameter(n: NodeMapping, shape: readonly number[], name: string): TensorValue {
  const layer = n.graph.addLayer(`${n.label}.parameter`, 'BroadcastParameter', {}, [n.graph.inputLayer]);
  n.addWeight(layer, 'value', n.constantInput(n.node.inputs.indexOf(name), 'parameter'), { kind: 'same' }, [...shape]);
  return { kind: 'tensor', layer: layer.name, engine: [...shape], axes: [[0], ...shape.map((_, i) => [i + 1])] };
}

/** The single number a constant input holds, or undefined. */
export function scalarInput(n: NodeMapping, i: number): number | undefined {
  const tensor = n.graph.constants.get(n.node.inputs[i]);
  if (!tensor || tensor.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
  return n.graph.readNumbers(tensor)[0];
}

/** x · c or x / c for a constant number c: a Rescaling layer. */
export function scaledByConstant(n: NodeMapping, divide: boolean): void {
  const side = n.node.inputs.findIndex((_, i) => scalarInput(n, i) !== undefined);
  if (side < 0 || (divide && side !== 1)) n.fail('only scaling by a constant number is supported');
  const c = scalarInput(n, side)!;
  if (divide && c === 0) n.fail('divides by zero');
  const x = n.valueOf(1 - side);
  const layer = n.graph.addLayer(n.label, 'Rescaling', { scale: divide ? 1 / c : c, offset: 0 }, [x.layer]);
  n.output({ ...x, layer: layer.name, nonNegative: Boolean(x.nonNegative && c > 0) });
}

export const attentionOperators: Record<string, OperatorHandler> = {
  Slice: slice,
  Gather: gather,
  Expand: expand,
};
