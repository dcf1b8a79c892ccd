/**
 * Small models for the layer variants the tiny catalog lacks, each with the same function spelled in
 * layers the float64 reference knows where it needs another spelling. Every engine (tfjs, ONNX
 * Runtime) is checked against the reference on each of them.
 */
import type { LossKind } from './exactHessian';
import { TinyModelBuilder, fanInInit, type TinyCheckpoint, type WeightRequest } from './tinyModels';

export interface LayerVariantCase {
  readonly name: string;
  /** The model the engine runs. */
  readonly engine: TinyCheckpoint;
  /** The same function written with layers the reference knows (default: `engine`). */
  readonly reference?: TinyCheckpoint;
  /** Maps the engine's inputs to the reference model's inputs (default: identity). */
  readonly referenceInputs?: (x: Float32Array, count: number) => Float32Array;
  readonly inputScale?: number;
  /** Default: every loss the model suits (lossesFor). */
  readonly losses?: readonly LossKind[];
  readonly inputSeed: number;
}

function headOf(checkpoint: TinyCheckpoint): 'softmax' | 'sigmoid' | 'none' {
  const out = checkpoint.model.layers.find((l) => l.name === checkpoint.model.outputs[0])!;
  if (out.className === 'Softmax') return 'softmax';
  const act = String(out.config.activation ?? 'linear').toLowerCase();
  if (['Dense', 'Conv2D', 'DepthwiseConv2D', 'Activation'].includes(out.className) && (act === 'softmax' || act === 'sigmoid')) return act;
  return 'none';
}

/**
 * The losses a model suits: its head's own (ce on softmax, bce on sigmoid), plus mse on the final
 * outputs always, plus ce and bce on a linear multi-unit head. (A mismatched pair — bce on a softmax
 * head — is not tested: the engine strips the softmax and applies bce to the logits there.)
 */
export function lossesFor(checkpoint: TinyCheckpoint, width: number): LossKind[] {
  const head = headOf(checkpoint);
  if (head === 'softmax') return ['ce', 'mse'];
  if (head === 'sigmoid') return ['bce', 'mse'];
  return width > 1 ? ['mse', 'ce', 'bce'] : ['mse', 'bce'];
}


