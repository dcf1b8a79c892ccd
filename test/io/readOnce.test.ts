import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { encodeFloat32Npy } from '../../src/engine/formats/weights/npzWeights';
import type { FlatnessReport } from '../../src/protocol/report';
import type { AnalysisRequest } from '../../src/protocol/requests';
import { missingPythonModules, PYTHON } from '../fixtures/python';
import { mlpModel, seededValues, writeLayersModel } from '../fixtures/tfjsLayersFixture';

// Counts, in the built CLI's own process, every open of a file for reading and every copy of one:
// through node:fs (sync, callback and promise forms; read streams open through fs.open) and
// h5wasm's host file access, which goes through fs.openSync too.
const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
const fixtures = join(__dirname, '..', 'fixtures');

const openCounter = `
const fs = require('node:fs');
const path = require('node:path');
const counts = {};
const writeFlags = fs.constants.O_WRONLY | fs.constants.O_RDWR;
function note(file, flags) {
  if (typeof file !== 'string') return;
  if (typeof flags === 'string' && flags !== 'r' && flags !== 'rs') return;
  if (typeof flags === 'number' && (flags & writeFlags) !== 0) return;
  const key = path.resolve(file);
  counts[key] = (counts[key] || 0) + 1;
}
const wrap = (owner, name) => {
  const original = owner[name];
  owner[name] = function (file, flags, ...rest) {
    note(file, typeof flags === 'function' || (flags && typeof flags === 'object') ? (flags && flags.flag) : flags);
    return original.call(this, file, flags, ...rest);
  };
};
wrap(fs, 'open');
wrap(fs, 'openSync');
wrap(fs, 'readFile');
wrap(fs, 'readFileSync');
wrap(fs.promises, 'open');
wrap(fs.promises, 'readFile');
// A copy reads its source (its second argument is a mode, not open flags).
const wrapCopy = (owner, name) => {
  const original = owner[name];
  owner[name] = function (source, ...rest) {
    note(source, 'r');
    return original.call(this, source, ...rest);
  };
};
wrapCopy(fs, 'copyFile');
wrapCopy(fs, 'copyFileSync');
wrapCopy(fs.promises, 'copyFile');
// The command line may restart itself (src/engine/exec/reusingAllocator.ts), and both processes
// load this counter: each adds its counts to the file's.
const write = fs.writeFileSync;
const read = fs.readFileSync;
process.on('exit', () => {
  const file = process.env.FLATNESS_TEST_OPEN_COUNTS;
  const total = fs.existsSync(file) ? JSON.parse(read(file, 'utf8')) : {};
  for (const [key, n] of Object.entries(counts)) total[key] = (total[key] || 0) + n;
  write(file, JSON.stringify(total));
});
`;

function freshDir(): string {
  return mkdtempSync(join(tmpdir(), 'flatness-read-once-'));
}

interface CountedRun {
  readonly code: number;
  readonly stderr: string;
  readonly report?: FlatnessReport;
  /** Opens for reading, by absolute path, of the files in the job's folder. */
  readonly opens: Record<string, number>;
}

function analyzeCounting(dir: string, args: string[]): Promise<CountedRun> {
  return cliCounting(dir, ['analyze', ...args, '--metrics', 'loss']);
}

function cliCounting(dir: string, args: string[]): Promise<CountedRun> {
  const work = freshDir();
  const counter = join(work, 'count-opens.cjs');
  const countsFile = join(work, 'counts.json');
  const reportFile = join(work, 'report.json');
  writeFileSync(counter, openCounter);
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', counter, cli, ...args, '--json', reportFile, '--quiet'],
      { env: { ...process.env, FLATNESS_TEST_OPEN_COUNTS: countsFile }, maxBuffer: 16 << 20 },
      (error, _stdout, stderr) => {
        const all = JSON.parse(readFileSync(countsFile, 'utf8')) as Record<string, number>;
        const opens = Object.fromEntries(Object.entries(all).filter(([file]) => file.startsWith(dir + '/')));
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stderr, opens, report: code === 0 ? (JSON.parse(readFileSync(reportFile, 'utf8')) as FlatnessReport) : undefined });
      },
    );
  });
}

function sha256Of(file: string): string {
  return crypto.createHash('sha256').update(readFileSync(file)).digest('hex');
}

/**
 * Runs the analysis in the CLI, counting opens; every file of the job is opened exactly once, and
 * the loss and the checkpoint's hash are those of an analysis in this process (outside a job,
 * where nothing is kept and every reader reads the disk itself) and of `sha256sum`.
 */
async function assertReadOnce(dir: string, request: AnalysisRequest, args: string[], inputs: readonly string[]): Promise<void> {
  const run = await analyzeCounting(dir, [request.checkpoint, ...args]);
  assert.equal(run.code, 0, run.stderr);
  const expected = Object.fromEntries(inputs.map((file) => [file, 1]));
  assert.deepEqual(run.opens, expected, `opens for reading of the files in ${dir}`);
  const direct = await analyzeFile({ ...request, metrics: ['loss'] });
  assert.equal(run.report!.checkpoint.sha256, sha256Of(request.checkpoint));
  assert.ok(Math.abs(run.report!.loss - direct.loss) <= 1e-6 * Math.max(1, Math.abs(direct.loss)), `loss ${run.report!.loss} vs ${direct.loss}`);
}

