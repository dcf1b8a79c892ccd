/**
 * The built CLI on torchvision's ResNet-18 exported to ONNX as a PyTorch user would
 * (test/fixtures/torchvision_export.py), with the batch it was scored on as data.npz: analyze gives
 * PyTorch's loss; rescale --flatten writes a new file, leaves the original byte for byte, and ONNX
 * Runtime computes the same outputs from the written file.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { writeTorchvisionFolder, type TorchvisionFolder } from '../fixtures/torchvisionFolder';
import type { FlatnessReport } from '../../src/protocol/report';
import type { RescaleReport } from '../../src/protocol/rescaleResult';

const cli = path.join(__dirname, '..', '..', 'dist', 'cli.js');
const missing = missingPythonModules(['torch', 'torchvision', 'onnx', 'numpy']);
const { root } = caseFolders('torchvision-cli');
const SAMPLES = 4;
let folder: TorchvisionFolder;

before(() => {
  if (!missing) folder = writeTorchvisionFolder(root, ['resnet18'], { samples: SAMPLES });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const sha = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** The file's outputs in ONNX Runtime on the reference batch (NCHW, as the file takes it). */
async function ortOutputs(file: string, channelsLast: readonly number[]): Promise<Float32Array> {
  const nchw = new Float32Array(channelsLast.length);
  for (let n = 0; n < SAMPLES; n++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) nchw[((n * 3 + c) * 32 + y) * 32 + x] = channelsLast[((n * 32 + y) * 32 + x) * 3 + c];
  const session = await ort.InferenceSession.create(file);
  try {
    const outputs = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', nchw, [SAMPLES, 3, 32, 32]) });
    return Float32Array.from(outputs[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

test('flatness analyze on an exported ResNet-18 with its batch as .npz: PyTorch’s loss, a top eigenvalue', { skip: missing }, async (t) => {
  const model = folder.files.resnet18;
  const result = await run(['analyze', model, '--data', folder.data, '--metrics', 'loss,eigenvalues', '--top-k', '1', '--json', '-', '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as FlatnessReport;
  const expected = folder.references.resnet18.loss;
  t.diagnostic(`loss ${report.loss} (PyTorch ${expected}), λ₁ ${report.hessian.topEigenvalues?.[0]} after ${report.hessian.hvps} products, ${report.checkpoint.parameters} parameters, ${report.tool.backend}`);
  assert.equal(report.checkpoint.format, 'onnx');
  assert.equal(report.data.samples, SAMPLES);
  assert.ok(Math.abs(report.loss - expected) <= 1e-4 * expected, `loss ${report.loss}, PyTorch ${expected}`);
  assert.ok(report.hessian.topEigenvalues![0] > 0 && Number.isFinite(report.hessian.topEigenvalues![0]));
});

test('flatness rescale --flatten on ResNet-18 writes an equivalent file beside it that ONNX Runtime confirms; the original is untouched', { skip: missing }, async (t) => {
  const model = folder.files.resnet18;
  const before = sha(model);
  const json = path.join(root, 'rescale.json');
  const result = await run(['rescale', model, '--flatten', '--data', folder.data, '--trace-samples', '4', '--json', json, '--quiet']);
  assert.equal(result.code, 0, result.stderr);
  const report = JSON.parse(fs.readFileSync(json, 'utf8')) as RescaleReport;
  t.diagnostic(result.stdout);
  assert.equal(report.out, path.join(root, 'resnet18-opset17.flat.onnx'));
  assert.match(result.stdout, /same function +max \|Δ output\| \/ max \|output\| = \d\.\d\de-\d+ on 4 samples/);
  assert.equal(sha(model), before, 'the original file changed');
  assert.ok(report.maxOutputDeviation <= 1e-5);
  const batch = folder.references.resnet18.inputs;
  const original = await ortOutputs(model, batch);
  const rescaled = await ortOutputs(report.out, batch);
  const scale = original.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const deviation = original.reduce((m, v, i) => Math.max(m, Math.abs(rescaled[i] - v)), 0) / scale;
  assert.ok(deviation <= 1e-5, `ONNX Runtime: max |Δ| / max |y| = ${deviation}`);
  const factors = report.factors.map((f) => f.alpha ?? 1);
  assert.ok(factors.some((a) => Math.abs(Math.log(a)) > 0.01), `no layer was rescaled: ${factors.join(', ')}`);
  assert.ok(!sha(report.out).startsWith(before.slice(0, 16)) && sha(report.out) !== before, 'the written file is the original');
});
