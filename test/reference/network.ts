/**
 * Test reference only: evaluates a ModelSpec layer by layer over `Num` tensors, following Keras
 * inference semantics. Written independently of src/engine/model: straightforward loops, no tfjs.
 */
import type { LayerNode, ModelSpec } from '../../src/engine/model/spec';
import { applyActivation, elu, leakyRelu, parseActivation, power, softmaxOverAxis, thresholdedRelu } from './activations';
import type { ActivationName } from './activations';
import { SumAccumulator, add, div, maxByRealPart, mul, realPart, sqrt, sub } from './hyperDual';
import type { Num } from './hyperDual';
import {
  booleanOption,
  integerListOption,
  nullableNumberOption,
  numberOption,
  pairOption,
  paddingOption,
  requireChannelsLast,
} from './layerConfig';
import { ReferenceModelError, elementCount, mapElements, requireShape, resolveAxis } from './referenceTensor';
import type { ReferenceTensor } from './referenceTensor';
import { conv2d, depthwiseConv2d, globalAveragePool2d, pool2d } from './spatialLayers';
import { batchMatMul, broadcastParameter, permute, rescaling, sliceAlong } from './tokenLayers';

/** Where the evaluator finds a layer's weights, by layer name and role. */
export interface LayerWeightSource {
  find(layer: string, role: string): ReferenceTensor | null;
}

export interface NetworkEvaluation {
  /** The model's output, batch first. */
  readonly output: ReferenceTensor;
  /** The output layer's values before its final activation (equal to `output` when it has none). */
  readonly beforeFinalActivation: ReferenceTensor;
  /** The activation the output layer ends with, or null if it ends with anything else. */
  readonly finalActivation: ActivationName | null;
}

interface LayerOutput {
  readonly value: ReferenceTensor;
  readonly beforeActivation: ReferenceTensor;
  readonly activation: ActivationName | null;
}

export function evaluateNetwork(model: ModelSpec, weights: LayerWeightSource, input: ReferenceTensor): NetworkEvaluation {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ReferenceModelError(
      '(model)',
      `only single-input single-output models are supported, found ${model.inputs.length} inputs and ${model.outputs.length} outputs`,
    );
  }
  const values = new Map<string, ReferenceTensor>([[model.inputs[0].name, input]]);
  const outputName = model.outputs[0];
  let outputLayer: LayerOutput | null = null;
  for (const node of model.layers) {
    const inbound = node.inbound.map((name) => {
      const value = values.get(name);
      if (value === undefined) throw new ReferenceModelError(node.name, `inbound '${name}' has not been computed`);
      return value;
    });
    const result = node.className === 'InputLayer' ? inputLayerOutput(node, values, input) : evaluateLayer(node, inbound, weights);
    values.set(node.name, result.value);
    if (node.name === outputName) outputLayer = result;
  }
  if (outputLayer === null) throw new ReferenceModelError(outputName, 'the output layer is not among the model layers');
  return {
    output: outputLayer.value,
    beforeFinalActivation: outputLayer.beforeActivation,
    finalActivation: outputLayer.activation,
  };
}

function inputLayerOutput(node: LayerNode, values: ReadonlyMap<string, ReferenceTensor>, input: ReferenceTensor): LayerOutput {
  return withoutActivation(values.get(node.name) ?? input);
}

function withoutActivation(value: ReferenceTensor): LayerOutput {
  return { value, beforeActivation: value, activation: null };
}

function withActivation(beforeActivation: ReferenceTensor, activation: ActivationName, layer: string): LayerOutput {
  return { value: applyActivation(beforeActivation, activation, layer), beforeActivation, activation };
}

function singleInput(node: LayerNode, inbound: readonly ReferenceTensor[]): ReferenceTensor {
  if (inbound.length !== 1) throw new ReferenceModelError(node.name, `expected one inbound layer, found ${inbound.length}`);
  return inbound[0];
}

