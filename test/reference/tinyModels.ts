/**
 * Tiny deterministic checkpoints for tests: small architectures (a few dozen parameters) whose
 * weights come from a seeded generator, plus seeded inputs and targets.
 *
 * Piecewise-linear layers (ReLU, max pooling, ...) have kinks where derivatives jump. No generator can
 * avoid them in general; tests that compare against finite differences rely on the fixed seeds used
 * here landing away from kinks and ties (with probability ~1 for continuous random values), and use
 * smooth models where they need second differences of the loss.
 */
import type { Targets } from '../../src/engine/model/loss';
import type { Checkpoint, LayerNode, ModelSpec, Shape, WeightTensor } from '../../src/engine/model/spec';
import type { LossKind } from './losses';

export interface TinyCheckpoint {
  readonly model: ModelSpec;
  readonly weights: readonly WeightTensor[];
}

/** A uniform generator on [0, 1) (mulberry32): the same seed gives the same sequence everywhere. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` samples of `sampleShape`, uniform on [−1, 1), row-major, sample after sample. */
export function randomInputs(sampleShape: Shape, count: number, seed: number): Float32Array {
  const uniform = seededUniform(seed);
  let size = count;
  for (const d of sampleShape) size *= d;
  return Float32Array.from({ length: size }, () => 2 * uniform() - 1);
}

export function randomClassTargets(count: number, classes: number, seed: number): Targets {
  const uniform = seededUniform(seed);
  return { kind: 'classes', classes: Int32Array.from({ length: count }, () => Math.floor(uniform() * classes)) };
}

/** Real-valued targets uniform on [low, high); use [0, 1) for soft labels and bce. */
export function randomValueTargets(count: number, width: number, seed: number, low = -1, high = 1): Targets {
  const uniform = seededUniform(seed);
  return {
    kind: 'values',
    width,
    values: Float32Array.from({ length: count * width }, () => low + (high - low) * uniform()),
  };
}

/** Targets a loss takes, for `count` samples of `width` outputs: classes for ce, values in [0, 1] for bce, in [−1, 1] for mse. */
export function targetsForLoss(loss: LossKind, count: number, width: number, seed: number): Targets {
  if (loss === 'ce') return randomClassTargets(count, Math.max(2, width), seed);
  if (loss === 'bce') return randomValueTargets(count, width, seed, 0, 1);
  return randomValueTargets(count, width, seed);
}

/** A tiny model as the checkpoint the engine reads, named `<name>`. */
export function tinyCheckpoint(tiny: TinyCheckpoint, name: string): Checkpoint {
  return { path: `<${name}>`, format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } };
}

/** How a weight is initialized: uniform on center ± halfWidth. */
interface Initializer {
  readonly center: number;
  readonly halfWidth: number;
}

export interface WeightRequest {
  readonly role: string;
  readonly shape: Shape;
  readonly init: Initializer;
  readonly trainable?: boolean;
}

/** LeCun-uniform-like scale, so tanh and sigmoid units sit in their responsive range. */
export function fanInInit(fanIn: number): Initializer {
  return { center: 0, halfWidth: Math.sqrt(3 / fanIn) };
}

const smallBias: Initializer = { center: 0, halfWidth: 0.2 };

/**
 * Builds a ModelSpec layer by layer with seeded weights. Each layer takes the previous layer as
 * input unless `inbound` says otherwise; layer and weight names follow Keras (`dense_1/kernel`).
 */
export class TinyModelBuilder {
  private readonly layers: LayerNode[] = [];
  private readonly weights: WeightTensor[] = [];
  private readonly uniform: () => number;
  private readonly countsByClass = new Map<string, number>();
  private last: string;

  constructor(
    private readonly inputShape: Shape,
    seed: number,
    private readonly inputName = 'input_1',
  ) {
    this.uniform = seededUniform(seed);
    this.layers.push({ name: inputName, className: 'InputLayer', config: { batch_input_shape: [null, ...inputShape] }, inbound: [] });
    this.last = inputName;
  }

  /** Adds a layer and returns its name. */
  layer(
    className: string,
    config: Readonly<Record<string, unknown>> = {},
    options: { readonly inbound?: readonly string[]; readonly weights?: readonly WeightRequest[]; readonly name?: string } = {},
  ): string {
    const name = options.name ?? this.nextName(className);
    this.layers.push({ name, className, config, inbound: options.inbound ?? [this.last] });
    for (const request of options.weights ?? []) {
      let size = 1;
      for (const d of request.shape) size *= d;
      const values = Float32Array.from({ length: size }, () => request.init.center + request.init.halfWidth * (2 * this.uniform() - 1));
      this.weights.push({
        name: `${name}/${request.role}`,
        layer: name,
        role: request.role,
        shape: request.shape,
        values,
        trainable: request.trainable ?? true,
      });
    }
    this.last = name;
    return name;
  }

