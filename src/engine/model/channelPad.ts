import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import type { LayerNode } from './spec';

/** A ChannelPad layer's zero channels added before and after the input's: config `padding` [before, after]. */
export function channelPadding(node: LayerNode): [number, number] {
  const padding = node.config.padding;
  if (!Array.isArray(padding) || padding.length !== 2 || !padding.every((p) => Number.isInteger(p) && p >= 0)) throw new ModelProblem(node.name, `ChannelPad padding ${JSON.stringify(padding)} must be two non-negative integers`);
  return [padding[0], padding[1]];
}

/** Zero channels before and after the last axis (ONNX's Pad on the channel axis). */
export function channelPad(node: LayerNode, x: tf.Tensor): tf.Tensor {
  const [before, after] = channelPadding(node);
  return tf.pad(x, x.shape.map((_, i): [number, number] => (i === x.rank - 1 ? [before, after] : [0, 0])));
}
