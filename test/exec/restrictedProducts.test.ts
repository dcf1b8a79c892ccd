/**
 * Products restricted to one weight tensor (H_kk v, the R-pass only from that tensor on) equal the
 * tensor's part of the full product of the same direction padded with zeros, on every tiny
 * architecture, for every tensor, with the state reused across batches and weight points.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/engine/data/dataset';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { OnnxObjectiveExecutor } from '../../src/engine/exec/onnxruntime/objectiveExecutor';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { batchTargets } from '../../src/engine/model/loss';
import { randomClassTargets, randomInputs, tinyModelCatalog } from '../reference/tinyModels';
import { relativeError, seededNormals } from '../reference/vectorChecks';

const available = onnxRuntimeAvailable();

test.before(async () => {
  await initBackend('cpu');
});

for (const entry of tinyModelCatalog.filter((e) => e.loss === 'ce')) {
  test(`catalog ${entry.name}: each tensor's restricted products equal its part of the full products`, { skip: !available }, () => {
    const tiny = entry.build(17);
    const network = new NetworkFunction({ path: `<${entry.name}>`, format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } });
    const count = 5;
    const dataset: Dataset = { source: entry.name, count, sampleShape: tiny.model.inputs[0].shape, inputs: randomInputs(tiny.model.inputs[0].shape, count, 3), targets: randomClassTargets(count, Math.max(2, entry.outputWidth), 4) };
    const perSample = dataset.inputs.length / count;
    const batches = [[0, 3], [3, 5]].map(([start, end]) => {
      const targets = batchTargets(dataset.targets, start, end - start, network.outputUnits, 'ce');
      const values = targets.matrix.dataSync() as Float32Array;
      targets.matrix.dispose();
      return { inputs: dataset.inputs.subarray(start * perSample, end * perSample), targets: values, count: end - start };
    });
    const executor = new OnnxObjectiveExecutor(network, 'ce', batches, count, { threads: 1 });
    try {
      const weights = network.storedParameterValues();
      network.parameters.forEach((p, k) => {
        const directions = [1, 2].map((seed) => Float32Array.from(seededNormals(p.size, 100 * k + seed)));
        const restricted = executor.restrictedHessianVectorProducts(k, directions, weights);
        directions.forEach((v, d) => {
          const padded = network.parameters.map((q, i) => (i === k ? v : new Float32Array(q.size)));
          const [full] = executor.hessianVectorProducts([padded], weights);
          const error = relativeError(restricted[d], Float64Array.from(full[k]));
          assert.ok(Math.hypot(...full[k]) > 0 || Math.hypot(...restricted[d]) === 0, `${entry.name} ${p.name}: zero block`);
          assert.ok(error <= 1e-5 || Math.hypot(...full[k]) === 0, `${entry.name} ${p.name} direction ${d}: restricted vs full ${error}`);
        });
      });
    } finally {
      executor.dispose();
      network.dispose();
    }
  });
}