function evaluateLayer(node: LayerNode, inbound: readonly ReferenceTensor[], weights: LayerWeightSource): LayerOutput {
  const requireWeight = (role: string): ReferenceTensor => {
    const weight = weights.find(node.name, role);
    if (weight === null) throw new ReferenceModelError(node.name, `missing weight with role '${role}'`);
    return weight;
  };
  const optionalWeight = (role: string, present: boolean): ReferenceTensor | null => (present ? requireWeight(role) : null);

  switch (node.className) {
    case 'Dense': {
      const x = singleInput(node, inbound);
      const linear = dense(x, requireWeight('kernel'), optionalWeight('bias', booleanOption(node, 'use_bias', true)), node.name);
      return withActivation(linear, parseActivation(node.config['activation'], node.name), node.name);
    }
    case 'Conv2D': {
      requireChannelsLast(node);
      const linear = conv2d(
        singleInput(node, inbound),
        requireWeight('kernel'),
        optionalWeight('bias', booleanOption(node, 'use_bias', true)),
        convolutionGeometry(node),
        node.name,
        numberOption(node, 'groups', 1),
      );
      return withActivation(linear, parseActivation(node.config['activation'], node.name), node.name);
    }
    case 'DepthwiseConv2D': {
      requireChannelsLast(node);
      const kernel = requireWeight('depthwise_kernel');
      const multiplier = numberOption(node, 'depth_multiplier', 1);
      if (kernel.shape[3] !== multiplier) {
        throw new ReferenceModelError(node.name, `depth_multiplier is ${multiplier} but the kernel has ${kernel.shape[3]}`);
      }
      const linear = depthwiseConv2d(
        singleInput(node, inbound),
        kernel,
        optionalWeight('bias', booleanOption(node, 'use_bias', true)),
        convolutionGeometry(node),
        node.name,
      );
      return withActivation(linear, parseActivation(node.config['activation'], node.name), node.name);
    }
    case 'ZeroPadding2D': {
      requireChannelsLast(node);
      const x = singleInput(node, inbound);
      const raw = node.config['padding'] ?? 1;
      const sides = (k: number): number[] => (typeof raw === 'number' ? [raw, raw] : Array.isArray((raw as unknown[])[k]) ? ((raw as number[][])[k]) : [(raw as number[])[k], (raw as number[])[k]]);
      const [[top, bottom], [left, right]] = [sides(0), sides(1)];
      const [count, height, width, channels] = x.shape;
      const [outH, outW] = [height + top + bottom, width + left + right];
      const data: Num[] = new Array(count * outH * outW * channels).fill(0);
      for (let n = 0; n < count; n++) for (let i = 0; i < height; i++) for (let j = 0; j < width; j++) for (let c = 0; c < channels; c++) {
        data[((n * outH + i + top) * outW + j + left) * channels + c] = x.data[((n * height + i) * width + j) * channels + c];
      }
      return withoutActivation({ shape: [count, outH, outW, channels], data });
    }
    case 'UpSampling2D': {
      // Nearest: output cell (i, j) is input cell (⌊i / sh⌋, ⌊j / sw⌋).
      requireChannelsLast(node);
      const x = singleInput(node, inbound);
      const [sh, sw] = pairOption(node, 'size', [2, 2]);
      const [count, height, width, channels] = x.shape;
      const data: Num[] = [];
      for (let n = 0; n < count; n++) for (let i = 0; i < height * sh; i++) for (let j = 0; j < width * sw; j++) for (let c = 0; c < channels; c++) {
        data.push(x.data[((n * height + Math.floor(i / sh)) * width + Math.floor(j / sw)) * channels + c]);
      }
      return withoutActivation({ shape: [count, height * sh, width * sw, channels], data });
    }
    case 'EdgePadding2D': {
      // Each border row and column repeated outwards: cell (i, j) of the output is input cell (clamp(i − top), clamp(j − left)).
      const x = singleInput(node, inbound);
      const [[top, bottom], [left, right]] = node.config['padding'] as number[][];
      const [count, height, width, channels] = x.shape;
      const [outH, outW] = [height + top + bottom, width + left + right];
      const clamp = (v: number, size: number) => Math.min(Math.max(v, 0), size - 1);
      const data: Num[] = [];
      for (let n = 0; n < count; n++) for (let i = 0; i < outH; i++) for (let j = 0; j < outW; j++) for (let c = 0; c < channels; c++) {
        data.push(x.data[((n * height + clamp(i - top, height)) * width + clamp(j - left, width)) * channels + c]);
      }
      return withoutActivation({ shape: [count, outH, outW, channels], data });
    }
    case 'ChannelPad': {
      const x = singleInput(node, inbound);
      const [before, after] = pairOption(node, 'padding', null);
      const channels = x.shape[x.shape.length - 1];
      const data: Num[] = [];
      for (let start = 0; start < x.data.length; start += channels) data.push(...new Array<Num>(before).fill(0), ...x.data.slice(start, start + channels), ...new Array<Num>(after).fill(0));
      return withoutActivation({ shape: [...x.shape.slice(0, -1), before + channels + after], data });
    }
    case 'ChannelReduce':
      return withoutActivation(channelReduce(node, singleInput(node, inbound)));
    case 'Conv2DTranspose':
      return withoutActivation(conv2dTranspose(node, singleInput(node, inbound), requireWeight('kernel'), optionalWeight('bias', booleanOption(node, 'use_bias', true))));
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      requireChannelsLast(node);
      const poolSize = pairOption(node, 'pool_size', [2, 2]);
      const strides = pairOption(node, 'strides', poolSize);
      const kind = node.className === 'MaxPooling2D' ? 'max' : 'average';
      return withoutActivation(pool2d(singleInput(node, inbound), kind, poolSize, strides, paddingOption(node), node.name));
    }
    case 'GlobalAveragePooling2D':
      requireChannelsLast(node);
      return withoutActivation(globalAveragePool2d(singleInput(node, inbound), booleanOption(node, 'keepdims', false), node.name));
    case 'GlobalMaxPooling2D': {
      requireChannelsLast(node);
      const x = singleInput(node, inbound);
      const [, height, width, channels] = x.shape;
      const pooled = pool2d(x, 'max', [height, width], [height, width], 'valid', node.name);
      return withoutActivation({ shape: [x.shape[0], channels], data: pooled.data });
    }
    case 'Flatten': {
      requireChannelsLast(node);
      const x = singleInput(node, inbound);
      return withoutActivation({ shape: [x.shape[0], elementCount(x.shape.slice(1))], data: x.data });
    }
    case 'Reshape':
      return withoutActivation(reshape(node, singleInput(node, inbound)));
    case 'Dropout':
      return withoutActivation(singleInput(node, inbound));
    case 'BatchNormalization':
      return withoutActivation(batchNormalization(node, singleInput(node, inbound), weights));
    case 'LayerNormalization':
      return withoutActivation(layerNormalization(node, singleInput(node, inbound), weights));
    case 'InstanceNormalization':
      return withoutActivation(instanceNormalization(node, singleInput(node, inbound), requireWeight('gamma'), requireWeight('beta')));
    case 'Activation':
      return withActivation(singleInput(node, inbound), parseActivation(node.config['activation'], node.name), node.name);
    case 'Softmax': {
      const x = singleInput(node, inbound);
      const axis = numberOption(node, 'axis', -1);
      if (resolveAxis(axis, x.shape.length, node.name) === x.shape.length - 1) return withActivation(x, 'softmax', node.name);
      return withoutActivation(softmaxOverAxis(x, axis, node.name));
    }
    case 'ReLU': {
      const maxValue = nullableNumberOption(node, 'max_value');
      const negativeSlope = numberOption(node, 'negative_slope', 0);
      const threshold = numberOption(node, 'threshold', 0);
      return withoutActivation(mapElements(singleInput(node, inbound), (v) => thresholdedRelu(v, maxValue, negativeSlope, threshold)));
    }
    case 'LeakyReLU': {
      // Keras 2 and tfjs call the slope `alpha`; Keras 3 calls it `negative_slope`. Both default to 0.3.
      const slope = numberOption(node, 'alpha', numberOption(node, 'negative_slope', 0.3));
      return withoutActivation(mapElements(singleInput(node, inbound), (v) => leakyRelu(v, slope)));
    }
    case 'ELU': {
      const alpha = numberOption(node, 'alpha', 1);
      return withoutActivation(mapElements(singleInput(node, inbound), (v) => elu(v, alpha)));
    }
    case 'PReLU':
      return withoutActivation(parametricRelu(node, singleInput(node, inbound), requireWeight('alpha')));
    case 'Add':
      return withoutActivation(elementwiseSum(node, inbound));
    case 'Multiply':
      return withoutActivation(broadcastProduct(node, inbound));
    case 'HardSigmoid': {
      const alpha = numberOption(node, 'alpha', 0.2);
      const beta = numberOption(node, 'beta', 0.5);
      return withoutActivation(mapElements(singleInput(node, inbound), (v) => {
        const z = add(mul(alpha, v), beta);
        const r = realPart(z);
        return r <= 0 ? 0 : r >= 1 ? 1 : z;
      }));
    }
    case 'Power': {
      const exponent = numberOption(node, 'exponent', 1);
      return withoutActivation(mapElements(singleInput(node, inbound), (v) => power(v, exponent)));
    }
    case 'Concatenate':
      return withoutActivation(concatenate(node, inbound));
    case 'ChannelShuffle':
      return withoutActivation(channelShuffle(node, singleInput(node, inbound)));
    case 'ChannelSlice':
      return withoutActivation(channelSlice(node, singleInput(node, inbound)));
    case 'BatchMatMul':
      return withoutActivation(batchMatMul(node, inbound[0], inbound[1]));
    case 'Permute':
      return withoutActivation(permute(node, singleInput(node, inbound)));
    case 'SliceAxis':
      return withoutActivation(sliceAlong(node, singleInput(node, inbound), numberOption(node, 'begin', 0), numberOption(node, 'size', 1), false));
    case 'TakeIndex':
      return withoutActivation(sliceAlong(node, singleInput(node, inbound), numberOption(node, 'index', 0), 1, true));
    case 'Rescaling':
      return withoutActivation(rescaling(node, singleInput(node, inbound)));
    case 'BroadcastParameter':
      return withoutActivation(broadcastParameter(singleInput(node, inbound), requireWeight('value')));
    default:
      throw new ReferenceModelError(node.name, `unsupported layer class '${node.className}'`);
  }
}

