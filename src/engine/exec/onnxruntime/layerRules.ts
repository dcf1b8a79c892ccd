/**
 * The network's layers as tape primitives, one rule per layer type, with the same semantics as
 * src/engine/model/layers.ts (Keras semantics: channels-last, HWIO kernels). Feature maps stay in
 * ONNX's NCHW layout from one spatial layer through the per-channel and elementwise layers that
 * follow it (`channelsFirst`): a transpose to channels-last is emitted only where a layer reads
 * positions in that order (Dense, Flatten, Reshape, Concatenate, LayerNormalization, ...), since
 * transposes of feature maps would otherwise cost as much as the convolutions.
 */
import { canonicalActivation } from '../../model/activations';
import { windowGeometry, type WindowSpec } from '../../model/spatial';
import { inferenceIdentityLayers } from '../../model/layers';
import { shuffleGroups, sliceRange } from '../../model/channelLayers';
import { transposedGeometry } from '../../model/transposedConvolution';
import { channelReduction } from '../../model/channelReduce';
import { channelPadding } from '../../model/channelPad';
import { edgePadding, padByRepeatingEdges } from '../../model/edgePadding';
import type { LayerNode } from '../../model/spec';
import { ModelProblem } from '../../../protocol/errors';
import type { Tape, Value } from './tape';

export interface LayerEmission {
  readonly tape: Tape;
  readonly node: LayerNode;
  readonly inputs: readonly Value[];
  /** The layer's weight by role, as stored (Keras layout): a graph input when trainable, a constant otherwise. */
  readonly weight: (role: string) => Value | undefined;
  /** A convolution's kernel by role in ONNX's filter layout [O, I/group, kh, kw]. */
  readonly filter: (role: string) => Value | undefined;
  readonly withoutActivation: boolean;
  /** Rank-4 inputs and the output are NCHW (only for the layers in `channelsFirstLayers`). */
  readonly channelsFirst: boolean;
}

type LayerRule = (call: LayerEmission) => Value;

export const toChannelsFirst = [0, 3, 1, 2];
export const toChannelsLast = [0, 2, 3, 1];

/** Layers that read and write feature maps in NCHW: always ('spatial'), or in whichever layout their inputs come ('either'). */
export const channelsFirstLayers: Readonly<Record<string, 'spatial' | 'either'>> = {
  Conv2D: 'spatial',
  DepthwiseConv2D: 'spatial',
  Conv2DTranspose: 'spatial',
  MaxPooling2D: 'spatial',
  AveragePooling2D: 'spatial',
  GlobalAveragePooling2D: 'spatial',
  GlobalMaxPooling2D: 'spatial',
  ZeroPadding2D: 'spatial',
  UpSampling2D: 'spatial',
  BatchNormalization: 'either',
  InstanceNormalization: 'either',
  ChannelReduce: 'either',
  ChannelPad: 'either',
  Activation: 'either',
  ReLU: 'either',
  LeakyReLU: 'either',
  ELU: 'either',
  HardSigmoid: 'either',
  Power: 'either',
  Add: 'either',
  Multiply: 'either',
  ...Object.fromEntries(inferenceIdentityLayers.map((className) => [className, 'either' as const])),
};

/** A per-channel vector [C] shaped to broadcast over the layer's feature maps. */
function perChannel(call: LayerEmission, v: Value, rank: number): Value {
  return call.channelsFirst && rank === 4 && v.shape.length === 1 ? call.tape.reshape(v, [v.shape[0], 1, 1]) : v;
}

function configValue<T>(node: LayerNode, key: string, fallback: T): T {
  const value = node.config[key];
  return value === undefined || value === null ? fallback : (value as T);
}

function pair(node: LayerNode, key: string, fallback: number | readonly number[]): [number, number] {
  const value = configValue<number | number[]>(node, key, fallback as number | number[]);
  const list = Array.isArray(value) ? value : [value, value];
  return [list[0], list[1]];
}

function single(call: LayerEmission): Value {
  if (call.inputs.length !== 1) throw new ModelProblem(call.node.name, `expects one input, got ${call.inputs.length}`);
  return call.inputs[0];
}

function required(call: LayerEmission, role: string): Value {
  const w = call.weight(role);
  if (!w) throw new ModelProblem(call.node.name, `${call.node.className} needs a '${role}' weight, none was found`);
  return w;
}

