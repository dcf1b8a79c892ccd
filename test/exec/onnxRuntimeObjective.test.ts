/**
 * The ONNX Runtime executor's loss, gradient and Hessian-vector products (emitted graphs, graph
 * optimizations on) against the float64 hyper-dual reference (test/reference/exactHessian.ts) and
 * against the tfjs engine, for every tiny model in the catalog, every layer-variant model of
 * test/reference/layerVariantCases.ts (depthwise and grouped convolutions, LayerNormalization,
 * HardSigmoid, broadcast Multiply, Concatenate, UpSampling2D, ZeroPadding2D, Softmax on an inner
 * axis, ...) and a few more, so that every layer class the tfjs engine supports runs here too.
 *
 * Same tolerances as test/model/hessianVectorProduct.test.ts (norm-wise relative): loss 1e-5,
 * gradient 1e-5, Hv 1e-4; the seeds keep every kink at least 1e-3 away (asserted there).
 * A block of k directions in one run must give the k single-direction products.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../src/engine/data/dataset';
import type { Targets } from '../../src/engine/model/loss';
import { initBackend } from '../../src/engine/model/backend';
import { supportedLayers } from '../../src/engine/model/layers';
import { NetworkFunction } from '../../src/engine/model/network';
import type { WeightTensor } from '../../src/engine/model/spec';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { OnnxObjectiveExecutor } from '../../src/engine/exec/onnxruntime/objectiveExecutor';
import { unsupportedByOnnxRuntime } from '../../src/engine/exec/onnxruntime/objectiveGraph';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { ModelProblem } from '../../src/protocol/errors';
import { exactGradient, exactHessianVectorProduct, referenceOutputs, type LossKind } from '../reference/exactHessian';
import { layerVariantCases, lossesFor } from '../reference/layerVariantCases';
import { TinyModelBuilder, randomClassTargets, randomInputs, randomValueTargets, targetsForLoss, tinyCheckpoint, tinyModelCatalog, type TinyCheckpoint } from '../reference/tinyModels';
import { relativeError, seededNormals } from '../reference/vectorChecks';

const SAMPLES = 4;
const CATALOG_SEED = 21;
const TOLERANCE = { loss: 1e-5, gradient: 1e-5, hvp: 1e-4 };

function targetsFor(loss: LossKind, width: number, seed: number): Targets {
  return targetsForLoss(loss, SAMPLES, width, seed);
}

interface ModelUnderTest {
  readonly name: string;
  readonly engine: TinyCheckpoint;
  /** The same function in layers the reference knows, and the inputs it takes (default: the engine's). */
  readonly reference?: TinyCheckpoint;
  readonly referenceInputs?: (x: Float32Array, count: number) => Float32Array;
  readonly inputScale?: number;
  readonly inputSeed: number;
}