function convolutionGeometry(node: LayerNode): {
  kernelSize: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: 'valid' | 'same';
} {
  return {
    kernelSize: pairOption(node, 'kernel_size', null),
    strides: pairOption(node, 'strides', [1, 1]),
    dilation: pairOption(node, 'dilation_rate', [1, 1]),
    padding: paddingOption(node),
  };
}

/** x·kernel + bias over the last axis; kernel is [in, out]. */
function dense(x: ReferenceTensor, kernel: ReferenceTensor, bias: ReferenceTensor | null, layer: string): ReferenceTensor {
  const inputWidth = x.shape[x.shape.length - 1];
  const outputWidth = kernel.shape[1];
  requireShape(kernel.shape, [inputWidth, outputWidth], 'kernel', layer);
  if (bias !== null) requireShape(bias.shape, [outputWidth], 'bias', layer);
  const rows = x.data.length / inputWidth;
  const data: Num[] = [];
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outputWidth; o++) {
      const sum = new SumAccumulator(bias === null ? 0 : bias.data[o]);
      for (let i = 0; i < inputWidth; i++) sum.addProduct(x.data[r * inputWidth + i], kernel.data[i * outputWidth + o]);
      data.push(sum.result());
    }
  }
  return { shape: [...x.shape.slice(0, -1), outputWidth], data };
}