function channelsLast(node: LayerNode): void {
  if (configValue(node, 'data_format', 'channels_last') !== 'channels_last') throw new ModelProblem(node.name, 'data_format channels_first is not supported (channels_last only)');
}

function windowSpec(node: LayerNode, kernelKey: string, defaultStrides: number | readonly number[]): WindowSpec {
  channelsLast(node);
  const padding = configValue<string>(node, 'padding', 'valid').toLowerCase();
  if (padding !== 'valid' && padding !== 'same') throw new ModelProblem(node.name, `padding '${padding}' is not supported`);
  return { kernel: pair(node, kernelKey, 1), strides: pair(node, 'strides', defaultStrides), dilation: pair(node, 'dilation_rate', 1), padding };
}

/** Pads for an NCHW input. */
function pads(x: Value, spec: WindowSpec): [number, number, number, number] {
  const g = windowGeometry(x.shape[2], x.shape[3], spec);
  if (g.outHeight < 1 || g.outWidth < 1) throw new Error(`window ${spec.kernel.join('x')} does not fit an input of ${x.shape[1]}x${x.shape[2]}`);
  return [g.padTop, g.padLeft, g.padBottom, g.padRight];
}

// ---- activations --------------------------------------------------------------------------------

const negativePart = (t: Tape, x: Value) => t.relu(t.neg(x));
const leakyRelu = (t: Tape, x: Value, slope: Value) => t.sub(t.relu(x), t.mul(slope, negativePart(t, x)));
const elu = (t: Tape, x: Value, alpha: number) => t.add(t.relu(x), t.scale(t.sub(t.exp(t.neg(negativePart(t, x))), t.scalar(1)), alpha));
const cappedRelu = (t: Tape, x: Value, cap: number) => t.sub(t.relu(x), t.relu(t.sub(x, t.scalar(cap))));

function softplus(t: Tape, x: Value): Value {
  const absolute = t.add(t.relu(x), negativePart(t, x));
  return t.add(t.relu(x), t.log(t.add(t.scalar(1), t.exp(t.neg(absolute)))));
}

/** softmax over the last axis, shifted by the (detached) row maximum. */
export function softmax(t: Tape, x: Value): Value {
  const axis = x.shape.length - 1;
  const e = t.exp(t.sub(x, t.detachedMax(x, axis)));
  return t.mul(e, t.reciprocal(t.reduceSum(e, [axis])));
}

/** log softmax over the last axis, x − m − log Σ exp(x − m) with the (detached) row maximum m. */
function logSoftmax(t: Tape, x: Value): Value {
  const shifted = t.sub(x, t.detachedMax(x, x.shape.length - 1));
  return t.sub(shifted, t.log(t.reduceSum(t.exp(shifted), [x.shape.length - 1])));
}

/** ½x(1 + erf(x/√2)) and its tanh approximation, as src/engine/model/activations.ts. */
const gelu = (t: Tape, x: Value) => t.mul(t.scale(x, 0.5), t.add(t.scalar(1), t.erf(t.scale(x, Math.SQRT1_2))));
function geluTanh(t: Tape, x: Value): Value {
  const cubic = t.add(x, t.scale(t.mul(x, t.mul(x, x)), 0.044715));
  return t.mul(t.scale(x, 0.5), t.add(t.scalar(1), t.tanh(t.scale(cubic, Math.sqrt(2 / Math.PI)))));
}

const activations: Record<string, (t: Tape, x: Value) => Value> = {
  linear: (_, x) => x,
  relu: (t, x) => t.relu(x),
  relu6: (t, x) => cappedRelu(t, x, 6),
  leakyrelu: (t, x) => leakyRelu(t, x, t.scalar(0.2)),
  elu: (t, x) => elu(t, x, 1),
  selu: (t, x) => t.scale(elu(t, x, 1.6732632423543772), 1.0507009873554805),
  tanh: (t, x) => t.tanh(x),
  sigmoid: (t, x) => t.sigmoid(x),
  softmax,
  logsoftmax: logSoftmax,
  softplus,
  silu: (t, x) => t.mul(x, t.sigmoid(x)),
  gelu,
  gelutanh: geluTanh,
  erf: (t, x) => t.erf(x),
  exp: (t, x) => t.exp(x),
  log: (t, x) => t.log(x),
  sqrt: (t, x) => t.sqrt(x),
};

