/**
 * Operator conformance: one small random ONNX graph per operator and variant, built in TypeScript.
 * Each graph feeds the operator from a layer with parameters (a 1×1 Conv on an [N, 2, 5, 5] image or
 * a Gemm on [N, 6] features) and ends in Flatten and Gemm to two classes. For each:
 *   - the reader maps it (readOnnx);
 *   - forward: the engine's outputs equal ONNX Runtime running the original file (an independent
 *     implementation of the operator's semantics) to 1e-5, and its cross-entropy loss equals the one
 *     of ONNX Runtime's outputs to 1e-5 relative;
 *   - loss, gradient and Hessian-vector product of both engines (tfjs and the ONNX Runtime executor)
 *     equal the float64 hyper-dual reference (test/reference/exactHessian.ts) on the spec the reader
 *     produced: loss 1e-5, gradient 1e-5, Hv 1e-4 relative (as test/exec/onnxRuntimeObjective.test.ts).
 * Variants the reader cannot map exactly are refused naming the file, the node, the operator and
 * what is not supported (the last table). The graphs are built in TypeScript (test/fixtures/onnxGraph.ts),
 * so the suite needs neither Python nor files on disk beforehand.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../src/engine/data/dataset';
import { readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint } from '../../src/engine/model/spec';
import { SeededRandom } from '../../src/engine/numeric/random';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { ModelProblem } from '../../src/protocol/errors';
import { exactGradient, exactHessianVectorProduct } from '../reference/exactHessian';
import { relativeError, seededNormals } from '../reference/vectorChecks';
import { engineOutputs } from '../fixtures/referenceOutputs';
import { OnnxGraphBuilder } from '../fixtures/onnxGraph';
import { caseFolders } from '../fixtures/tempDirs';

const { root } = caseFolders('onnx-conformance');
before(() => initBackend('cpu'));

const SAMPLES = 4;
const CLASSES = 2;
const TOLERANCE = { forward: 1e-5, loss: 1e-5, gradient: 1e-5, hvp: 1e-4 };

/**
 * Where the operator's input comes from: `image` is c = Conv1×1(x) of [N, 3, 5, 5] from x [N, 2, 5, 5];
 * `features` is f = Gemm(x) of [N, 4] from x [N, 6]. The body adds the operator (and whatever it needs)
 * and returns the tensor the head flattens.
 */
type Frame = 'image' | 'features';

interface ConformanceCase {
  readonly operator: string;
  readonly variant: string;
  readonly frame: Frame;
  readonly opset?: number;
  readonly body: (g: OnnxGraphBuilder, x: string) => string;
  /** Engine layers the reader must have made for it, where the mapping is not the obvious one. */
  readonly layers?: readonly string[];
}

const inputDims: Record<Frame, number[]> = { image: [2, 5, 5], features: [6] };

function frameStart(g: OnnxGraphBuilder, frame: Frame): string {
  if (frame === 'image') return g.node('Conv', ['x', g.weight([3, 2, 1, 1]), g.weight([3], 0.2)]);
  return g.node('Gemm', ['x', g.weight([4, 6]), g.weight([4], 0.2)], { transB: 1 });
}

const opsetOf = (c: ConformanceCase) => c.opset ?? 13;
const labelOf = (c: ConformanceCase) => `${c.operator} (${c.variant}, opset ${opsetOf(c)})`;

async function ortRun(bytes: Uint8Array, values: Float32Array, dims: number[]): Promise<ort.Tensor> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const outputs = await session.run({ x: new ort.Tensor('float32', values, dims) });
    return outputs[session.outputNames[0]];
  } finally {
    await session.release();
  }
}

/** The case's graph with its head, as bytes: ONNX Runtime gives the body's output dims first. */
async function buildCase(c: ConformanceCase, seed: number, batch: Float32Array): Promise<Uint8Array> {
  const g = new OnnxGraphBuilder(seed);
  const m = c.body(g, frameStart(g, c.frame));
  const ports = { opset: opsetOf(c), inputs: [{ name: 'x', dims: ['N', ...inputDims[c.frame]] }] };
  const probe = await ortRun(g.build({ ...ports, outputs: [{ name: m }] }), batch, [SAMPLES, ...inputDims[c.frame]]);
  const features = probe.dims.slice(1).reduce((a, b) => a * b, 1);
  const flat = g.node('Flatten', [m], { axis: 1 });
  const y = g.node('Gemm', [flat, g.weight([CLASSES, features], 0.6 / Math.sqrt(features)), g.weight([CLASSES], 0.1)], { transB: 1 });
  return g.build({ ...ports, outputs: [{ name: y, dims: ['N', CLASSES] }] });
}

/** A batch [N, C, H, W] moved to [N, H, W, C]; features unchanged. */
function engineLayout(values: Float32Array, frame: Frame): Float32Array {
  if (frame === 'features') return values;
  const [c, h, w] = inputDims.image;
  return Float32Array.from({ length: values.length }, (_, i) => {
    const [n, y, x, k] = [Math.floor(i / (h * w * c)), Math.floor(i / (w * c)) % h, Math.floor(i / c) % w, i % c];
    return values[((n * c + k) * h + y) * w + x];
  });
}

/** Mean cross-entropy of logits [count, classes] for integer targets, in float64. */
function crossEntropy(logits: ArrayLike<number>, classes: Int32Array): number {
  let total = 0;
  for (let n = 0; n < classes.length; n++) {
    const row = Array.from({ length: CLASSES }, (_, k) => logits[n * CLASSES + k]);
    const max = Math.max(...row);
    total += max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[classes[n]];
  }
  return total / classes.length;
}

