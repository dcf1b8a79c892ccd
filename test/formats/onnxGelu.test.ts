/**
 * GELU in the forms PyTorch writes: the exact erf chain and the tanh approximation (opsets 13 and 17),
 * fused into one `gelu` activation; the opset-20 Gelu operator; Erf on its own. Outputs against
 * PyTorch's own on the same inputs; loss, gradient and Hessian-vector products of both engines
 * (tfjs and ONNX Runtime) against the float64 hyper-dual reference, whose GELU derivatives are
 * checked against float64 finite differences; rescaling names the GELU as the barrier.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../../src/engine/data/dataset';
import { readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint } from '../../src/engine/model/spec';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { exactGradient, exactHessianVectorProduct } from '../reference/exactHessian';
import { applyActivation, type ActivationName } from '../reference/activations';
import { HyperDual, epsilon1Part, epsilon12Part, realPart } from '../reference/hyperDual';
import { TinyModelBuilder, randomClassTargets, randomInputs } from '../reference/tinyModels';
import { relativeError, seededNormals } from '../reference/vectorChecks';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';

const { freshDir } = caseFolders('onnx-gelu');

const exportModels = `
import json, sys, torch, onnx
from onnx import helper, numpy_helper
request = json.load(sys.stdin)
folder, x = request["folder"], torch.tensor(request["inputs"], dtype=torch.float32).reshape(-1, 6)
class ErfAlone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
    def forward(self, x):
        return self.b(torch.erf(self.a(x)))
written = []
for name, opset, middle in (("exact", 13, torch.nn.GELU()), ("exact", 17, torch.nn.GELU()), ("tanh", 13, torch.nn.GELU(approximate="tanh")), ("tanh", 17, torch.nn.GELU(approximate="tanh")), ("erf", 13, None)):
    torch.manual_seed(opset + len(name))
    model = ErfAlone() if middle is None else torch.nn.Sequential(torch.nn.Linear(6, 5), middle, torch.nn.Linear(5, 3))
    model.eval()
    path = f"{folder}/{name}-{opset}.onnx"
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "N"}})
    with torch.no_grad():
        written.append({"path": path, "form": name, "opset": opset, "outputs": model(x).flatten().tolist()})
# The opset-20 operator, written by hand (torch 1.13 exports up to opset 17).
torch.manual_seed(20)
a, b = torch.nn.Linear(6, 5), torch.nn.Linear(5, 3)
initializers = [numpy_helper.from_array(t.detach().numpy(), n) for n, t in (("a.w", a.weight), ("a.b", a.bias), ("b.w", b.weight), ("b.b", b.bias))]
nodes = [helper.make_node("Gemm", ["x", "a.w", "a.b"], ["h"], name="/a/Gemm", transB=1), helper.make_node("Gelu", ["h"], ["g"], name="/act/Gelu", approximate="tanh"), helper.make_node("Gemm", ["g", "b.w", "b.b"], ["y"], name="/b/Gemm", transB=1)]
graph = helper.make_graph(nodes, "gelu20", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["N", 6])], [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["N", 3])], initializers)
path = f"{folder}/operator-20.onnx"
onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)]), path)
with torch.no_grad():
    written.append({"path": path, "form": "tanh", "opset": 20, "outputs": b(torch.nn.functional.gelu(a(x), approximate="tanh")).flatten().tolist()})
print(json.dumps(written))
`;

test('GELU from PyTorch (erf and tanh forms at opsets 13 and 17, the opset-20 operator) and Erf alone map to one activation that computes what PyTorch computes', async (t) => {
  const missing = missingPythonModules(['torch', 'onnx']);
  if (missing) return t.skip(missing);
  await initBackend();
  const folder = await freshDir();
  const count = 8;
  const inputs = Float32Array.from(randomInputs([6], count, 5), (v) => 3 * v);
  const models = runPythonJson<{ path: string; form: string; opset: number; outputs: number[] }[]>(exportModels, { folder, inputs: Array.from(inputs) });
  assert.equal(models.length, 6);
  for (const { path, form, opset, outputs } of models) {
    const label = `${form} opset ${opset}`;
    const checkpoint = await readOnnx(path);
    assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Dense', 'Activation', 'Dense'], label);
    const activation = checkpoint.model.layers[2];
    assert.equal(activation.config.activation, { exact: 'gelu', tanh: 'gelu_tanh', erf: 'erf' }[form], label);
    if (form !== 'erf') assert.match(activation.name, /Gelu$/, `${label}: the fused layer is named after its chain`);
    const network = new NetworkFunction(checkpoint);
    const actual = tf.tidy(() => Float32Array.from(network.forward(network.initialParameters(), tf.tensor(inputs, [count, 6])).dataSync()));
    network.dispose();
    assert.ok(relativeError(actual, Float64Array.from(outputs)) <= 1e-5, `${label}: Flatness Lens vs PyTorch ${relativeError(actual, Float64Array.from(outputs))}`);

    const structure = analyzeSymmetry(checkpoint, 'layer');
    const barrier = structure.barriers.find((b) => b.layer === activation.name);
    assert.match(barrier?.reason ?? '(no barrier)', /activation '(gelu|gelu_tanh|erf)' is not homogeneous/, label);
  }
});

test('the reference GELU, tanh-GELU and erf: first and second derivatives equal float64 central differences', () => {
  const value = (name: ActivationName, x: number | HyperDual) => applyActivation({ shape: [1], data: [x] }, name, 'f').data[0];
  for (const name of ['gelu', 'gelu_tanh', 'erf'] as const) {
    for (const x of [-3.1, -1.2, -0.4, 0.05, 0.8, 1.7, 2.9]) {
      const dual = value(name, new HyperDual(x, 1, 1, 0));
      const slope = (z: number) => epsilon1Part(value(name, new HyperDual(z, 1, 0, 0)));
      const h = 1e-5;
      const firstDifference = (realPart(value(name, x + h)) - realPart(value(name, x - h))) / (2 * h);
      const secondDifference = (slope(x + h) - slope(x - h)) / (2 * h);
      assert.ok(Math.abs(epsilon1Part(dual) - firstDifference) <= 1e-8, `${name}'(${x}): ${epsilon1Part(dual)} vs ${firstDifference}`);
      assert.ok(Math.abs(epsilon12Part(dual) - secondDifference) <= 1e-8, `${name}''(${x}): ${epsilon12Part(dual)} vs ${secondDifference}`);
    }
  }
  // Known values: GELU(1) = Φ(1) = 0.8413447460685429; erf(0.5) = 0.5204998778130465.
  assert.ok(Math.abs(realPart(value('gelu', 1)) - 0.8413447460685429) <= 1e-15);
  assert.ok(Math.abs(realPart(value('erf', 0.5)) - 0.5204998778130465) <= 1e-15);
});

const SAMPLES = 4;

function geluNetwork(seed: number): Checkpoint {
  const b = new TinyModelBuilder([3], seed);
  b.dense(3, 4, 'gelu');
  b.dense(4, 4, 'gelu_tanh');
  b.layer('Activation', { activation: 'erf' });
  b.dense(4, 3, 'linear');
  const tiny = b.build();
  return { path: '<gelu>', format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } };
}

test('GELU, tanh-GELU and Erf: loss, gradient and Hessian-vector products of tfjs and ONNX Runtime equal the float64 reference', async () => {
  await initBackend();
  const checkpoint = geluNetwork(61);
  const network = new NetworkFunction(checkpoint);
  const inputs = Float32Array.from(randomInputs([3], SAMPLES, 62), (v) => 2.5 * v);
  const targets = randomClassTargets(SAMPLES, 3, 63);
  const dataset: Dataset = { source: 'gelu', count: SAMPLES, sampleShape: [3], inputs, targets };
  const engines: [string, Objective][] = [['tfjs', new Objective(network, dataset, 'ce', 2)]];
  if (onnxRuntimeAvailable()) engines.push(['ONNX Runtime', new Objective(network, dataset, 'ce', 2, onnxExecutorFactory({ threads: 1 }))]);
  try {
    const reference = exactGradient(checkpoint.model, checkpoint.weights, inputs, SAMPLES, targets, 'ce');
    const directions = [1, 2].map((seed) => Float64Array.from(seededNormals(network.parameterCount, 640 + seed)));
    const exact = directions.map((v) => exactHessianVectorProduct(checkpoint.model, checkpoint.weights, inputs, SAMPLES, targets, 'ce', v));
    for (const [name, objective] of engines) {
      const { loss, gradient } = objective.gradient();
      assert.ok(Math.abs(loss - reference.loss) <= 1e-5 * Math.abs(reference.loss), `${name}: loss ${loss} vs ${reference.loss}`);
      assert.ok(relativeError(toFlat(gradient), reference.gradient) <= 1e-5, `${name}: gradient ${relativeError(toFlat(gradient), reference.gradient)}`);
      disposeVector(gradient);
      directions.forEach((v, d) => {
        const direction = fromFlat(Float32Array.from(v), network.parameters);
        const product = objective.hessianVectorProduct(direction);
        const error = relativeError(toFlat(product), exact[d]);
        assert.ok(Math.hypot(...exact[d]) > 1e-6 && error <= 1e-4, `${name}: Hv direction ${d} vs reference ${error}`);
        disposeVector(product);
        disposeVector(direction);
      });
    }
  } finally {
    for (const [, objective] of engines) objective.dispose();
    network.dispose();
  }
});