function activate(call: LayerEmission, x: Value): Value {
  if (call.withoutActivation) return x;
  const name = canonicalActivation(call.node.config.activation);
  const fn = activations[name];
  if (!fn) throw new ModelProblem(call.node.name, `activation '${String(call.node.config.activation)}' is not supported`);
  const t = call.tape;
  if ((name === 'softmax' || name === 'logsoftmax') && call.channelsFirst && x.shape.length === 4) return t.transpose(fn(t, t.transpose(x, toChannelsLast)), toChannelsFirst);
  return fn(t, x);
}

function withBias(call: LayerEmission, x: Value): Value {
  const bias = configValue(call.node, 'use_bias', true) ? call.weight('bias') : undefined;
  return bias ? call.tape.add(x, perChannel(call, bias, x.shape.length)) : x;
}

// ---- layers -------------------------------------------------------------------------------------

function dense(call: LayerEmission): Value {
  const t = call.tape;
  const x = single(call);
  const kernel = required(call, 'kernel');
  const [inUnits, outUnits] = kernel.shape;
  if (x.shape[x.shape.length - 1] !== inUnits) throw new ModelProblem(call.node.name, `kernel expects ${inUnits} input features, the layer receives ${x.shape[x.shape.length - 1]}`);
  const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
  const y = t.reshape(t.matmul(t.reshape(x, [rows, inUnits]), kernel), [...x.shape.slice(0, -1), outUnits]);
  return activate(call, withBias(call, y));
}

function requiredFilter(call: LayerEmission, role: string): Value {
  const w = call.filter(role);
  if (!w) throw new ModelProblem(call.node.name, `${call.node.className} needs a '${role}' weight, none was found`);
  return w;
}

function rank4(call: LayerEmission): Value {
  const x = single(call);
  if (x.shape.length !== 4) throw new ModelProblem(call.node.name, `${call.node.className} expects [batch, height, width, channels] input, got shape [${x.shape.join(', ')}]`);
  return x;
}

/** Keras's grouped Conv2D (HWIO kernel; group g reads its slice of input channels): ONNX's Conv with `group`. */
function convolution(call: LayerEmission): Value {
  const t = call.tape;
  const spec = windowSpec(call.node, 'kernel_size', 1);
  const x = rank4(call);
  const filter = requiredFilter(call, 'kernel');
  const [filters, perGroup] = filter.shape;
  const groups = configValue(call.node, 'groups', 1);
  if (!Number.isInteger(groups) || groups < 1 || filters % groups !== 0) throw new ModelProblem(call.node.name, `groups ${groups} must be a positive integer dividing the ${filters} filters`);
  if (perGroup * groups !== x.shape[1]) throw new ModelProblem(call.node.name, `kernel expects ${perGroup * groups} input channels, the layer receives ${x.shape[1]}`);
  const y = t.conv(x, filter, { strides: spec.strides, dilations: spec.dilation, pads: pads(x, spec), group: groups });
  return activate(call, withBias(call, y));
}

/** Kernel [kh, kw, C, m]: output channel c·m + j filters input channel c, as ONNX's Conv with group C and weight [C·m, 1, kh, kw]. */
function depthwise(call: LayerEmission): Value {
  const t = call.tape;
  const spec = windowSpec(call.node, 'kernel_size', 1);
  const x = rank4(call);
  const filter = requiredFilter(call, 'depthwise_kernel');
  const channels = x.shape[1];
  if (filter.shape[1] !== 1 || filter.shape[0] % channels !== 0) throw new ModelProblem(call.node.name, `depthwise kernel does not fit the ${channels} channels the layer receives`);
  const y = t.conv(x, filter, { strides: spec.strides, dilations: spec.dilation, pads: pads(x, spec), group: channels });
  return activate(call, withBias(call, y));
}

/** ONNX's ConvTranspose (group 1, dilation 1), as src/engine/model/transposedConvolution.ts. */
function transposedConvolution(call: LayerEmission): Value {
  const x = rank4(call);
  const filter = requiredFilter(call, 'kernel');
  const [inputs, filters, kh, kw] = filter.shape;
  if (inputs !== x.shape[1]) throw new ModelProblem(call.node.name, `kernel expects ${inputs} input channels, the layer receives ${x.shape[1]}`);
  if ((call.node.config.padding ?? 'valid') !== 'valid') throw new ModelProblem(call.node.name, `Conv2DTranspose padding '${String(call.node.config.padding)}' is not supported (explicit pads only)`);
  const g = transposedGeometry(call.node, [x.shape[2], x.shape[3]], [kh, kw]);
  const y = call.tape.convTranspose(x, filter, { strides: g.strides, dilations: [1, 1], pads: [g.pads[0], g.pads[1], g.pads[2], g.pads[3]], group: 1 }, [x.shape[0], filters, g.outH, g.outW]);
  return withBias(call, y);
}