  dense(
    inputWidth: number,
    units: number,
    activation: string,
    options: { readonly useBias?: boolean; readonly inbound?: readonly string[] } = {},
  ): string {
    const useBias = options.useBias ?? true;
    const weights: WeightRequest[] = [{ role: 'kernel', shape: [inputWidth, units], init: fanInInit(inputWidth) }];
    if (useBias) weights.push({ role: 'bias', shape: [units], init: smallBias });
    return this.layer('Dense', { units, activation, use_bias: useBias }, { inbound: options.inbound, weights });
  }

  conv2d(
    inChannels: number,
    filters: number,
    kernelSize: readonly [number, number],
    config: {
      readonly activation: string;
      readonly padding: 'valid' | 'same';
      readonly strides?: readonly [number, number];
      readonly dilation_rate?: readonly [number, number];
    },
  ): string {
    const fanIn = kernelSize[0] * kernelSize[1] * inChannels;
    return this.layer(
      'Conv2D',
      { filters, kernel_size: kernelSize, strides: [1, 1], dilation_rate: [1, 1], use_bias: true, ...config },
      {
        weights: [
          { role: 'kernel', shape: [kernelSize[0], kernelSize[1], inChannels, filters], init: fanInInit(fanIn) },
          { role: 'bias', shape: [filters], init: smallBias },
        ],
      },
    );
  }

  build(outputs: readonly string[] = [this.last]): TinyCheckpoint {
    return {
      model: { inputs: [{ name: this.inputName, shape: this.inputShape }], layers: [...this.layers], outputs },
      weights: [...this.weights],
    };
  }

  private nextName(className: string): string {
    const snake = className.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
    const count = (this.countsByClass.get(snake) ?? 0) + 1;
    this.countsByClass.set(snake, count);
    return `${snake}_${count}`;
  }
}

/** x·W + b with no activation: the closed-form case (mse Hessian = 2/(N·K)·X̃ᵀX̃ ⊗ I_K). Params (D+1)·K. */
export function linearModel(seed: number, inputWidth = 3, outputs = 2): TinyCheckpoint {
  const b = new TinyModelBuilder([inputWidth], seed);
  b.dense(inputWidth, outputs, 'linear');
  return b.build();
}

/** [4] → Dense(5, relu) → Dropout → Dense(3, softmax). 43 params. */
export function mlpRelu(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4], seed);
  b.dense(4, 5, 'relu');
  b.layer('Dropout', { rate: 0.5 });
  b.dense(5, 3, 'softmax');
  return b.build();
}

/** [4] → Dense(5, tanh) → Dense(3, softmax). 43 params. Smooth. */
export function mlpTanh(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4], seed);
  b.dense(4, 5, 'tanh');
  b.dense(5, 3, 'softmax');
  return b.build();
}

/** [3] → Dense(4, sigmoid) → Dense(1, sigmoid): a binary classifier for bce. 21 params. Smooth. */
export function mlpSigmoidBinary(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([3], seed);
  b.dense(3, 4, 'sigmoid');
  b.dense(4, 1, 'sigmoid');
  return b.build();
}

/**
 * [25] → Reshape([5, 5, −1]) → Conv2D(2, 3×3, same, activation) → MaxPooling2D(2) → Flatten →
 * Dense(3, softmax). 47 params. Pass 'tanh' for a model that is smooth apart from the max pooling.
 */
export function cnn(seed: number, activation = 'relu'): TinyCheckpoint {
  const b = new TinyModelBuilder([25], seed);
  b.layer('Reshape', { target_shape: [5, 5, -1] });
  b.conv2d(1, 2, [3, 3], { activation, padding: 'same' });
  b.layer('MaxPooling2D', { pool_size: [2, 2], padding: 'valid' });
  b.layer('Flatten');
  b.dense(8, 3, 'softmax');
  return b.build();
}

/** [3, 3, 2] → DepthwiseConv2D(2×2, multiplier 2, same, tanh) → GlobalAveragePooling2D → Dense(2, softmax). 30 params. Smooth. */
export function depthwiseCnn(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([3, 3, 2], seed);
  b.layer(
    'DepthwiseConv2D',
    { kernel_size: [2, 2], strides: [1, 1], padding: 'same', depth_multiplier: 2, activation: 'tanh', use_bias: true },
    {
      weights: [
        { role: 'depthwise_kernel', shape: [2, 2, 2, 2], init: fanInInit(4) },
        { role: 'bias', shape: [4], init: smallBias },
      ],
    },
  );
  b.layer('GlobalAveragePooling2D');
  b.dense(4, 2, 'softmax');
  return b.build();
}

/**
 * [4] → Dense(4, no bias) → BatchNormalization → Activation(tanh) → Dense(2) → Activation(softmax).
 * 34 trainable params (+8 non-trainable moving statistics). Smooth.
 */
export function batchNormMlp(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4], seed);
  b.dense(4, 4, 'linear', { useBias: false });
  b.layer(
    'BatchNormalization',
    { axis: -1, epsilon: 0.001, center: true, scale: true },
    {
      weights: [
        { role: 'gamma', shape: [4], init: { center: 1, halfWidth: 0.3 } },
        { role: 'beta', shape: [4], init: smallBias },
        { role: 'moving_mean', shape: [4], init: { center: 0, halfWidth: 0.3 }, trainable: false },
        { role: 'moving_variance', shape: [4], init: { center: 1, halfWidth: 0.5 }, trainable: false },
      ],
    },
  );
  b.layer('Activation', { activation: 'tanh' });
  b.dense(4, 2, 'linear');
  b.layer('Activation', { activation: 'softmax' });
  return b.build();
}

