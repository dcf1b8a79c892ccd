/**
 * analyzeFile without a data set: the data-free mode (Gaussian probe inputs labelled with the model's
 * own predictions), on real TF.js Layers files written by the test fixture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { analyzeFile, defaultProbeSamples } from '../../src/engine/analysis/analyzeFile';
import type { AnalysisRequest } from '../../src/protocol/requests';
import { initBackend } from '../../src/engine/model/backend';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';

const small: AnalysisRequest['settings'] = {
  eigenvalues: { count: 1, maxSteps: 6, tolerance: 1e-3 },
  trace: { samples: 12, tolerance: 0.01, blockSamples: 3, maxBlocksForBlockProbes: 40 },
};

async function withModel<T>(fixture: Parameters<typeof writeLayersModel>[1], run: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flatness-datafree-'));
  try {
    const written = await writeLayersModel(dir, fixture);
    return await run(written.path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('data-free analysis of a classifier: flagged, described, finite; the default probe count is used', async () => {
  await initBackend();
  await withModel(mlpModel([4, 8, 3], 5), async (path) => {
    const before = tf.memory().numTensors;
    const report = await analyzeFile({ checkpoint: path, metrics: ['loss', 'eigenvalues', 'trace'], settings: small, seed: 1 });
    assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
    assert.equal(report.data.dataFree, true);
    assert.match(report.data.source, /data-free/);
    assert.equal(report.data.samples, defaultProbeSamples);
    assert.equal(report.data.loss, 'ce');
    assert.equal(report.data.lossFrom, 'training config');
    assert.ok(Number.isFinite(report.loss) && report.loss > 0, `loss ${report.loss}`);
    // Labels are the model's own argmax: every probe is classified "correctly".
    assert.equal(report.accuracy, 1);
    assert.ok(Number.isFinite(report.gradientNorm));
    assert.ok(report.hessian.topEigenvalues!.every(Number.isFinite));
    assert.ok(Number.isFinite(report.hessian.trace!.estimate));
    assert.equal(report.checkpoint.parameters, 4 * 8 + 8 + 8 * 3 + 3);
  });
});

test('data-free analysis honours request.samples and request.probeSamples', async () => {
  await initBackend();
  await withModel(mlpModel([4, 8, 3], 6), async (path) => {
    const first10 = await analyzeFile({ checkpoint: path, samples: 10, metrics: ['loss'], seed: 2 });
    assert.equal(first10.data.samples, 10);
    assert.equal(first10.data.dataFree, true);
    const probes = await analyzeFile({ checkpoint: path, probeSamples: 37, metrics: ['loss'], seed: 2 });
    assert.equal(probes.data.samples, 37);
    assert.match(probes.data.source, /\b37\b/, 'the source names the probe count');
    const both = await analyzeFile({ checkpoint: path, probeSamples: 37, samples: 12, metrics: ['loss'], seed: 2 });
    assert.equal(both.data.samples, 12);
    // the first 12 of the same 37 probes
    assert.ok(Number.isFinite(both.loss));
    // seeded: the same request gives the same loss, another seed other probes
    const again = await analyzeFile({ checkpoint: path, probeSamples: 37, metrics: ['loss'], seed: 2 });
    assert.equal(again.loss, probes.loss);
    const other = await analyzeFile({ checkpoint: path, probeSamples: 37, metrics: ['loss'], seed: 3 });
    assert.notEqual(other.loss, probes.loss);
  });
});

test('data-free analysis of a regressor (mse): labels are the outputs themselves, so loss and gradient are 0', async () => {
  await initBackend();
  const fixture = mlpModel([3, 5, 2], 7);
  const layers = (fixture.topology.config as { layers: { config: Record<string, unknown> }[] }).layers;
  layers[layers.length - 1].config.activation = 'linear';
  await withModel({ ...fixture, trainingConfig: { loss: 'mean_squared_error' } }, async (path) => {
    const report = await analyzeFile({ checkpoint: path, samples: 20, metrics: ['loss', 'trace'], settings: small, seed: 4 });
    assert.equal(report.data.dataFree, true);
    assert.equal(report.data.loss, 'mse');
    // The labels are tfjs's outputs; on ONNX Runtime (auto) the loss and gradient see its own float32 rounding of them.
    assert.ok(report.loss <= 1e-12, `loss ${report.loss}`);
    assert.ok(report.gradientNorm <= 1e-6, `gradient norm ${report.gradientNorm}`);
    assert.ok(report.hessian.trace!.estimate > 0, 'the Gauss–Newton curvature is still there');
  });
});

test('data-free with request.samples: the source names the number of probes actually used', async () => {
  await initBackend();
  await withModel(mlpModel([4, 8, 3], 6), async (path) => {
    const report = await analyzeFile({ checkpoint: path, samples: 10, metrics: ['loss'], seed: 2 });
    assert.match(report.data.source, /\b10 Gaussian probe/);
  });
});