function poolSpec(call: LayerEmission): WindowSpec {
  const size = pair(call.node, 'pool_size', 2);
  return windowSpec(call.node, 'pool_size', configValue(call.node, 'strides', size));
}

function maxPooling(call: LayerEmission): Value {
  const t = call.tape;
  const x = rank4(call);
  const spec = poolSpec(call);
  return t.maxPool(x, { kernel: spec.kernel, strides: spec.strides, pads: pads(x, spec) });
}

/** Window sums as a per-channel convolution with a constant kernel of ones, divided by the real cells counted. */
function averagePooling(call: LayerEmission): Value {
  const t = call.tape;
  const x = rank4(call);
  const spec = poolSpec(call);
  const [, channels, height, width] = x.shape;
  const [kh, kw] = spec.kernel;
  const ones = t.constant(new Float32Array(channels * kh * kw).fill(1), [channels, 1, kh, kw]);
  const padding = pads(x, spec);
  const sums = t.conv(x, ones, { strides: spec.strides, dilations: [1, 1], pads: padding, group: channels });
  const [, , outH, outW] = sums.shape;
  const reciprocalCounts = new Float32Array(outH * outW);
  for (let r = 0; r < outH; r++) {
    const rows = overlap(r * spec.strides[0] - padding[0], kh, height);
    for (let c = 0; c < outW; c++) reciprocalCounts[r * outW + c] = 1 / (rows * overlap(c * spec.strides[1] - padding[1], kw, width));
  }
  return t.mul(sums, t.constant(reciprocalCounts, [1, 1, outH, outW]));
}

function overlap(start: number, kernel: number, size: number): number {
  return Math.max(0, Math.min(start + kernel, size) - Math.max(start, 0));
}

function batchNormalization(call: LayerEmission, constantValues: (role: string) => Float32Array | undefined): Value {
  const t = call.tape;
  const x = single(call);
  const axis = configValue<number | number[]>(call.node, 'axis', -1);
  const axisValue = Array.isArray(axis) ? axis[0] : axis;
  if (!(axisValue === -1 || axisValue === x.shape.length - 1)) throw new ModelProblem(call.node.name, `BatchNormalization over axis ${JSON.stringify(axis)} is not supported (last axis only)`);
  const epsilon = configValue(call.node, 'epsilon', 0.001);
  const mean = constantValues('moving_mean');
  const variance = constantValues('moving_variance');
  if (!mean || !variance) throw new ModelProblem(call.node.name, 'BatchNormalization needs constant moving_mean and moving_variance');
  const channels = mean.length;
  const inverseStd = Float32Array.from(variance, (v) => 1 / Math.sqrt(Math.fround(v + epsilon)));
  const rank = x.shape.length;
  let y = t.mul(t.sub(x, perChannel(call, t.constant(mean, [channels]), rank)), perChannel(call, t.constant(inverseStd, [channels]), rank));
  const gamma = configValue(call.node, 'scale', true) ? call.weight('gamma') : undefined;
  const beta = configValue(call.node, 'center', true) ? call.weight('beta') : undefined;
  if (gamma) y = t.mul(y, perChannel(call, gamma, rank));
  if (beta) y = t.add(y, perChannel(call, beta, rank));
  return y;
}

/** Over the last axis: (x − mean) / sqrt(var + ε) · γ + β per sample and position, biased variance. */
function layerNormalization(call: LayerEmission): Value {
  const t = call.tape;
  const x = single(call);
  const axis = configValue<number | number[]>(call.node, 'axis', -1);
  const axes = Array.isArray(axis) ? axis : [axis];
  const last = x.shape.length - 1;
  if (axes.length !== 1 || !(axes[0] === -1 || axes[0] === last)) throw new ModelProblem(call.node.name, `LayerNormalization over axis ${JSON.stringify(axis)} is not supported (last axis only)`);
  const width = x.shape[last];
  const centered = t.sub(x, t.scale(t.reduceSum(x, [last]), 1 / width));
  const variance = t.scale(t.reduceSum(t.mul(centered, centered), [last]), 1 / width);
  let y = t.mul(centered, t.reciprocal(t.sqrt(t.add(variance, t.scalar(configValue(call.node, 'epsilon', 0.001))))));
  if (configValue(call.node, 'scale', true)) y = t.mul(y, required(call, 'gamma'));
  if (configValue(call.node, 'center', true)) y = t.add(y, required(call, 'beta'));
  return y;
}