test('TF.js Layers: model.json, each shard of two groups and the CSV data file are each read once', async () => {
  const dir = freshDir();
  const written = await writeLayersModel(dir, mlpModel([4, 6, 3], 5), { groups: 2, shards: 2 });
  const data = join(dir, 'data.csv');
  writeFileSync(data, Array.from({ length: 12 }, (_, i) => [i % 5, (i * 7) % 3, 0.5 * i, 1 - i / 10, i % 3].join(',')).join('\n') + '\n');
  assert.equal(written.shardPaths.length, 4);
  await assertReadOnce(dir, { checkpoint: written.path, data }, ['--data', data], [written.path, ...written.shardPaths, data]);
});

test('Keras .h5 and .keras: the file is read once (h5wasm opens a private copy of the bytes read)', async () => {
  for (const name of ['mlp.h5', 'mlp.keras']) {
    const dir = freshDir();
    const model = join(dir, name);
    copyFileSync(join(fixtures, 'keras', name), model);
    await assertReadOnce(dir, { checkpoint: model, probeSamples: 16 }, ['--probe-samples', '16'], [model]);
  }
});

test('rescaling a Keras .h5 reads it once: the new file starts from the bytes analyzed', async () => {
  const dir = freshDir();
  const model = join(dir, 'mlp.h5');
  copyFileSync(join(fixtures, 'keras', 'mlp.h5'), model);
  const out = join(dir, 'sharp.h5');
  const run = await cliCounting(dir, ['rescale', model, '--sharpen', '10', '--out', out, '--probe-samples', '16']);
  assert.equal(run.code, 0, run.stderr);
  assert.deepEqual(run.opens, { [model]: 1 });
  const rescaled = await analyzeFile({ checkpoint: out, probeSamples: 16, metrics: ['loss'] });
  const original = await analyzeFile({ checkpoint: model, probeSamples: 16, metrics: ['loss'] });
  assert.ok(Math.abs(rescaled.loss - original.loss) <= 1e-5 * Math.max(1, Math.abs(original.loss)), `the same function: loss ${rescaled.loss} vs ${original.loss}`);
});

test('weights with an architecture (safetensors, .pt, .npz) and .npy data with a labels companion: each file read once', async () => {
  const dir = freshDir();
  const architecture = join(dir, 'mlp.architecture.json');
  copyFileSync(join(fixtures, 'weights', 'mlp.architecture.json'), architecture);
  const x = join(dir, 'x.npy');
  const y = join(dir, 'y.npy');
  writeFileSync(x, encodeFloat32Npy([8, 64], seededValues(8 * 64, 3)));
  writeFileSync(y, encodeFloat32Npy([8], Float32Array.from({ length: 8 }, (_, i) => i % 10)));
  for (const name of ['mlp.safetensors', 'mlp.pt', 'mlp.npz']) {
    const weights = join(dir, name);
    copyFileSync(join(fixtures, 'weights', name), weights);
    await assertReadOnce(dir, { checkpoint: weights, architecture, data: x }, ['--architecture', architecture, '--data', x], [weights, architecture, x, y]);
  }
});

test('ONNX with external data: the model and its data file are each read once, however many tensors the data file holds', async (t) => {
  const missing = missingPythonModules(['onnx']);
  if (missing) return t.skip(missing);
  const dir = freshDir();
  const model = join(dir, 'mlp.onnx');
  const program = [
    'import onnx, sys',
    'm = onnx.load(sys.argv[1])',
    "onnx.save_model(m, sys.argv[2], save_as_external_data=True, all_tensors_to_one_file=True, location='mlp.onnx.data', size_threshold=0)",
  ].join('\n');
  execFileSync(PYTHON, ['-c', program, join(fixtures, 'onnx', 'mlp.onnx'), model]);
  assert.deepEqual(readdirSync(dir).sort(), ['mlp.onnx', 'mlp.onnx.data']);
  await assertReadOnce(dir, { checkpoint: model, probeSamples: 16 }, ['--probe-samples', '16'], [model, join(dir, 'mlp.onnx.data')]);
});

test('a FIFO among the inputs is still refused at once, without hanging, by name', async () => {
  const dir = freshDir();
  const written = await writeLayersModel(dir, mlpModel([4, 6, 3], 5));
  const fifo = join(dir, 'data.csv');
  execFileSync('mkfifo', [fifo]);
  const run = await analyzeCounting(dir, [written.path, '--data', fifo]);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /data\.csv: the data file is a FIFO \(named pipe\), not a regular file/);
  assert.equal(run.opens[fifo], undefined, 'the FIFO is never opened');
});
