import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import { activationFunction, cappedRelu, leakyRelu, elu, power } from './activations';
import { channelShuffle, channelSlice } from './channelLayers';
import { channelReduce } from './channelReduce';
import { channelPad } from './channelPad';
import { edgePad } from './edgePadding';
import type { LayerNode } from './spec';
import { averagePool, conv2d, depthwiseConv2d, maxPool, type Padding, type WindowSpec } from './spatial';
import { tokenLayers } from './tokenLayers';
import { conv2dTranspose } from './transposedConvolution';

/** Looks up a layer's weight by role; undefined when the layer has no such weight. */
export type WeightLookup = (role: string) => tf.Tensor | undefined;

export interface LayerCall {
  readonly node: LayerNode;
  readonly inputs: readonly tf.Tensor[];
  readonly weight: WeightLookup;
  /** Skip this layer's own activation: used on the output layer to get logits for the loss. */
  readonly withoutActivation: boolean;
}

type LayerImplementation = (call: LayerCall) => tf.Tensor;

function required(call: LayerCall, role: string): tf.Tensor {
  const w = call.weight(role);
  if (!w) throw new ModelProblem(call.node.name, `${call.node.className} needs a '${role}' weight, none was found`);
  return w;
}

function configValue<T>(node: LayerNode, key: string, fallback: T): T {
  const value = node.config[key];
  return value === undefined || value === null ? fallback : (value as T);
}

function pair(node: LayerNode, key: string, fallback: number | readonly number[]): [number, number] {
  const value = configValue<number | number[]>(node, key, fallback as number | number[]);
  const list = Array.isArray(value) ? value : [value, value];
  if (list.length !== 2 || !list.every((v) => Number.isInteger(v) && v > 0)) {
    throw new ModelProblem(node.name, `'${key}' must be one or two positive integers, found ${JSON.stringify(value)}`);
  }
  return [list[0], list[1]];
}

function channelsLast(node: LayerNode): void {
  const format = configValue(node, 'data_format', 'channels_last');
  if (format !== 'channels_last') throw new ModelProblem(node.name, `data_format '${String(format)}' is not supported (channels_last only)`);
}

function single(call: LayerCall): tf.Tensor {
  if (call.inputs.length !== 1) throw new ModelProblem(call.node.name, `expects one input, got ${call.inputs.length}`);
  return call.inputs[0];
}

function rank4(call: LayerCall): tf.Tensor4D {
  const x = single(call);
  if (x.rank !== 4) throw new ModelProblem(call.node.name, `${call.node.className} expects [batch, height, width, channels] input, got shape [${x.shape.join(', ')}]`);
  return x as tf.Tensor4D;
}

function windowSpec(node: LayerNode, kernelKey: string, defaultStrides: readonly number[] | number): WindowSpec {
  channelsLast(node);
  const padding = configValue<string>(node, 'padding', 'valid').toLowerCase();
  if (padding !== 'valid' && padding !== 'same') throw new ModelProblem(node.name, `padding '${padding}' is not supported`);
  return {
    kernel: pair(node, kernelKey, 1),
    strides: pair(node, 'strides', defaultStrides),
    dilation: pair(node, 'dilation_rate', 1),
    padding: padding as Padding,
  };
}

function activate(call: LayerCall, x: tf.Tensor): tf.Tensor {
  return call.withoutActivation ? x : activationFunction(call.node.config.activation, call.node.name)(x);
}

function withBias(call: LayerCall, x: tf.Tensor): tf.Tensor {
  const bias = configValue(call.node, 'use_bias', true) ? call.weight('bias') : undefined;
  return bias ? tf.add(x, bias) : x;
}

function dense(call: LayerCall): tf.Tensor {
  const x = single(call);
  const kernel = required(call, 'kernel');
  const inUnits = kernel.shape[0];
  if (x.shape[x.rank - 1] !== inUnits) {
    throw new ModelProblem(call.node.name, `kernel expects ${inUnits} input features, the layer receives ${x.shape[x.rank - 1]}`);
  }
  const flat = x.rank === 2 ? x : tf.reshape(x, [-1, inUnits]);
  let y = tf.matMul(flat as tf.Tensor2D, kernel as tf.Tensor2D) as tf.Tensor;
  if (x.rank !== 2) y = tf.reshape(y, [...x.shape.slice(0, -1), kernel.shape[1] as number]);
  return activate(call, withBias(call, y));
}

