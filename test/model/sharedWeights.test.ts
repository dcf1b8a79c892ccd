/**
 * One weight tensor read by several layers (ONNX initializers that feed several nodes, e.g. the
 * equal tensors torch.onnx merges) is one parameter: its gradient is the sum of the gradients of its
 * uses and its Hessian block the sum of all blocks between its uses. Checked against the float64
 * hyper-dual reference on the same network with the uses untied: with P copying the tied parameters
 * into the untied ones, g = Pᵀ g_untied and H v = Pᵀ H_untied P v.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint, WeightTensor } from '../../src/engine/model/spec';
import { exactGradient, exactHessianVectorProduct } from '../reference/exactHessian';
import { TinyModelBuilder, randomClassTargets, randomInputs, seededUniform } from '../reference/tinyModels';
import { relativeError } from '../reference/vectorChecks';

before(() => initBackend());

test('a kernel shared by two Dense layers: gradient and Hessian-vector products are the sums over its uses (float64 reference)', () => {
  const b = new TinyModelBuilder([4], 11);
  const first = b.dense(4, 4, 'tanh');
  const second = b.dense(4, 4, 'tanh');
  b.dense(4, 3, 'softmax');
  const built = b.build();
  const firstKernel = built.weights.find((w) => w.layer === first && w.role === 'kernel')!;
  // The untied network computes the same function: its second kernel holds the first one's values.
  const untied: WeightTensor[] = built.weights.map((w) => (w.layer === second && w.role === 'kernel' ? { ...w, values: firstKernel.values } : w));
  const tied: WeightTensor[] = untied.filter((w) => !(w.layer === second && w.role === 'kernel')).map((w) => (w === firstKernel ? { ...w, alsoUsedBy: [{ layer: second, role: 'kernel' }] } : w));

  // Untied parameter index → tied parameter index, both in weight order.
  const tiedOffsets = new Map<string, number>();
  let offset = 0;
  for (const w of tied) {
    tiedOffsets.set(w.name, offset);
    offset += w.values.length;
  }
  const tiedCount = offset;
  const copyOf: number[] = [];
  for (const w of untied) {
    const source = w.layer === second && w.role === 'kernel' ? firstKernel.name : w.name;
    for (let k = 0; k < w.values.length; k++) copyOf.push(tiedOffsets.get(source)! + k);
  }
  const pullBack = (untiedVector: Float64Array) => {
    const result = new Float64Array(tiedCount);
    untiedVector.forEach((value, u) => (result[copyOf[u]] += value));
    return result;
  };

  const count = 6;
  const inputs = randomInputs([4], count, 5);
  const targets = randomClassTargets(count, 3, 6);
  const checkpoint: Checkpoint = { path: 'shared-kernel', format: 'test', model: built.model, weights: tied, notes: [], source: { kind: 'none' } };
  const network = new NetworkFunction(checkpoint);
  const objective = new Objective(network, { source: 'random', count, sampleShape: [4], inputs, targets }, 'ce');
  try {
    assert.equal(network.parameterCount, tiedCount);
    assert.equal(network.parameterCount, untied.reduce((n, w) => n + w.values.length, 0) - 16, 'the shared kernel is counted once');

    const { gradient } = objective.gradient();
    const reference = exactGradient(built.model, untied, inputs, count, targets, 'ce');
    const expectedGradient = pullBack(reference.gradient);
    assert.ok(relativeError(toFlat(gradient), expectedGradient) < 1e-5, `gradient: relative error ${relativeError(toFlat(gradient), expectedGradient)}`);
    disposeVector(gradient);

    const uniform = seededUniform(9);
    const v = Float32Array.from({ length: tiedCount }, () => 2 * uniform() - 1);
    const hv = objective.hessianVectorProduct(fromFlat(v, network.parameters));
    const engine = toFlat(hv);
    disposeVector(hv);
    const spread = Float64Array.from(copyOf, (t) => v[t]);
    const untiedProduct = exactHessianVectorProduct(built.model, untied, inputs, count, targets, 'ce', spread);
    const expected = pullBack(untiedProduct);
    const error = relativeError(engine, expected);
    assert.ok(error < 1e-4, `Hv: relative error ${error}`);

    // The cross-use blocks matter here: leaving them out (one use's own block only) is far off.
    const ownBlockOnly = Float64Array.from(expected);
    const firstOffset = tiedOffsets.get(firstKernel.name)!;
    let secondStart = 0;
    for (const w of untied) {
      if (w.layer === second && w.role === 'kernel') break;
      secondStart += w.values.length;
    }
    for (let k = 0; k < 16; k++) ownBlockOnly[firstOffset + k] -= untiedProduct[secondStart + k];
    assert.ok(relativeError(engine, ownBlockOnly) > 1e-2, 'the second use contributes to the shared block');
  } finally {
    objective.dispose();
    network.dispose();
  }
});
