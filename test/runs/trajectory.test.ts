import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { learningRateField } from '../../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import { kendallTauB } from '../../src/engine/runs/kendallTau';
import { trajectoryCsv } from '../../src/engine/runs/trajectoryCsv';
import { analysisOrder } from '../../src/engine/runs/trajectorySummary';
import type { AnalysisRequest } from '../../src/protocol/requests';
import { findTrainingRun } from '../../src/engine/trajectory/findRun';
import { runTrajectory } from '../../src/engine/trajectory/runTrajectory';
import { writeExampleRun } from '../../scripts/exampleRun';

const settings = { eigenvalues: { count: 2 }, trace: { samples: 4 } };
const request: Omit<AnalysisRequest, 'checkpoint'> = { metrics: ['loss', 'eigenvalues', 'trace', 'invariant'], settings, seed: 3, backend: 'cpu' };

async function exampleRun(): Promise<string> {
  const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-run-')), 'run');
  await writeExampleRun(folder, { steps: 60, checkpointEvery: 20 });
  // Things a run folder holds besides checkpoints.
  fs.writeFileSync(path.join(folder, 'config.json'), '{"lr": 0.3}');
  fs.writeFileSync(path.join(folder, 'log_20.txt'), 'step 20\n');
  return folder;
}

test('analysis order: every N-th first (the last included), then the rest', () => {
  assert.deepEqual(analysisOrder(7, 3), [0, 3, 6, 1, 2, 4, 5]);
  assert.deepEqual(analysisOrder(5, 3), [0, 3, 4, 1, 2]);
  assert.deepEqual(analysisOrder(3, 1), [0, 1, 2]);
});

test('the trajectory of a run equals the per-checkpoint analyses, with the held-out gap and τ over the run', async () => {
  const folder = await exampleRun();
  const { series, others } = await findTrainingRun([folder]);
  assert.deepEqual(others, []);
  assert.equal(series.pattern, 'step_{step}/model.json');
  assert.deepEqual(series.checkpoints.map((c) => c.step), [0, 20, 40, 60]);

  const data = path.join(folder, 'train.csv');
  const testData = path.join(folder, 'test.csv');
  const seen: number[] = [];
  const trajectory = await runTrajectory({ series, request: { ...request, data }, testData, every: 2, onPoint: (t) => seen.push(t.points.filter((p) => p.status === 'done').length) });
  assert.deepEqual(seen, [1, 2, 3, 4]);
  assert.deepEqual(trajectory.learningRate, { value: 0.3, from: 'training config' });
  assert.ok(Math.abs(trajectory.summary.edgeOfStability! - 2 / 0.3) < 1e-12);

  for (const point of trajectory.points) {
    const own = await analyzeFile({ ...request, data, checkpoint: point.checkpoint });
    const held = await analyzeFile({ ...request, data: testData, checkpoint: point.checkpoint, metrics: ['loss'] });
    assert.equal(point.status, 'done');
    assert.equal(point.sha256, own.checkpoint.sha256);
    // Same request and seed: the same probe vectors, so the same numbers to the last bit.
    assert.deepEqual(point.report!.hessian.topEigenvalues, own.hessian.topEigenvalues);
    assert.equal(point.measures!.lambdaMax, own.hessian.topEigenvalues![0]);
    assert.equal(point.measures!.trace, own.hessian.trace!.estimate);
    assert.equal(point.measures!.traceStderr, own.hessian.trace!.stderr);
    assert.equal(point.measures!.minTrace, own.invariant!.minTraceOverLayerScaling!.value);
    assert.equal(point.train!.loss, own.loss);
    assert.equal(point.test!.loss, held.loss);
    assert.equal(point.gap!.loss, held.loss - own.loss);
    assert.equal(point.gap!.accuracy, own.accuracy! - held.accuracy!);
    assert.equal(point.learningRate, 0.3);
  }
  const lambda = trajectory.summary.correlations.find((c) => c.measure === 'lambdaMax')!;
  const lambdas = trajectory.points.map((p) => p.measures!.lambdaMax!);
  assert.equal(lambda.tauLossGap, kendallTauB(lambdas, trajectory.points.map((p) => p.gap!.loss)));
  assert.equal(lambda.tauStep, kendallTauB(lambdas, [0, 20, 40, 60]));
  assert.equal(lambda.invariant, false);
  assert.equal(trajectory.summary.correlations.find((c) => c.measure === 'minTrace')!.invariant, true);
  // The measures not computed have no points, and no τ.
  assert.equal(trajectory.summary.correlations.find((c) => c.measure === 'sharpness')!.points, 0);

  const csv = trajectoryCsv(trajectory).trim().split('\n');
  assert.equal(csv.length, 5);
  assert.equal(Number(csv[2].split(',')[9]), trajectory.points[1].measures!.lambdaMax);

  // A second run reuses unchanged points and recomputes a changed file.
  const sentinel = { ...trajectory, points: trajectory.points.map((p) => ({ ...p, measures: { ...p.measures, lambdaMax: -1 } })) };
  const changed = path.join(folder, 'step_0040', 'model.json');
  const text = fs.readFileSync(changed, 'utf8');
  fs.writeFileSync(changed, text.replace('"generatedBy"', '"note": "edited", "generatedBy"'));
  const again = await runTrajectory({ series, request: { ...request, data }, testData, previous: sentinel });
  assert.deepEqual(again.points.map((p) => p.measures!.lambdaMax === -1), [true, true, false, true]);
  assert.equal(again.points[2].measures!.lambdaMax, trajectory.points[2].measures!.lambdaMax);
  // Only a weights shard changes: the point is analyzed again, since reuse compares all of the checkpoint's files.
  const shard = path.join(folder, 'step_0020', 'model.weights.bin');
  const weights = fs.readFileSync(shard);
  weights.writeFloatLE(weights.readFloatLE(0) + 0.25, 0);
  fs.writeFileSync(shard, weights);
  const afterShard = await runTrajectory({ series, request: { ...request, data }, testData, previous: { ...again, points: again.points.map((p) => ({ ...p, measures: { ...p.measures, lambdaMax: -1 } })) } });
  assert.deepEqual(afterShard.points.map((p) => p.measures!.lambdaMax === -1), [true, false, true, true]);
  assert.equal(afterShard.points[1].sha256, again.points[1].sha256, 'the model.json itself is unchanged');
  assert.notEqual(afterShard.points[1].contentHash, again.points[1].contentHash);
  const reanalyzed = await analyzeFile({ ...request, data, checkpoint: afterShard.points[1].checkpoint });
  assert.deepEqual(afterShard.points[1].report!.hessian.topEigenvalues, reanalyzed.hessian.topEigenvalues);
  // Other settings: nothing reused.
  const reseeded = await runTrajectory({ series, request: { ...request, data, seed: 4, metrics: ['loss'] }, previous: sentinel });
  assert.ok(reseeded.points.every((p) => p.measures!.lambdaMax === undefined));
});

