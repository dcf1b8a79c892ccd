/**
 * ONNX LayerNormalization in both forms PyTorch writes: the opset-17 operator, and before opset 17
 * the ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div (+ Mul γ, Add β) chain that the reader fuses.
 * Made by Debian's torch.onnx.export at run time; ONNX Runtime is the independent reference.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/engine/numeric/random';
import { readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';

const { freshDir } = caseFolders('onnx-layernorm');

const exportModels = `
import json, sys, torch
folder = json.load(sys.stdin)["folder"]
written = []
for opset, affine in ((13, True), (13, False), (17, True)):
    torch.manual_seed(opset * 2 + affine)
    model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.LayerNorm(5, eps=1e-3, elementwise_affine=affine), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    if affine:
        with torch.no_grad():
            model[1].weight.uniform_(0.5, 1.5)
            model[1].bias.uniform_(-0.3, 0.3)
    path = f"{folder}/ln-opset{opset}-{'affine' if affine else 'plain'}.onnx"
    torch.onnx.export(model, torch.randn(3, 6), path, opset_version=opset, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}})
    written.append({"path": path, "opset": opset, "affine": affine})
print(json.dumps(written))
`;

test('LayerNormalization from PyTorch (opset 13 decomposed, with and without γ/β; opset 17 operator) maps to one layer that computes what ONNX Runtime computes', async (t) => {
  const missing = missingPythonModules(['torch', 'onnx']);
  if (missing) return t.skip(missing);
  await initBackend();
  const folder = await freshDir();
  const models = runPythonJson<{ path: string; opset: number; affine: boolean }[]>(exportModels, { folder });
  assert.equal(models.length, 3);
  const count = 8;
  const inputs = new SeededRandom(11).normals(count * 6).map((v) => 2 * v);
  for (const { path, opset, affine } of models) {
    const label = `opset ${opset}${affine ? '' : ', no γ/β'}`;
    const checkpoint = await readOnnx(path);
    assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Dense', 'LayerNormalization', 'Activation', 'Dense'], label);
    const norm = checkpoint.model.layers[2];
    assert.ok(Math.abs((norm.config.epsilon as number) - 1e-3) < 1e-9, `${label}: ε ${norm.config.epsilon}`);
    assert.deepEqual(checkpoint.weights.filter((w) => w.layer === norm.name).map((w) => w.role), affine ? ['gamma', 'beta'] : [], label);

    const session = await ort.InferenceSession.create(path);
    const expected = (await session.run({ x: new ort.Tensor('float32', inputs, [count, 6]) })).y.data as Float32Array;
    await session.release();
    const network = new NetworkFunction(checkpoint);
    const actual = tf.tidy(() => Float32Array.from(network.forward(network.initialParameters(), tf.tensor(inputs, [count, 6])).dataSync()));
    network.dispose();
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const deviation = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0) / scale;
    assert.ok(deviation <= 1e-5, `${label}: Flatness Lens vs ONNX Runtime ${deviation}`);

    const structure = analyzeSymmetry(checkpoint, 'layer');
    assert.match(structure.barriers.find((b) => b.layer === norm.name)?.reason ?? '(no barrier)', /LayerNormalization normalizes its input/, label);
    assert.equal(structure.freedom, affine ? 1 : 0, `${label}: γ/β start a scale the last Dense absorbs`);
  }
});

const exportTied = `
import json, sys, torch
folder = json.load(sys.stdin)["folder"]
torch.manual_seed(3)
# Two LayerNorms at their initial γ = 1, β = 0: the exporter keeps one copy and passes it on by Identity.
model = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.LayerNorm(5), torch.nn.Tanh(), torch.nn.Linear(5, 5), torch.nn.LayerNorm(5), torch.nn.Linear(5, 2))
path = f"{folder}/ln-tied.onnx"
torch.onnx.export(model, torch.randn(3, 6), path, opset_version=13, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}})
print(json.dumps({"path": path}))
`;

test('decomposed LayerNormalizations whose γ and β the exporter ties through Identity fuse and read one shared parameter', async (t) => {
  const missing = missingPythonModules(['torch', 'onnx']);
  if (missing) return t.skip(missing);
  await initBackend();
  const { path } = runPythonJson<{ path: string }>(exportTied, { folder: await freshDir() });
  const checkpoint = await readOnnx(path);
  assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Dense', 'LayerNormalization', 'Activation', 'Dense', 'LayerNormalization', 'Dense']);
  assert.ok(checkpoint.weights.some((w) => (w.alsoUsedBy?.length ?? 0) > 0), 'γ or β is one parameter read by both layers');
  const count = 4;
  const inputs = new SeededRandom(12).normals(count * 6);
  const session = await ort.InferenceSession.create(path);
  const expected = (await session.run({ x: new ort.Tensor('float32', inputs, [count, 6]) })).y.data as Float32Array;
  await session.release();
  const network = new NetworkFunction(checkpoint);
  const actual = tf.tidy(() => Float32Array.from(network.forward(network.initialParameters(), tf.tensor(inputs, [count, 6])).dataSync()));
  network.dispose();
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0) <= 1e-5 * scale, 'Flatness Lens vs ONNX Runtime');
});