/** Per sample and channel over height and width (NCHW or NHWC): (x − mean) / sqrt(var + ε) · γ + β. */
function instanceNormalization(call: LayerEmission): Value {
  const t = call.tape;
  const x = rank4(call);
  const axes = call.channelsFirst ? [2, 3] : [1, 2];
  const positions = x.shape[axes[0]] * x.shape[axes[1]];
  const centered = t.sub(x, t.scale(t.reduceSum(x, axes), 1 / positions));
  const variance = t.scale(t.reduceSum(t.mul(centered, centered), axes), 1 / positions);
  const y = t.mul(centered, t.reciprocal(t.sqrt(t.add(variance, t.scalar(configValue(call.node, 'epsilon', 1e-5))))));
  return t.add(t.mul(y, perChannel(call, required(call, 'gamma'), 4)), perChannel(call, required(call, 'beta'), 4));
}

function concatenate(call: LayerEmission): Value {
  const rank = call.inputs[0].shape.length;
  const axis = configValue(call.node, 'axis', -1);
  const resolved = axis < 0 ? rank + axis : axis;
  if (resolved <= 0 || resolved >= rank) throw new ModelProblem(call.node.name, `cannot concatenate along axis ${axis}`);
  const first = call.inputs[0].shape;
  if (call.inputs.some((x) => x.shape.length !== rank || x.shape.some((d, i) => i !== resolved && d !== first[i]))) {
    throw new ModelProblem(call.node.name, `inputs of shapes ${call.inputs.map((i) => `[${i.shape.join(', ')}]`).join(', ')} cannot be concatenated along axis ${axis}`);
  }
  return call.tape.concat(call.inputs, resolved);
}