test('a checkpoint that cannot be read is a failed point naming the problem; the others are analyzed', async () => {
  const folder = await exampleRun();
  fs.writeFileSync(path.join(folder, 'step_0020', 'model.weights.bin'), Buffer.alloc(8));
  const { series } = await findTrainingRun([folder]);
  const trajectory = await runTrajectory({ series, request: { ...request, metrics: ['loss'] } });
  assert.deepEqual(trajectory.points.map((p) => p.status), ['done', 'failed', 'done', 'done']);
  assert.match(trajectory.points[1].error!, /model\.weights\.bin|weights/);
  assert.equal(trajectory.summary.failed, 1);
});

test('a folder without a run, a wrong pattern and a missing path say what is wrong', async () => {
  const folder = await exampleRun();
  await assert.rejects(findTrainingRun([path.join(folder, 'step_0020')]), /no training run found: 1 checkpoint file/);
  await assert.rejects(findTrainingRun([folder], 'ckpt-{step}.pt'), /fewer than two checkpoints match the run pattern 'ckpt-\{step\}\.pt'/);
  await assert.rejects(findTrainingRun([path.join(folder, 'nothing')]), /nothing: no such file or folder/);
  const picked = await findTrainingRun([path.join(folder, 'step_0060', 'model.json'), path.join(folder, 'step_0000', 'model.json')]);
  assert.deepEqual(picked.series.checkpoints.map((c) => c.step), [0, 60]);
});

test('the learning rate in a training config: a number (learning_rate or old lr), never a schedule', () => {
  assert.deepEqual(learningRateField({ optimizer_config: { class_name: 'SGD', config: { learning_rate: 0.1 } } }), { trainingLearningRate: 0.1 });
  assert.deepEqual(learningRateField({ optimizer_config: { class_name: 'SGD', config: { lr: 0.02 } } }), { trainingLearningRate: 0.02 });
  assert.deepEqual(learningRateField({ optimizer_config: { class_name: 'Adam', config: { learning_rate: { class_name: 'ExponentialDecay', config: {} } } } }), {});
  assert.deepEqual(learningRateField({ loss: 'mse' }), {});
  assert.deepEqual(learningRateField(undefined), {});
});