function checkModel(m: ModelUnderTest, losses: readonly LossKind[]): void {
  const { name, engine: tiny, inputSeed } = m;
  const reference = m.reference ?? tiny;
  const network = new NetworkFunction(tinyCheckpoint(tiny, name));
  try {
    const raw = randomInputs(tiny.model.inputs[0].shape, SAMPLES, inputSeed);
    const inputs = m.inputScale ? raw.map((v) => v * m.inputScale!) : raw;
    const referenceInputs = m.referenceInputs ? m.referenceInputs(inputs, SAMPLES) : inputs;
    for (const loss of losses) {
      const targets = targetsFor(loss, network.outputUnits, inputSeed + 7);
      const dataset: Dataset = { source: name, count: SAMPLES, sampleShape: tiny.model.inputs[0].shape, inputs, targets };
      const tensorsBefore = tf.memory().numTensors;
      // Two batches of two samples: the sums over batches are checked too.
      const ort = new Objective(network, dataset, loss, 2, onnxExecutorFactory({ threads: 1 }));
      const tfjs = new Objective(network, dataset, loss, 2);
      try {
        const exact = exactGradient(reference.model, reference.weights, referenceInputs, SAMPLES, targets, loss);
        const engine = ort.gradient();
        const viaTfjs = tfjs.gradient();
        const label = `${name} [${loss}]`;
        assert.ok(Math.abs(engine.loss - exact.loss) <= TOLERANCE.loss * Math.abs(exact.loss), `${label}: loss ${engine.loss} vs ${exact.loss}`);
        assert.ok(Math.abs(ort.value() - engine.loss) <= 1e-6 * Math.abs(engine.loss), `${label}: value() and gradient().loss agree`);
        assert.ok(relativeError(toFlat(engine.gradient), exact.gradient) <= TOLERANCE.gradient, `${label}: gradient vs reference ${relativeError(toFlat(engine.gradient), exact.gradient)}`);
        assert.ok(relativeError(toFlat(engine.gradient), toFlat(viaTfjs.gradient)) <= TOLERANCE.gradient, `${label}: gradient vs tfjs`);
        disposeVector(engine.gradient);
        disposeVector(viaTfjs.gradient);
        const directions = [1, 2, 3].map((seed) => fromFlat(seededNormals(network.parameterCount, inputSeed * 10 + seed), network.parameters));
        const block = ort.hessianVectorProducts(directions);
        directions.forEach((v, d) => {
          const exactHv = exactHessianVectorProduct(reference.model, reference.weights, referenceInputs, SAMPLES, targets, loss, Float64Array.from(toFlat(v)));
          assert.ok(Math.hypot(...exactHv) > 1e-8, 'the exact Hv is not trivially zero');
          const single = ort.hessianVectorProduct(v);
          const viaTfjsHv = tfjs.hessianVectorProduct(v);
          const error = relativeError(toFlat(single), exactHv);
          if (process.env.HVP_VERBOSE) console.log(`${label} direction ${d}: Hv vs reference ${error.toExponential(1)}`);
          assert.ok(error <= TOLERANCE.hvp, `${label}: Hv vs reference ${error}`);
          assert.ok(relativeError(toFlat(viaTfjsHv), toFlat(single)) <= TOLERANCE.hvp, `${label}: Hv vs tfjs`);
          assert.ok(relativeError(toFlat(block[d]), toFlat(single)) <= 1e-6, `${label}: block direction ${d} vs single`);
          disposeVector(single);
          disposeVector(viaTfjsHv);
        });
        block.forEach(disposeVector);
        directions.forEach(disposeVector);
      } finally {
        ort.dispose();
        tfjs.dispose();
      }
      assert.equal(tf.memory().numTensors, tensorsBefore, `${name} [${loss}]: tensors leaked`);
    }
  } finally {
    network.dispose();
  }
}

const available = onnxRuntimeAvailable();

test('onnxruntime-node loads here', async () => {
  assert.ok(available, 'the ONNX Runtime native binary should load on this machine');
  await initBackend();
});

test('every layer class the tfjs engine supports has an ONNX Runtime rule', () => {
  const model = { inputs: [], outputs: [], layers: supportedLayers.map((className) => ({ name: className, className, config: {}, inbound: [] })) };
  assert.equal(unsupportedByOnnxRuntime(model), undefined);
  assert.match(unsupportedByOnnxRuntime({ ...model, layers: [{ name: 'x', className: 'Bidirectional', config: {}, inbound: [] }] }) ?? '', /no rule for Bidirectional/);
});

for (const entry of tinyModelCatalog) {
  if (entry.name === 'relu6Regressor') continue;
  const losses: LossKind[] = entry.loss === 'mse' ? ['mse', 'bce'] : [entry.loss, 'mse'];
  test(`catalog ${entry.name}: ONNX Runtime loss, gradient and Hv match the float64 reference and tfjs`, { skip: !available }, async () => {
    await initBackend();
    checkModel({ name: entry.name, engine: entry.build(CATALOG_SEED), inputSeed: CATALOG_SEED + 1 }, losses);
  });
}