async function checkCase(c: ConformanceCase, index: number): Promise<void> {
  const label = labelOf(c);
  const batch = new SeededRandom(1000 + index).normals(SAMPLES * inputDims[c.frame].reduce((a, b) => a * b, 1));
  const bytes = await buildCase(c, 2000 + index, batch);
  const file = join(root, `${index}-${c.operator}.onnx`);
  writeFileSync(file, bytes);
  const checkpoint = await readOnnx(file);
  const layerClasses = checkpoint.model.layers.map((l) => l.className);
  for (const className of c.layers ?? []) assert.ok(layerClasses.includes(className), `${label}: no ${className} layer among ${layerClasses.join(', ')}`);
  const expected = Float64Array.from((await ortRun(bytes, batch, [SAMPLES, ...inputDims[c.frame]])).data as Float32Array);
  const actual = engineOutputs(checkpoint, batch, [SAMPLES, ...inputDims[c.frame]], 'nchw');
  assert.ok(relativeError(actual, expected) <= TOLERANCE.forward, `${label}: outputs vs ONNX Runtime ${relativeError(actual, expected)}`);
  const classes = Int32Array.from({ length: SAMPLES }, (_, n) => (n + index) % CLASSES);
  const sampleShape = c.frame === 'image' ? [...inputDims.image.slice(1), inputDims.image[0]] : inputDims.features;
  const dataset: Dataset = { source: label, count: SAMPLES, sampleShape, inputs: engineLayout(batch, c.frame), targets: { kind: 'classes', classes } };
  assertEnginesMatchReference(checkpoint, dataset, crossEntropy(expected, classes), label);
}

function assertEnginesMatchReference(checkpoint: Checkpoint, dataset: Dataset, ortLoss: number, label: string): void {
  const tensorsBefore = tf.memory().numTensors;
  const network = new NetworkFunction(checkpoint);
  const { inputs, targets } = dataset;
  const engines: [string, Objective][] = [['tfjs', new Objective(network, dataset, 'ce', 2)]];
  if (onnxRuntimeAvailable()) engines.push(['ONNX Runtime executor', new Objective(network, dataset, 'ce', 2, onnxExecutorFactory({ threads: 1 }))]);
  try {
    const reference = exactGradient(checkpoint.model, checkpoint.weights, inputs, SAMPLES, targets, 'ce');
    assert.ok(Math.abs(reference.loss - ortLoss) <= TOLERANCE.loss * Math.abs(ortLoss), `${label}: reference loss ${reference.loss} vs ONNX Runtime's outputs ${ortLoss}`);
    const direction = Float64Array.from(seededNormals(network.parameterCount, 77));
    const exact = exactHessianVectorProduct(checkpoint.model, checkpoint.weights, inputs, SAMPLES, targets, 'ce', direction);
    assert.ok(Math.hypot(...exact) > 1e-6, `${label}: the reference Hv vanishes`);
    for (const [name, objective] of engines) {
      const { loss, gradient } = objective.gradient();
      assert.ok(Math.abs(loss - ortLoss) <= TOLERANCE.loss * Math.abs(ortLoss), `${label}, ${name}: loss ${loss} vs ONNX Runtime's ${ortLoss}`);
      const gradientError = relativeError(toFlat(gradient), reference.gradient);
      disposeVector(gradient);
      assert.ok(gradientError <= TOLERANCE.gradient, `${label}, ${name}: gradient vs reference ${gradientError}`);
      const v = fromFlat(Float32Array.from(direction), network.parameters);
      const product = objective.hessianVectorProduct(v);
      const error = relativeError(toFlat(product), exact);
      disposeVector(product);
      disposeVector(v);
      assert.ok(error <= TOLERANCE.hvp, `${label}, ${name}: Hv vs reference ${error}`);
    }
  } finally {
    for (const [, objective] of engines) objective.dispose();
    network.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, `${label}: tensors left behind`);
}

// ---- the cases ----------------------------------------------------------------------------------

const expecting = (layers: string[], c: ConformanceCase): ConformanceCase => ({ ...c, layers });
const image = (operator: string, variant: string, body: ConformanceCase['body'], opset?: number): ConformanceCase => ({ operator, variant, frame: 'image', body, opset });
const features = (operator: string, variant: string, body: ConformanceCase['body'], opset?: number): ConformanceCase => ({ operator, variant, frame: 'features', body, opset });
/** A unary operator with attributes on the image and on features. */
const unary = (operator: string, attributes: Record<string, number | { float: number } | string> = {}, variant = 'defaults', opset?: number): ConformanceCase[] => [
  image(operator, `${variant}, [N, C, H, W]`, (g, c) => g.node(operator, [c], attributes), opset),
  features(operator, `${variant}, [N, F]`, (g, f) => g.node(operator, [f], attributes), opset),
];
/** softplus(x) > 0: a positive input for Log, Sqrt, Pow, Div. */
const positive = (g: OnnxGraphBuilder, x: string) => g.node('Softplus', [x]);
/** Tokens [N, 3, 4] from features [N, 4]: a Gemm to 12, then Reshape. */
const tokens = (g: OnnxGraphBuilder, f: string) => g.node('Reshape', [g.node('Gemm', [f, g.weight([12, 4], 0.4)], { transB: 1 }), g.ints([0, 3, 4])]);
/** One value per channel [N, C, 1, 1]. */
const perChannel = (g: OnnxGraphBuilder, c: string) => g.node('ReduceMean', [c], { axes: [2, 3] });