function convolution(call: LayerCall): tf.Tensor {
  const spec = windowSpec(call.node, 'kernel_size', 1);
  const kernel = required(call, 'kernel') as tf.Tensor4D;
  const x = rank4(call);
  const groups = configValue(call.node, 'groups', 1);
  if (!Number.isInteger(groups) || groups < 1 || kernel.shape[3] % groups !== 0) throw new ModelProblem(call.node.name, `groups ${groups} must be a positive integer dividing the ${kernel.shape[3]} filters`);
  if (kernel.shape[2] * groups !== x.shape[3]) {
    throw new ModelProblem(call.node.name, `kernel expects ${kernel.shape[2]}${groups > 1 ? ` × ${groups} groups of` : ''} input channels, the layer receives ${x.shape[3]}`);
  }
  if (groups === 1) return activate(call, withBias(call, conv2d(x, kernel, spec)));
  // Group g convolves its slice of input channels with its slice of filters (Keras's `groups`).
  const inputs = tf.split(x, groups, 3);
  const kernels = tf.split(kernel, groups, 3);
  const outputs = inputs.map((part, g) => conv2d(part as tf.Tensor4D, kernels[g] as tf.Tensor4D, spec));
  return activate(call, withBias(call, tf.concat(outputs, 3)));
}

function depthwise(call: LayerCall): tf.Tensor {
  const spec = windowSpec(call.node, 'kernel_size', 1);
  const kernel = required(call, 'depthwise_kernel') as tf.Tensor4D;
  const x = rank4(call);
  if (kernel.shape[2] !== x.shape[3]) {
    throw new ModelProblem(call.node.name, `depthwise kernel expects ${kernel.shape[2]} channels, the layer receives ${x.shape[3]}`);
  }
  return activate(call, withBias(call, depthwiseConv2d(x, kernel, spec)));
}

function pooling(pool: (x: tf.Tensor4D, spec: WindowSpec) => tf.Tensor4D): LayerImplementation {
  return (call) => {
    const size = pair(call.node, 'pool_size', 2);
    return pool(rank4(call), windowSpec(call.node, 'pool_size', configValue(call.node, 'strides', size)));
  };
}

function batchNormalization(call: LayerCall): tf.Tensor {
  const x = single(call);
  const axis = configValue<number | number[]>(call.node, 'axis', -1);
  const axisValue = Array.isArray(axis) ? axis[0] : axis;
  if (!(axisValue === -1 || axisValue === x.rank - 1) || (Array.isArray(axis) && axis.length !== 1)) {
    throw new ModelProblem(call.node.name, `BatchNormalization over axis ${JSON.stringify(axis)} is not supported (last axis only)`);
  }
  const epsilon = configValue(call.node, 'epsilon', 0.001);
  const mean = required(call, 'moving_mean');
  const variance = required(call, 'moving_variance');
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  const gamma = configValue(call.node, 'scale', true) ? call.weight('gamma') : undefined;
  const beta = configValue(call.node, 'center', true) ? call.weight('beta') : undefined;
  if (gamma) y = tf.mul(y, gamma);
  if (beta) y = tf.add(y, beta);
  return y;
}

/**
 * LayerNormalization over the last axis (Keras, and PyTorch/ONNX with one normalized axis):
 * (x − mean) · rsqrt(var + ε) · γ + β per sample and position, with the biased variance. Built
 * from mean, sub, mul and rsqrt, whose tfjs gradients differentiate exactly a second time.
 */
function layerNormalization(call: LayerCall): tf.Tensor {
  const x = single(call);
  const axis = configValue<number | number[]>(call.node, 'axis', -1);
  const axes = Array.isArray(axis) ? axis : [axis];
  if (axes.length !== 1 || !(axes[0] === -1 || axes[0] === x.rank - 1)) {
    throw new ModelProblem(call.node.name, `LayerNormalization over axis ${JSON.stringify(axis)} is not supported (last axis only)`);
  }
  const epsilon = configValue(call.node, 'epsilon', 0.001);
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.mul(centered, centered), -1, true);
  let y = tf.mul(centered, tf.rsqrt(tf.add(variance, epsilon)));
  const gamma = configValue(call.node, 'scale', true) ? required(call, 'gamma') : undefined;
  const beta = configValue(call.node, 'center', true) ? required(call, 'beta') : undefined;
  if (gamma) y = tf.mul(y, gamma);
  if (beta) y = tf.add(y, beta);
  return y;
}

/** Per sample and channel over height and width: (x − mean) / sqrt(var + ε) · γ + β, biased variance. */
function instanceNormalization(call: LayerCall): tf.Tensor {
  const x = rank4(call);
  const centered = tf.sub(x, tf.mean(x, [1, 2], true));
  const variance = tf.mean(tf.mul(centered, centered), [1, 2], true);
  const y = tf.mul(centered, tf.rsqrt(tf.add(variance, configValue(call.node, 'epsilon', 1e-5))));
  return tf.add(tf.mul(y, required(call, 'gamma')), required(call, 'beta'));
}

