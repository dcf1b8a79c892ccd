import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { readCheckpoint } from '../../src/engine/formats/registry';
import { tfjsLayersFormat } from '../../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import type { Checkpoint } from '../../src/engine/model/spec';
import { FileProblem } from '../../src/protocol/errors';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import type { RescaleRequest } from '../../src/protocol/requests';
import { RescaleRefused } from '../../src/protocol/errors';
import { referenceOutputs } from '../reference/exactHessian';
import { randomClassTargets, randomInputs, TinyModelBuilder, type TinyCheckpoint } from '../reference/tinyModels';

// Rescaled checkpoints are checked against the float64 reference evaluator: the file written by
// Flatness Lens is read back and evaluated independently of the engine that rescaled it.

function mlp(sizes: number[], seed: number, hidden = 'relu'): TinyCheckpoint {
  const b = new TinyModelBuilder([sizes[0]], seed);
  for (let i = 1; i < sizes.length; i++) b.dense(sizes[i - 1], sizes[i], i === sizes.length - 1 ? 'softmax' : hidden);
  return b.build();
}

/** Conv → BatchNorm → LeakyReLU → MaxPool → Conv → Flatten → Dense softmax, with biases. */
function batchNormCnn(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([6, 6, 1], seed);
  b.conv2d(1, 3, [3, 3], { activation: 'linear', padding: 'same' });
  b.layer('BatchNormalization', { axis: -1, epsilon: 0.001 }, {
    weights: [
      { role: 'gamma', shape: [3], init: { center: 1, halfWidth: 0.3 } },
      { role: 'beta', shape: [3], init: { center: 0, halfWidth: 0.2 } },
      { role: 'moving_mean', shape: [3], init: { center: 0, halfWidth: 0.3 }, trainable: false },
      { role: 'moving_variance', shape: [3], init: { center: 1, halfWidth: 0.5 }, trainable: false },
    ],
  });
  b.layer('LeakyReLU', { alpha: 0.1 });
  b.layer('MaxPooling2D', { pool_size: [2, 2] });
  b.conv2d(3, 4, [2, 2], { activation: 'relu', padding: 'valid' });
  b.layer('Flatten');
  b.dense(16, 3, 'softmax');
  return b.build();
}

/** Add of two ReLU branches and a Concatenate of a ReLU and a linear branch. */
function residualConcat(seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([4], seed);
  const first = b.dense(4, 5, 'relu');
  const second = b.dense(5, 5, 'relu');
  const sum = b.layer('Add', {}, { inbound: [first, second] });
  const left = b.dense(5, 3, 'relu', { inbound: [sum] });
  const right = b.dense(5, 2, 'linear', { inbound: [sum] });
  b.layer('Concatenate', { axis: -1 }, { inbound: [left, right] });
  b.dense(5, 3, 'softmax');
  return b.build();
}

async function writeModel(tiny: TinyCheckpoint, samples = 40, seed = 3): Promise<{ dir: string; model: string; data: string; inputs: Float32Array; count: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-rescale-'));
  const checkpoint: Checkpoint = { path: '', format: 'tfjs-layers', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } };
  const [model] = await tfjsLayersFormat.write(checkpoint, path.join(dir, 'model.json'), {});
  const shape = tiny.model.inputs[0].shape;
  const inputs = randomInputs(shape, samples, seed);
  const perSample = inputs.length / samples;
  const labels = randomClassTargets(samples, 3, seed + 1);
  const rows = Array.from({ length: samples }, (_, i) => Array.from(inputs.subarray(i * perSample, (i + 1) * perSample)));
  const data = path.join(dir, 'data.json');
  fs.writeFileSync(data, JSON.stringify({ x: rows, y: Array.from((labels as { classes: Int32Array }).classes) }));
  return { dir, model, data, inputs, count: samples };
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function assertSameFunction(original: string, rescaled: string, inputs: Float32Array, count: number): Promise<void> {
  const a = await readCheckpoint(original);
  const b = await readCheckpoint(rescaled);
  const fa = referenceOutputs(a.model, a.weights, inputs, count);
  const fb = referenceOutputs(b.model, b.weights, inputs, count);
  const scale = Math.max(...Array.from(fa, Math.abs));
  const deviation = Math.max(...Array.from(fa, (v, i) => Math.abs(v - fb[i])));
  assert.ok(deviation / scale <= 1e-5, `outputs differ by ${deviation / scale}`);
  assert.ok(b.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - a.weights[i].values[j]) > 1e-3 * Math.abs(v))), 'the weights did change');
}

