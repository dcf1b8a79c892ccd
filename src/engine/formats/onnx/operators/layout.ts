/**
 * Transpose: only relabels which engine axes each ONNX axis holds (tensorLayout.ts); NCHW to
 * channels-last and back needs no layer at all, as the engine holds feature maps channels-last.
 */
import type { OperatorHandler } from '../mapping';
import { asTensor, normalized, transposed } from '../tensorLayout';

const transpose: OperatorHandler = (n) => {
  const x = asTensor(n.valueOf(0));
  const rank = x.axes.length;
  const perm = n.attr.ints('perm', x.axes.map((_, i) => rank - 1 - i));
  if (perm.length !== rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) n.fail(`perm [${perm}] is not a permutation of the ${rank} axes`);
  n.output(normalized(transposed(x, perm)));
};

export const layoutOperators: Record<string, OperatorHandler> = { Transpose: transpose };
