import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectTrainingRuns, trainingRunFromPattern } from '../../src/engine/runs/seriesDetection';

const steps = (run: { checkpoints: readonly { step: number }[] }) => run.checkpoints.map((c) => c.step);
const paths = (run: { checkpoints: readonly { path: string }[] }) => run.checkpoints.map((c) => c.path);

test('zero-padded and unpadded numbers order numerically, not as text', () => {
  const files = ['ckpt-10.pt', 'ckpt-9.pt', 'ckpt-100.pt', 'ckpt-0.pt'];
  const [run, ...rest] = detectTrainingRuns('/r', files);
  assert.equal(rest.length, 0);
  assert.deepEqual(steps(run), [0, 9, 10, 100]);
  assert.equal(run.pattern, 'ckpt-{step}.pt');
  assert.equal(run.counts, 'step');
  const padded = detectTrainingRuns('/r', ['epoch_010/model.json', 'epoch_002/model.json', 'epoch_1000/model.json', 'epoch_001/model.json'])[0];
  assert.deepEqual(paths(padded), ['epoch_001/model.json', 'epoch_002/model.json', 'epoch_010/model.json', 'epoch_1000/model.json']);
  assert.equal(padded.pattern, 'epoch_{step}/model.json');
  assert.equal(padded.counts, 'epoch');
});

test('latest/best/final aliases are listed apart, not placed in the series', () => {
  const files = ['runs/a/ckpt_200.safetensors', 'runs/a/ckpt_100.safetensors', 'runs/a/latest.safetensors', 'runs/a/model_best.safetensors', 'runs/a/best_epoch_7.safetensors', 'runs/a/ckpt_300.safetensors'];
  const runs = detectTrainingRuns('/r', files);
  assert.equal(runs.length, 1);
  assert.deepEqual(steps(runs[0]), [100, 200, 300]);
  assert.deepEqual(runs[0].aliases, ['runs/a/best_epoch_7.safetensors', 'runs/a/latest.safetensors', 'runs/a/model_best.safetensors']);
  const folders = detectTrainingRuns('/r', ['checkpoint-500/model.safetensors', 'checkpoint-1000/model.safetensors', 'best/model.safetensors']);
  assert.deepEqual(steps(folders[0]), [500, 1000]);
  assert.deepEqual(folders[0].aliases, ['best/model.safetensors']);
});

test('mixed formats: the same steps saved as .pt and .onnx are two runs; lone files are none', () => {
  const files = ['step_100.pt', 'step_200.pt', 'step_300.pt', 'step_100.onnx', 'step_300.onnx', 'model.onnx', 'export_7.h5'];
  const runs = detectTrainingRuns('/r', files);
  assert.deepEqual(runs.map((r) => r.pattern), ['step_{step}.onnx', 'step_{step}.pt']);
  assert.deepEqual(steps(runs[0]), [100, 300]);
  assert.deepEqual(steps(runs[1]), [100, 200, 300]);
});

test('the step word wins over other numbers; numbers that vary per file (a metric) are wildcards', () => {
  const files = ['epoch03-val_loss0.53.keras', 'epoch01-val_loss0.91.keras', 'epoch02-val_loss0.66.keras', 'epoch10-val_loss0.41.keras'];
  const [run] = detectTrainingRuns('/r', files);
  assert.deepEqual(steps(run), [1, 2, 3, 10]);
  assert.equal(run.pattern, 'epoch{step}-val_loss0.*.keras');
  const both = detectTrainingRuns('/r', ['e1_step1000.pt', 'e2_step2000.pt', 'e3_step3000.pt']);
  assert.deepEqual(steps(both[0]), [1000, 2000, 3000]);
  assert.equal(both[0].counts, 'step');
});

test('runs of several seeds in one tree are told apart', () => {
  const files = ['seed1/ckpt_100.npz', 'seed1/ckpt_200.npz', 'seed2/ckpt_100.npz', 'seed2/ckpt_200.npz', 'seed2/ckpt_300.npz'];
  const runs = detectTrainingRuns('/r', files);
  assert.deepEqual(runs.map((r) => [r.pattern, steps(r)]), [['seed1/ckpt_{step}.npz', [100, 200]], ['seed2/ckpt_{step}.npz', [100, 200, 300]]]);
});

test('a constant number in the name (a model version) is kept, not read as the step', () => {
  const [run] = detectTrainingRuns('/r', ['resnet18_v2_it5000.pth', 'resnet18_v2_it15000.pth', 'resnet18_v2_it10000.pth']);
  assert.equal(run.pattern, 'resnet18_v2_it{step}.pth');
  assert.deepEqual(steps(run), [5000, 10000, 15000]);
});

test('a user pattern picks the run when the guess is wrong', () => {
  const files = ['a/w_1_3.npz', 'a/w_2_1.npz', 'a/w_3_2.npz', 'a/other.npz'];
  // Two fields vary alike; the guess takes the later one, the pattern says it is the first.
  assert.deepEqual(steps(detectTrainingRuns('/r', files)[0]), [1, 2, 3]);
  const run = trainingRunFromPattern('/r', files, 'a/w_*_{step}.npz')!;
  assert.deepEqual(paths(run), ['a/w_2_1.npz', 'a/w_3_2.npz', 'a/w_1_3.npz']);
  const deep = trainingRunFromPattern('/r', ['x/y/ck5.pt', 'x/ck7.pt', 'ck9.pt'], '**ck{step}.pt')!;
  assert.deepEqual(steps(deep), [5, 7, 9]);
  assert.equal(trainingRunFromPattern('/r', files, 'b/w_{step}.npz'), undefined);
  assert.throws(() => trainingRunFromPattern('/r', files, 'a/w_*.npz'), /exactly one \{step\}/);
});

test('files without numbers, or a single numbered file, make no run', () => {
  assert.deepEqual(detectTrainingRuns('/r', ['model.onnx', 'latest.pt', 'best.pt']), []);
  assert.deepEqual(detectTrainingRuns('/r', ['ckpt_5.pt', 'model.onnx']), []);
  assert.deepEqual(detectTrainingRuns('/r', ['ckpt_5.pt', 'copy/ckpt_5.pt']), []);
});
