/**
 * The attention-block layers (src/engine/model/tokenLayers.ts: BatchMatMul of two computed values,
 * Permute, SliceAxis, TakeIndex, Rescaling, BroadcastParameter) in a tiny one-block vision
 * transformer on tokens: loss, gradient and Hessian-vector products of the tfjs engine against the
 * float64 hyper-dual reference (test/reference/tokenLayers.ts), which itself is checked against
 * float64 finite differences of its gradient. Bad configurations are refused naming the layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../src/engine/data/dataset';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint } from '../../src/engine/model/spec';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import { ModelProblem } from '../../src/protocol/errors';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { exactGradient, exactHessianVectorProduct, trainableParameters } from '../reference/exactHessian';
import { TinyModelBuilder, fanInInit, randomClassTargets, randomInputs, type TinyCheckpoint } from '../reference/tinyModels';
import { relativeError, seededNormals } from '../reference/vectorChecks';

const SAMPLES = 4;
const TOKENS = 3;
const WIDTH = 4;

/**
 * [3 tokens, 4] + positional embedding, a class token in front, LayerNorm, one two-head attention
 * (scores q·kᵀ/√2, softmax over keys), a GELU projection with a residual, the class token's head.
 */
function tinyVisionTransformer(seed: number, withClassTokenAndNorm = true): TinyCheckpoint {
  const b = new TinyModelBuilder([TOKENS, WIDTH], seed, 'tokens');
  const position = b.layer('BroadcastParameter', {}, { inbound: ['tokens'], weights: [{ role: 'value', shape: [TOKENS, WIDTH], init: { center: 0, halfWidth: 0.3 } }] });
  const placed = b.layer('Add', {}, { inbound: ['tokens', position] });
  let sequence = placed;
  if (withClassTokenAndNorm) {
    const classToken = b.layer('BroadcastParameter', {}, { inbound: ['tokens'], weights: [{ role: 'value', shape: [1, WIDTH], init: { center: 0, halfWidth: 0.5 } }] });
    sequence = b.layer('Concatenate', { axis: 1 }, { inbound: [classToken, placed] });
    b.layer('LayerNormalization', { axis: -1, epsilon: 1e-3 }, {
      weights: [
        { role: 'gamma', shape: [WIDTH], init: { center: 1, halfWidth: 0.2 } },
        { role: 'beta', shape: [WIDTH], init: { center: 0, halfWidth: 0.2 } },
      ],
    });
  }
  const length = withClassTokenAndNorm ? TOKENS + 1 : TOKENS;
  const qkv = b.dense(WIDTH, 3 * WIDTH, 'linear');
  const heads = (begin: number, dims: number[]) => {
    b.layer('SliceAxis', { axis: 2, begin, size: WIDTH }, { inbound: [qkv] });
    b.layer('Reshape', { target_shape: [length, 2, WIDTH / 2] });
    return b.layer('Permute', { dims });
  };
  const q = heads(0, [2, 1, 3]);
  const kTransposed = heads(WIDTH, [2, 3, 1]);
  const v = heads(2 * WIDTH, [2, 1, 3]);
  b.layer('BatchMatMul', {}, { inbound: [q, kTransposed] });
  b.layer('Rescaling', { scale: 1 / Math.SQRT2, offset: 0 });
  const attention = b.layer('Softmax', { axis: -1 });
  b.layer('BatchMatMul', {}, { inbound: [attention, v] });
  b.layer('Permute', { dims: [2, 1, 3] });
  const merged = b.layer('Reshape', { target_shape: [length, WIDTH] });
  const projected = b.layer('Dense', { units: WIDTH, activation: 'gelu', use_bias: true }, {
    inbound: [merged],
    weights: [
      { role: 'kernel', shape: [WIDTH, WIDTH], init: fanInInit(WIDTH) },
      { role: 'bias', shape: [WIDTH], init: { center: 0, halfWidth: 0.2 } },
    ],
  });
  b.layer('Add', {}, { inbound: [projected, sequence] });
  b.layer('TakeIndex', { axis: 1, index: 0 });
  b.dense(WIDTH, 3, 'softmax');
  return b.build();
}