function reshape(call: LayerCall): tf.Tensor {
  const x = single(call);
  const target = configValue<number[] | undefined>(call.node, 'target_shape', undefined);
  if (!Array.isArray(target)) throw new ModelProblem(call.node.name, `Reshape has no target_shape`);
  const perSample = x.size / x.shape[0];
  const known = target.filter((d) => d !== -1 && d !== null).reduce((a, b) => a * b, 1);
  const resolved = target.map((d) => (d === -1 || d === null ? perSample / known : d));
  if (resolved.reduce((a, b) => a * b, 1) !== perSample || !resolved.every(Number.isInteger)) {
    throw new ModelProblem(call.node.name, `cannot reshape ${perSample} values per sample into [${target.join(', ')}]`);
  }
  return tf.reshape(x, [x.shape[0], ...resolved]);
}

function concatenate(call: LayerCall): tf.Tensor {
  const rank = call.inputs[0].rank;
  const axis = configValue(call.node, 'axis', -1);
  const resolved = axis < 0 ? rank + axis : axis;
  if (resolved <= 0 || resolved >= rank) throw new ModelProblem(call.node.name, `cannot concatenate along axis ${axis}`);
  for (const t of call.inputs) {
    if (t.rank !== rank || t.shape.some((d, i) => i !== resolved && d !== call.inputs[0].shape[i])) {
      throw new ModelProblem(call.node.name, `inputs of shapes ${call.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')} cannot be concatenated along axis ${axis}`);
    }
  }
  return tf.concat(call.inputs as tf.Tensor[], resolved);
}

function add(call: LayerCall): tf.Tensor {
  const shape = call.inputs[0].shape.join(',');
  if (call.inputs.some((t) => t.shape.join(',') !== shape)) {
    throw new ModelProblem(call.node.name, `cannot add inputs of shapes ${call.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')}`);
  }
  return call.inputs.length === 1 ? call.inputs[0] : tf.addN(call.inputs as tf.Tensor[]);
}

function reluLayer(call: LayerCall): tf.Tensor {
  const x = single(call);
  const threshold = configValue(call.node, 'threshold', 0);
  if (threshold !== 0) throw new ModelProblem(call.node.name, `ReLU with threshold ${threshold} is not supported`);
  const slope = configValue(call.node, 'negative_slope', 0);
  const maxValue = configValue<number | null>(call.node, 'max_value', null);
  const capped = maxValue === null ? tf.relu(x) : cappedRelu(x, maxValue);
  return slope === 0 ? capped : tf.sub(capped, tf.mul(slope, tf.relu(tf.neg(x))));
}

function upSampling(call: LayerCall): tf.Tensor {
  channelsLast(call.node);
  const interpolation = configValue(call.node, 'interpolation', 'nearest');
  if (interpolation !== 'nearest') throw new ModelProblem(call.node.name, `UpSampling2D interpolation '${interpolation}' is not supported`);
  const [sh, sw] = pair(call.node, 'size', 2);
  const x = rank4(call);
  const [n, h, w, c] = x.shape;
  // Two rank-4 tiles: tfjs has no Tile gradient above rank 4.
  const tallRows = tf.reshape(tf.tile(tf.reshape(x, [n * h, 1, w, c]), [1, sh, 1, 1]), [n, h * sh, w, c]);
  const wideColumns = tf.tile(tf.reshape(tallRows, [n * h * sh * w, 1, c]), [1, sw, 1]);
  return tf.reshape(wideColumns, [n, h * sh, w * sw, c]);
}

function zeroPadding(call: LayerCall): tf.Tensor {
  channelsLast(call.node);
  const raw = configValue<number | number[] | number[][]>(call.node, 'padding', 1);
  const rows = typeof raw === 'number' ? [raw, raw] : Array.isArray(raw[0]) ? (raw[0] as number[]) : [raw[0] as number, raw[0] as number];
  const cols = typeof raw === 'number' ? [raw, raw] : Array.isArray(raw[1]) ? (raw[1] as number[]) : [raw[1] as number, raw[1] as number];
  return tf.pad(rank4(call), [[0, 0], [rows[0], rows[1]], [cols[0], cols[1]], [0, 0]]);
}

