/**
 * Sub and Div on data, and what Add and Mul share with them: two computed values of one shape, or a
 * feature map and one value per channel ([N, C, 1, 1], e.g. after global pooling) repeated over its
 * positions (numpy broadcasting in either argument order); one constant number on either side.
 * x − y is x + (−1)·y and x / y is x · y^(−1), so every piece is a layer with exact rules.
 */
import type { ImageValue, NodeMapping, OperatorHandler, Value } from '../mapping';
import { asTensor, materialized, normalized } from '../tensorLayout';
import { scalarInput, scaledByConstant } from './attention';

const isPerChannel = (v: Value): v is ImageValue => v.kind === 'image' && (v.squeezed === true || (v.h === 1 && v.w === 1));
const isMap = (v: Value): v is ImageValue => v.kind === 'image' && !v.squeezed && v.h * v.w > 1;
const shapeOf = (v: Value) => JSON.stringify({ ...v, layer: '', nonNegative: undefined });

/** A per-channel value repeated over the positions of `like` (nearest upsampling of its 1×1 map). */
function spread(n: NodeMapping, v: ImageValue, like: ImageValue): ImageValue {
  const map = v.squeezed ? n.graph.addLayer(`${n.label}.unsqueeze`, 'Reshape', { target_shape: [1, 1, v.c] }, [v.layer]).name : v.layer;
  const layer = n.graph.addLayer(`${n.label}.spread`, 'UpSampling2D', { size: [like.h, like.w], interpolation: 'nearest', data_format: 'channels_last' }, [map]);
  return { ...like, layer: layer.name, nonNegative: v.nonNegative };
}

/** The node's two computed inputs brought to one shape, or a failure naming both. */
export function broadcastPair(n: NodeMapping, given: readonly [Value, Value]): [Value, Value] {
  let [a, b] = given;
  if (isPerChannel(a) && isMap(b) && a.c === b.c) a = spread(n, a, b);
  else if (isMap(a) && isPerChannel(b) && a.c === b.c) b = spread(n, b, a);
  if (shapeOf(a) !== shapeOf(b) && (a.kind === 'tensor' || b.kind === 'tensor')) [a, b] = [materialized(n, asTensor(a)), materialized(n, asTensor(b))];
  if (shapeOf(a) !== shapeOf(b)) n.fail('inputs of these different shapes are not supported (one shape, or [N, C, H, W] with one value per channel [N, C, 1, 1], in either order)');
  return [a, b];
}

/** One layer of class `className` on inputs of one shape. */
export function combined(n: NodeMapping, className: 'Add' | 'Multiply', [a, b]: [Value, Value], base = n.label): Value {
  const layer = n.graph.addLayer(base, className, {}, [a.layer, b.layer]);
  const nonNegative = Boolean(a.nonNegative && b.nonNegative);
  return a.kind === 'tensor' ? normalized({ ...a, layer: layer.name, nonNegative }) : { ...a, layer: layer.name, nonNegative };
}

function elementwise(n: NodeMapping, x: Value, base: string, className: string, config: Record<string, unknown>, nonNegative: boolean): Value {
  const layer = n.graph.addLayer(base, className, config, [x.layer]);
  return { ...x, layer: layer.name, nonNegative } as Value;
}

/** c + x for a constant number c (either side): a Rescaling with an offset. */
export function offsetByConstant(n: NodeMapping, side: number): void {
  const c = scalarInput(n, side)!;
  const x = n.valueOf(1 - side);
  n.output(elementwise(n, x, n.label, 'Rescaling', { scale: 1, offset: c }, Boolean(x.nonNegative && c >= 0)));
}

const sub: OperatorHandler = (n) => {
  const [left, right] = [scalarInput(n, 0), scalarInput(n, 1)];
  if (right !== undefined && left === undefined) return n.output(elementwise(n, n.valueOf(0), n.label, 'Rescaling', { scale: 1, offset: -right }, false));
  if (left !== undefined && right === undefined) return n.output(elementwise(n, n.valueOf(1), n.label, 'Rescaling', { scale: -1, offset: left }, false));
  if (n.node.inputs.some((name) => n.graph.constants.has(name))) n.fail('subtracting a constant tensor is not supported (one constant number, or two computed values)');
  const [a, b] = broadcastPair(n, [n.valueOf(0), n.valueOf(1)]);
  const negated = elementwise(n, b, `${n.label}.negate`, 'Rescaling', { scale: -1, offset: 0 }, false);
  const difference = combined(n, 'Add', [a, negated]);
  n.output({ ...difference, nonNegative: false });
};

const div: OperatorHandler = (n) => {
  const [left, right] = [scalarInput(n, 0), scalarInput(n, 1)];
  if (right !== undefined) return scaledByConstant(n, true);
  if (n.graph.constants.has(n.node.inputs[1]) || (left === undefined && n.graph.constants.has(n.node.inputs[0]))) n.fail('dividing by or into a constant tensor is not supported (one constant number, or two computed values)');
  const divisor = n.valueOf(1);
  const reciprocal = elementwise(n, divisor, left === undefined ? `${n.label}.reciprocal` : n.label, 'Power', { exponent: -1 }, Boolean(divisor.nonNegative));
  if (left !== undefined) {
    if (left === 1) return n.output(reciprocal);
    return n.output(elementwise(n, reciprocal, `${n.label}.scale`, 'Rescaling', { scale: left, offset: 0 }, Boolean(reciprocal.nonNegative && left > 0)));
  }
  n.output(combined(n, 'Multiply', broadcastPair(n, [n.valueOf(0), reciprocal])));
};

export const arithmeticOperators: Record<string, OperatorHandler> = { Sub: sub, Div: div };