/** [3] → Dense(3) → LeakyReLU(0.2) → Dense(3) → PReLU → Dense(2) → ELU → Dense(2, softmax). 41 params. */
export function leakyPreluElu(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([3], seed);
  b.dense(3, 3, 'linear');
  b.layer('LeakyReLU', { alpha: 0.2 });
  b.dense(3, 3, 'linear');
  b.layer('PReLU', { shared_axes: null }, { weights: [{ role: 'alpha', shape: [3], init: { center: 0.2, halfWidth: 0.1 } }] });
  b.dense(3, 2, 'linear');
  b.layer('ELU', { alpha: 1.0 });
  b.dense(2, 2, 'softmax');
  return b.build();
}

/**
 * [3] → a = Dense(3, tanh); b = Dense(3, tanh)(a); s = Add(a, b); c = Dense(2, tanh)(s);
 * Concatenate(s, c) → Dense(2) → Softmax. 44 params. Smooth.
 */
export function residualAddConcat(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([3], seed);
  const first = b.dense(3, 3, 'tanh');
  const second = b.dense(3, 3, 'tanh');
  const sum = b.layer('Add', {}, { inbound: [first, second] });
  const branch = b.dense(3, 2, 'tanh');
  b.layer('Concatenate', { axis: -1 }, { inbound: [sum, branch] });
  b.dense(5, 2, 'linear');
  b.layer('Softmax', { axis: -1 });
  return b.build();
}

/**
 * [4, 4, 1] → Conv2D(2, 2×2, valid, elu) → AveragePooling2D(2, same; the last row and column
 * average a single cell) → PReLU(shared_axes [1, 2]) → GlobalAveragePooling2D → Dense(2, softmax).
 * 18 params.
 */
export function averagePoolingCnn(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4, 4, 1], seed);
  b.conv2d(1, 2, [2, 2], { activation: 'elu', padding: 'valid' });
  b.layer('AveragePooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'same' });
  b.layer('PReLU', { shared_axes: [1, 2] }, { weights: [{ role: 'alpha', shape: [1, 1, 2], init: { center: 0.2, halfWidth: 0.1 } }] });
  b.layer('GlobalAveragePooling2D');
  b.dense(2, 2, 'softmax');
  return b.build();
}

/**
 * [4] → Dense(4, relu6) → Dense(4) → ReLU(max_value 1, negative_slope 0.1, threshold 0.05) → Dense(2):
 * a regressor for mse. 50 params.
 */
export function relu6Regressor(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4], seed);
  b.dense(4, 4, 'relu6');
  b.dense(4, 4, 'linear');
  b.layer('ReLU', { max_value: 1, negative_slope: 0.1, threshold: 0.05 });
  b.dense(4, 2, 'linear');
  return b.build();
}

export interface TinyModelEntry {
  readonly name: string;
  readonly build: (seed: number) => TinyCheckpoint;
  /** The loss the architecture is meant for. */
  readonly loss: LossKind;
  /** Number of output units (classes for ce). */
  readonly outputWidth: number;
  /** True when the loss is C² everywhere (no ReLU-like kinks, no max pooling). */
  readonly smooth: boolean;
}

/** Every tiny architecture, for data-driven tests. */
export const tinyModelCatalog: readonly TinyModelEntry[] = [
  { name: 'linear', build: (seed) => linearModel(seed), loss: 'mse', outputWidth: 2, smooth: true },
  { name: 'mlpRelu', build: mlpRelu, loss: 'ce', outputWidth: 3, smooth: false },
  { name: 'mlpTanh', build: mlpTanh, loss: 'ce', outputWidth: 3, smooth: true },
  { name: 'mlpSigmoidBinary', build: mlpSigmoidBinary, loss: 'bce', outputWidth: 1, smooth: true },
  { name: 'cnnRelu', build: (seed) => cnn(seed, 'relu'), loss: 'ce', outputWidth: 3, smooth: false },
  { name: 'cnnTanh', build: (seed) => cnn(seed, 'tanh'), loss: 'ce', outputWidth: 3, smooth: false },
  { name: 'depthwiseCnn', build: depthwiseCnn, loss: 'ce', outputWidth: 2, smooth: true },
  { name: 'batchNormMlp', build: batchNormMlp, loss: 'ce', outputWidth: 2, smooth: true },
  { name: 'leakyPreluElu', build: leakyPreluElu, loss: 'ce', outputWidth: 2, smooth: false },
  { name: 'residualAddConcat', build: residualAddConcat, loss: 'ce', outputWidth: 2, smooth: true },
  { name: 'averagePoolingCnn', build: averagePoolingCnn, loss: 'ce', outputWidth: 2, smooth: false },
  { name: 'relu6Regressor', build: relu6Regressor, loss: 'mse', outputWidth: 2, smooth: false },
];