const architectures: [string, () => TinyCheckpoint][] = [
  ['MLP with biases', () => mlp([4, 6, 5, 3], 11)],
  ['CNN with BatchNorm, LeakyReLU, MaxPool', () => batchNormCnn(12)],
  ['Add and Concatenate', () => residualConcat(13)],
];

for (const [name, build] of architectures) {
  for (const request of [{ mode: 'flatten' }, { mode: 'sharpen', factor: 100 }, { mode: 'flatten', granularity: 'unit' }] as Partial<RescaleRequest>[]) {
    test(`${name}: ${request.mode} (${request.granularity ?? 'layer'}) writes a checkpoint that reloads and computes the same outputs`, async () => {
      const { model, data, inputs, count } = await writeModel(build());
      const before = sha(model);
      const plan = await planRescale({ checkpoint: model, data, mode: 'flatten', ...request } as RescaleRequest);
      const [written] = await writeRescaled(plan);
      assert.equal(sha(model), before, 'the original is untouched');
      assert.match(path.basename(written), request.mode === 'flatten' ? /^model\.flat\.json$/ : /^model\.sharp-x100\.json$/);
      assert.ok(plan.maxOutputDeviation <= 1e-5);
      await assertSameFunction(model, written, inputs, count);
      if (request.mode === 'flatten') assert.ok(plan.after.trace < plan.before.trace, `${plan.after.trace} < ${plan.before.trace}`);
      else assert.ok(plan.after.trace >= 100 * plan.before.trace * (1 - 1e-6), `${plan.after.trace} ≥ 100 × ${plan.before.trace}`);
      const provenance = JSON.parse(fs.readFileSync(written, 'utf8')).flatnessLens;
      assert.equal(provenance.source.sha256, before);
      assert.equal(provenance.mode, request.mode);
    });
  }
}

test('per-layer flatten reaches the predicted minimum, equals the analysis invariant, and is idempotent', async () => {
  const { model, data } = await writeModel(mlp([5, 8, 6, 3], 21), 60);
  const plan = await planRescale({ checkpoint: model, data, mode: 'flatten', seed: 4 });
  assert.ok(Math.abs(plan.after.trace - plan.predicted.trace!) <= 0.02 * plan.predicted.trace!, `${plan.after.trace} vs predicted ${plan.predicted.trace}`);
  const report = await analyzeFile({ checkpoint: model, data, seed: 4, metrics: ['invariant'] });
  const invariant = report.invariant!.minTraceOverLayerScaling!.value!;
  assert.ok(Math.abs(plan.after.trace - invariant) <= 0.02 * invariant, `${plan.after.trace} vs invariant ${invariant}`);
  assert.ok(plan.factors.some((f) => Math.abs(Math.log(f.alpha!)) > 0.05), 'the scaling moved');
  const [written] = await writeRescaled(plan);
  const again = await planRescale({ checkpoint: written, data, mode: 'flatten', seed: 4 });
  for (const f of again.factors) assert.ok(Math.abs(Math.log(f.alpha!)) < 0.01, `${f.layer}: α = ${f.alpha}`);
  assert.ok(Math.abs(again.after.trace - again.before.trace) <= 0.01 * again.before.trace);
});

test('sharpen 100× multiplies the trace by at least 100 and raises the top eigenvalue (Theorem 4)', async () => {
  const { model, data } = await writeModel(mlp([5, 8, 6, 3], 22), 60);
  const plan = await planRescale({ checkpoint: model, data, mode: 'sharpen', factor: 100 });
  assert.ok(plan.after.trace >= 100 * plan.before.trace * (1 - 1e-6));
  assert.ok(plan.after.topEigenvalue > 10 * plan.before.topEigenvalue, `${plan.after.topEigenvalue} vs ${plan.before.topEigenvalue}`);
  const lambda = await planRescale({ checkpoint: model, data, mode: 'sharpen', factor: 20, objective: 'lambda-max' });
  assert.ok(lambda.after.topEigenvalue >= 20 * lambda.before.topEigenvalue * 0.99, `${lambda.after.topEigenvalue} vs ${lambda.before.topEigenvalue}`);
});