function reshape(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const target = integerListOption(node, 'target_shape');
  if (target === null) throw new ReferenceModelError(node.name, 'config.target_shape is required');
  const sampleSize = elementCount(x.shape.slice(1));
  const known = target.filter((d) => d !== -1);
  const unknownCount = target.length - known.length;
  if (unknownCount > 1) throw new ReferenceModelError(node.name, 'target_shape has more than one -1');
  const knownSize = elementCount(known);
  const resolved = target.map((d) => (d === -1 ? sampleSize / knownSize : d));
  if (elementCount(resolved) !== sampleSize || !resolved.every((d) => Number.isInteger(d))) {
    throw new ReferenceModelError(node.name, `cannot reshape [${x.shape.slice(1).join(', ')}] to [${target.join(', ')}]`);
  }
  return { shape: [x.shape[0], ...resolved], data: x.data };
}

/** Inference-mode BatchNormalization over the last axis. */
function batchNormalization(node: LayerNode, x: ReferenceTensor, weights: LayerWeightSource): ReferenceTensor {
  const axes = integerListOption(node, 'axis') ?? [-1];
  if (axes.length !== 1 || resolveAxis(axes[0], x.shape.length, node.name) !== x.shape.length - 1) {
    throw new ReferenceModelError(node.name, `only normalization over the last axis is supported, found axis ${JSON.stringify(axes)}`);
  }
  const channels = x.shape[x.shape.length - 1];
  const epsilon = numberOption(node, 'epsilon', 0.001);
  const find = (role: string, present: boolean): ReferenceTensor | null => {
    if (!present) return null;
    const weight = weights.find(node.name, role);
    if (weight === null) throw new ReferenceModelError(node.name, `missing weight with role '${role}'`);
    requireShape(weight.shape, [channels], role, node.name);
    return weight;
  };
  const gamma = find('gamma', booleanOption(node, 'scale', true));
  const beta = find('beta', booleanOption(node, 'center', true));
  const mean = find('moving_mean', true);
  const variance = find('moving_variance', true);
  if (mean === null || variance === null) throw new ReferenceModelError(node.name, 'missing moving statistics');
  const scales: Num[] = [];
  for (let c = 0; c < channels; c++) {
    const inverseDeviation = div(1, sqrt(add(variance.data[c], epsilon)));
    scales.push(gamma === null ? inverseDeviation : mul(gamma.data[c], inverseDeviation));
  }
  const data = x.data.map((v, index) => {
    const c = index % channels;
    const normalized = mul(sub(v, mean.data[c]), scales[c]);
    return beta === null ? normalized : add(normalized, beta.data[c]);
  });
  return { shape: x.shape, data };
}

