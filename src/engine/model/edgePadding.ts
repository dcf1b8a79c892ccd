import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import type { LayerNode } from './spec';

/** Rows [top, bottom] and columns [left, right] an EdgePadding2D layer adds: config `padding` [[top, bottom], [left, right]]. */
export type EdgePads = readonly [readonly [number, number], readonly [number, number]];

export function edgePadding(node: LayerNode): EdgePads {
  const padding = node.config.padding;
  const valid = Array.isArray(padding) && padding.length === 2 && padding.every((side) => Array.isArray(side) && side.length === 2 && side.every((p) => Number.isInteger(p) && p >= 0));
  if (!valid) throw new ModelProblem(node.name, `EdgePadding2D padding ${JSON.stringify(padding)} must be [[top, bottom], [left, right]] of non-negative integers`);
  return padding as unknown as EdgePads;
}

/**
 * A channels-last [N, H, W, C] tensor with its first and last rows and columns repeated outwards
 * (ONNX Pad mode 'edge'), built from slices and a concatenation so that any engine differentiates it
 * exactly twice. A max over a window holding at least one input cell in each direction is unchanged
 * by it: the repeated cells copy cells of that same window.
 */
export function padByRepeatingEdges<T>(x: T, shape: readonly number[], pads: EdgePads, slice: (x: T, starts: number[], sizes: number[]) => T, concat: (parts: T[], axis: number) => T): T {
  let result = x;
  let current = [...shape];
  for (const axis of [1, 2]) {
    const [before, after] = pads[axis - 1];
    if (before + after === 0) continue;
    const size = current[axis];
    const line = (at: number) => slice(result, current.map((_, i) => (i === axis ? at : 0)), current.map((d, i) => (i === axis ? 1 : d)));
    const first = line(0);
    const last = line(size - 1);
    result = concat([...new Array<T>(before).fill(first), result, ...new Array<T>(after).fill(last)], axis);
    current = current.map((d, i) => (i === axis ? d + before + after : d));
  }
  return result;
}

export function edgePad(node: LayerNode, x: tf.Tensor): tf.Tensor {
  if (x.rank !== 4) throw new ModelProblem(node.name, `EdgePadding2D expects [batch, height, width, channels] input, got shape [${x.shape.join(', ')}]`);
  return padByRepeatingEdges(x, x.shape, edgePadding(node), (t, starts, sizes) => tf.slice(t, starts, sizes), (parts, axis) => tf.concat(parts, axis));
}
