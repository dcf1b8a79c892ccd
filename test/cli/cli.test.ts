import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import type { FlatnessReport } from '../../src/protocol/report';

// Runs the built CLI (npm test builds dist/ first) as a user would.
const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

function sha(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

const fast = ['--metrics', 'loss,eigenvalues,trace', '--top-k', '2', '--trace-samples', '4', '--quiet'];

async function tinyModel(): Promise<{ dir: string; model: string; data: string }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-cli-'));
  const written = await writeLayersModel(dir, mlpModel([4, 6, 3], 5));
  const rows = Array.from({ length: 12 }, (_, i) => [i % 5, (i * 7) % 3, 0.5 * i, 1 - i / 10, i % 3].join(','));
  const data = path.join(dir, 'data.csv');
  fs.writeFileSync(data, rows.join('\n') + '\n');
  return { dir, model: written.path, data };
}

test('help and version', async () => {
  const help = await run(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /flatness analyze <checkpoint>/);
  assert.match(help.stdout, /--force/);
  assert.match(help.stdout, /Limits \(README, "Safety and limits"\):\n\s+4 GiB  bytes read from one file/);
  const version = await run(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')).version);
});

test('usage errors exit with status 2 and say what is wrong', async () => {
  const cases: [string[], RegExp][] = [
    [['analyze'], /name a checkpoint/],
    [['analyze', 'a.json', '--metrics', 'loss,curvature'], /unknown metric curvature/],
    [['analyze', 'a.json', '--loss', 'hinge'], /--loss must be ce, bce or mse/],
    [['analyze', 'a.json', '--samples', '0'], /--samples must be a positive integer/],
    [['analyze', 'a.json', '--seed=-3'], /--seed must be an integer/],
    [['analyze', 'a.json', '--input-shape', '8,x,3'], /--input-shape takes positive integers/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const result = await run(args);
    assert.equal(result.code, 2, args.join(' '));
    assert.match(result.stderr, message);
  }
});

test('the example analyzes; same seed gives the same report; inputs are never modified', async () => {
  const model = path.join(example, 'model.json');
  const data = path.join(example, 'digits.csv.gz');
  const before = [model, path.join(example, 'model.weights.bin'), data].map(sha);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-cli-'));
  const first = await run(['analyze', model, '--data', data, '--samples', '300', ...fast, '--seed', '3', '--json', path.join(out, 'a.json')]);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /Hessian top eigenvalues/);
  const second = await run(['analyze', model, '--data', data, '--samples', '300', ...fast, '--seed', '3', '--json', path.join(out, 'b.json')]);
  assert.equal(second.code, 0, second.stderr);
  const a = JSON.parse(fs.readFileSync(path.join(out, 'a.json'), 'utf8')) as FlatnessReport;
  const b = JSON.parse(fs.readFileSync(path.join(out, 'b.json'), 'utf8')) as FlatnessReport;
  const measuredRun = (r: FlatnessReport) => ({ ...r, timings: {}, tool: { ...r.tool, peakMemoryBytes: 0 } });
  assert.deepEqual(measuredRun(a), measuredRun(b));
  assert.ok(a.tool.peakMemoryBytes! > 2 ** 20, `peak memory ${a.tool.peakMemoryBytes} bytes`);
  assert.match(first.stdout, /peak memory +\d+ MiB resident/);
  assert.equal(a.data.samples, 300);
  assert.equal(a.checkpoint.format, 'tfjs-layers');
  assert.equal(a.checkpoint.parameters, 64 * 32 + 32 + 32 * 16 + 16 + 16 * 10 + 10);
  assert.equal(a.seed, 3);
  assert.ok(a.hessian.topEigenvalues![0] >= a.hessian.topEigenvalues![1]);
  assert.deepEqual([model, path.join(example, 'model.weights.bin'), data].map(sha), before);
});

test('--json - prints the report on stdout, and --json refuses to overwrite an input', async () => {
  const { model, data } = await tinyModel();
  const result = await run(['analyze', model, '--data', data, ...fast, '--json', '-']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as FlatnessReport;
  assert.equal(report.data.samples, 12);
  assert.equal(report.hessian.topEigenvalues!.length, 2);
  const clobber = await run(['analyze', model, '--data', data, '--json', data]);
  assert.equal(clobber.code, 2);
  assert.match(clobber.stderr, /never writes over its inputs/);
});

test('bad files end in a clear message naming the file, exit status 1', async () => {
  const { dir, model, data } = await tinyModel();
  const missing = await run(['analyze', path.join(dir, 'nope.json')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nope\.json/);
  const shard = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.bin'))!);
  fs.truncateSync(shard, 10);
  const truncated = await run(['analyze', model, '--data', data, ...fast]);
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, new RegExp(path.basename(model).replace('.', '\\.')));
  assert.doesNotMatch(truncated.stderr, /\n\s+at /, 'no stack trace');
  const { model: good } = await tinyModel();
  const wrongWidth = path.join(dir, 'wide.csv');
  fs.writeFileSync(wrongWidth, '1,2,3,4,5,6,0\n1,2,3,4,5,6,1\n');
  const mismatch = await run(['analyze', good, '--data', wrongWidth, ...fast]);
  assert.equal(mismatch.code, 1);
  assert.match(mismatch.stderr, /wide\.csv.*6 values.*takes 4 values/);
  const outOfRange = path.join(dir, 'labels.csv');
  fs.writeFileSync(outOfRange, '1,2,3,4,0\n1,2,3,4,7\n');
  const labels = await run(['analyze', good, '--data', outOfRange, ...fast]);
  assert.equal(labels.code, 1);
  assert.match(labels.stderr, /labels\.csv.*7/);
});

test('data-free mode is used and labelled when no data is given', async () => {
  const { model } = await tinyModel();
  const result = await run(['analyze', model, '--probe-samples', '32', ...fast, '--json', '-']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as FlatnessReport;
  assert.equal(report.data.dataFree, true);
  assert.equal(report.data.samples, 32);
  assert.match(report.data.source, /data-free/);
});
