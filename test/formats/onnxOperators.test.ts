/**
 * ONNX operator handlers on small graphs built with Python's onnx helper at test time: each one
 * that loads computes what ONNX Runtime computes (outputs to 1e-5 of the largest), and each one that
 * cannot be mapped exactly is refused naming the node and the reason.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { SeededRandom } from '../../src/engine/numeric/random';
import { ModelProblem } from '../../src/protocol/errors';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { engineOutputs } from '../fixtures/referenceOutputs';
import { caseFolders } from '../fixtures/tempDirs';

const missing = missingPythonModules(['onnx', 'numpy']);
const { root } = caseFolders('onnx-operators');
before(() => initBackend('cpu'));

/**
 * Python that builds one graph on an input [N, 2, 6, 6]: `body` appends nodes to `nodes` and
 * initializers to `inits` (`w(name, shape)` makes a seeded float tensor, `const` a float constant)
 * and ends in the output `y` of shape [N, 4].
 */
const builder = `
import json, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
request = json.load(sys.stdin)
rng = np.random.default_rng(3)
nodes, inits = [], []
def w(name, shape):
    inits.append(numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name))
    return name
def const(name, values):
    inits.append(numpy_helper.from_array(np.array(values, dtype=np.float32), name))
    return name
exec(request["body"])
graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", request["opset"])])
onnx.checker.check_model(model)
onnx.save(model, request["path"])
print(json.dumps(request["path"]))
`;

function build(name: string, body: string, opset = 13): string {
  return runPythonJson<string>(builder, { path: join(root, `${name}.onnx`), body, opset });
}

async function assertMatchesOrt(file: string): Promise<void> {
  const shape = [3, 2, 6, 6];
  const values = new SeededRandom(4).normals(3 * 2 * 36);
  const session = await ort.InferenceSession.create(file);
  let expected: Float32Array;
  try {
    const outputs = await session.run({ x: new ort.Tensor('float32', values, shape) });
    expected = Float32Array.from(outputs[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
  const actual = engineOutputs(await readOnnx(file), values, shape, 'nchw');
  assert.equal(actual.length, expected.length, 'output sizes');
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 1e-5 * scale, `output ${i}: ${actual[i]} vs ${e}`));
}

const convRelu = `
nodes.append(helper.make_node("Conv", ["x", w("k", (3, 2, 3, 3)), w("b", (3,))], ["c"], name="conv", pads=[1, 1, 1, 1]))
nodes.append(helper.make_node("Relu", ["c"], ["r"], name="relu"))
`;
const flatHead = (input: string, features: number) => `
nodes.append(helper.make_node("Flatten", ["${input}"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, ${features})), w("e", (4,))], ["y"], name="dense", transB=1))
`;

test('MaxPool with pads after a Relu (zero padding keeps every maximum) computes what ONNX Runtime computes', { skip: missing }, async () => {
  const file = build('maxpool-pads', `${convRelu}
nodes.append(helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
${flatHead('p', 27)}`);
  await assertMatchesOrt(file);
});

test('MaxPool with ceil_mode after a Relu computes what ONNX Runtime computes', { skip: missing }, async () => {
  const file = build('maxpool-ceil', `${convRelu}
nodes.append(helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1))
${flatHead('p', 27)}`);
  await assertMatchesOrt(file);
});

test('MaxPool with pads on an input that may be negative repeats the border cells and computes what ONNX Runtime computes; pads that reach a whole window are refused, naming the node', { skip: missing }, async () => {
  const file = build('maxpool-negative', `
nodes.append(helper.make_node("MaxPool", ["x"], ["p"], name="pool_on_input", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
${flatHead('p', 18)}`);
  await assertMatchesOrt(file);
  assert.ok((await readOnnx(file)).model.layers.some((l) => l.className === 'EdgePadding2D' && JSON.stringify(l.config.padding) === '[[1,1],[1,1]]'));
  const wide = build('maxpool-wide-pads', `
nodes.append(helper.make_node("MaxPool", ["x"], ["p"], name="pool_past_input", kernel_shape=[2, 2], pads=[2, 0, 0, 0]))
${flatHead('p', 70)}`);
  await assert.rejects(readOnnx(wide), (error: Error) => error instanceof ModelProblem && /pool_past_input/.test(error.message) && /MaxPool: pads \[2,0,0,0\] reach a whole window/.test(error.message));
});

test('Clip(0, 6) is ReLU6 and Clip(0, ∞) is Relu (opset 13 bounds as inputs); other bounds shift a capped ReLU; min above max is refused', { skip: missing }, async () => {
  const relu6 = build('clip-relu6', `
nodes.append(helper.make_node("Conv", ["x", w("k", (3, 2, 3, 3))], ["c"], name="conv"))
nodes.append(helper.make_node("Clip", ["c", const("lo", 0.0), const("hi", 6.0)], ["r"], name="relu6"))
nodes.append(helper.make_node("Clip", ["r", const("lo2", 0.0)], ["r2"], name="relu"))
${flatHead('r2', 48)}`);
  await assertMatchesOrt(relu6);
  const checkpoint = await readOnnx(relu6);
  assert.ok(checkpoint.model.layers.some((l) => l.className === 'ReLU' && l.config.max_value === 6), 'a ReLU with max_value 6');
  const symmetric = build('clip-symmetric', `
nodes.append(helper.make_node("Clip", ["x", const("lo", -1.0), const("hi", 1.0)], ["r"], name="hardtanh"))
${flatHead('r', 72)}`);
  await assertMatchesOrt(symmetric);
  const empty = build('clip-empty', `
nodes.append(helper.make_node("Clip", ["x", const("lo", 1.0), const("hi", -1.0)], ["r"], name="inverted"))
${flatHead('r', 72)}`);
  await assert.rejects(readOnnx(empty), (error: Error) => error instanceof ModelProblem && /inverted/.test(error.message) && /Clip: min 1 is not below max -1/.test(error.message));
});

test('one initializer feeding two Conv nodes is one parameter, and the network computes what ONNX Runtime computes', { skip: missing }, async () => {
  const file = build('shared-kernel', `
k = w("k", (2, 2, 3, 3))
nodes.append(helper.make_node("Conv", ["x", k], ["c1"], name="conv1", pads=[1, 1, 1, 1]))
nodes.append(helper.make_node("Tanh", ["c1"], ["t"], name="tanh"))
nodes.append(helper.make_node("Conv", ["t", k], ["c2"], name="conv2", pads=[1, 1, 1, 1]))
${flatHead('c2', 72)}`);
  await assertMatchesOrt(file);
  const checkpoint = await readOnnx(file);
  const kernel = checkpoint.weights.find((w) => w.name === 'k')!;
  assert.deepEqual(kernel.alsoUsedBy, [{ layer: 'conv2', role: 'kernel' }]);
  const network = new NetworkFunction(checkpoint);
  assert.equal(network.parameterCount, 36 + 4 * 72 + 4, 'the shared kernel counts once');
  network.dispose();
  assert.match(checkpoint.notes.join('\n'), /1 initializer feeds several nodes \('k'\)/);
});