const convolutions: ConformanceCase[] = [
  image('Conv', '3×3, pads 1', (g, c) => g.node('Conv', [c, g.weight([2, 3, 3, 3], 0.3), g.weight([2], 0.1)], { pads: [1, 1, 1, 1] })),
  image('Conv', 'strides 2, asymmetric pads [0, 1, 1, 0], no bias', (g, c) => g.node('Conv', [c, g.weight([2, 3, 3, 3], 0.3)], { strides: [2, 2], pads: [0, 1, 1, 0] })),
  image('Conv', 'dilations 2, pads 2, strides [1, 2]', (g, c) => g.node('Conv', [c, g.weight([2, 3, 3, 3], 0.3), g.weight([2], 0.1)], { dilations: [2, 2], pads: [2, 2, 2, 2], strides: [1, 2] })),
  image('Conv', 'kernel 2×3, auto_pad SAME_UPPER, strides 2', (g, c) => g.node('Conv', [c, g.weight([2, 3, 2, 3], 0.3)], { auto_pad: 'SAME_UPPER', strides: [2, 2] })),
  image('Conv', 'kernel 2×2, auto_pad SAME_LOWER', (g, c) => g.node('Conv', [c, g.weight([2, 3, 2, 2], 0.3)], { auto_pad: 'SAME_LOWER' })),
  image('Conv', 'auto_pad VALID', (g, c) => g.node('Conv', [c, g.weight([2, 3, 3, 3], 0.3)], { auto_pad: 'VALID' })),
  image('Conv', 'depthwise (group 3)', (g, c) => g.node('Conv', [c, g.weight([3, 1, 3, 3], 0.4), g.weight([3], 0.1)], { group: 3, pads: [1, 1, 1, 1] })),
  image('Conv', 'depthwise, multiplier 2, strides 2', (g, c) => g.node('Conv', [c, g.weight([6, 1, 3, 3], 0.4)], { group: 3, strides: [2, 2] })),
  image('Conv', 'grouped (group 2 of 4 channels), dilations 2', (g, c) => {
    const four = g.node('Conv', [c, g.weight([4, 3, 1, 1])]);
    return g.node('Conv', [four, g.weight([2, 2, 3, 3], 0.3), g.weight([2], 0.1)], { group: 2, dilations: [2, 2], pads: [1, 2, 1, 2] });
  }),
  image('ConvTranspose', 'strides 2, asymmetric pads, output_padding', (g, c) => g.node('ConvTranspose', [c, g.weight([3, 2, 3, 3], 0.3), g.weight([2], 0.1)], { strides: [2, 2], pads: [0, 1, 1, 0], output_padding: [1, 0] })),
  image('ConvTranspose', 'kernel 2×3, no bias', (g, c) => g.node('ConvTranspose', [c, g.weight([3, 2, 2, 3], 0.3)], { kernel_shape: [2, 3] })),
];