function multiply(call: LayerEmission): Value {
  if (call.inputs.length !== 2) throw new ModelProblem(call.node.name, `Multiply expects two inputs, got ${call.inputs.length}`);
  const [a, b] = call.inputs;
  const spatial = (i: number) => (call.channelsFirst && a.shape.length === 4 ? i >= 2 : i > 0 && i < a.shape.length - 1);
  const fits = a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i] || (spatial(i) && (d === 1 || b.shape[i] === 1)));
  if (!fits) throw new ModelProblem(call.node.name, `cannot multiply inputs of shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  return call.tape.mul(a, b);
}

/** Nearest-neighbour upsampling: each cell repeated sh × sw times, as a broadcast over two new axes. */
function upSampling(call: LayerEmission): Value {
  const t = call.tape;
  channelsLast(call.node);
  const interpolation = configValue(call.node, 'interpolation', 'nearest');
  if (interpolation !== 'nearest') throw new ModelProblem(call.node.name, `UpSampling2D interpolation '${interpolation}' is not supported`);
  const [sh, sw] = pair(call.node, 'size', 2);
  const x = rank4(call);
  const [n, c, h, w] = x.shape;
  return t.reshape(t.expand(t.reshape(x, [n, c, h, 1, w, 1]), [n, c, h, sh, w, sw]), [n, c, h * sh, w * sw]);
}

function zeroPadding(call: LayerEmission): Value {
  channelsLast(call.node);
  const raw = configValue<number | number[] | number[][]>(call.node, 'padding', 1);
  const sides = (k: number): number[] => (typeof raw === 'number' ? [raw, raw] : Array.isArray(raw[k]) ? (raw[k] as number[]) : [raw[k] as number, raw[k] as number]);
  const [rows, cols] = [sides(0), sides(1)];
  return call.tape.pad(rank4(call), [0, 0, rows[0], cols[0], 0, 0, rows[1], cols[1]]);
}

function reshapeLayer(call: LayerEmission): Value {
  const x = single(call);
  const target = configValue<number[] | undefined>(call.node, 'target_shape', undefined);
  if (!Array.isArray(target)) throw new ModelProblem(call.node.name, 'Reshape has no target_shape');
  const perSample = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const known = target.filter((d) => d !== -1 && d !== null).reduce((a, b) => a * b, 1);
  return call.tape.reshape(x, [x.shape[0], ...target.map((d) => (d === -1 || d === null ? perSample / known : d))]);
}

function reluLayer(call: LayerEmission): Value {
  const t = call.tape;
  const x = single(call);
  if (configValue(call.node, 'threshold', 0) !== 0) throw new ModelProblem(call.node.name, 'ReLU with a threshold is not supported');
  const slope = configValue(call.node, 'negative_slope', 0);
  const maxValue = configValue<number | null>(call.node, 'max_value', null);
  const capped = maxValue === null ? t.relu(x) : cappedRelu(t, x, maxValue);
  return slope === 0 ? capped : t.sub(capped, t.scale(negativePart(t, x), slope));
}

function softmaxLayer(call: LayerEmission): Value {
  const x = single(call);
  if (call.withoutActivation) return x;
  const axis = configValue<number>(call.node, 'axis', -1);
  const resolved = axis < 0 ? x.shape.length + axis : axis;
  if (resolved <= 0 || resolved >= x.shape.length) throw new ModelProblem(call.node.name, `Softmax over axis ${axis} of a rank-${x.shape.length} tensor`);
  if (resolved === x.shape.length - 1) return softmax(call.tape, x);
  const perm = x.shape.map((_, i) => i);
  [perm[resolved], perm[perm.length - 1]] = [perm[perm.length - 1], perm[resolved]];
  return call.tape.transpose(softmax(call.tape, call.tape.transpose(x, perm)), perm);
}

const identity: LayerRule = (call) => single(call);

// ---- channel moves (src/engine/model/channelLayers.ts) ------------------------------------------

function channelShuffle(call: LayerEmission): Value {
  const t = call.tape;
  const x = single(call);
  const channels = x.shape[x.shape.length - 1];
  const groups = shuffleGroups(call.node, channels);
  const rows = x.shape.reduce((a, b) => a * b, 1) / channels;
  return t.reshape(t.transpose(t.reshape(x, [rows, groups, channels / groups]), [0, 2, 1]), x.shape);
}

function channelSlice(call: LayerEmission): Value {
  const x = single(call);
  const last = x.shape.length - 1;
  const { begin, size } = sliceRange(call.node, x.shape[last]);
  return call.tape.slice(x, x.shape.map((_, i) => (i === last ? begin : 0)), x.shape.map((d, i) => (i === last ? size : d)));
}

/** Sum, mean or maximum over the channels, kept as one (src/engine/model/channelReduce.ts); the maximum as a max-pool across them. */
function channelReduce(call: LayerEmission): Value {
  const t = call.tape;
  const x = rank4(call);
  const reduction = channelReduction(call.node);
  const axis = call.channelsFirst ? 1 : 3;
  if (reduction !== 'max') return t.scale(t.reduceSum(x, [axis]), reduction === 'mean' ? 1 / x.shape[axis] : 1);
  const [n, channels] = [x.shape[0], x.shape[axis]];
  const positions = x.shape.reduce((a, b) => a * b, 1) / (n * channels);
  const rows = call.channelsFirst ? t.reshape(x, [n, 1, channels, positions]) : t.transpose(t.reshape(x, [n, positions, channels, 1]), [0, 3, 2, 1]);
  const pooled = t.maxPool(rows, { kernel: [channels, 1], strides: [channels, 1], pads: [0, 0, 0, 0] });
  return t.reshape(pooled, x.shape.map((d, i) => (i === axis ? 1 : d)));
}

// ---- attention-block layers (src/engine/model/tokenLayers.ts) ------------------------------------

function dataAxis(call: LayerEmission, x: Value): number {
  const axis = configValue(call.node, 'axis', 1);
  return axis < 0 ? axis + x.shape.length : axis;
}

const tokenLayerRules: Record<string, LayerRule> = {
  BatchMatMul: (call) => call.tape.batchMatmul(call.inputs[0], call.inputs[1]),
  Permute: (call) => call.tape.transpose(single(call), [0, ...configValue<number[]>(call.node, 'dims', [])]),
  SliceAxis: (call) => {
    const x = single(call);
    const axis = dataAxis(call, x);
    const begin = configValue(call.node, 'begin', 0);
    return call.tape.slice(x, x.shape.map((_, i) => (i === axis ? begin : 0)), x.shape.map((d, i) => (i === axis ? configValue(call.node, 'size', 1) : d)));
  },
  TakeIndex: (call) => {
    const x = single(call);
    const axis = dataAxis(call, x);
    const index = configValue(call.node, 'index', 0);
    const taken = call.tape.slice(x, x.shape.map((_, i) => (i === axis ? (index < 0 ? index + x.shape[axis] : index) : 0)), x.shape.map((d, i) => (i === axis ? 1 : d)));
    return call.tape.reshape(taken, x.shape.filter((_, i) => i !== axis));
  },
  Rescaling: (call) => {
    const scaled = call.tape.scale(single(call), configValue(call.node, 'scale', 1));
    const offset = configValue(call.node, 'offset', 0);
    return offset === 0 ? scaled : call.tape.add(scaled, call.tape.scalar(offset));
  },
  BroadcastParameter: (call) => {
    const value = required(call, 'value');
    return call.tape.expand(call.tape.reshape(value, [1, ...value.shape]), [single(call).shape[0], ...value.shape]);
  },
};

export function layerRules(constantValues: (layer: string, role: string) => Float32Array | undefined): Record<string, LayerRule> {
  return {
    ...Object.fromEntries(inferenceIdentityLayers.map((className) => [className, identity])),
    Dense: dense,
    Conv2D: convolution,
    Conv2DTranspose: transposedConvolution,
    MaxPooling2D: maxPooling,
    AveragePooling2D: averagePooling,
    GlobalAveragePooling2D: (call) => {
      const x = rank4(call);
      const [n, c, h, w] = x.shape;
      return call.tape.scale(call.tape.reshape(call.tape.reduceSum(x, [2, 3]), [n, c]), 1 / (h * w));
    },
    GlobalMaxPooling2D: (call) => {
      const x = rank4(call);
      const [n, c, h, w] = x.shape;
      return call.tape.reshape(call.tape.maxPool(x, { kernel: [h, w], strides: [h, w], pads: [0, 0, 0, 0] }), [n, c]);
    },
    Flatten: (call) => {
      const x = single(call);
      return call.tape.reshape(x, [x.shape[0], x.shape.slice(1).reduce((a, b) => a * b, 1)]);
    },
    Reshape: reshapeLayer,
    BatchNormalization: (call) => batchNormalization(call, (role) => constantValues(call.node.name, role)),
    Activation: (call) => activate(call, single(call)),
    ReLU: reluLayer,
    LeakyReLU: (call) => leakyRelu(call.tape, single(call), call.tape.scalar(configValue(call.node, 'alpha', configValue(call.node, 'negative_slope', 0.3)))),
    PReLU: (call) => leakyRelu(call.tape, single(call), required(call, 'alpha')),
    ELU: (call) => elu(call.tape, single(call), configValue(call.node, 'alpha', 1)),
    Softmax: softmaxLayer,
    Add: (call) => call.inputs.slice(1).reduce((sum, x) => call.tape.add(sum, x), call.inputs[0]),
    DepthwiseConv2D: depthwise,
    LayerNormalization: layerNormalization,
    InstanceNormalization: instanceNormalization,
    HardSigmoid: (call) => {
      const t = call.tape;
      return cappedRelu(t, t.add(t.scale(single(call), configValue(call.node, 'alpha', 0.2)), t.scalar(configValue(call.node, 'beta', 0.5))), 1);
    },
    Multiply: multiply,
    Power: (call) => call.tape.power(single(call), configValue(call.node, 'exponent', 1)),
    Concatenate: concatenate,
    UpSampling2D: upSampling,
    ZeroPadding2D: zeroPadding,
    EdgePadding2D: (call) => padByRepeatingEdges(rank4(call), rank4(call).shape, edgePadding(call.node), (x, starts, sizes) => call.tape.slice(x, starts, sizes), (parts, axis) => call.tape.concat(parts, axis)),
    ChannelShuffle: channelShuffle,
    ChannelSlice: channelSlice,
    ChannelReduce: channelReduce,
    ChannelPad: (call) => {
      const x = single(call);
      const axis = call.channelsFirst && x.shape.length === 4 ? 1 : x.shape.length - 1;
      const [before, after] = channelPadding(call.node);
      return call.tape.pad(x, [...x.shape.map((_, i) => (i === axis ? before : 0)), ...x.shape.map((_, i) => (i === axis ? after : 0))]);
    },
    ...tokenLayerRules,
  };
}
