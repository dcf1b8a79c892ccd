/**
 * The exact Hessian trace of piecewise-linear networks (src/engine/exec/onnxruntime/exactTraceGraph.ts)
 * against the float64 hyper-dual Hessian's diagonal (test/reference/exactHessian.ts), per weight
 * tensor, for every tiny architecture and loss where it applies; networks where it does not apply
 * are refused with the reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/engine/data/dataset';
import type { Targets } from '../../src/engine/model/loss';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { Objective } from '../../src/engine/analysis/objective';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { exactHessian, type LossKind } from '../reference/exactHessian';
import { TinyModelBuilder, fanInInit, randomInputs, targetsForLoss, tinyCheckpoint, tinyModelCatalog, type TinyCheckpoint } from '../reference/tinyModels';

const SAMPLES = 5;
const SEED = 31;
const available = onnxRuntimeAvailable();

function targetsFor(loss: LossKind, width: number, seed: number): Targets {
  return targetsForLoss(loss, SAMPLES, width, seed);
}

/** The exact trace where the network allows it (batches of 2, 2 and 1 samples), else why not. */
async function exactOrReason(tiny: TinyCheckpoint, name: string, loss: LossKind, seed: number): Promise<{ blocks: number[]; reference: number[] } | string> {
  const network = new NetworkFunction(tinyCheckpoint(tiny, name));
  const inputs = randomInputs(tiny.model.inputs[0].shape, SAMPLES, seed);
  const targets = targetsFor(loss, network.outputUnits, seed + 7);
  const dataset: Dataset = { source: name, count: SAMPLES, sampleShape: tiny.model.inputs[0].shape, inputs, targets };
  const objective = new Objective(network, dataset, loss, 2, onnxExecutorFactory({ threads: 1 }));
  try {
    const reason = objective.exactTraceUnavailable();
    if (reason) return reason;
    const blocks = await objective.exactBlockTraces();
    const { hessian, parameterCount: n } = exactHessian(tiny.model, tiny.weights, inputs, SAMPLES, targets, loss);
    const reference = network.parameters.map((p) => {
      let sum = 0;
      for (let e = p.offset; e < p.offset + p.size; e++) sum += hessian[e * n + e];
      return sum;
    });
    return { blocks, reference };
  } finally {
    objective.dispose();
    network.dispose();
  }
}

function assertMatches(label: string, result: { blocks: number[]; reference: number[] }): void {
  const total = result.reference.reduce((a, b) => a + b, 0);
  const scale = result.reference.reduce((a, b) => a + Math.abs(b), 0);
  assert.ok(scale > 1e-6, `${label}: the reference trace is not trivially zero`);
  if (process.env.TRACE_VERBOSE) console.log(label, result.blocks, result.reference);
  result.blocks.forEach((b, k) => assert.ok(Math.abs(b - result.reference[k]) <= 1e-4 * scale, `${label}: block ${k}: ${b} vs exact ${result.reference[k]}`));
  const sum = result.blocks.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(sum - total) <= 1e-4 * scale, `${label}: trace ${sum} vs exact ${total}`);
}

test.before(async () => {
  await initBackend('cpu');
});

/** Piecewise linear up to the loss (with ce and bce the output activation is folded into the loss). */
const piecewiseLinear = new Set(['linear:mse', 'linear:bce', 'mlpRelu:ce', 'cnnRelu:ce']);

for (const entry of tinyModelCatalog) {
  // Its thresholded ReLU has no ONNX Runtime rule.
  if (entry.name === 'relu6Regressor') continue;
  const losses: LossKind[] = entry.loss === 'mse' ? ['mse', 'bce'] : [entry.loss, 'mse'];
  test(`catalog ${entry.name}: the exact trace equals the float64 Hessian's diagonal sum per weight tensor, or is refused with a reason`, { skip: !available }, async () => {
    for (const loss of losses) {
      const result = await exactOrReason(entry.build(SEED), entry.name, loss, SEED);
      const label = `${entry.name} [${loss}]`;
      if (typeof result === 'string') {
        assert.ok(!piecewiseLinear.has(`${entry.name}:${loss}`), `${label}: refused (${result}) though piecewise linear`);
        assert.match(result, /not piecewise linear|both depend on weight/);
      } else {
        assertMatches(label, result);
      }
    }
  });
}

test('strided and dilated convolutions with biases and max pooling: exact trace per weight tensor', { skip: !available }, async () => {
  const b = new TinyModelBuilder([49], 5);
  b.layer('Reshape', { target_shape: [7, 7, 1] });
  b.conv2d(1, 3, [3, 3], { activation: 'relu', padding: 'same', strides: [2, 2] });
  b.conv2d(3, 2, [2, 2], { activation: 'relu', padding: 'valid', dilation_rate: [2, 2] });
  b.layer('Flatten');
  b.dense(8, 3, 'softmax');
  const result = await exactOrReason(b.build(), 'stridedDilatedCnn', 'ce', 3);
  assert.ok(typeof result !== 'string', `refused: ${result}`);
  assertMatches('strided and dilated CNN', result);
});

test('grouped convolutions (2 groups, then 4 groups of one channel) with ReLU and global average pooling: exact trace per weight tensor', { skip: !available }, async () => {
  const b = new TinyModelBuilder([4, 4, 4], 221);
  b.layer('Conv2D', { filters: 4, kernel_size: [3, 3], padding: 'same', groups: 2, activation: 'relu', use_bias: true }, {
    weights: [
      { role: 'kernel', shape: [3, 3, 2, 4], init: fanInInit(18) },
      { role: 'bias', shape: [4], init: { center: 0, halfWidth: 0.2 } },
    ],
  });
  b.layer('Conv2D', { filters: 8, kernel_size: [2, 2], padding: 'valid', groups: 4, activation: 'relu', use_bias: true }, {
    weights: [
      { role: 'kernel', shape: [2, 2, 1, 8], init: fanInInit(4) },
      { role: 'bias', shape: [8], init: { center: 0, halfWidth: 0.2 } },
    ],
  });
  b.layer('GlobalAveragePooling2D');
  b.dense(8, 3, 'softmax');
  const result = await exactOrReason(b.build(), 'groupedCnn', 'ce', 6);
  assert.ok(typeof result !== 'string', `refused: ${result}`);
  assertMatches('grouped CNN', result);
});

test('a residual network (two ReLU branches added, then concatenated with the skip): exact trace per weight tensor', { skip: !available }, async () => {
  const b = new TinyModelBuilder([4], 9);
  const stem = b.dense(4, 3, 'relu');
  const left = b.dense(3, 3, 'relu', { inbound: [stem] });
  const right = b.dense(3, 3, 'linear', { inbound: [stem] });
  const sum = b.layer('Add', {}, { inbound: [left, right, stem] });
  const joined = b.layer('Concatenate', { axis: -1 }, { inbound: [sum, stem] });
  b.dense(6, 3, 'softmax', { inbound: [joined] });
  const result = await exactOrReason(b.build(), 'residualRelu', 'ce', 4);
  assert.ok(typeof result !== 'string', `refused: ${result}`);
  assertMatches('residual ReLU network', result);
});

test('networks whose Hessian diagonal is not the Gauss–Newton matrix\'s are refused, naming why', { skip: !available }, async () => {
  const tanh = await exactOrReason(tinyModelCatalog.find((e) => e.name === 'mlpTanh')!.build(SEED), 'mlpTanh', 'ce', SEED);
  assert.equal(typeof tanh, 'string');
  assert.match(tanh as string, /Tanh.*not piecewise linear/);
});
