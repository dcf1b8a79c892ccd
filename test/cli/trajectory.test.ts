import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeExampleRun } from '../../scripts/exampleRun';
import { isTrajectoryReport, type TrajectoryReport } from '../../src/protocol/trajectory';

// Runs the built CLI (npm test builds dist/ first) as a user would.
const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

test('flatness trajectory: a folder of checkpoints → the series, τ table, JSON and CSV', async () => {
  const folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-trajectory-')), 'run');
  await writeExampleRun(folder, { steps: 40, checkpointEvery: 20 });
  const json = path.join(folder, '..', 'trajectory.json');
  const csv = path.join(folder, '..', 'trajectory.csv');
  const args = [folder, '--data', path.join(folder, 'train.csv'), '--test-data', path.join(folder, 'test.csv'), '--metrics', 'loss,eigenvalues', '--top-k', '1', '--learning-rate', '0.25', '--every', '2', '--quiet', '--json', json, '--csv', csv];
  const first = await run(['trajectory', ...args]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /step_\{step\}\/model\.json: 3 checkpoints by step/);
  assert.match(first.stdout, /η = 0\.25 \(option\): 2\/η = 8\.000/);
  assert.match(first.stdout, /Kendall's τ/);
  const trajectory = JSON.parse(fs.readFileSync(json, 'utf8')) as TrajectoryReport;
  assert.ok(isTrajectoryReport(trajectory));
  assert.deepEqual(trajectory.points.map((p) => [p.step, p.status]), [[0, 'done'], [20, 'done'], [40, 'done']]);
  assert.ok(trajectory.points.every((p) => p.report && p.gap && typeof p.measures?.lambdaMax === 'number'));
  assert.equal(fs.readFileSync(csv, 'utf8').trim().split('\n').length, 4);
  const second = await run(['trajectory', ...args]);
  assert.equal(second.code, 0, second.stderr);
  assert.deepEqual((JSON.parse(fs.readFileSync(json, 'utf8')) as TrajectoryReport).points.map((p) => p.measures), trajectory.points.map((p) => p.measures));
});

test('flatness trajectory: usage errors exit with status 2, a folder without a run with 1', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-trajectory-'));
  const cases: [string[], RegExp][] = [
    [['trajectory'], /name a folder of checkpoints/],
    [['trajectory', folder, '--every', '0'], /--every must be a positive integer/],
    [['trajectory', folder, '--learning-rate', '-1'], /--learning-rate must be a positive number/],
    [['trajectory', folder, '--test-data', path.join(folder, 'none.csv')], /--test-data .*none\.csv: no such file/],
    [['trajectory', folder, '--metrics', 'curvature'], /unknown metric curvature/],
  ];
  for (const [args, message] of cases) {
    const result = await run(args);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
  }
  const empty = await run(['trajectory', folder]);
  assert.equal(empty.code, 1);
  assert.match(empty.stderr, /no training run found: 0 checkpoint files/);
});
