import * as tf from '@tensorflow/tfjs-core';
import type { OutputHead } from './network';

import type { LossKind } from '../../protocol/report';

/** Class labels (integers from 0) or real-valued targets (one row of `width` values per sample). */
export type Targets =
  | { readonly kind: 'classes'; readonly classes: Int32Array }
  | { readonly kind: 'values'; readonly width: number; readonly values: Float32Array };

export type { LossKind };

export const lossDescriptions: Record<LossKind, string> = {
  ce: 'categorical cross-entropy on the logits (softmax folded into the loss)',
  bce: 'binary cross-entropy on the logits (sigmoid folded into the loss), averaged over output units',
  mse: 'squared error on the outputs, averaged over output units',
};

/** Keras loss names (training_config.loss) mapped to ours. */
export function lossFromTrainingConfig(name: string | undefined): LossKind | undefined {
  if (!name) return undefined;
  const key = name.toLowerCase().replace(/[^a-z]/g, '');
  if (key.includes('categoricalcrossentropy') || key === 'crossentropy') return 'ce';
  if (key.includes('binarycrossentropy')) return 'bce';
  if (key === 'mse' || key === 'meansquarederror') return 'mse';
  return undefined;
}

/** The loss implied by the output layer when neither the user nor the file names one. */
export function lossFromOutputHead(head: OutputHead, outputUnits: number, targets: Targets | undefined): LossKind {
  if (head === 'softmax') return 'ce';
  if (head === 'sigmoid') return 'bce';
  return targets?.kind === 'classes' && outputUnits > 1 ? 'ce' : 'mse';
}

/** Targets of one batch as tensors, made once and reused for every evaluation. */
export interface BatchTargets {
  /** one-hot or soft/real targets, [N, units] */
  readonly matrix: tf.Tensor2D;
  /** class indices when the targets are classes (for accuracy) */
  readonly classes?: Int32Array;
}

export function batchTargets(targets: Targets, start: number, count: number, units: number, loss: LossKind): BatchTargets {
  if (targets.kind === 'values') {
    const values = targets.values.subarray(start * targets.width, (start + count) * targets.width);
    return { matrix: tf.tensor2d(values, [count, targets.width]) };
  }
  const classes = targets.classes.subarray(start, start + count);
  if (loss === 'bce' && units === 1) {
    return { matrix: tf.tensor2d(Float32Array.from(classes), [count, 1]), classes };
  }
  const oneHot = new Float32Array(count * units);
  classes.forEach((c, i) => (oneHot[i * units + c] = 1));
  return { matrix: tf.tensor2d(oneHot, [count, units]), classes };
}

/** A copy of the row maxima that the tape does not see: the shift inside log-sum-exp cancels exactly. */
function detachedRowMax(z: tf.Tensor2D): tf.Tensor2D {
  return tf.tensor2d(tf.max(z, 1, true).dataSync() as Float32Array, [z.shape[0], 1]);
}

function logSoftmax(z: tf.Tensor2D): tf.Tensor2D {
  const shifted = tf.sub(z, detachedRowMax(z));
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), 1, true)));
}

function softplus(z: tf.Tensor): tf.Tensor {
  const absolute = tf.add(tf.relu(z), tf.relu(tf.neg(z)));
  return tf.add(tf.relu(z), tf.log(tf.add(1, tf.exp(tf.neg(absolute)))));
}

/**
 * The per-sample loss, [N]. `output` is the network's logits for ce and bce and its output for mse.
 */
export function perSampleLoss(loss: LossKind, output: tf.Tensor, targets: tf.Tensor2D): tf.Tensor1D {
  const z = tf.reshape(output, [output.shape[0], -1]) as tf.Tensor2D;
  switch (loss) {
    case 'ce':
      return tf.neg(tf.sum(tf.mul(targets, logSoftmax(z)), 1));
    case 'bce':
      return tf.div(tf.sum(tf.sub(softplus(z), tf.mul(targets, z)), 1), z.shape[1]);
    case 'mse':
      return tf.div(tf.sum(tf.square(tf.sub(z, targets)), 1), z.shape[1]);
  }
}

/** Sum over the batch of the per-sample loss (the objective divides by the data set size). */
export function summedLoss(loss: LossKind, output: tf.Tensor, targets: tf.Tensor2D): tf.Scalar {
  return tf.sum(perSampleLoss(loss, output, targets));
}

/** Number of correct predictions in a batch, or undefined when accuracy does not apply. */
export function correctCount(loss: LossKind, output: tf.Tensor, targets: BatchTargets): number | undefined {
  if (!targets.classes) return undefined;
  const z = tf.reshape(output, [output.shape[0], -1]);
  const predicted = z.shape[1] === 1
    ? Array.from(z.dataSync(), (v) => (v > (loss === 'mse' ? 0.5 : 0) ? 1 : 0))
    : Array.from(tf.argMax(z, 1).dataSync());
  return predicted.reduce((n, p, i) => n + (p === targets.classes![i] ? 1 : 0), 0);
}