test('a ReLU with a threshold (catalog relu6Regressor) is refused, naming the layer', { skip: !available }, async () => {
  await initBackend();
  const entry = tinyModelCatalog.find((e) => e.name === 'relu6Regressor')!;
  const network = new NetworkFunction(tinyCheckpoint(entry.build(CATALOG_SEED), entry.name));
  const dataset: Dataset = { source: 'x', count: 2, sampleShape: [4], inputs: randomInputs([4], 2, 1), targets: randomValueTargets(2, 2, 1) };
  try {
    assert.throws(() => new Objective(network, dataset, 'mse', 2, onnxExecutorFactory({ threads: 1 })).value(), (e: unknown) => e instanceof ModelProblem && /re_lu_1/.test(e.message) && /threshold/.test(e.message));
  } finally {
    network.dispose();
  }
});

for (const c of layerVariantCases) {
  test(`layer variant: ${c.name}`, { skip: !available }, async () => {
    await initBackend();
    const reference = c.reference ?? c.engine;
    const width = referenceOutputs(reference.model, reference.weights, randomInputs(reference.model.inputs[0].shape, 1, 1), 1).length;
    checkModel(c, c.losses ?? lossesFor(c.engine, width));
  });
}

test('a kernel shared by two Dense layers is one parameter on ONNX Runtime as on tfjs', { skip: !available }, async () => {
  await initBackend();
  const b = new TinyModelBuilder([4], 11);
  const first = b.dense(4, 4, 'tanh');
  const second = b.dense(4, 4, 'tanh');
  b.dense(4, 3, 'softmax');
  const built = b.build();
  const firstKernel = built.weights.find((w) => w.layer === first && w.role === 'kernel')!;
  const tied: WeightTensor[] = built.weights.filter((w) => !(w.layer === second && w.role === 'kernel')).map((w) => (w === firstKernel ? { ...w, alsoUsedBy: [{ layer: second, role: 'kernel' }] } : w));
  const network = new NetworkFunction(tinyCheckpoint({ model: built.model, weights: tied }, 'tied'));
  const dataset: Dataset = { source: 'x', count: 6, sampleShape: [4], inputs: randomInputs([4], 6, 5), targets: randomClassTargets(6, 3, 6) };
  const ort = new Objective(network, dataset, 'ce', 6, onnxExecutorFactory({ threads: 1 }));
  const tfjs = new Objective(network, dataset, 'ce', 6);
  try {
    const [g, gTfjs] = [ort.gradient(), tfjs.gradient()];
    assert.ok(relativeError(toFlat(g.gradient), toFlat(gTfjs.gradient)) <= TOLERANCE.gradient);
    const v = fromFlat(seededNormals(network.parameterCount, 7), network.parameters);
    const [hv, hvTfjs] = [ort.hessianVectorProduct(v), tfjs.hessianVectorProduct(v)];
    assert.ok(relativeError(toFlat(hv), toFlat(hvTfjs)) <= TOLERANCE.hvp, `Hv ${relativeError(toFlat(hv), toFlat(hvTfjs))}`);
    [g.gradient, gTfjs.gradient, v, hv, hvTfjs].forEach(disposeVector);
  } finally {
    ort.dispose();
    tfjs.dispose();
    network.dispose();
  }
});