function asCheckpoint(tiny: TinyCheckpoint): Checkpoint {
  return { path: '<tiny vision transformer>', format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } };
}

test('attention layers: tfjs loss, gradient and Hessian-vector products equal the float64 reference', async () => {
  await initBackend();
  const tiny = tinyVisionTransformer(71);
  const network = new NetworkFunction(asCheckpoint(tiny));
  const inputs = Float32Array.from(randomInputs([TOKENS, WIDTH], SAMPLES, 72), (x) => 1.5 * x);
  const targets = randomClassTargets(SAMPLES, 3, 73);
  const dataset: Dataset = { source: 'tokens', count: SAMPLES, sampleShape: [TOKENS, WIDTH], inputs, targets };
  const tensorsBefore = tf.memory().numTensors;
  const objective = new Objective(network, dataset, 'ce', 2);
  try {
    const reference = exactGradient(tiny.model, tiny.weights, inputs, SAMPLES, targets, 'ce');
    const { loss, gradient } = objective.gradient();
    assert.ok(Math.abs(loss - reference.loss) <= 1e-5 * reference.loss, `loss ${loss} vs ${reference.loss}`);
    assert.ok(relativeError(toFlat(gradient), reference.gradient) <= 1e-5, `gradient ${relativeError(toFlat(gradient), reference.gradient)}`);
    // Every parameter reaches the loss: the class token through attention, the embedding through the keys.
    const parameters = network.parameters;
    for (const p of parameters) {
      const block = reference.gradient.subarray(p.offset, p.offset + p.size);
      assert.ok(block.some((g) => Math.abs(g) > 1e-6), `${p.name}: its gradient is zero, the check would not see it`);
    }
    disposeVector(gradient);
    for (const seed of [1, 2]) {
      const v = Float64Array.from(seededNormals(network.parameterCount, 740 + seed));
      const exact = exactHessianVectorProduct(tiny.model, tiny.weights, inputs, SAMPLES, targets, 'ce', v);
      const direction = fromFlat(Float32Array.from(v), parameters);
      const product = objective.hessianVectorProduct(direction);
      const error = relativeError(toFlat(product), exact);
      assert.ok(error <= 1e-4, `Hv direction ${seed} vs reference ${error}`);
      disposeVector(product);
      disposeVector(direction);
    }
  } finally {
    objective.dispose();
    network.dispose();
  }
  assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked');
});

test('attention layers on ONNX Runtime: loss, gradient and Hessian-vector products equal the float64 reference', { skip: !onnxRuntimeAvailable() }, async () => {
  await initBackend();
  // Without the class token's Concatenate and the LayerNormalization, whose ONNX Runtime rules live elsewhere.
  const tiny = tinyVisionTransformer(91, false);
  const network = new NetworkFunction(asCheckpoint(tiny));
  const inputs = Float32Array.from(randomInputs([TOKENS, WIDTH], SAMPLES, 92), (x) => 1.5 * x);
  const targets = randomClassTargets(SAMPLES, 3, 93);
  const dataset: Dataset = { source: 'tokens', count: SAMPLES, sampleShape: [TOKENS, WIDTH], inputs, targets };
  const objective = new Objective(network, dataset, 'ce', 2, onnxExecutorFactory({ threads: 1 }));
  try {
    const reference = exactGradient(tiny.model, tiny.weights, inputs, SAMPLES, targets, 'ce');
    const { loss, gradient } = objective.gradient();
    assert.ok(Math.abs(loss - reference.loss) <= 1e-5 * reference.loss, `loss ${loss} vs ${reference.loss}`);
    assert.ok(relativeError(toFlat(gradient), reference.gradient) <= 1e-5, `gradient ${relativeError(toFlat(gradient), reference.gradient)}`);
    disposeVector(gradient);
    const v = Float64Array.from(seededNormals(network.parameterCount, 94));
    const exact = exactHessianVectorProduct(tiny.model, tiny.weights, inputs, SAMPLES, targets, 'ce', v);
    const direction = fromFlat(Float32Array.from(v), network.parameters);
    const product = objective.hessianVectorProduct(direction);
    assert.ok(relativeError(toFlat(product), exact) <= 1e-4, `Hv vs reference ${relativeError(toFlat(product), exact)}`);
    disposeVector(product);
    disposeVector(direction);
  } finally {
    objective.dispose();
    network.dispose();
  }
});