test('--alpha reproduces the paper by hand: trace = Σ Tr H_kk / α_k² with biases by the running product', async () => {
  const { model, data } = await writeModel(mlp([5, 8, 6, 3], 23), 60);
  const plan = await planRescale({ checkpoint: model, data, mode: 'alpha', alphas: [4, 0.5, 0.5], seed: 1 });
  assert.deepEqual(plan.factors.map((f) => Number(f.alpha!.toFixed(6))), [4, 0.5, 0.5]);
  assert.ok(Math.abs(plan.after.trace - plan.predicted.trace!) <= 0.02 * plan.after.trace);
  await assert.rejects(planRescale({ checkpoint: model, data, mode: 'alpha', alphas: [4, 0.5, 0.6] }), /scale must return to 1 at 'dense_3' \(activation 'softmax' is not homogeneous\); the product of the α along each chain up to such a layer must be 1/);
  await assert.rejects(planRescale({ checkpoint: model, data, mode: 'alpha', alphas: [4, 0.25] }), /needs 3 factors, one per layer \(dense_1, dense_2, dense_3\)/);
});

test('networks without the symmetry are refused with the reason, and nothing is written', async () => {
  const cases: [TinyCheckpoint, RegExp][] = [
    [mlp([4, 5, 3], 31, 'tanh'), /'dense_1'.*tanh.*not homogeneous/],
    [mlp([4, 5, 3], 32, 'relu6'), /'dense_1'.*relu6.*not homogeneous/],
    [mlp([4, 3], 33), /no rescaling keeps this network's function/],
  ];
  for (const [tiny, reason] of cases) {
    const { dir, model, data } = await writeModel(tiny);
    const files = fs.readdirSync(dir).sort();
    await assert.rejects(planRescale({ checkpoint: model, data, mode: 'flatten' }), (e: unknown) => e instanceof RescaleRefused && reason.test(e.message) && e.message.includes(model));
    assert.deepEqual(fs.readdirSync(dir).sort(), files);
  }
});

test('factors that break the function in float32 are refused with the measured deviation', async () => {
  const { dir, model, data } = await writeModel(mlp([4, 6, 6, 5, 3], 41));
  const files = fs.readdirSync(dir).sort();
  // the second layer's activations underflow to zero (1e-60) before the third layer could undo it
  await assert.rejects(planRescale({ checkpoint: model, data, mode: 'alpha', alphas: [1e-30, 1e-30, 1e30, 1e30] }), /outputs differ by [0-9.e+-]+ .*float32/);
  await assert.rejects(planRescale({ checkpoint: model, data, mode: 'alpha', alphas: [1e-40, 1e40, 1, 1] }), /float32/);
  assert.deepEqual(fs.readdirSync(dir).sort(), files);
});

test('names never clash, an unwritable target leaves no partial file, the original is never a target', async () => {
  const { dir, model, data } = await writeModel(mlp([4, 6, 3], 51));
  const plan = await planRescale({ checkpoint: model, data, mode: 'flatten' });
  const [first] = await writeRescaled(plan);
  const [second] = await writeRescaled(plan);
  assert.equal(path.basename(first), 'model.flat.json');
  assert.equal(path.basename(second), 'model.flat-2.json');
  fs.writeFileSync(path.join(dir, 'blocker'), 'a file, not a folder');
  const before = fs.readdirSync(dir).sort();
  await assert.rejects(writeRescaled(plan, path.join(dir, 'blocker', 'out.json')), FileProblem);
  await assert.rejects(writeRescaled(plan, model), /never overwrites/);
  await assert.rejects(writeRescaled(plan, first), /already exists/);
  assert.deepEqual(fs.readdirSync(dir).sort(), before);
});

test('a rescaled file analyzes like any other, and the data-free mode rescales too', async () => {
  const { model, inputs, count } = await writeModel(mlp([4, 6, 3], 61));
  const plan = await planRescale({ checkpoint: model, mode: 'sharpen', factor: 10, probeSamples: 32 });
  assert.equal(plan.data.dataFree, true);
  const [written] = await writeRescaled(plan);
  await assertSameFunction(model, written, inputs, count);
  const report = await analyzeFile({ checkpoint: written, metrics: ['loss', 'trace'], probeSamples: 32 });
  assert.ok(Number.isFinite(report.hessian.trace!.estimate));
});