/** Extra models for layer variants the catalog does not have. Built twice with the same seed where the reference needs another spelling. */
export const layerVariantCases: LayerVariantCase[] = [
  {
    name: 'conv stride 2 valid (relu) → Flatten → Dense softmax',
    engine: ((b) => {
      b.conv2d(2, 3, [3, 3], { activation: 'relu', padding: 'valid', strides: [2, 2] });
      b.layer('Flatten');
      b.dense(27, 3, 'softmax');
      return b.build();
    })(new TinyModelBuilder([7, 7, 2], 101)),
    inputSeed: 102,
  },
  {
    name: "conv 'same' stride 2 on odd size (tanh) → conv dilation 2 'same' (elu) → conv dilation 2 'valid' → GAP → Dense",
    engine: ((b) => {
      b.conv2d(1, 2, [3, 3], { activation: 'tanh', padding: 'same', strides: [2, 2] });
      b.conv2d(2, 2, [2, 2], { activation: 'elu', padding: 'same', dilation_rate: [2, 2] });
      b.conv2d(2, 2, [2, 1], { activation: 'tanh', padding: 'valid', dilation_rate: [2, 1] });
      b.layer('GlobalAveragePooling2D');
      b.dense(2, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([7, 6, 1], 111)),
    inputSeed: 112,
  },
  {
    name: "MaxPooling2D 3x3 stride 2 'same' (overlapping windows, padded edges)",
    engine: ((b) => {
      b.conv2d(2, 2, [1, 1], { activation: 'tanh', padding: 'valid' });
      b.layer('MaxPooling2D', { pool_size: [3, 3], strides: [2, 2], padding: 'same' });
      b.layer('Flatten');
      b.dense(18, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([5, 5, 2], 121)),
    inputSeed: 123,
  },
  {
    name: "MaxPooling2D 2x2 stride 2 'same' on an odd size (a padded column in every last window)",
    engine: ((b) => {
      b.conv2d(1, 2, [1, 1], { activation: 'linear', padding: 'valid' });
      b.layer('MaxPooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'same' });
      b.layer('Flatten');
      b.dense(8, 2, 'linear');
      return b.build();
    })(new TinyModelBuilder([3, 3, 1], 126)),
    inputSeed: 127,
  },
  {
    name: 'MaxPooling2D 3x3 stride 1 valid (overlapping) after relu conv',
    engine: ((b) => {
      b.conv2d(1, 2, [2, 2], { activation: 'relu', padding: 'valid' });
      b.layer('MaxPooling2D', { pool_size: [3, 3], strides: [1, 1], padding: 'valid' });
      b.layer('Flatten');
      b.dense(8, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([5, 5, 1], 131)),
    inputSeed: 132,
  },
  {
    name: 'GlobalMaxPooling2D (reference: MaxPooling2D over the whole map + Flatten)',
    engine: ((b) => {
      b.conv2d(2, 3, [2, 2], { activation: 'tanh', padding: 'valid' });
      b.layer('GlobalMaxPooling2D');
      b.dense(3, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 3, 2], 141)),
    reference: ((b) => {
      b.conv2d(2, 3, [2, 2], { activation: 'tanh', padding: 'valid' });
      b.layer('MaxPooling2D', { pool_size: [3, 2], strides: [3, 2], padding: 'valid' });
      b.layer('Flatten');
      b.dense(3, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 3, 2], 141)),
    inputSeed: 142,
  },
  {
    name: "ZeroPadding2D (int and ((0,1),(0,1)) forms) + 'valid' conv (reference: 'same' conv)",
    engine: ((b) => {
      b.conv2d(1, 2, [1, 1], { activation: 'tanh', padding: 'valid' });
      b.layer('ZeroPadding2D', { padding: 1 });
      b.conv2d(2, 2, [3, 3], { activation: 'tanh', padding: 'valid' });
      b.layer('ZeroPadding2D', { padding: [[0, 1], [0, 1]] });
      b.conv2d(2, 2, [2, 2], { activation: 'tanh', padding: 'valid' });
      b.layer('Flatten');
      b.dense(32, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 4, 1], 151)),
    reference: ((b) => {
      b.conv2d(1, 2, [1, 1], { activation: 'tanh', padding: 'valid' });
      b.conv2d(2, 2, [3, 3], { activation: 'tanh', padding: 'same' });
      b.conv2d(2, 2, [2, 2], { activation: 'tanh', padding: 'same' });
      b.layer('Flatten');
      b.dense(32, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 4, 1], 151)),
    inputSeed: 152,
  },
  {
    // Nearest upsampling commutes with a 1×1 convolution and with pointwise activations, so the
    // reference upsamples the input instead and runs the same layers without UpSampling2D.
    name: 'UpSampling2D size [2, 3] between a 1x1 conv and a 2x2 conv (reference: upsampled input)',
    engine: ((b) => {
      b.conv2d(2, 3, [1, 1], { activation: 'tanh', padding: 'valid' });
      b.layer('UpSampling2D', { size: [2, 3], interpolation: 'nearest' });
      b.conv2d(3, 2, [2, 2], { activation: 'relu', padding: 'valid', strides: [2, 2] });
      b.layer('Flatten');
      b.dense(2 * 3 * 2, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([2, 2, 2], 161)),
    reference: ((b) => {
      b.conv2d(2, 3, [1, 1], { activation: 'tanh', padding: 'valid' });
      b.conv2d(3, 2, [2, 2], { activation: 'relu', padding: 'valid', strides: [2, 2] });
      b.layer('Flatten');
      b.dense(2 * 3 * 2, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 6, 2], 161)),
    referenceInputs: (x, count) => upsample(x, count, 2, 2, 2, 2, 3),
    inputSeed: 162,
  },
  {
    name: 'Dense on rank-3 input, Concatenate on axis 1, Reshape with -1 first, Flatten',
    engine: ((b) => {
      const a = b.dense(4, 5, 'tanh', { inbound: ['input_1'] });
      const c = b.dense(4, 5, 'sigmoid', { inbound: ['input_1'] });
      b.layer('Concatenate', { axis: 1 }, { inbound: [a, c] });
      b.layer('Reshape', { target_shape: [-1, 10] });
      b.dense(10, 3, 'tanh');
      b.layer('Flatten');
      b.dense(9, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([3, 4], 171)),
    inputSeed: 172,
  },
  {
    name: 'Softmax layer over axis 1 of a rank-3 tensor (not the last axis)',
    engine: ((b) => {
      b.dense(4, 3, 'linear');
      b.layer('Softmax', { axis: 1 });
      b.layer('Flatten');
      b.dense(9, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([3, 4], 175)),
    inputSeed: 176,
  },
  {
    name: 'DepthwiseConv2D multiplier 1 stride 2 valid (relu) → BatchNormalization on a feature map → Activation relu',
    engine: ((b) => {
      b.layer(
        'DepthwiseConv2D',
        { kernel_size: [3, 3], strides: [2, 2], padding: 'valid', depth_multiplier: 1, activation: 'relu', use_bias: true },
        { weights: [{ role: 'depthwise_kernel', shape: [3, 3, 3, 1], init: fanInInit(9) }, { role: 'bias', shape: [3], init: { center: 0, halfWidth: 0.2 } }] },
      );
      b.layer(
        'BatchNormalization',
        { axis: -1, epsilon: 0.001, center: true, scale: true },
        {
          weights: [
            { role: 'gamma', shape: [3], init: { center: 1, halfWidth: 0.3 } },
            { role: 'beta', shape: [3], init: { center: 0, halfWidth: 0.2 } },
            { role: 'moving_mean', shape: [3], init: { center: 0.2, halfWidth: 0.2 }, trainable: false },
            { role: 'moving_variance', shape: [3], init: { center: 1, halfWidth: 0.5 }, trainable: false },
          ],
        },
      );
      b.layer('Activation', { activation: 'relu' });
      b.layer('Flatten');
      b.dense(12, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([5, 5, 3], 181)),
    inputSeed: 182,
  },
  {
    name: 'Add of three inputs (addN) with a linear head',
    engine: ((b) => {
      const a = b.dense(3, 3, 'tanh', { inbound: ['input_1'] });
      const c = b.dense(3, 3, 'elu', { inbound: ['input_1'] });
      const d = b.dense(3, 3, 'linear', { inbound: ['input_1'] });
      b.layer('Add', {}, { inbound: [a, c, d] });
      b.dense(3, 3, 'linear');
      return b.build();
    })(new TinyModelBuilder([3], 191)),
    inputSeed: 192,
  },
  {
    name: 'relu6 above its cap (inputs ×8) and ReLU(max_value 1, negative_slope 0.1)',
    engine: ((b) => {
      b.dense(4, 4, 'relu6');
      b.dense(4, 4, 'linear');
      b.layer('ReLU', { max_value: 1, negative_slope: 0.1, threshold: 0 });
      b.dense(4, 2, 'linear');
      return b.build();
    })(new TinyModelBuilder([4], 201)),
    inputScale: 8,
    inputSeed: 202,
  },
  {
    name: 'Dense → LayerNormalization (ε 1e-5, γ, β) → relu → Dense → LayerNormalization (no γ, β) → Dense sigmoid',
    engine: ((b) => {
      b.dense(6, 5, 'linear');
      b.layer('LayerNormalization', { axis: -1, epsilon: 1e-5, center: true, scale: true }, { weights: layerNormWeights(5) });
      b.layer('Activation', { activation: 'relu' });
      b.dense(5, 4, 'linear');
      b.layer('LayerNormalization', { axis: [-1], epsilon: 1e-3, center: false, scale: false });
      b.dense(4, 1, 'sigmoid');
      return b.build();
    })(new TinyModelBuilder([6], 221)),
    inputSeed: 222,
  },
  {
    name: 'LayerNormalization over the last axis of a rank-3 tensor (per position), tanh, softmax head',
    engine: ((b) => {
      b.dense(4, 3, 'tanh');
      b.layer('LayerNormalization', { axis: 2, epsilon: 1e-3 }, { weights: layerNormWeights(3) });
      b.layer('Flatten');
      b.dense(9, 3, 'softmax');
      return b.build();
    })(new TinyModelBuilder([3, 4], 231)),
    inputSeed: 232,
  },
  {
    name: "grouped Conv2D (2 groups, 3x3 'same', tanh) → grouped Conv2D (4 groups of one channel, 2 filters each, valid, elu) → GAP → Dense",
    engine: ((b) => {
      b.layer('Conv2D', { filters: 4, kernel_size: [3, 3], padding: 'same', groups: 2, activation: 'tanh', use_bias: true }, {
        weights: [
          { role: 'kernel', shape: [3, 3, 2, 4], init: fanInInit(18) },
          { role: 'bias', shape: [4], init: { center: 0, halfWidth: 0.2 } },
        ],
      });
      b.layer('Conv2D', { filters: 8, kernel_size: [2, 2], padding: 'valid', groups: 4, activation: 'elu', use_bias: true }, {
        weights: [
          { role: 'kernel', shape: [2, 2, 1, 8], init: fanInInit(4) },
          { role: 'bias', shape: [8], init: { center: 0, halfWidth: 0.2 } },
        ],
      });
      b.layer('GlobalAveragePooling2D');
      b.dense(8, 2, 'softmax');
      return b.build();
    })(new TinyModelBuilder([4, 4, 4], 221)),
    inputSeed: 222,
  },
  {
    name: 'HardSwish (x · HardSigmoid), SiLU (x · sigmoid) and squeeze-and-excitation (GAP → Reshape → 1x1 conv sigmoid → broadcast Multiply)',
    engine: ((b) => {
      const a = b.conv2d(2, 4, [1, 1], { activation: 'linear', padding: 'valid' });
      const gate = b.layer('HardSigmoid', { alpha: 1, beta: 0.5 }, { inbound: [a] });
      b.layer('Multiply', {}, { inbound: [a, gate] });
      const c = b.conv2d(4, 4, [1, 1], { activation: 'linear', padding: 'valid' });
      const sigmoid = b.layer('Activation', { activation: 'sigmoid' }, { inbound: [c] });
      const silu = b.layer('Multiply', {}, { inbound: [c, sigmoid] });
      b.layer('GlobalAveragePooling2D', {}, { inbound: [silu] });
      b.layer('Reshape', { target_shape: [1, 1, 4] });
      const excitation = b.conv2d(4, 4, [1, 1], { activation: 'sigmoid', padding: 'valid' });
      b.layer('Multiply', {}, { inbound: [excitation, silu] });
      b.layer('GlobalAveragePooling2D');
      b.dense(4, 3, 'softmax');
      return b.build();
    })(new TinyModelBuilder([3, 3, 2], 231)),
    inputSeed: 232,
  },
  {
    name: 'selu → softplus → sigmoid head',
    engine: ((b) => {
      b.dense(3, 4, 'selu');
      b.dense(4, 3, 'softplus');
      b.dense(3, 2, 'sigmoid');
      return b.build();
    })(new TinyModelBuilder([3], 211)),
    inputSeed: 212,
  },
];

function layerNormWeights(width: number): WeightRequest[] {
  return [
    { role: 'gamma', shape: [width], init: { center: 1, halfWidth: 0.3 } },
    { role: 'beta', shape: [width], init: { center: 0, halfWidth: 0.2 } },
  ];
}

/** Nearest-neighbour upsampling of NHWC data, in plain JS. */
function upsample(x: Float32Array, n: number, h: number, w: number, c: number, sh: number, sw: number): Float32Array {
  const out = new Float32Array(n * h * sh * w * sw * c);
  for (let b = 0; b < n; b++)
    for (let y = 0; y < h * sh; y++)
      for (let xx = 0; xx < w * sw; xx++)
        for (let ch = 0; ch < c; ch++) {
          out[((b * h * sh + y) * w * sw + xx) * c + ch] = x[((b * h + Math.floor(y / sh)) * w + Math.floor(xx / sw)) * c + ch];
        }
  return out;
}