function softmaxLayer(call: LayerCall): tf.Tensor {
  const x = single(call);
  if (call.withoutActivation) return x;
  const axis = configValue<number>(call.node, 'axis', -1);
  const resolved = axis < 0 ? x.rank + axis : axis;
  if (resolved <= 0 || resolved >= x.rank) throw new ModelProblem(call.node.name, `Softmax over axis ${axis} of a rank-${x.rank} tensor`);
  if (resolved === x.rank - 1) return tf.softmax(x, -1);
  // tfjs's softmax works on the last axis only: move the axis there and back.
  const perm = x.shape.map((_, i) => i);
  [perm[resolved], perm[x.rank - 1]] = [perm[x.rank - 1], perm[resolved]];
  return tf.transpose(tf.softmax(tf.transpose(x, perm), -1), perm);
}

/** ONNX HardSigmoid max(0, min(1, αx + β)), as relu(αx + β) − relu(αx + β − 1). */
function hardSigmoid(call: LayerCall): tf.Tensor {
  const alpha = configValue(call.node, 'alpha', 0.2);
  const beta = configValue(call.node, 'beta', 0.5);
  return cappedRelu(tf.add(tf.mul(single(call), alpha), beta), 1);
}

/**
 * Elementwise product of two inputs of one shape, or of a feature map [N, H, W, C] and one value
 * per sample and channel [N, 1, 1, C] (squeeze-and-excitation), broadcast over the positions.
 */
function multiply(call: LayerCall): tf.Tensor {
  if (call.inputs.length !== 2) throw new ModelProblem(call.node.name, `Multiply expects two inputs, got ${call.inputs.length}`);
  const [a, b] = call.inputs;
  const fits = a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i] || (i > 0 && i < a.rank - 1 && (d === 1 || b.shape[i] === 1)));
  if (!fits) throw new ModelProblem(call.node.name, `cannot multiply inputs of shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  return tf.mul(a, b);
}

/** Layers that pass their input through unchanged at inference: the input itself, noise and dropout. */
export const inferenceIdentityLayers = ['InputLayer', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization'] as const;

const identity: LayerImplementation = (call) => single(call);

const implementations: Record<string, LayerImplementation> = {
  ...Object.fromEntries(inferenceIdentityLayers.map((className) => [className, identity])),
  Dense: dense,
  Conv2D: convolution,
  DepthwiseConv2D: depthwise,
  Conv2DTranspose: (call) => withBias(call, conv2dTranspose(call.node, single(call), required(call, 'kernel'))),
  MaxPooling2D: pooling(maxPool),
  AveragePooling2D: pooling(averagePool),
  GlobalAveragePooling2D: (call) => {
    channelsLast(call.node);
    return tf.mean(rank4(call), [1, 2]);
  },
  GlobalMaxPooling2D: (call) => {
    const x = rank4(call);
    const [n, h, w, c] = x.shape;
    return tf.reshape(maxPool(x, { kernel: [h, w], strides: [h, w], dilation: [1, 1], padding: 'valid' }), [n, c]);
  },
  Flatten: (call) => {
    const x = single(call);
    return tf.reshape(x, [x.shape[0], -1]);
  },
  Reshape: reshape,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  InstanceNormalization: instanceNormalization,
  Activation: (call) => activate(call, single(call)),
  ReLU: reluLayer,
  LeakyReLU: (call) => leakyRelu(single(call), configValue(call.node, 'alpha', configValue(call.node, 'negative_slope', 0.3))),
  PReLU: (call) => leakyRelu(single(call), required(call, 'alpha')),
  ELU: (call) => elu(single(call), configValue(call.node, 'alpha', 1)),
  Softmax: softmaxLayer,
  HardSigmoid: hardSigmoid,
  Power: (call) => power(single(call), configValue(call.node, 'exponent', 1)),
  Add: add,
  Multiply: multiply,
  Concatenate: concatenate,
  UpSampling2D: upSampling,
  ZeroPadding2D: zeroPadding,
  EdgePadding2D: (call) => edgePad(call.node, single(call)),
  ChannelShuffle: (call) => channelShuffle(call.node, single(call)),
  ChannelSlice: (call) => channelSlice(call.node, single(call)),
  ChannelReduce: (call) => channelReduce(call.node, single(call)),
  ChannelPad: (call) => channelPad(call.node, single(call)),
  ...Object.fromEntries(Object.entries(tokenLayers).map(([className, layer]) => [className, (call: LayerCall) => layer(call.node, call.inputs, call.weight)])),
};

/** Layers that only pass their input on (at analysis time). */
export const passThroughLayers = new Set(['InputLayer', 'Dropout', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ActivityRegularization']);

export const supportedLayers: readonly string[] = Object.keys(implementations);

export function layerImplementation(node: LayerNode): LayerImplementation {
  const impl = implementations[node.className];
  if (!impl) {
    throw new ModelProblem(node.name, `layer type '${node.className}' is not supported (supported: ${supportedLayers.join(', ')})`);
  }
  return impl;
}