const extraModels: { name: string; build: () => TinyCheckpoint; losses: LossKind[]; inputSeed: number }[] = [
  {
    name: 'conv stride 2 same, dilated conv, overlapping same max pool',
    build: () => {
      const b = new TinyModelBuilder([7, 7, 2], 31);
      b.conv2d(2, 3, [3, 3], { activation: 'tanh', padding: 'same', strides: [2, 2] });
      b.conv2d(3, 3, [2, 2], { activation: 'elu', padding: 'same', dilation_rate: [2, 2] });
      b.layer('MaxPooling2D', { pool_size: [3, 3], strides: [2, 2], padding: 'same' });
      b.layer('Flatten');
      b.dense(12, 2, 'softmax');
      return b.build();
    },
    losses: ['ce', 'mse'],
    inputSeed: 32,
  },
  {
    name: 'average pool same, BatchNorm on feature maps, global average pool, selu / softplus / relu6',
    build: () => {
      const b = new TinyModelBuilder([5, 5, 1], 41);
      b.conv2d(1, 2, [2, 2], { activation: 'selu', padding: 'valid' });
      b.layer('AveragePooling2D', { pool_size: [2, 2], strides: [2, 2], padding: 'same' });
      b.layer('BatchNormalization', { epsilon: 0.01 }, {
        weights: [
          { role: 'gamma', shape: [2], init: { center: 1, halfWidth: 0.3 } },
          { role: 'beta', shape: [2], init: { center: 0, halfWidth: 0.2 } },
          { role: 'moving_mean', shape: [2], init: { center: 0, halfWidth: 0.2 }, trainable: false },
          { role: 'moving_variance', shape: [2], init: { center: 1, halfWidth: 0.5 }, trainable: false },
        ],
      });
      b.layer('Activation', { activation: 'softplus' });
      b.layer('GlobalAveragePooling2D');
      b.dense(2, 3, 'tanh');
      b.dense(3, 2, 'relu6');
      b.dense(2, 2, 'sigmoid');
      return b.build();
    },
    losses: ['bce', 'mse'],
    inputSeed: 42,
  },
  {
    name: 'PReLU, LeakyReLU, ReLU with cap and slope, Dense on rank-3 input, Softmax layer',
    build: () => {
      const b = new TinyModelBuilder([2, 3], 51);
      b.dense(3, 4, 'linear');
      b.layer('PReLU', {}, { weights: [{ role: 'alpha', shape: [2, 4], init: { center: 0.2, halfWidth: 0.1 } }] });
      b.layer('LeakyReLU', { alpha: 0.1 });
      b.layer('ReLU', { max_value: 1.5, negative_slope: 0.05 });
      b.layer('Flatten');
      b.dense(8, 3, 'linear', {});
      b.layer('Softmax', { axis: -1 });
      return b.build();
    },
    losses: ['ce', 'mse'],
    inputSeed: 52,
  },
  {
    // 4 samples × 9 × 9 positions, more than src/engine/exec/onnxruntime/tape.ts's 256: the second
    // convolution's input gradient turns its tangent filters too (on smaller maps they take ConvTranspose).
    name: 'stride-1 convolutions on maps large enough that tangent filters are turned',
    build: () => {
      const b = new TinyModelBuilder([9, 9, 1], 61);
      b.conv2d(1, 2, [3, 3], { activation: 'tanh', padding: 'same' });
      b.conv2d(2, 2, [3, 3], { activation: 'tanh', padding: 'same' });
      b.layer('Flatten');
      b.dense(162, 3, 'softmax');
      return b.build();
    },
    losses: ['ce', 'mse'],
    inputSeed: 62,
  },
];

for (const m of extraModels) {
  test(`extra: ${m.name}`, { skip: !available }, async () => {
    await initBackend();
    checkModel({ name: m.name, engine: m.build(), inputSeed: m.inputSeed }, m.losses);
  });
}

test('graphs are built per batch (at most --batch-size samples) once each, and products reuse their session', { skip: !available }, async () => {
  await initBackend();
  const tiny = tinyModelCatalog.find((e) => e.name === 'cnnRelu')!.build(CATALOG_SEED);
  const network = new NetworkFunction(tinyCheckpoint(tiny, 'cnn'));
  const inputs = randomInputs(tiny.model.inputs[0].shape, 10, 3);
  const targets = new Float32Array(10 * 3).map((_, i) => (i % 3 === Math.floor(i / 3) % 3 ? 1 : 0));
  const perSample = inputs.length / 10;
  const batches = [0, 4, 8].map((start) => {
    const count = Math.min(4, 10 - start);
    return { inputs: inputs.subarray(start * perSample, (start + count) * perSample), targets: targets.subarray(start * 3, (start + count) * 3), count };
  });
  const executor = new OnnxObjectiveExecutor(network, 'ce', batches, 10, { threads: 1 });
  try {
    const params = network.checkpoint.weights.filter((w) => w.trainable).map((w) => w.values);
    const direction = params.map((p) => p.map((_, i) => Math.sin(i + 1)));
    executor.value(params);
    executor.gradient(params);
    const first = executor.hessianVectorProducts([direction], params)[0];
    const graphs = executor.builtGraphs.map((g) => `${g.outputs.kind}:${g.samples}`);
    assert.deepEqual([...graphs].sort(), ['gradient:2', 'gradient:4', 'hvp:2', 'hvp:4', 'loss:2', 'loss:4']);
    for (let i = 0; i < 4; i++) {
      const again = executor.hessianVectorProducts([direction], params)[0];
      assert.deepEqual(again.map((a) => Array.from(a)), first.map((a) => Array.from(a)), 'the same product twice');
    }
    executor.gradient(params);
    assert.equal(executor.builtGraphs.length, graphs.length, 'no graph or session is built again for later products');
  } finally {
    executor.dispose();
    network.dispose();
  }
});