test('the reference attention block: its Hessian-vector product equals float64 central differences of its gradient', () => {
  const tiny = tinyVisionTransformer(81);
  const inputs = randomInputs([TOKENS, WIDTH], 2, 82);
  const targets = randomClassTargets(2, 3, 83);
  const theta = trainableParameters(tiny.weights);
  const v = Float64Array.from(seededNormals(theta.length, 84));
  const exact = exactHessianVectorProduct(tiny.model, tiny.weights, inputs, 2, targets, 'ce', v);
  const h = 1e-5;
  const shifted = (sign: number) => exactGradient(tiny.model, tiny.weights, inputs, 2, targets, 'ce', theta.map((t, i) => t + sign * h * v[i])).gradient;
  const plus = shifted(1);
  const minus = shifted(-1);
  const difference = plus.map((g, i) => (g - minus[i]) / (2 * h));
  assert.ok(relativeError(difference, exact) <= 1e-6, `finite differences vs hyper-dual ${relativeError(difference, exact)}`);
});

test('attention layers refuse what does not fit, naming the layer', async () => {
  await initBackend();
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['Permute', { dims: [1, 1] }, /Permute dims \[1,1\] are not a permutation/],
    ['SliceAxis', { axis: 2, begin: 3, size: 2 }, /cannot take 2 entries from 3 of an axis of 4/],
    ['TakeIndex', { axis: 0, index: 0 }, /axis 0 is not a data axis/],
  ];
  for (const [className, config, message] of cases) {
    const b = new TinyModelBuilder([TOKENS, WIDTH], 1, 'tokens');
    b.layer(className, config, { name: 'broken' });
    const network = new NetworkFunction(asCheckpoint(b.build()));
    assert.throws(() => tf.tidy(() => network.forward(network.initialParameters(), tf.zeros([1, TOKENS, WIDTH]))), (e: unknown) => e instanceof ModelProblem && e.message.includes("'broken'") && message.test(e.message), className);
    network.dispose();
  }
  const b = new TinyModelBuilder([TOKENS, WIDTH], 1, 'tokens');
  b.layer('BatchMatMul', {}, { inbound: ['tokens', 'tokens'], name: 'broken' });
  const network = new NetworkFunction(asCheckpoint(b.build()));
  assert.throws(() => tf.tidy(() => network.forward(network.initialParameters(), tf.zeros([1, TOKENS, WIDTH]))), /'broken'.*cannot multiply \[1, 3, 4\] by \[1, 3, 4\]/);
  network.dispose();
});

test('rescaling: a BatchMatMul of two computed values admits no factor on its inputs, and says so naming the layer', () => {
  // Without the product, the ReLU Dense's output scale would be free (the next Dense absorbs it).
  const b = new TinyModelBuilder([WIDTH, WIDTH], 5, 'tokens');
  const hidden = b.dense(WIDTH, WIDTH, 'relu');
  b.layer('BatchMatMul', {}, { inbound: [hidden, hidden], name: 'scores' });
  b.layer('Flatten');
  b.dense(WIDTH * WIDTH, 3, 'linear');
  const structure = analyzeSymmetry(asCheckpoint(b.build()), 'layer');
  assert.equal(structure.freedom, 0);
  assert.match(structure.barriers.find((barrier) => barrier.layer === 'scores')?.reason ?? '(none)', /BatchMatMul of two computed values \(attention\) is not homogeneous/);
});