/**
 * LayerNormalization over the last axis, per sample and position: (x − mean) / sqrt(var + ε) · γ + β,
 * with the biased variance (Keras, PyTorch, ONNX).
 */
function layerNormalization(node: LayerNode, x: ReferenceTensor, weights: LayerWeightSource): ReferenceTensor {
  const axes = integerListOption(node, 'axis') ?? [-1];
  if (axes.length !== 1 || resolveAxis(axes[0], x.shape.length, node.name) !== x.shape.length - 1) {
    throw new ReferenceModelError(node.name, `only normalization over the last axis is supported, found axis ${JSON.stringify(axes)}`);
  }
  const width = x.shape[x.shape.length - 1];
  const epsilon = numberOption(node, 'epsilon', 0.001);
  const find = (role: string, present: boolean): ReferenceTensor | null => {
    if (!present) return null;
    const weight = weights.find(node.name, role);
    if (weight === null) throw new ReferenceModelError(node.name, `missing weight with role '${role}'`);
    requireShape(weight.shape, [width], role, node.name);
    return weight;
  };
  const gamma = find('gamma', booleanOption(node, 'scale', true));
  const beta = find('beta', booleanOption(node, 'center', true));
  const data: Num[] = [];
  for (let start = 0; start < x.data.length; start += width) {
    const row = x.data.slice(start, start + width);
    const total = new SumAccumulator();
    for (const v of row) total.add(v);
    const mean = div(total.result(), width);
    const centered = row.map((v) => sub(v, mean));
    const squares = new SumAccumulator();
    for (const d of centered) squares.addProduct(d, d);
    const inverseDeviation = div(1, sqrt(add(div(squares.result(), width), epsilon)));
    centered.forEach((d, j) => {
      const normalized = mul(d, inverseDeviation);
      const scaled = gamma === null ? normalized : mul(normalized, gamma.data[j]);
      data.push(beta === null ? scaled : add(scaled, beta.data[j]));
    });
  }
  return { shape: x.shape, data };
}