const pools: ConformanceCase[] = [
  image('MaxPool', 'kernel 2, strides 2', (g, c) => g.node('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2] })),
  image('MaxPool', 'kernel 3, strides 2, pads 1 (symmetric)', (g, c) => g.node('MaxPool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })),
  image('MaxPool', 'kernel 3, strides 2, pads 1, after Relu', (g, c) => g.node('MaxPool', [g.node('Relu', [c])], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })),
  expecting(['ZeroPadding2D'], image('MaxPool', 'kernel 2, pads [0, 1, 1, 0], after Relu', (g, c) => g.node('MaxPool', [g.node('Relu', [c])], { kernel_shape: [2, 2], pads: [0, 1, 1, 0] }))),
  image('MaxPool', 'kernel 2, asymmetric pads [1, 0, 0, 1]', (g, c) => g.node('MaxPool', [c], { kernel_shape: [2, 2], pads: [1, 0, 0, 1] })),
  image('MaxPool', 'kernel 2, strides 2, ceil_mode', (g, c) => g.node('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })),
  image('MaxPool', 'kernel 2, strides 2, pads [1, 0, 0, 0], ceil_mode (a partial last column)', (g, c) => g.node('MaxPool', [c], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 0, 0], ceil_mode: 1 })),
  image('MaxPool', 'kernel 3, strides 2, auto_pad SAME_UPPER', (g, c) => g.node('MaxPool', [c], { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' })),
  image('AveragePool', 'kernel 2, strides 1', (g, c) => g.node('AveragePool', [c], { kernel_shape: [2, 2] })),
  image('AveragePool', 'kernel 3, strides 2, pads 1, count_include_pad 1', (g, c) => g.node('AveragePool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 1 })),
  image('AveragePool', 'kernel 3, strides 2, pads 1, count_include_pad 0 (as SAME)', (g, c) => g.node('AveragePool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], count_include_pad: 0 })),
  image('AveragePool', 'kernel 2, asymmetric pads [0, 1, 1, 0], count_include_pad 1', (g, c) => g.node('AveragePool', [c], { kernel_shape: [2, 2], pads: [0, 1, 1, 0], count_include_pad: 1 })),
  image('AveragePool', 'kernel 2, asymmetric pads [0, 1, 1, 0], count_include_pad 0', (g, c) => g.node('AveragePool', [c], { kernel_shape: [2, 2], pads: [0, 1, 1, 0] })),
  image('AveragePool', 'kernel 3, strides 2, pads [1, 1, 0, 0], count_include_pad 0', (g, c) => g.node('AveragePool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 0, 0], count_include_pad: 0 })),
  image('AveragePool', 'kernel 2, strides 2, ceil_mode, count_include_pad 0', (g, c) => g.node('AveragePool', [c], { kernel_shape: [2, 2], strides: [2, 2], ceil_mode: 1 })),
  image('AveragePool', 'kernel 2, strides 2, pads [1, 0, 0, 0], ceil_mode, count_include_pad 1', (g, c) => g.node('AveragePool', [c], { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 0, 0, 0], ceil_mode: 1, count_include_pad: 1 })),
  image('AveragePool', 'kernel 3, strides 2, pads 1, ceil_mode, count_include_pad 0', (g, c) => g.node('AveragePool', [c], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], ceil_mode: 1 })),
  image('GlobalAveragePool', 'then Flatten', (g, c) => g.node('GlobalAveragePool', [c])),
  image('GlobalMaxPool', 'then Flatten', (g, c) => g.node('GlobalMaxPool', [c])),
];

const dense: ConformanceCase[] = [
  features('Gemm', 'transB 0', (g, f) => g.node('Gemm', [f, g.weight([4, 3]), g.weight([3], 0.1)])),
  features('Gemm', 'transB 1, no bias', (g, f) => g.node('Gemm', [f, g.weight([3, 4])], { transB: 1 })),
  features('Gemm', 'alpha 0.7, beta 1.3, transB 1', (g, f) => g.node('Gemm', [f, g.weight([3, 4]), g.weight([3], 0.1)], { alpha: { float: 0.7 }, beta: { float: 1.3 }, transB: 1 })),
  features('Gemm', 'alpha 1.5, beta 0 (C ignored)', (g, f) => g.node('Gemm', [f, g.weight([4, 3]), g.weight([3], 0.1)], { alpha: { float: 1.5 }, beta: { float: 0 } })),
  features('Gemm', 'bias [1, units]', (g, f) => g.node('Gemm', [f, g.weight([4, 3]), g.weight([1, 3], 0.1)])),
  image('Gemm', 'on a flattened [N, C·H·W] map', (g, c) => g.node('Gemm', [g.node('Flatten', [c]), g.weight([75, 3], 0.1)])),
  features('Gemm', 'on tokens flattened to [N·T, D]', (g, f) => g.node('Reshape', [g.node('Gemm', [g.node('Reshape', [tokens(g, f), g.ints([-1, 4])]), g.weight([2, 4])], { transB: 1 }), g.ints([-1, 3, 2])])),
  features('MatMul', 'by a weight, then Add of a bias', (g, f) => g.node('Add', [g.node('MatMul', [f, g.weight([4, 3])]), g.weight([3], 0.1)])),
  features('MatMul', 'batched: [N, 3, 4] · [N, 4, 3]', (g, f) => {
    const t = tokens(g, f);
    return g.node('MatMul', [t, g.node('Transpose', [t], { perm: [0, 2, 1] })]);
  }),
  features('MatMul', 'broadcast: [N, 3, 4] · weight [4, 2]', (g, f) => g.node('MatMul', [tokens(g, f), g.weight([4, 2])])),
];

const activations: ConformanceCase[] = [
  ...unary('Relu'),
  ...unary('LeakyRelu', { alpha: { float: 0.15 } }, 'alpha 0.15'),
  ...unary('Sigmoid'),
  ...unary('Tanh'),
  ...unary('Elu', { alpha: { float: 0.7 } }, 'alpha 0.7'),
  ...unary('Selu'),
  ...unary('Selu', { alpha: { float: 1.3 }, gamma: { float: 0.8 } }, 'alpha 1.3, gamma 0.8'),
  ...unary('Softplus'),
  ...unary('Erf'),
  ...unary('Exp'),
  ...unary('HardSigmoid', { alpha: { float: 0.3 }, beta: { float: 0.4 } }, 'alpha 0.3, beta 0.4'),
  ...unary('HardSwish', {}, 'opset 14', 14),
  image('PRelu', 'one slope per channel [C, 1, 1]', (g, c) => g.node('PRelu', [c, g.weight([3, 1, 1], 0.3)])),
  image('PRelu', 'one slope', (g, c) => g.node('PRelu', [c, g.weight([1], 0.3)])),
  features('PRelu', 'one slope per feature', (g, f) => g.node('PRelu', [f, g.weight([4], 0.3)])),
  image('Clip', 'min 0, max 6 as inputs (ReLU6)', (g, c) => g.node('Clip', [g.node('Mul', [c, g.floats([4], [])]), g.floats([0], []), g.floats([6], [])])),
  image('Clip', 'min 0, no max', (g, c) => g.node('Clip', [c, g.floats([0], [])])),
  image('Clip', 'min 0, max 1 as attributes', (g, c) => g.node('Clip', [c], { min: { float: 0 }, max: { float: 1 } }), 10),
  image('Log', 'of softplus', (g, c) => g.node('Log', [positive(g, c)])),
  image('Sqrt', 'of softplus', (g, c) => g.node('Sqrt', [positive(g, c)])),
  image('Pow', 'exponent 2', (g, c) => g.node('Pow', [c, g.floats([2], [])])),
  features('Pow', 'exponent 1.5 of softplus', (g, f) => g.node('Pow', [positive(g, f), g.floats([1.5], [])])),
  image('Gelu', 'approximate none (opset 20)', (g, c) => g.node('Gelu', [c]), 20),
  image('Gelu', 'approximate tanh (opset 20)', (g, c) => g.node('Gelu', [c], { approximate: 'tanh' }), 20),
  image('Clip', 'min −1, max 1 (Hardtanh)', (g, c) => g.node('Clip', [c, g.floats([-1], []), g.floats([1], [])])),
  image('Clip', 'no min, max 0.5', (g, c) => g.node('Clip', [c, '', g.floats([0.5], [])])),
  features('Clip', 'min −0.3, no max', (g, f) => g.node('Clip', [f, g.floats([-0.3], [])])),
];

const softmaxes: ConformanceCase[] = ['Softmax', 'LogSoftmax'].flatMap((operator) =>
  [11, 13].flatMap((opset) => [
    ...[1, -1].map((axis) => features(operator, `axis ${axis} of [N, F]`, (g, f) => g.node(operator, [f], { axis }), opset)),
    ...[1, 2, 3, -1, -3].map((axis) => image(operator, `axis ${axis} of [N, C, H, W]`, (g, c) => g.node(operator, [c], { axis }), opset)),
  ]),
);

const normalizations: ConformanceCase[] = [
  image('BatchNormalization', 'inference, [N, C, H, W]', (g, c) => g.node('BatchNormalization', [c, g.weight([3], 0.3), g.weight([3], 0.2), g.weight([3], 0.2), g.floats([0.5, 1.5, 0.8])], { epsilon: { float: 1e-3 } })),
  features('BatchNormalization', 'inference, [N, F]', (g, f) => g.node('BatchNormalization', [f, g.weight([4], 0.3), g.weight([4], 0.2), g.weight([4], 0.2), g.floats([0.5, 1.5, 0.8, 1.1])])),
  features('LayerNormalization', 'last axis of [N, F] (opset 17)', (g, f) => g.node('LayerNormalization', [f, g.weight([4], 0.5), g.weight([4], 0.2)], { epsilon: { float: 1e-3 } }), 17),
  features('LayerNormalization', 'last axis of tokens [N, 3, 4] (opset 17)', (g, f) => g.node('LayerNormalization', [tokens(g, f), g.weight([4], 0.5), g.weight([4], 0.2)], { epsilon: { float: 1e-3 } }), 17),
  image('InstanceNormalization', 'epsilon 1e-3', (g, c) => g.node('InstanceNormalization', [c, g.weight([3], 0.5), g.weight([3], 0.2)], { epsilon: { float: 1e-3 } })),
];

const reductions: ConformanceCase[] = [
  image('ReduceMean', 'axes [2, 3], keepdims', (g, c) => g.node('ReduceMean', [c], { axes: [2, 3] })),
  image('ReduceMean', 'axes [1] (channels)', (g, c) => g.node('ReduceMean', [c], { axes: [1] })),
  image('ReduceSum', 'axes [-1, -2] as input, keepdims 0', (g, c) => g.node('ReduceSum', [c, g.ints([-1, -2])], { keepdims: 0 })),
  image('ReduceSum', 'axes [1] as input', (g, c) => g.node('ReduceSum', [c, g.ints([1])])),
  image('ReduceMax', 'axes [2, 3], keepdims 0', (g, c) => g.node('ReduceMax', [c], { axes: [2, 3], keepdims: 0 })),
  image('ReduceMax', 'axes [1]', (g, c) => g.node('ReduceMax', [c], { axes: [1] })),
];

const arithmetic: ConformanceCase[] = [
  image('Add', 'residual, same shapes', (g, c) => g.node('Add', [g.node('Relu', [c]), c])),
  image('Add', 'broadcast [N, C, H, W] + [N, C, 1, 1]', (g, c) => g.node('Add', [c, perChannel(g, c)])),
  image('Add', 'broadcast [N, C, 1, 1] + [N, C, H, W]', (g, c) => g.node('Add', [perChannel(g, c), c])),
  image('Add', 'a per-channel parameter [C, 1, 1] first', (g, c) => g.node('Add', [g.weight([3, 1, 1]), c])),
  image('Add', 'a per-channel parameter [1, C, 1, 1] second', (g, c) => g.node('Add', [c, g.weight([1, 3, 1, 1])])),
  image('Add', 'a scalar constant', (g, c) => g.node('Add', [c, g.floats([0.3], [])])),
  image('Sub', 'same shapes', (g, c) => g.node('Sub', [c, g.node('Tanh', [c])])),
  image('Sub', 'broadcast [N, C, H, W] − [N, C, 1, 1]', (g, c) => g.node('Sub', [c, perChannel(g, c)])),
  image('Sub', 'broadcast [N, C, 1, 1] − [N, C, H, W]', (g, c) => g.node('Sub', [perChannel(g, c), c])),
  image('Sub', 'a scalar constant minus data', (g, c) => g.node('Sub', [g.floats([0.5], []), c])),
  features('Sub', 'data minus a scalar constant', (g, f) => g.node('Sub', [f, g.floats([0.5], [])])),
  image('Mul', 'SiLU: x · sigmoid(x)', (g, c) => g.node('Mul', [c, g.node('Sigmoid', [c])])),
  image('Mul', 'broadcast [N, C, H, W] · [N, C, 1, 1] (squeeze-and-excitation)', (g, c) => g.node('Mul', [c, g.node('Sigmoid', [g.node('GlobalAveragePool', [c])])])),
  image('Mul', 'broadcast [N, C, 1, 1] · [N, C, H, W]', (g, c) => g.node('Mul', [g.node('Sigmoid', [g.node('GlobalAveragePool', [c])]), c])),
  image('Mul', 'a per-channel weight [C, 1, 1]', (g, c) => g.node('Mul', [c, g.weight([3, 1, 1])])),
  image('Mul', 'a per-channel weight [1, C, 1, 1] first', (g, c) => g.node('Mul', [g.weight([1, 3, 1, 1]), c])),
  image('Mul', 'a scalar constant first', (g, c) => g.node('Mul', [g.floats([1.7], []), c])),
  features('Mul', 'by a scalar constant', (g, f) => g.node('Mul', [f, g.floats([-0.6], [])])),
  image('Div', 'by a scalar constant', (g, c) => g.node('Div', [c, g.floats([2.5], [])])),
  image('Div', 'same shapes', (g, c) => g.node('Div', [c, positive(g, c)])),
  image('Div', 'broadcast [N, C, H, W] / [N, C, 1, 1]', (g, c) => g.node('Div', [c, positive(g, perChannel(g, c))])),
  image('Div', 'broadcast [N, C, 1, 1] / [N, C, H, W]', (g, c) => g.node('Div', [perChannel(g, c), positive(g, c)])),
  features('Div', 'a scalar constant by data', (g, f) => g.node('Div', [g.floats([2], []), positive(g, f)])),
  image('Concat', 'channels of two maps', (g, c) => g.node('Concat', [c, g.node('Tanh', [c])], { axis: 1 })),
  features('Concat', 'features, axis -1', (g, f) => g.node('Concat', [g.node('Relu', [f]), f], { axis: -1 })),
  features('Concat', 'tokens along axis 1', (g, f) => g.node('Concat', [tokens(g, f), g.node('Tanh', [tokens(g, f)])], { axis: 1 })),
];

const shapes: ConformanceCase[] = [
  image('Reshape', 'to [N, -1] from a constant', (g, c) => g.node('Reshape', [c, g.ints([0, -1])])),
  image('Reshape', 'Shape → Gather → Unsqueeze → Concat → Reshape', (g, c) => {
    const batch = g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [c]), g.ints([0], [])], { axis: 0 }), g.ints([0])]);
    return g.node('Reshape', [c, g.node('Concat', [batch, g.ints([-1])], { axis: 0 })]);
  }),
  image('Reshape', 'Shape → Gather → Unsqueeze (axes attribute, opset 11) → Concat → Reshape', (g, c) => {
    const batch = g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [c]), g.ints([0], [])], { axis: 0 })], { axes: [0] });
    return g.node('Reshape', [c, g.node('Concat', [batch, g.ints([-1])], { axis: 0 })]);
  }, 11),
  image('Reshape', 'channel shuffle: Reshape → Transpose → Reshape', (g, c) => {
    const six = g.node('Conv', [c, g.weight([6, 3, 1, 1])]);
    const grouped = g.node('Transpose', [g.node('Reshape', [six, g.ints([0, 2, 3, 5, 5])])], { perm: [0, 2, 1, 3, 4] });
    return g.node('Reshape', [grouped, g.ints([0, 6, 5, 5])]);
  }),
  image('Flatten', 'axis 1', (g, c) => g.node('Flatten', [c])),
  image('Transpose', 'NCHW → NHWC', (g, c) => g.node('Transpose', [c], { perm: [0, 2, 3, 1] })),
  image('Split', 'channels [1, 2] (input, opset 13)', (g, c) => g.nodeWithOutputs('Split', [c, g.ints([1, 2])], 2, { axis: 1 })[1]),
  image('Split', 'channels [2, 1] (attribute, opset 11)', (g, c) => g.nodeWithOutputs('Split', [c], 2, { axis: 1, split: [2, 1] })[0], 11),
  image('Slice', 'channels 1:3', (g, c) => g.node('Slice', [c, g.ints([1]), g.ints([3]), g.ints([1])])),
  image('Pad', 'constant 0.75 on height and width', (g, c) => g.node('Pad', [c, g.ints([0, 0, 1, 2, 0, 0, 0, 1]), g.floats([0.75], [])])),
  expecting(['EdgePadding2D'], image('Pad', "mode 'edge' on height and width", (g, c) => g.node('Pad', [c, g.ints([0, 0, 2, 0, 0, 0, 1, 1])], { mode: 'edge' }))),
  image('Pad', 'zero channels', (g, c) => g.node('Pad', [c, g.ints([0, 1, 0, 0, 0, 2, 0, 0])])),
  image('Identity', 'on data', (g, c) => g.node('Identity', [c])),
  image('Dropout', 'inference (opset 13)', (g, c) => g.node('Dropout', [c])),
  image('Cast', 'float to float', (g, c) => g.node('Cast', [c], { to: 1 })),
  image('Constant', 'a scalar for Mul', (g, c) => g.node('Mul', [c, g.node('Constant', [], { value: { tensor: { dims: [], type: 'float', values: [0.8] } } })])),
  image('ConstantOfShape', 'zero pads from a shape', (g, c) => {
    const zeros = g.node('ConstantOfShape', [g.ints([4])], { value: { tensor: { dims: [1], type: 'int64', values: [0] } } });
    return g.node('Pad', [c, g.node('Concat', [zeros, g.ints([0, 1, 1, 0])], { axis: 0 })]);
  }),
  image('Squeeze', 'axes [2, 3] as input (opset 13) after GlobalAveragePool', (g, c) => g.node('Squeeze', [g.node('GlobalAveragePool', [c]), g.ints([2, 3])])),
  image('Squeeze', 'axes [3, 2] as attribute (opset 11)', (g, c) => g.node('Squeeze', [g.node('GlobalAveragePool', [c])], { axes: [3, 2] }), 11),
  image('Squeeze', 'no axes: every axis of size 1', (g, c) => g.node('Squeeze', [g.node('GlobalMaxPool', [c])])),
  image('Unsqueeze', 'axes [2, 3] as input (opset 13): squeeze-and-excitation on ReduceMean keepdims 0', (g, c) => g.node('Mul', [c, g.node('Unsqueeze', [g.node('Sigmoid', [g.node('ReduceMean', [c], { axes: [2, 3], keepdims: 0 })]), g.ints([2, 3])])])),
  features('Unsqueeze', 'axes [-1] as input (opset 13)', (g, f) => g.node('Unsqueeze', [f, g.ints([-1])])),
  features('Unsqueeze', 'axes [1] as attribute (opset 11)', (g, f) => g.node('Unsqueeze', [f], { axes: [1] }), 11),
  features('Gather', 'one token along axis 1 (the class token)', (g, f) => g.node('Gather', [tokens(g, f), g.ints([1], [])], { axis: 1 })),
  features('Expand', 'a parameter [1, 1, 4] over the batch (Shape → Gather → Unsqueeze → Concat), then Concat', (g, f) => {
    const t = tokens(g, f);
    const shape = g.node('Concat', [g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [t]), g.ints([0], [])], { axis: 0 }), g.ints([0])]), g.ints([1, 4])], { axis: 0 });
    return g.node('Concat', [g.node('Expand', [g.weight([1, 1, 4]), shape]), t], { axis: 1 });
  }),
  features('Slice', 'tokens 1:3 along axis 1', (g, f) => g.node('Slice', [tokens(g, f), g.ints([1]), g.ints([3]), g.ints([1])])),
  image('Slice', 'height 1:4', (g, c) => g.node('Slice', [c, g.ints([1]), g.ints([4]), g.ints([2])])),
  image('Reshape', 'to [N, 3, 25]', (g, c) => g.node('Reshape', [c, g.ints([0, 3, 25])])),
  image('Transpose', 'NCHW → NCWH', (g, c) => g.node('Transpose', [c], { perm: [0, 1, 3, 2] })),
  features('Softmax', 'last axis of tokens', (g, f) => g.node('Softmax', [tokens(g, f)], { axis: -1 })),
];

