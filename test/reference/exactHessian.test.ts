import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Targets } from '../../src/engine/model/loss';
import type { ModelSpec, WeightTensor } from '../../src/engine/model/spec';
import {
  exactGradient,
  exactHessian,
  exactHessianEntry,
  exactHessianVectorProduct,
  referenceLoss,
  referenceOutputs,
  trainableParameters,
} from './exactHessian';
import type { LossKind } from './exactHessian';
import { HyperDual, add, div, exp, log, mul, sigmoid, softplus, sqrt, tanh } from './hyperDual';
import type { Num } from './hyperDual';
import { windowAlongAxis } from './spatialLayers';
import { linearModel, randomClassTargets, randomInputs, randomValueTargets, tinyModelCatalog } from './tinyModels';
import type { TinyCheckpoint, TinyModelEntry } from './tinyModels';

const SAMPLE_COUNT = 3;

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(1, maxAbs(expected));
  for (let i = 0; i < actual.length; i++) {
    const error = Math.abs(actual[i] - expected[i]);
    assert.ok(error <= tolerance * scale, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (error ${error.toExponential(2)})`);
  }
}

interface Problem {
  readonly checkpoint: TinyCheckpoint;
  readonly inputs: Float32Array;
  readonly targets: Targets;
  readonly loss: LossKind;
}

function problemFor(entry: TinyModelEntry, seed: number): Problem {
  const checkpoint = entry.build(seed);
  const inputs = randomInputs(checkpoint.model.inputs[0].shape, SAMPLE_COUNT, seed + 1);
  const targets =
    entry.loss === 'mse'
      ? randomValueTargets(SAMPLE_COUNT, entry.outputWidth, seed + 2)
      : randomClassTargets(SAMPLE_COUNT, Math.max(2, entry.outputWidth), seed + 2);
  return { checkpoint, inputs, targets, loss: entry.loss };
}

function lossAt(p: Problem, theta: Float64Array): number {
  return referenceLoss(p.checkpoint.model, p.checkpoint.weights, p.inputs, SAMPLE_COUNT, p.targets, p.loss, theta);
}

function gradientAt(p: Problem, theta: Float64Array): Float64Array {
  return exactGradient(p.checkpoint.model, p.checkpoint.weights, p.inputs, SAMPLE_COUNT, p.targets, p.loss, theta).gradient;
}

function shifted(theta: Float64Array, index: number, step: number): Float64Array {
  const copy = Float64Array.from(theta);
  copy[index] += step;
  return copy;
}

test('hyper-dual arithmetic gives exact first and second derivatives', () => {
  // f(x, y) = exp(x·y) / sqrt(x + y²) + tanh(x)·log(y) + sigmoid(x − y) + softplus(2x)
  const f = (x: Num, y: Num): Num => {
    const first = div(exp(mul(x, y)), sqrt(addAll(x, mul(y, y))));
    const second = mul(tanh(x), log(y));
    return addAll(first, second, sigmoid(addAll(x, mul(-1, y))), softplus(mul(2, x)));
  };
  const x0 = 0.7;
  const y0 = 1.3;
  const fx = (x: number, y: number): number => realOf(f(x, y));
  const h = 1e-4;
  const mixed = realOf(f(new HyperDual(x0, 1, 0, 0), new HyperDual(y0, 0, 1, 0)), 'e12');
  const mixedFd = (fx(x0 + h, y0 + h) - fx(x0 + h, y0 - h) - fx(x0 - h, y0 + h) + fx(x0 - h, y0 - h)) / (4 * h * h);
  assert.ok(Math.abs(mixed - mixedFd) < 1e-6, `mixed ${mixed} vs ${mixedFd}`);
  const xx = realOf(f(new HyperDual(x0, 1, 1, 0), y0), 'e12');
  const xxFd = (fx(x0 + h, y0) - 2 * fx(x0, y0) + fx(x0 - h, y0)) / (h * h);
  assert.ok(Math.abs(xx - xxFd) < 1e-6, `xx ${xx} vs ${xxFd}`);
  const dx = realOf(f(new HyperDual(x0, 1, 0, 0), y0), 'e1');
  assert.ok(Math.abs(dx - (fx(x0 + h, y0) - fx(x0 - h, y0)) / (2 * h)) < 1e-7);
  // A polynomial, where the answer is known in closed form: ∂²(x²y³)/∂x∂y = 6xy².
  const x = new HyperDual(2, 1, 0, 0);
  const y = new HyperDual(3, 0, 1, 0);
  const poly = mul(mul(x, x), mul(y, mul(y, y)));
  assert.equal(realOf(poly, 'e12'), 6 * 2 * 9);
});

function addAll(...terms: Num[]): Num {
  return terms.reduce(add);
}

function realOf(x: Num, part: 're' | 'e1' | 'e12' = 're'): number {
  if (typeof x === 'number') return part === 're' ? x : 0;
  return x[part];
}

for (const entry of tinyModelCatalog) {
  test(`${entry.name}: gradient and Hessian agree with finite differences; Hessian symmetric; HVP = H·v`, () => {
    const p = problemFor(entry, 11);
    const { model, weights } = p.checkpoint;
    const result = exactHessian(model, weights, p.inputs, SAMPLE_COUNT, p.targets, p.loss);
    const theta = trainableParameters(weights);
    const n = theta.length;
    assert.equal(result.parameterCount, n);
    assert.ok(maxAbs(result.gradient) > 1e-6, 'gradient is not trivially zero');
    assert.ok(maxAbs(result.hessian) > 1e-6, 'Hessian is not trivially zero');
    assert.ok(Math.abs(result.loss - lossAt(p, theta)) < 1e-15 * Math.max(1, result.loss));

    const gradientStep = 1e-6;
    const fdGradient = Float64Array.from(
      theta,
      (_, i) => (lossAt(p, shifted(theta, i, gradientStep)) - lossAt(p, shifted(theta, i, -gradientStep))) / (2 * gradientStep),
    );
    assertClose(result.gradient, fdGradient, 1e-7, 'gradient vs FD of loss');

    const hessianStep = 1e-5;
    const fdHessian = new Float64Array(n * n);
    for (let j = 0; j < n; j++) {
      const plus = gradientAt(p, shifted(theta, j, hessianStep));
      const minus = gradientAt(p, shifted(theta, j, -hessianStep));
      for (let i = 0; i < n; i++) fdHessian[i * n + j] = (plus[i] - minus[i]) / (2 * hessianStep);
    }
    assertClose(result.hessian, fdHessian, 1e-6, 'Hessian vs FD of exact gradient');

    for (const [i, j] of [[0, n - 1], [1, Math.floor(n / 2)], [n - 2, 2]]) {
      const swapped = exactHessianEntry(model, weights, p.inputs, SAMPLE_COUNT, p.targets, p.loss, j, i);
      const error = Math.abs(swapped - result.hessian[i * n + j]);
      assert.ok(error <= 1e-12 * Math.max(1, maxAbs(result.hessian)), `H[${j},${i}] = H[${i},${j}]`);
    }

    const vector = Float64Array.from(randomInputs([n], 1, 5));
    const expectedProduct = new Float64Array(n);
    for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) expectedProduct[i] += result.hessian[i * n + k] * vector[k];
    const product = exactHessianVectorProduct(model, weights, p.inputs, SAMPLE_COUNT, p.targets, p.loss, vector);
    assertClose(product, expectedProduct, 1e-12, 'HVP');

    if (entry.smooth) {
      // Second differences of the loss alone: independent of the hyper-dual gradient.
      const h = 1e-4;
      const f = (i: number, si: number, j: number, sj: number): number => lossAt(p, shifted(shifted(theta, i, si * h), j, sj * h));
      for (let i = 0; i < n; i += 3) {
        for (let j = i; j < n; j += 2) {
          const fd = (f(i, 1, j, 1) - f(i, 1, j, -1) - f(i, -1, j, 1) + f(i, -1, j, -1)) / (4 * h * h);
          const error = Math.abs(fd - result.hessian[i * n + j]);
          const message = `H[${i},${j}] = ${result.hessian[i * n + j]} vs second difference ${fd}`;
          assert.ok(error < 1e-5 * Math.max(1, maxAbs(result.hessian)), message);
        }
      }
    }
  });
}

test('linear model with mse: Hessian is 2/(N·K)·X̃ᵀX̃ ⊗ I_K and the gradient matches its closed form', () => {
  const inputWidth = 3;
  const outputs = 2;
  const count = 4;
  const { model, weights } = linearModel(3, inputWidth, outputs);
  const inputs = randomInputs([inputWidth], count, 4);
  const targets = randomValueTargets(count, outputs, 5);
  const result = exactHessian(model, weights, inputs, count, targets, 'mse');
  // θ = kernel [D, K] row-major, then bias [K]: index d·K + k with d = D for the bias (x̃_D = 1).
  const augmented = (sample: number, d: number): number => (d === inputWidth ? 1 : inputs[sample * inputWidth + d]);
  const rows = inputWidth + 1;
  const n = rows * outputs;
  const expected = new Float64Array(n * n);
  for (let d = 0; d < rows; d++) {
    for (let e = 0; e < rows; e++) {
      let gram = 0;
      for (let s = 0; s < count; s++) gram += augmented(s, d) * augmented(s, e);
      for (let k = 0; k < outputs; k++) expected[(d * outputs + k) * n + (e * outputs + k)] = (2 / (count * outputs)) * gram;
    }
  }
  assertClose(result.hessian, expected, 1e-13, 'linear mse Hessian');

  assert.ok(targets.kind === 'values');
  const expectedGradient = new Float64Array(n);
  for (let s = 0; s < count; s++) {
    for (let k = 0; k < outputs; k++) {
      const residual = result.outputs[s * outputs + k] - targets.values[s * outputs + k];
      for (let d = 0; d < rows; d++) expectedGradient[d * outputs + k] += (2 / (count * outputs)) * augmented(s, d) * residual;
    }
  }
  assertClose(result.gradient, expectedGradient, 1e-13, 'linear mse gradient');
});

// ---- hand-computed layer cases -------------------------------------------------------------

interface FixedWeight {
  readonly role: string;
  readonly shape: readonly number[];
  readonly values: readonly number[];
  readonly trainable?: boolean;
}

/** input → one layer named 'layer' with the given weights. */
function singleLayerModel(
  inputShape: readonly number[],
  className: string,
  config: Record<string, unknown>,
  fixed: readonly FixedWeight[] = [],
): TinyCheckpoint {
  const model: ModelSpec = {
    inputs: [{ name: 'x', shape: inputShape }],
    layers: [
      { name: 'x', className: 'InputLayer', config: {}, inbound: [] },
      { name: 'layer', className, config, inbound: ['x'] },
    ],
    outputs: ['layer'],
  };
  const weights: WeightTensor[] = fixed.map((w) => ({
    name: `layer/${w.role}`,
    layer: 'layer',
    role: w.role,
    shape: w.shape,
    values: Float32Array.from(w.values),
    trainable: w.trainable ?? true,
  }));
  return { model, weights };
}

function outputsOf(checkpoint: TinyCheckpoint, inputs: readonly number[], count = 1): number[] {
  return Array.from(referenceOutputs(checkpoint.model, checkpoint.weights, Float64Array.from(inputs), count));
}

const oneToNine = [1, 2, 3, 4, 5, 6, 7, 8, 9];

test('Conv2D valid 2×2 on a 3×3 image, by hand', () => {
  const conv = singleLayerModel([3, 3, 1], 'Conv2D', { filters: 1, kernel_size: [2, 2], padding: 'valid', activation: 'linear' }, [
    { role: 'kernel', shape: [2, 2, 1, 1], values: [1, 2, 3, 4] },
    { role: 'bias', shape: [1], values: [0.5] },
  ]);
  assert.deepEqual(outputsOf(conv, oneToNine), [37.5, 47.5, 67.5, 77.5]);
});

test("Conv2D 'same' with stride 2 pads the extra cell at the bottom/right, by hand", () => {
  const conv = singleLayerModel([4, 4, 1], 'Conv2D', { filters: 1, kernel_size: 3, strides: 2, padding: 'same', use_bias: false }, [
    { role: 'kernel', shape: [3, 3, 1, 1], values: new Array<number>(9).fill(1) },
  ]);
  const image = Array.from({ length: 16 }, (_, i) => i);
  // Windows: rows 0–2 / 2–3 (padded), columns 0–2 / 2–3 (padded).
  assert.deepEqual(outputsOf(conv, image), [45, 39, 66, 50]);
});

test('Conv2D with two input channels, two filters and dilation, against a direct sum', () => {
  const kernel = Array.from({ length: 2 * 2 * 2 * 2 }, (_, i) => (i % 5) - 2);
  const conv = singleLayerModel([3, 3, 2], 'Conv2D', { filters: 2, kernel_size: [2, 2], dilation_rate: 2, padding: 'valid' }, [
    { role: 'kernel', shape: [2, 2, 2, 2], values: kernel },
    { role: 'bias', shape: [2], values: [0, 1] },
  ]);
  const image = Array.from({ length: 18 }, (_, i) => i * 0.5);
  // Output is 1×1: taps at (0,0), (0,2), (2,0), (2,2).
  const expected = [0, 1].map((f) => {
    let sum = f;
    for (const [ky, kx] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      for (let c = 0; c < 2; c++) sum += image[((2 * ky) * 3 + 2 * kx) * 2 + c] * kernel[((ky * 2 + kx) * 2 + c) * 2 + f];
    }
    return sum;
  });
  assert.deepEqual(outputsOf(conv, image), expected);
});

test("'same' and 'valid' output sizes and padding follow TF", () => {
  assert.deepEqual(windowAlongAxis(5, 3, 1, 1, 'same'), { outputSize: 5, padBefore: 1 });
  assert.deepEqual(windowAlongAxis(4, 3, 2, 1, 'same'), { outputSize: 2, padBefore: 0 });
  assert.deepEqual(windowAlongAxis(5, 3, 2, 1, 'same'), { outputSize: 3, padBefore: 1 });
  assert.deepEqual(windowAlongAxis(6, 2, 2, 1, 'same'), { outputSize: 3, padBefore: 0 });
  assert.deepEqual(windowAlongAxis(5, 3, 1, 2, 'same'), { outputSize: 5, padBefore: 2 });
  assert.deepEqual(windowAlongAxis(7, 4, 3, 1, 'same'), { outputSize: 3, padBefore: 1 });
  assert.deepEqual(windowAlongAxis(5, 3, 2, 1, 'valid'), { outputSize: 2, padBefore: 0 });
  assert.deepEqual(windowAlongAxis(5, 3, 1, 2, 'valid'), { outputSize: 1, padBefore: 0 });
  const conv = singleLayerModel([5, 7, 1], 'Conv2D', { filters: 3, kernel_size: [3, 2], strides: [2, 3], padding: 'same' }, [
    { role: 'kernel', shape: [3, 2, 1, 3], values: new Array<number>(18).fill(0.1) },
    { role: 'bias', shape: [3], values: [0, 0, 0] },
  ]);
  assert.equal(outputsOf(conv, new Array<number>(35).fill(1)).length, 3 * 3 * 3);
});

test('DepthwiseConv2D orders output channels c·M + j', () => {
  const depthwise = singleLayerModel([1, 2, 2], 'DepthwiseConv2D', { kernel_size: 1, depth_multiplier: 2, use_bias: false }, [
    // kernel[0, 0, c, j]
    { role: 'depthwise_kernel', shape: [1, 1, 2, 2], values: [1, 10, 100, 1000] },
  ]);
  // pixel 0: channels (1, 2); pixel 1: channels (3, 4)
  assert.deepEqual(outputsOf(depthwise, [1, 2, 3, 4]), [1, 10, 200, 2000, 3, 30, 400, 4000]);
  const spatial = singleLayerModel([3, 3, 1], 'DepthwiseConv2D', { kernel_size: 2, padding: 'same', depth_multiplier: 1 }, [
    { role: 'depthwise_kernel', shape: [2, 2, 1, 1], values: [1, 2, 3, 4] },
    { role: 'bias', shape: [1], values: [0] },
  ]);
  // 'same' with k = 2 pads one cell after: the last row/column see zeros below/right.
  assert.deepEqual(outputsOf(spatial, oneToNine), [37, 47, 3 + 3 * 6, 67, 77, 6 + 3 * 9, 7 + 2 * 8, 8 + 2 * 9, 9]);
});

test("pooling: 'same' average divides by the real cells, max ignores padding", () => {
  const config = { pool_size: [2, 2], padding: 'same' };
  const average = singleLayerModel([3, 3, 1], 'AveragePooling2D', config);
  assert.deepEqual(outputsOf(average, oneToNine), [3, 4.5, 7.5, 9]);
  const negative = oneToNine.map((v) => -v);
  const max = singleLayerModel([3, 3, 1], 'MaxPooling2D', config);
  assert.deepEqual(outputsOf(max, negative), [-1, -3, -7, -9]);
  const validStride1 = singleLayerModel([3, 3, 1], 'MaxPooling2D', { pool_size: 2, strides: 1, padding: 'valid' });
  assert.deepEqual(outputsOf(validStride1, oneToNine), [5, 6, 8, 9]);
  const globalAverage = singleLayerModel([2, 2, 2], 'GlobalAveragePooling2D', {});
  assert.deepEqual(outputsOf(globalAverage, [1, 10, 2, 20, 3, 30, 4, 40]), [2.5, 25]);
});

test('Flatten, Reshape with −1 and Concatenate keep row-major order', () => {
  const flatten = singleLayerModel([2, 2, 2], 'Flatten', {});
  const values = [1, 2, 3, 4, 5, 6, 7, 8];
  assert.deepEqual(outputsOf(flatten, values), values);
  const reshape = singleLayerModel([8], 'Reshape', { target_shape: [2, -1] });
  assert.deepEqual(outputsOf(reshape, values), values);
  const model: ModelSpec = {
    inputs: [{ name: 'x', shape: [2, 2] }],
    layers: [
      { name: 'x', className: 'InputLayer', config: {}, inbound: [] },
      { name: 'joined', className: 'Concatenate', config: { axis: 1 }, inbound: ['x', 'x'] },
    ],
    outputs: ['joined'],
  };
  assert.deepEqual(outputsOf({ model, weights: [] }, [1, 2, 3, 4]), [1, 2, 3, 4, 1, 2, 3, 4]);
  const lastAxis: ModelSpec = { ...model, layers: [model.layers[0], { ...model.layers[1], config: {} }] };
  assert.deepEqual(outputsOf({ model: lastAxis, weights: [] }, [1, 2, 3, 4]), [1, 2, 1, 2, 3, 4, 3, 4]);
});

test('BatchNormalization, ReLU, LeakyReLU, PReLU and ELU layers follow their Keras formulas', () => {
  const bn = singleLayerModel([2], 'BatchNormalization', { epsilon: 0.01 }, [
    { role: 'gamma', shape: [2], values: [2, 0.5] },
    { role: 'beta', shape: [2], values: [1, -1] },
    { role: 'moving_mean', shape: [2], values: [0.5, -0.5], trainable: false },
    { role: 'moving_variance', shape: [2], values: [0.25, 4], trainable: false },
  ]);
  const bnOut = outputsOf(bn, [1, 1]);
  assertClose(bnOut, [(0.5 / Math.sqrt(0.26)) * 2 + 1, (1.5 / Math.sqrt(4.01)) * 0.5 - 1], 1e-15, 'BatchNormalization');
  const unscaled = singleLayerModel([2], 'BatchNormalization', { scale: false, center: false }, [
    { role: 'moving_mean', shape: [2], values: [0, 1], trainable: false },
    { role: 'moving_variance', shape: [2], values: [1, 1], trainable: false },
  ]);
  assertClose(outputsOf(unscaled, [2, 2]), [2 / Math.sqrt(1.001), 1 / Math.sqrt(1.001)], 1e-15, 'BatchNormalization without gamma/beta');

  const relu = singleLayerModel([5], 'ReLU', { max_value: 2, negative_slope: 0.1, threshold: 0.5 });
  assertClose(outputsOf(relu, [-1, 0.25, 1, 2, 3]), [-0.15, -0.025, 1, 2, 2], 1e-15, 'ReLU layer');
  assertClose(outputsOf(singleLayerModel([2], 'LeakyReLU', {}), [-1, 2]), [-0.3, 2], 1e-15, 'LeakyReLU default');
  assertClose(outputsOf(singleLayerModel([2], 'LeakyReLU', { negative_slope: 0.05 }), [-1, 2]), [-0.05, 2], 1e-15, 'LeakyReLU Keras 3');
  assertClose(outputsOf(singleLayerModel([2], 'ELU', { alpha: 2 }), [-1, 2]), [2 * (Math.exp(-1) - 1), 2], 1e-15, 'ELU');
  const prelu = singleLayerModel([1, 2, 2], 'PReLU', { shared_axes: [1, 2] }, [
    { role: 'alpha', shape: [1, 1, 2], values: [0.125, 0.5] },
  ]);
  assertClose(outputsOf(prelu, [-1, -1, -2, 3]), [-0.125, -0.5, -0.25, 3], 1e-15, 'PReLU shared axes');
  const relu6 = singleLayerModel([3], 'Activation', { activation: 'relu6' });
  assert.deepEqual(outputsOf(relu6, [-1, 3, 7]), [0, 3, 6]);
});

test('loss conventions: ce from pre-softmax logits, bce from pre-sigmoid logits, mse on outputs', () => {
  const tanhEntry = tinyModelCatalog.find((e) => e.name === 'mlpTanh');
  assert.ok(tanhEntry);
  const softmaxNet = problemFor(tanhEntry, 3);
  const { model, weights } = softmaxNet.checkpoint;
  const probabilities = referenceOutputs(model, weights, softmaxNet.inputs, SAMPLE_COUNT);
  assert.ok(softmaxNet.targets.kind === 'classes');
  const labels = softmaxNet.targets.classes;
  let expectedCe = 0;
  for (let s = 0; s < SAMPLE_COUNT; s++) expectedCe -= Math.log(probabilities[s * 3 + labels[s]]) / SAMPLE_COUNT;
  const ce = referenceLoss(model, weights, softmaxNet.inputs, SAMPLE_COUNT, softmaxNet.targets, 'ce');
  assert.ok(Math.abs(ce - expectedCe) < 1e-12, `ce ${ce} vs ${expectedCe}`);
  const oneHotValues = Float32Array.from({ length: 9 }, (_, i) => (labels[Math.floor(i / 3)] === i % 3 ? 1 : 0));
  const oneHot: Targets = { kind: 'values', width: 3, values: oneHotValues };
  assert.ok(Math.abs(referenceLoss(model, weights, softmaxNet.inputs, SAMPLE_COUNT, oneHot, 'ce') - ce) < 1e-15);
  let expectedMse = 0;
  for (let i = 0; i < 9; i++) expectedMse += (probabilities[i] - oneHotValues[i]) ** 2 / 9;
  assert.ok(Math.abs(referenceLoss(model, weights, softmaxNet.inputs, SAMPLE_COUNT, softmaxNet.targets, 'mse') - expectedMse) < 1e-15);

  const binaryEntry = tinyModelCatalog.find((e) => e.name === 'mlpSigmoidBinary');
  assert.ok(binaryEntry);
  const binary = problemFor(binaryEntry, 4);
  const p = referenceOutputs(binary.checkpoint.model, binary.checkpoint.weights, binary.inputs, SAMPLE_COUNT);
  const soft = randomValueTargets(SAMPLE_COUNT, 1, 9, 0, 1);
  assert.ok(soft.kind === 'values');
  let expectedBce = 0;
  for (let s = 0; s < SAMPLE_COUNT; s++) {
    const t = soft.values[s];
    expectedBce -= (t * Math.log(p[s]) + (1 - t) * Math.log(1 - p[s])) / SAMPLE_COUNT;
  }
  const bce = referenceLoss(binary.checkpoint.model, binary.checkpoint.weights, binary.inputs, SAMPLE_COUNT, soft, 'bce');
  assert.ok(Math.abs(bce - expectedBce) < 1e-12, `bce ${bce} vs ${expectedBce}`);

  // Without a final softmax the output itself is the logits.
  const linear = linearModel(7, 3, 3);
  const x = randomInputs([3], 2, 8);
  const logits = referenceOutputs(linear.model, linear.weights, x, 2);
  const classes: Targets = { kind: 'classes', classes: Int32Array.from([2, 0]) };
  let expectedLinearCe = 0;
  for (let s = 0; s < 2; s++) {
    const row = Array.from(logits.subarray(s * 3, s * 3 + 3));
    expectedLinearCe += (Math.log(row.reduce((t, z) => t + Math.exp(z), 0)) - row[classes.classes[s]]) / 2;
  }
  assert.ok(Math.abs(referenceLoss(linear.model, linear.weights, x, 2, classes, 'ce') - expectedLinearCe) < 1e-14);
});

test('non-trainable weights are constants: BatchNorm moving statistics are not parameters', () => {
  const entry = tinyModelCatalog.find((e) => e.name === 'batchNormMlp');
  assert.ok(entry);
  const { weights } = entry.build(1);
  const trainableCount = weights.filter((w) => w.trainable).reduce((t, w) => t + w.values.length, 0);
  assert.equal(trainableParameters(weights).length, trainableCount);
  assert.equal(trainableCount, 34);
});

test('unsupported layers and malformed inputs fail with the layer named', () => {
  const unknown = singleLayerModel([2], 'Bidirectional', {});
  assert.throws(() => outputsOf(unknown, [1, 2]), /layer 'layer': unsupported layer class 'Bidirectional'/);
  const dense = singleLayerModel([2], 'Dense', { units: 1 }, [{ role: 'kernel', shape: [2, 1], values: [1, 1] }]);
  assert.throws(() => outputsOf(dense, [1, 2]), /missing weight with role 'bias'/);
  assert.throws(() => outputsOf(dense, [1, 2, 3]), /expected 1×\[2\] = 2 input values, found 3/);
});