/**
 * ONNX ConvTranspose on [N, H, W, C] with kernel [kh, kw, filters, C]: each input cell scatters
 * x·kernel into output cell (i·s + a − pad_top, j·s + b − pad_left); output (H − 1)·s − pads + k + output_padding.
 */
function conv2dTranspose(node: LayerNode, x: ReferenceTensor, kernel: ReferenceTensor, bias: ReferenceTensor | null): ReferenceTensor {
  const [count, height, width, inputs] = x.shape;
  const [kh, kw, filters] = kernel.shape;
  requireShape(kernel.shape, [kh, kw, filters, inputs], 'kernel', node.name);
  const [sh, sw] = pairOption(node, 'strides', [1, 1]);
  const [oh, ow] = pairOption(node, 'output_padding', [0, 0]);
  const [top, left, bottom, right] = (node.config['pads'] ?? [0, 0, 0, 0]) as number[];
  const outH = (height - 1) * sh - top - bottom + kh + oh;
  const outW = (width - 1) * sw - left - right + kw + ow;
  const data: Num[] = new Array(count * outH * outW * filters).fill(0);
  for (let n = 0; n < count; n++) {
    for (let i = 0; i < height; i++) {
      for (let j = 0; j < width; j++) {
        for (let a = 0; a < kh; a++) {
          const r = i * sh + a - top;
          if (r < 0 || r >= outH) continue;
          for (let b = 0; b < kw; b++) {
            const q = j * sw + b - left;
            if (q < 0 || q >= outW) continue;
            for (let o = 0; o < filters; o++) {
              const at = ((n * outH + r) * outW + q) * filters + o;
              for (let c = 0; c < inputs; c++) data[at] = add(data[at], mul(x.data[((n * height + i) * width + j) * inputs + c], kernel.data[((a * kw + b) * filters + o) * inputs + c]));
            }
          }
        }
      }
    }
  }
  if (bias !== null) for (let k = 0; k < data.length; k++) data[k] = add(data[k], bias.data[k % filters]);
  return { shape: [count, outH, outW, filters], data };
}

/** [N, H, W, C] → [N, H, W, 1]: each position's channels summed, averaged or maximized (by real part). */
function channelReduce(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const channels = x.shape[x.shape.length - 1];
  const reduction = node.config['reduction'];
  const data: Num[] = [];
  for (let start = 0; start < x.data.length; start += channels) {
    const cells = x.data.slice(start, start + channels);
    if (reduction === 'max') data.push(cells.reduce(maxByRealPart));
    else {
      const total = new SumAccumulator();
      for (const v of cells) total.add(v);
      data.push(reduction === 'mean' ? div(total.result(), channels) : total.result());
    }
  }
  return { shape: [...x.shape.slice(0, -1), 1], data };
}

