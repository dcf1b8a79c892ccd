import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { analyzeAnyFile, analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { formatFor, readCheckpoint, readTensorFile } from '../../src/engine/formats/registry';
import { ArchitectureMissing } from '../../src/engine/formats/weights/weightsOnlyFormat';
import { initBackend } from '../../src/engine/model/backend';
import type { Checkpoint } from '../../src/engine/model/spec';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import { FileProblem } from '../../src/protocol/errors';
import { isWeightsReport, type WeightsReport } from '../../src/protocol/report';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { jacobiEigen } from '../reference/symmetricEigen';
import { caseFolders } from '../fixtures/tempDirs';
import { assertOutputsMatch, engineOutputs, readReferenceOutputs, type ReferenceOutputs } from '../fixtures/referenceOutputs';

const fixtures = join(__dirname, '..', 'fixtures', 'weights');
const fixture = (name: string) => join(fixtures, name);
const { freshDir } = caseFolders('weights-only');
const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
before(() => initBackend('cpu'));

const expected = (network: string): ReferenceOutputs => readReferenceOutputs(fixture(`${network}.expected.json`));

/** Copies fixtures into a fresh folder: `[source, name in the folder]`. */
async function folderWith(files: readonly (readonly [string, string])[]): Promise<string> {
  const dir = await freshDir();
  for (const [source, name] of files) await copyFile(fixture(source), join(dir, name));
  return dir;
}

function assertComputesPyTorchOutputs(checkpoint: Checkpoint, network: string): void {
  const ref = expected(network);
  assertOutputsMatch(engineOutputs(checkpoint, ref.inputs, ref.inputShape, 'nchw'), ref, `${checkpoint.path} (vs PyTorch)`);
}

test('each weights-only format is recognized by the registry', async () => {
  for (const [file, id] of [['mlp.pt', 'pytorch'], ['mlp.safetensors', 'safetensors'], ['mlp.npz', 'npz-weights']] as const) {
    assert.equal((await formatFor(fixture(file)))?.id, id, file);
  }
});

test('a state dict alone: tensor statistics checked against an exact eigen-decomposition, and what is missing', async () => {
  const dir = await folderWith([['mlp.pt', 'mlp.pt']]);
  await assert.rejects(readCheckpoint(join(dir, 'mlp.pt')), (e: unknown) => e instanceof ArchitectureMissing && e.message.includes(join(dir, 'mlp.pt')) && /mlp\.architecture\.json/.test(e.message));
  const report = await analyzeAnyFile({ checkpoint: join(dir, 'mlp.pt') });
  assert.ok(isWeightsReport(report));
  assert.equal(report.checkpoint.format, 'pytorch');
  assert.deepEqual(report.tensors.map((t) => t.name), ['0.weight', '0.bias', '2.weight', '2.bias']);
  assert.equal(report.checkpoint.parameters, 32 * 64 + 32 + 10 * 32 + 10);
  assert.match(report.architectureMissing, /--architecture/);
  // The spectral norm of the first kernel from the exact eigenvalues of W Wᵀ, with the values read by another format's reader.
  const safetensors = await readTensorFile(fixture('mlp.safetensors'));
  const w = safetensors!.tensors.find((t) => t.name === '0.weight')!;
  const [rows, cols] = w.shape;
  const gram = new Float64Array(rows * rows);
  for (let i = 0; i < rows; i++) for (let j = 0; j < rows; j++) for (let k = 0; k < cols; k++) gram[i * rows + j] += w.values![i * cols + k] * w.values![j * cols + k];
  const exact = Math.sqrt(jacobiEigen(gram, rows).values[rows - 1]);
  const stats = report.tensors[0];
  assert.deepEqual([stats.matrix!.rows, stats.matrix!.cols], [32, 64]);
  assert.ok(Math.abs(stats.matrix!.spectralNorm - exact) <= 1e-6 * exact, `${stats.matrix!.spectralNorm} vs exact ${exact}`);
  assert.equal(report.tensors[1].matrix, undefined);
});

for (const [network, formats] of [['mlp', ['pt', 'safetensors', 'npz']], ['cnn', ['pt', 'safetensors']]] as const) {
  for (const extension of formats) {
    test(`${network}.${extension} with its architecture description computes PyTorch's outputs`, async () => {
      const dir = await folderWith([[`${network}.${extension}`, `weights.${extension}`], [`${network}.architecture.json`, 'weights.architecture.json']]);
      const checkpoint = await readCheckpoint(join(dir, `weights.${extension}`));
      assertComputesPyTorchOutputs(checkpoint, network);
      if (network === 'cnn') assert.ok(checkpoint.notes.some((n) => n.includes('num_batches_tracked')), 'unused tensors are noted');
    });
  }
}

test('a shared architecture.json in the folder serves every snapshot; an explicit architecture wins', async () => {
  const dir = await folderWith([['mlp.safetensors', 'epoch-1.safetensors'], ['mlp.architecture.json', 'architecture.json']]);
  assertComputesPyTorchOutputs(await readCheckpoint(join(dir, 'epoch-1.safetensors')), 'mlp');
  const elsewhere = await folderWith([['mlp.pt', 'snapshot.pt']]);
  assertComputesPyTorchOutputs(await readCheckpoint(join(elsewhere, 'snapshot.pt'), { architecture: join(dir, 'architecture.json') }), 'mlp');
});

test('an ONNX export as the architecture: the same network, the same metrics as the ONNX file itself', async () => {
  const dir = await folderWith([['mlp.safetensors', 'mlp.safetensors'], ['mlp.onnx', 'mlp.onnx']]);
  await writeFile(join(dir, 'mlp.architecture.json'), JSON.stringify({ flatnessLens: 'architecture/1', from: 'mlp.onnx' }));
  const request = { samples: 64, seed: 3, metrics: ['loss', 'eigenvalues', 'trace'] as const, settings: { eigenvalues: { count: 2 }, trace: { samples: 6 } } };
  const fromWeights = await analyzeFile({ ...request, metrics: [...request.metrics], checkpoint: join(dir, 'mlp.safetensors') });
  const fromOnnx = await analyzeFile({ ...request, metrics: [...request.metrics], checkpoint: join(dir, 'mlp.onnx') });
  assert.equal(fromWeights.checkpoint.architecture, join(dir, 'mlp.architecture.json'));
  assert.equal(fromWeights.loss, fromOnnx.loss);
  assert.deepEqual(fromWeights.hessian.topEigenvalues, fromOnnx.hessian.topEigenvalues);
  assert.equal(fromWeights.hessian.trace!.estimate, fromOnnx.hessian.trace!.estimate);
  assertComputesPyTorchOutputs(await readCheckpoint(join(dir, 'mlp.safetensors'), { architecture: join(dir, 'mlp.onnx') }), 'mlp');
});

test('a rescaled state dict: a new .pt beside the original with its architecture, the same outputs, loadable by PyTorch', async () => {
  const dir = await folderWith([['cnn.pt', 'cnn.pt'], ['cnn.architecture.json', 'cnn.architecture.json']]);
  const original = join(dir, 'cnn.pt');
  const before = await readFile(original);
  const plan = await planRescale({ checkpoint: original, mode: 'sharpen', factor: 10, probeSamples: 64, traceSamples: 8 });
  const written = await writeRescaled(plan);
  assert.deepEqual(written.map((f) => basename(f)), ['cnn.sharp-x10.pt', 'cnn.sharp-x10.architecture.json']);
  assert.deepEqual(await readFile(original), before, 'the original is untouched');
  const rescaled = await readCheckpoint(written[0]);
  assertComputesPyTorchOutputs(rescaled, 'cnn');
  const originalWeights = (await readCheckpoint(original)).weights;
  assert.ok(rescaled.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - originalWeights[i].values[j]) > 1e-3 * Math.abs(v))), 'the weights changed');
  await assert.rejects(writeRescaled(plan, written[0]), FileProblem, 'never overwrites');

  const missing = missingPythonModules(['torch']);
  if (missing) return;
  // PyTorch itself loads the file (without executing anything) and runs the network on its inputs.
  const ref = expected('cnn');
  const result = runPythonJson<{ outputs: number[]; bnTracked: number }>(
    `
import json, sys, torch
request = json.load(sys.stdin)
state = torch.load(request["file"], weights_only=True)
model = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 10))
model.load_state_dict(state)
model.eval()
x = torch.tensor(request["inputs"], dtype=torch.float32).reshape(request["shape"])
with torch.no_grad():
    print(json.dumps({"outputs": model(x).reshape(-1).tolist(), "bnTracked": int(state["1.num_batches_tracked"])}))
`,
    { file: written[0], inputs: ref.inputs, shape: ref.inputShape },
  );
  const scale = Math.max(...ref.outputs.map(Math.abs));
  result.outputs.forEach((value, i) => assert.ok(Math.abs(value - ref.outputs[i]) <= 1e-5 * Math.max(Math.abs(ref.outputs[i]), 1e-2 * scale), `PyTorch on the rescaled file, output ${i}: ${value} vs ${ref.outputs[i]}`));
  assert.ok(result.bnTracked >= 0, 'tensors the architecture does not use are kept');
});