/** The catalog's ReLU CNN and `count` random samples with class targets (seeded inputs and targets). */
function catalogCnn(count: number, inputSeed: number, targetSeed: number): { network: NetworkFunction; dataset: Dataset } {
  const tiny = tinyModelCatalog.find((e) => e.name === 'cnnRelu')!.build(CATALOG_SEED);
  const shape = tiny.model.inputs[0].shape;
  const dataset: Dataset = { source: 'x', count, sampleShape: shape, inputs: randomInputs(shape, count, inputSeed), targets: randomClassTargets(count, 3, targetSeed) };
  return { network: new NetworkFunction(tinyCheckpoint(tiny, 'cnn')), dataset };
}

/**
 * Products reuse the state graph's outputs (activations, ReLU masks, max-pool indices, deltas) only
 * at the weights they were computed at: products at θ₀, at a perturbed θ (as sharpness and the
 * landscapes ask) and at θ₀ again each match tfjs at those weights, through the state graph and
 * through the whole graph (a state budget of 0 bytes).
 */
test('products reuse the state of the weights they are asked at, never a stale one', { skip: !available }, async () => {
  await initBackend();
  const { network, dataset } = catalogCnn(6, 4, 5);
  const executors: OnnxObjectiveExecutor[] = [];
  const factory = (budget?: number) => (...args: ConstructorParameters<typeof OnnxObjectiveExecutor>) => {
    const executor = new OnnxObjectiveExecutor(args[0], args[1], args[2], args[3], { threads: 1 }, budget);
    executors.push(executor);
    return executor;
  };
  // Two batches of three samples, so that the state is kept per batch.
  const objectives = [new Objective(network, dataset, 'ce', 3, factory()), new Objective(network, dataset, 'ce', 3, factory(0))];
  const tfjs = new Objective(network, dataset, 'ce', 3);
  const v = fromFlat(seededNormals(network.parameterCount, 8), network.parameters);
  const w = fromFlat(seededNormals(network.parameterCount, 9), network.parameters);
  const perturbed = fromFlat(toFlat(tfjs.theta).map((t, i) => t + 0.3 * Math.sin(i + 1)), network.parameters);
  const flat = (p: Parameters<typeof toFlat>[0]) => {
    const values = toFlat(p);
    disposeVector(p);
    return values;
  };
  try {
    const expected = (params?: typeof perturbed) => [v, w].map((d) => flat(tfjs.hessianVectorProduct(d, params)));
    const [atTheta, atPerturbed] = [expected(), expected(perturbed)];
    assert.ok(relativeError(atPerturbed[0], atTheta[0]) > 0.05, 'the perturbation changes Hv, so a stale state would show');
    for (const [k, objective] of objectives.entries()) {
      const label = k === 0 ? 'state reused' : 'whole graph';
      const check = (params: typeof perturbed | undefined, reference: ReturnType<typeof flat>[], step: string) => {
        const single = flat(objective.hessianVectorProduct(v, params));
        const block = objective.hessianVectorProducts([v, w], params).map(flat);
        assert.ok(relativeError(single, reference[0]) <= TOLERANCE.hvp, `${label}, ${step}: Hv ${relativeError(single, reference[0])}`);
        block.forEach((hv, d) => assert.ok(relativeError(hv, reference[d]) <= TOLERANCE.hvp, `${label}, ${step}: block direction ${d} ${relativeError(hv, reference[d])}`));
      };
      check(undefined, atTheta, 'at θ₀');
      check(perturbed, atPerturbed, 'at the perturbed θ');
      check(undefined, atTheta, 'at θ₀ again');
    }
    assert.ok(executors[0].builtGraphs.filter((g) => g.outputs.kind === 'hvp').every((g) => g.reusesState), 'products reuse the state within the budget');
    assert.ok(executors[1].builtGraphs.filter((g) => g.outputs.kind === 'hvp').every((g) => !g.reusesState), 'products run the whole graph beyond it');
  } finally {
    objectives.forEach((o) => o.dispose());
    tfjs.dispose();
    [v, w, perturbed].forEach(disposeVector);
    network.dispose();
  }
});