/** ONNX InstanceNormalization on [N, H, W, C]: each sample's channel over its H·W positions, biased variance. */
function instanceNormalization(node: LayerNode, x: ReferenceTensor, gamma: ReferenceTensor, beta: ReferenceTensor): ReferenceTensor {
  if (x.shape.length !== 4) throw new ReferenceModelError(node.name, `expected a [N, H, W, C] input, found [${x.shape.join(', ')}]`);
  const [count, height, width, channels] = x.shape;
  requireShape(gamma.shape, [channels], 'gamma', node.name);
  requireShape(beta.shape, [channels], 'beta', node.name);
  const epsilon = numberOption(node, 'epsilon', 1e-5);
  const positions = height * width;
  const data: Num[] = new Array(x.data.length);
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < channels; c++) {
      const at = (p: number) => (n * positions + p) * channels + c;
      const total = new SumAccumulator();
      for (let p = 0; p < positions; p++) total.add(x.data[at(p)]);
      const mean = div(total.result(), positions);
      const centered = Array.from({ length: positions }, (_, p) => sub(x.data[at(p)], mean));
      const squares = new SumAccumulator();
      for (const d of centered) squares.addProduct(d, d);
      const inverseDeviation = div(1, sqrt(add(div(squares.result(), positions), epsilon)));
      centered.forEach((d, p) => {
        data[at(p)] = add(mul(mul(d, inverseDeviation), gamma.data[c]), beta.data[c]);
      });
    }
  }
  return { shape: x.shape, data };
}

/** PReLU with a learned slope per position; dimensions of size 1 in alpha (shared_axes) broadcast. */
function parametricRelu(node: LayerNode, x: ReferenceTensor, alpha: ReferenceTensor): ReferenceTensor {
  const sampleShape = x.shape.slice(1);
  if (alpha.shape.length !== sampleShape.length || alpha.shape.some((d, i) => d !== 1 && d !== sampleShape[i])) {
    throw new ReferenceModelError(
      node.name,
      `alpha of shape [${alpha.shape.join(', ')}] does not broadcast against input [${sampleShape.join(', ')}]`,
    );
  }
  const sampleSize = elementCount(sampleShape);
  const data = x.data.map((v, index) => {
    let remainder = index % sampleSize;
    let alphaIndex = 0;
    let alphaStride = 1;
    for (let axis = sampleShape.length - 1; axis >= 0; axis--) {
      const coordinate = remainder % sampleShape[axis];
      remainder = Math.floor(remainder / sampleShape[axis]);
      if (alpha.shape[axis] !== 1) alphaIndex += coordinate * alphaStride;
      alphaStride *= alpha.shape[axis];
    }
    return leakyRelu(v, alpha.data[alphaIndex]);
  });
  return { shape: x.shape, data };
}

function elementwiseSum(node: LayerNode, inbound: readonly ReferenceTensor[]): ReferenceTensor {
  if (inbound.length < 2) throw new ReferenceModelError(node.name, `expected at least two inbound layers, found ${inbound.length}`);
  const first = inbound[0];
  for (const other of inbound) requireShape(other.shape, first.shape, 'every input', node.name);
  const data = first.data.map((_, index) => {
    const sum = new SumAccumulator();
    for (const t of inbound) sum.add(t.data[index]);
    return sum.result();
  });
  return { shape: first.shape, data };
}