test('bad architectures end in clear errors naming the file and the problem', async () => {
  const dir = await folderWith([['mlp.safetensors', 'mlp.safetensors']]);
  const weights = join(dir, 'mlp.safetensors');
  const cases: [unknown, RegExp][] = [
    ['not json', /not valid JSON/],
    [{ flatnessLens: 'architecture/9', input: [64], layers: [] }, /"flatnessLens": "architecture\/1"/],
    [{ flatnessLens: 'architecture/1', input: [64], layers: [{ type: 'transformer' }] }, /layer 1: type 'transformer' is not supported/],
    [{ flatnessLens: 'architecture/1', input: [64], layers: [{ type: 'linear', weight: 'fc.weight' }] }, /tensor 'fc\.weight' is not in .*mlp\.safetensors/],
    [{ flatnessLens: 'architecture/1', input: [64], layers: [{ type: 'linear', name: '0', stride: 2 }] }, /unknown parameter 'stride'/],
    [{ flatnessLens: 'architecture/1', input: [10], layers: [{ type: 'linear', name: '0' }] }, /expects 64 input features, the node receives 10/],
    [{ flatnessLens: 'architecture/1', input: [1, 8, 8], layers: [{ type: 'conv2d', name: '0' }] }, /a conv2d weight is \[out, in, kh, kw\]/],
    [{ flatnessLens: 'architecture/1', from: 'mlp.safetensors' }, /names the weights file itself/],
    [{ flatnessLens: 'architecture/1', from: 'missing.onnx' }, /missing\.onnx/],
  ];
  for (const [content, problem] of cases) {
    const architecture = join(dir, 'mlp.architecture.json');
    await writeFile(architecture, typeof content === 'string' ? content : JSON.stringify(content));
    await assert.rejects(readCheckpoint(weights), (e: unknown) => {
      assert.ok(e instanceof Error && (e.message.includes(dir) || e.message.includes('layer')), `names the file: ${String(e)}`);
      assert.match((e as Error).message, problem);
      return true;
    });
  }
  const other = await folderWith([['mlp.npz', 'other.npz']]);
  await assert.rejects(readCheckpoint(weights, { architecture: join(other, 'other.npz') }), /holds weights only/);
});

test('flatness analyze on a state dict prints the tensor table and what is missing; --architecture gives the full report', async () => {
  const dir = await folderWith([['mlp.pt', 'mlp.pt'], ['mlp.architecture.json', 'net.json']]);
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, [cli, ...args], (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })),
    );
  const alone = await run(['analyze', join(dir, 'mlp.pt'), '--quiet']);
  assert.equal(alone.code, 0, alone.stderr);
  assert.match(alone.stdout, /0\.weight\s+\[32, 64\]/);
  assert.match(alone.stdout, /No Hessian metrics: .*mlp\.pt holds weights only/);
  const json = await run(['analyze', join(dir, 'mlp.pt'), '--json', '-', '--quiet']);
  const report = JSON.parse(json.stdout) as WeightsReport;
  assert.equal(report.kind, 'weights');
  const full = await run(['analyze', join(dir, 'mlp.pt'), '--architecture', join(dir, 'net.json'), '--metrics', 'loss,eigenvalues', '--top-k', '1', '--probe-samples', '32', '--quiet']);
  assert.equal(full.code, 0, full.stderr);
  assert.match(full.stdout, /Hessian top eigenvalues/);
  assert.match(full.stdout, /weight spectral norms/);
});
