import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import { maxPool } from './spatial';
import type { LayerNode } from './spec';

/** How a ChannelReduce layer combines a position's channels. */
export type ChannelReduction = 'sum' | 'mean' | 'max';

export function channelReduction(node: LayerNode): ChannelReduction {
  const reduction = node.config.reduction;
  if (reduction !== 'sum' && reduction !== 'mean' && reduction !== 'max') throw new ModelProblem(node.name, `ChannelReduce reduction ${JSON.stringify(reduction)} is not supported (sum, mean or max)`);
  return reduction;
}

/**
 * [N, H, W, C] → [N, H, W, 1]: the sum, mean or maximum of each position's channels (ONNX's ReduceSum,
 * ReduceMean, ReduceMax over axis 1 with keepdims). The maximum is a max-pool across the channels,
 * whose relu-built rule differentiates exactly again (spatial.ts).
 */
export function channelReduce(node: LayerNode, x: tf.Tensor): tf.Tensor {
  if (x.rank !== 4) throw new ModelProblem(node.name, `ChannelReduce expects [batch, height, width, channels] input, got shape [${x.shape.join(', ')}]`);
  const [n, h, w, c] = x.shape;
  const reduction = channelReduction(node);
  if (reduction === 'sum') return tf.sum(x, 3, true);
  if (reduction === 'mean') return tf.mean(x, 3, true);
  const pooled = maxPool(tf.reshape(x, [n, h * w, c, 1]) as tf.Tensor4D, { kernel: [1, c], strides: [1, c], dilation: [1, 1], padding: 'valid' });
  return tf.reshape(pooled, [n, h, w, 1]);
}