/** a·b elementwise; an axis of size 1 in one input (not the batch) repeats along the other's. */
function broadcastProduct(node: LayerNode, inbound: readonly ReferenceTensor[]): ReferenceTensor {
  if (inbound.length !== 2) throw new ReferenceModelError(node.name, `expected two inbound layers, found ${inbound.length}`);
  const [a, b] = inbound;
  if (a.shape.length !== b.shape.length) throw new ReferenceModelError(node.name, 'inputs of different ranks');
  const shape = a.shape.map((d, i) => Math.max(d, b.shape[i]));
  a.shape.forEach((d, i) => {
    if (d !== shape[i] && d !== 1) throw new ReferenceModelError(node.name, `axis ${i}: ${d} vs ${b.shape[i]}`);
    if (b.shape[i] !== shape[i] && b.shape[i] !== 1) throw new ReferenceModelError(node.name, `axis ${i}: ${d} vs ${b.shape[i]}`);
  });
  const indexIn = (t: ReferenceTensor, coordinates: number[]) => coordinates.reduce((index, c, i) => index * t.shape[i] + (t.shape[i] === 1 ? 0 : c), 0);
  const data: Num[] = [];
  const total = elementCount(shape);
  for (let flat = 0; flat < total; flat++) {
    const coordinates: number[] = [];
    let rest = flat;
    for (let i = shape.length - 1; i >= 0; i--) {
      coordinates[i] = rest % shape[i];
      rest = Math.floor(rest / shape[i]);
    }
    data.push(mul(a.data[indexIn(a, coordinates)], b.data[indexIn(b, coordinates)]));
  }
  return { shape, data };
}

function concatenate(node: LayerNode, inbound: readonly ReferenceTensor[]): ReferenceTensor {
  if (inbound.length < 1) throw new ReferenceModelError(node.name, 'expected inbound layers');
  const rank = inbound[0].shape.length;
  const axis = resolveAxis(numberOption(node, 'axis', -1), rank, node.name);
  for (const t of inbound) {
    const matches = t.shape.length === rank && t.shape.every((d, i) => i === axis || d === inbound[0].shape[i]);
    if (!matches) {
      throw new ReferenceModelError(
        node.name,
        `cannot concatenate [${t.shape.join(', ')}] with [${inbound[0].shape.join(', ')}] along axis ${axis}`,
      );
    }
  }
  const outer = elementCount(inbound[0].shape.slice(0, axis));
  const blockSizes = inbound.map((t) => elementCount(t.shape.slice(axis)));
  const data: Num[] = [];
  for (let o = 0; o < outer; o++) {
    inbound.forEach((t, k) => {
      for (let e = 0; e < blockSizes[k]; e++) data.push(t.data[o * blockSizes[k] + e]);
    });
  }
  const shape = [...inbound[0].shape];
  shape[axis] = inbound.reduce((total, t) => total + t.shape[axis], 0);
  return { shape, data };
}

/**
 * ShuffleNet's channel shuffle on the last axis, spelled as PyTorch writes it: the C channels viewed
 * as a [groups, C / groups] grid, the grid transposed, and read back row by row.
 */
function channelShuffle(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const groups = numberOption(node, 'groups', 1);
  const channels = x.shape[x.shape.length - 1];
  if (!Number.isInteger(groups) || groups < 1 || channels % groups !== 0) throw new ReferenceModelError(node.name, `${groups} groups do not divide ${channels} channels`);
  const perGroup = channels / groups;
  const positions = x.data.length / channels;
  const data: Num[] = new Array<Num>(x.data.length);
  for (let p = 0; p < positions; p++) {
    const grid: Num[][] = [];
    for (let g = 0; g < groups; g++) grid.push(x.data.slice(p * channels + g * perGroup, p * channels + (g + 1) * perGroup));
    let out = p * channels;
    for (let k = 0; k < perGroup; k++) for (let g = 0; g < groups; g++) data[out++] = grid[g][k];
  }
  return { shape: [...x.shape], data };
}

/** Channels [begin, begin + size) of the last axis. */
function channelSlice(node: LayerNode, x: ReferenceTensor): ReferenceTensor {
  const begin = numberOption(node, 'begin', 0);
  const size = numberOption(node, 'size', 0);
  const channels = x.shape[x.shape.length - 1];
  if (begin < 0 || size < 1 || begin + size > channels) throw new ReferenceModelError(node.name, `channels [${begin}, ${begin + size}) are not within ${channels}`);
  const data: Num[] = [];
  for (let p = 0; p < x.data.length / channels; p++) data.push(...x.data.slice(p * channels + begin, p * channels + begin + size));
  return { shape: [...x.shape.slice(0, -1), size], data };
}