/**
 * The estimators hand the same arrays back for every product (src/engine/analysis/lanczos.ts), and
 * the executor lays each direction out in memory kept per slot: products written into the caller's
 * arrays equal new ones, on one batch and on two, through permuted convolution kernels, and a
 * block with its directions swapped gives its products swapped (no slot keeps an old direction).
 */
test('products written into the caller\'s arrays equal new ones, block after block', { skip: !available }, async () => {
  await initBackend();
  const { network, dataset } = catalogCnn(6, 4, 5);
  try {
    for (const batchSize of [6, 3]) {
      const objective = new Objective(network, dataset, 'ce', batchSize, onnxExecutorFactory({ threads: 1 }));
      try {
        const operator = objective.hessianOperator();
        const [v, w] = [8, 9].map((seed) => seededNormals(operator.dimension, seed));
        const fresh = operator.products([v, w]);
        const into = [0, 1].map(() => new Float32Array(operator.dimension).fill(Number.NaN));
        const written = operator.products([v, w], into);
        written.forEach((product, j) => {
          assert.equal(product, into[j], 'the product is the array handed in');
          assert.deepEqual(Array.from(product), Array.from(fresh[j]), `batches of ${batchSize}: direction ${j}`);
        });
        const swapped = operator.products([w, v], into);
        assert.deepEqual(Array.from(swapped[0]), Array.from(fresh[1]), `batches of ${batchSize}: swapped block, first`);
        assert.deepEqual(Array.from(swapped[1]), Array.from(fresh[0]), `batches of ${batchSize}: swapped block, second`);
      } finally {
        objective.dispose();
      }
    }
  } finally {
    network.dispose();
  }
});

test('loss, accuracy and gradient of the loss stage come from the executor\'s one pass, per batch, equal to tfjs', { skip: !available }, async () => {
  await initBackend();
  const { network, dataset } = catalogCnn(40, 6, 7);
  const onOnnxRuntime = new Objective(network, dataset, 'ce', 16, onnxExecutorFactory({ threads: 1 }));
  const onTfjs = new Objective(network, dataset, 'ce', 16);
  try {
    const [a, b] = [await onOnnxRuntime.evaluateWithGradient(), await onTfjs.evaluateWithGradient()];
    assert.ok(Math.abs(a.loss - b.loss) <= TOLERANCE.loss * b.loss, `loss ${a.loss} vs ${b.loss}`);
    assert.equal(a.accuracy, b.accuracy);
    assert.ok(b.accuracy! > 0 && b.accuracy! < 1, `accuracy ${b.accuracy}: a check that can tell outputs apart`);
    const [ga, gb] = [toFlat(a.gradient), toFlat(b.gradient)];
    assert.ok(relativeError(ga, gb) <= TOLERANCE.gradient, `gradient ${relativeError(ga, gb)}`);
    disposeVector(a.gradient);
    disposeVector(b.gradient);
  } finally {
    onOnnxRuntime.dispose();
    onTfjs.dispose();
    network.dispose();
  }
});