const cases: ConformanceCase[] = [...convolutions, ...pools, ...dense, ...activations, ...softmaxes, ...normalizations, ...arithmetic, ...reductions, ...shapes];

for (const [index, c] of cases.entries()) {
  test(`${labelOf(c)}: forward equals ONNX Runtime; loss, gradient and Hv of both engines equal the float64 reference`, async () => {
    await checkCase(c, index);
  });
}

// ---- refusals ----------------------------------------------------------------------------------

/** A variant the reader cannot map exactly: the body returns the output of the node that must be named. */
interface Refusal {
  readonly operator: string;
  readonly variant: string;
  readonly frame: Frame;
  readonly opset?: number;
  readonly body: (g: OnnxGraphBuilder, x: string) => string;
  readonly problem: RegExp;
}

const refusedImage = (operator: string, variant: string, problem: RegExp, body: Refusal['body'], opset?: number): Refusal => ({ operator, variant, frame: 'image', body, problem, opset });
const refusedFeatures = (operator: string, variant: string, problem: RegExp, body: Refusal['body'], opset?: number): Refusal => ({ operator, variant, frame: 'features', body, problem, opset });

const refusals: Refusal[] = [
  refusedImage('ConvTranspose', 'group 3', /group = 3 is not supported/, (g, c) => g.node('ConvTranspose', [c, g.weight([3, 1, 3, 3])], { group: 3 })),
  refusedImage('ConvTranspose', 'dilations 2', /dilations \[2,2\] are not supported/, (g, c) => g.node('ConvTranspose', [c, g.weight([3, 2, 3, 3])], { dilations: [2, 2] })),
  refusedImage('AveragePool', 'pads that hold a whole window past the input', /pads \[0,3,0,0\] reach a whole window/, (g, c) => g.node('AveragePool', [c], { kernel_shape: [3, 3], pads: [0, 3, 0, 0] })),
  refusedImage('MaxPool', 'pads that hold a whole window past the input', /pads \[2,0,0,0\] reach a whole window/, (g, c) => g.node('MaxPool', [c], { kernel_shape: [2, 2], pads: [2, 0, 0, 0] })),
  refusedFeatures('Gemm', 'transA 1 (the batch on the second axis)', /transA = 1 is not supported/, (g, f) => g.node('Gemm', [g.node('Transpose', [f], { perm: [1, 0] }), g.weight([4, 3])], { transA: 1 })),
  refusedFeatures('Softmax', 'axis 0 (over the batch)', /axis 0 runs over the batch/, (g, f) => g.node('Softmax', [f], { axis: 0 })),
  refusedFeatures('LogSoftmax', 'axis -2 of [N, F] (over the batch)', /axis -2 runs over the batch/, (g, f) => g.node('LogSoftmax', [f], { axis: -2 })),
  refusedFeatures('Softmax', 'a middle axis of tokens', /axis 1 of a rank-3 tensor is not supported/, (g, f) => g.node('Softmax', [tokens(g, f)], { axis: 1 })),
  refusedImage('Clip', 'min above max', /min 1 is not below max -1/, (g, c) => g.node('Clip', [c, g.floats([1], []), g.floats([-1], [])])),
  refusedImage('Add', 'shapes that do not broadcast per channel ([N, C, H, W] + [N, 1, H, W])', /inputs of these different shapes are not supported/, (g, c) => g.node('Add', [c, g.node('ReduceMean', [c], { axes: [1] })])),
  refusedImage('Add', 'a constant per position [5]', /adding initializer '\w+' of dims \[5\]/, (g, c) => g.node('Add', [c, g.weight([5])])),
  refusedImage('Sub', 'a constant tensor', /subtracting a constant tensor is not supported/, (g, c) => g.node('Sub', [c, g.floats([1, 2, 3], [3, 1, 1])])),
  refusedImage('Div', 'by a constant tensor', /dividing by or into a constant tensor is not supported/, (g, c) => g.node('Div', [c, g.floats([1, 2, 3], [3, 1, 1])])),
  refusedImage('Mul', 'by a constant per position [5]', /multiplying by weight '\w+' of dims \[5\] is not supported/, (g, c) => g.node('Mul', [c, g.weight([5])])),
  refusedImage('ReduceMean', 'axes [1, 2, 3]', /a reduction over axes \[1,2,3\] is not supported/, (g, c) => g.node('ReduceMean', [c], { axes: [1, 2, 3] })),
  refusedImage('ReduceSum', 'axes [3] (width only)', /a reduction over axes \[3\] is not supported/, (g, c) => g.node('ReduceSum', [c, g.ints([3])])),
  refusedFeatures('ReduceMax', 'of [N, F]', /expects an \[N, C, H, W\] input/, (g, f) => g.node('ReduceMax', [f], { axes: [1] })),
  refusedImage('Concat', 'along height', /concatenation along axis 2 of NCHW tensors is not supported/, (g, c) => g.node('Concat', [c, c], { axis: 2 })),
  refusedImage('Split', 'along height', /splitting along axis 2 is not supported/, (g, c) => g.nodeWithOutputs('Split', [c, g.ints([2, 3])], 2, { axis: 2 })[1]),
  refusedImage('Slice', 'step 2', /step 2 is not supported/, (g, c) => g.node('Slice', [c, g.ints([0]), g.ints([5]), g.ints([3]), g.ints([2])])),
  refusedImage('Flatten', 'axis 2', /axis 2 is not supported/, (g, c) => g.node('Flatten', [c], { axis: 2 })),
  refusedImage('Squeeze', 'an axis of size 3', /axis 1 of \[N,3,5,5\] has size 3, not 1/, (g, c) => g.node('Squeeze', [c, g.ints([1])])),
  refusedImage('Unsqueeze', 'before the batch', /inserting an axis before the batch is not supported/, (g, c) => g.node('Unsqueeze', [c, g.ints([0])])),
  refusedFeatures('Gather', 'several indices', /only a single constant index is supported/, (g, f) => g.node('Gather', [tokens(g, f), g.ints([0, 2])], { axis: 1 })),
  refusedImage('BatchNormalization', 'of tokens [N, 3, 25]', /batch normalization of a \[N,3,25\] tensor is not supported/, (g, c) => g.node('BatchNormalization', [g.node('Reshape', [c, g.ints([0, 3, 25])]), g.weight([3]), g.weight([3]), g.weight([3]), g.floats([0.5, 1.5, 0.8])])),
  refusedImage('Cast', 'data to int64 (where a shape would be computed from data)', /a cast of data to element type 7 is not supported/, (g, c) => g.node('Cast', [g.node('ReduceMax', [c], { axes: [2, 3], keepdims: 0 })], { to: 7 })),
  refusedImage('Pad', "mode 'reflect'", /mode 'reflect' is not supported/, (g, c) => g.node('Pad', [c, g.ints([0, 0, 1, 1, 0, 0, 1, 1])], { mode: 'reflect' })),
  refusedImage('Pad', "mode 'edge' on channels", /pad the channels in mode 'edge'/, (g, c) => g.node('Pad', [c, g.ints([0, 1, 0, 0, 0, 0, 0, 0])], { mode: 'edge' })),
];

for (const [index, r] of refusals.entries()) {
  test(`${r.operator} (${r.variant}) is refused naming the file, the node, the operator and the reason`, async () => {
    const g = new OnnxGraphBuilder(5000 + index);
    const m = r.body(g, frameStart(g, r.frame));
    const file = join(root, `refused-${index}-${r.operator}.onnx`);
    writeFileSync(file, g.build({ opset: r.opset ?? 13, inputs: [{ name: 'x', dims: ['N', ...inputDims[r.frame]] }], outputs: [{ name: m }] }));
    const node = g.nodes.find((n) => n.outputs.includes(m))!;
    await assert.rejects(readOnnx(file), (error: unknown) => {
      assert.ok(error instanceof ModelProblem, `${r.operator}: ${String(error)}`);
      assert.ok(error.message.includes(file) && error.message.includes(`'${node.name}'`) && error.message.includes(`${r.operator}: `), `${r.operator}: ${error.message}`);
      assert.match(error.message, r.problem);
      return true;
    });
  });
}
