/**
 * Nodes that only relabel which engine axes each ONNX axis holds (tensorLayout.ts): Transpose, and
 * Squeeze and Unsqueeze of axes of size 1. NCHW to channels-last and back needs no layer at all, as
 * the engine holds feature maps channels-last.
 */
import type { NodeMapping, OperatorHandler } from '../mapping';
import { asTensor, normalized, onnxDims, reshapedTo, transposed } from '../tensorLayout';

const transpose: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const rank = x.axes.length;
  const perm = n.attr.ints('perm', x.axes.map((_, i) => rank - 1 - i));
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) n.fail(`perm [${perm}] is not a permutation of the ${rank} axes`);
  n.output(normalized(transposed(x, perm)));
};

/** Squeeze's or Unsqueeze's axes: an input from opset 13, an attribute before; undefined when none are given. */
function axesOf(n: NodeMapping): number[] | undefined {
  if (n.graph.opset < 13) return n.node.attributes.has('axes') ? n.attr.ints('axes', []) : undefined;
  const name = n.node.inputs[1];
  if (!name) return undefined;
  const known = n.graph.intOf(name);
  if (!known || known.values.some((a) => typeof a !== 'number')) return n.fail(`its axes (input 1, '${name}') must be a constant`);
  return known.values as number[];
}

function resolved(n: NodeMapping, axes: readonly number[], rank: number): number[] {
  const out = axes.map((a) => (a < 0 ? a + rank : a));
  if (out.some((a) => !Number.isInteger(a) || a < 0 || a >= rank) || new Set(out).size !== out.length) n.fail(`axes [${axes}] are not distinct axes of a rank-${rank} tensor`);
  return out;
}

const unsqueeze: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const given = axesOf(n) ?? n.fail('has no axes');
  const rank = x.axes.length + given.length;
  const inserted = new Set(resolved(n, given, rank));
  if (inserted.has(0)) n.fail('inserting an axis before the batch is not supported');
  const rest = [...x.axes];
  const axes = Array.from({ length: rank }, (_, i) => (inserted.has(i) ? [] : rest.shift()!));
  n.output(normalized({ ...x, axes }));
};

const squeeze: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const dims = onnxDims(x);
  const given = axesOf(n);
  const removed = new Set(given === undefined ? dims.flatMap((d, i) => (d === 1 ? [i] : [])) : resolved(n, given, dims.length));
  for (const a of removed) if (dims[a] !== 1) n.fail(`axis ${a} of [${dims}] has size ${dims[a]}, not 1`);
  // Axes of size 1 that the engine holds no axis for go without a layer; others need a reshape.
  if ([...removed].every((a) => x.axes[a].length === 0)) return n.output(normalized({ ...x, axes: x.axes.filter((_, i) => !removed.has(i)) }));
  n.output(normalized(reshapedTo(n, x, dims.filter((_, i) => !removed.has(i)))));
};

export const layoutOperators: Record<string, OperatorHandler> = { Transpose: transpose, Squeeze: squeeze, Unsqueeze: unsqueeze };
