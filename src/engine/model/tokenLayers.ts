/**
 * Layers of attention blocks on token tensors [N, T, D] (and any rank, batch first): the batched
 * product of two computed values, axis permutations, slices and single positions along an axis,
 * a constant rescaling, and a trainable tensor broadcast over the batch (class token, positional
 * embedding). All are linear or bilinear, built from tfjs ops whose gradients (BatchMatMul's in
 * secondOrderGradients.ts, Transpose, Slice, Reshape, Mul, BroadcastTo) differentiate exactly again.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import type { LayerNode } from './spec';

export type TokenLayer = (node: LayerNode, inputs: readonly tf.Tensor[], weight: (role: string) => tf.Tensor | undefined) => tf.Tensor;

function one(node: LayerNode, inputs: readonly tf.Tensor[]): tf.Tensor {
  if (inputs.length !== 1) throw new ModelProblem(node.name, `${node.className} expects one input, got ${inputs.length}`);
  return inputs[0];
}

function integer(node: LayerNode, key: string, fallback?: number): number {
  const value = node.config[key] ?? fallback;
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new ModelProblem(node.name, `${node.className} needs an integer '${key}', found ${JSON.stringify(value)}`);
  return value;
}

/** A non-batch axis of a rank-`rank` tensor (negative counts from the end). */
function dataAxis(node: LayerNode, axis: number, rank: number): number {
  const resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 1 || resolved >= rank) throw new ModelProblem(node.name, `${node.className}: axis ${axis} is not a data axis of a rank-${rank} tensor`);
  return resolved;
}

/** a [N, …, m, k] · b [N, …, k, n] → [N, …, m, n], per sample and leading index (ONNX MatMul of two computed values). */
const batchMatMul: TokenLayer = (node, inputs) => {
  if (inputs.length !== 2) throw new ModelProblem(node.name, `BatchMatMul expects two inputs, got ${inputs.length}`);
  const [a, b] = inputs;
  const fits = a.rank >= 3 && a.rank === b.rank && a.shape.slice(0, -2).every((d, i) => d === b.shape[i]) && a.shape[a.rank - 1] === b.shape[b.rank - 2];
  if (!fits) throw new ModelProblem(node.name, `cannot multiply [${a.shape.join(', ')}] by [${b.shape.join(', ')}] (equal leading dimensions, inner dimensions that match)`);
  return tf.matMul(a, b);
};

/** Keras's Permute: `dims` a permutation of 1…rank−1 (the batch axis stays first). */
const permute: TokenLayer = (node, inputs) => {
  const x = one(node, inputs);
  const dims = node.config.dims;
  const valid = Array.isArray(dims) && dims.length === x.rank - 1 && [...dims].sort((p, q) => p - q).every((d, i) => d === i + 1);
  if (!valid) throw new ModelProblem(node.name, `Permute dims ${JSON.stringify(dims)} are not a permutation of 1…${x.rank - 1}`);
  return tf.transpose(x, [0, ...(dims as number[])]);
};

/** `size` entries from `begin` along one data axis. */
const sliceAxis: TokenLayer = (node, inputs) => {
  const x = one(node, inputs);
  const axis = dataAxis(node, integer(node, 'axis'), x.rank);
  const begin = integer(node, 'begin');
  const size = integer(node, 'size');
  if (begin < 0 || size < 1 || begin + size > x.shape[axis]) throw new ModelProblem(node.name, `cannot take ${size} entries from ${begin} of an axis of ${x.shape[axis]}`);
  const starts = x.shape.map((_, i) => (i === axis ? begin : 0));
  const sizes = x.shape.map((d, i) => (i === axis ? size : d));
  return tf.slice(x, starts, sizes);
};

/** The entry at `index` along one data axis, that axis removed (ONNX Gather with a scalar index: a class token). */
const takeIndex: TokenLayer = (node, inputs) => {
  const x = one(node, inputs);
  const axis = dataAxis(node, integer(node, 'axis'), x.rank);
  const index = integer(node, 'index');
  const resolved = index < 0 ? index + x.shape[axis] : index;
  if (resolved < 0 || resolved >= x.shape[axis]) throw new ModelProblem(node.name, `index ${index} is outside an axis of ${x.shape[axis]}`);
  const starts = x.shape.map((_, i) => (i === axis ? resolved : 0));
  const sizes = x.shape.map((d, i) => (i === axis ? 1 : d));
  return tf.reshape(tf.slice(x, starts, sizes), x.shape.filter((_, i) => i !== axis));
};

/** Keras's Rescaling: x · scale + offset (the 1/√d of attention scores). */
const rescaling: TokenLayer = (node, inputs) => {
  const scale = node.config.scale ?? 1;
  const offset = node.config.offset ?? 0;
  if (typeof scale !== 'number' || typeof offset !== 'number') throw new ModelProblem(node.name, 'Rescaling needs a numeric scale and offset');
  const scaled = tf.mul(one(node, inputs), scale);
  return offset === 0 ? scaled : tf.add(scaled, offset);
};

/**
 * The layer's trainable `value` [d₁, …] repeated for every sample of its input's batch: [N, d₁, …].
 * The input only gives the batch size (a class token concatenated to the patches, a positional
 * embedding added to the tokens).
 */
const broadcastParameter: TokenLayer = (node, inputs, weight) => {
  const x = one(node, inputs);
  const value = weight('value');
  if (!value) throw new ModelProblem(node.name, "BroadcastParameter needs a 'value' weight, none was found");
  return tf.broadcastTo(tf.expandDims(value, 0), [x.shape[0], ...value.shape]);
};

export const tokenLayers: Record<string, TokenLayer> = {
  BatchMatMul: batchMatMul,
  Permute: permute,
  SliceAxis: sliceAxis,
  TakeIndex: takeIndex,
  Rescaling: rescaling,
  BroadcastParameter: broadcastParameter,
};
