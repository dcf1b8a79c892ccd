/**
 * Channel moves in ONNX graphs built with Python's onnx helper at test time: the channel shuffle
 * (Reshape to [N, groups, C/groups, H, W], Transpose [0, 2, 1, 3, 4], Reshape back), Split and Slice
 * along channels. The engine computes what ONNX Runtime computes; the loss, gradient and
 * Hessian-vector products of the ChannelShuffle and ChannelSlice layers they map to, by tfjs and by
 * the ONNX Runtime executor, equal the float64 hyper-dual reference (test/reference/network.ts spells
 * both layers independently); the scale symmetry carries each channel's scale through them, so every
 * rescaling it offers keeps the outputs; what does not fit is refused naming the node.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Objective } from '../../src/engine/analysis/objective';
import { disposeVector, fromFlat, toFlat } from '../../src/engine/analysis/vectors';
import type { Dataset } from '../../src/engine/data/dataset';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { SeededRandom } from '../../src/engine/numeric/random';
import { applyScaling } from '../../src/engine/rescale/applyScaling';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { ModelProblem } from '../../src/protocol/errors';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { engineOutputs } from '../fixtures/referenceOutputs';
import { caseFolders } from '../fixtures/tempDirs';
import { exactGradient, exactHessianVectorProduct, referenceOutputs } from '../reference/exactHessian';
import { randomClassTargets } from '../reference/tinyModels';
import { relativeError, seededNormals } from '../reference/vectorChecks';

const missing = missingPythonModules(['onnx', 'numpy']);
const { root } = caseFolders('onnx-channel-operators');
before(() => initBackend());

const SAMPLES = 3;
const INPUT_SHAPE = [SAMPLES, 4, 3, 3];

/**
 * Python that builds one graph on an input [N, 4, 3, 3]: `body` appends nodes to `nodes` and
 * initializers to `inits` (`w(name, shape)` a seeded float tensor, `ints(name, values)` an int64
 * constant) and ends in the output `y` of shape [N, 4].
 */
const builder = `
import json, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
request = json.load(sys.stdin)
opset = request["opset"]
rng = np.random.default_rng(5)
nodes, inits = [], []
def w(name, shape):
    inits.append(numpy_helper.from_array(rng.normal(0, 0.5, shape).astype(np.float32), name))
    return name
def ints(name, values):
    inits.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
    return name
exec(request["body"])
graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 3, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
onnx.checker.check_model(model)
onnx.save(model, request["path"])
print(json.dumps(request["path"]))
`;

function build(name: string, body: string, opset = 13): string {
  return runPythonJson<string>(builder, { path: join(root, `${name}.onnx`), body, opset });
}

/**
 * Conv 4→6 and `activation`, a shuffle of the 6 channels in 2 groups, Split into 2 + 4 channels,
 * Slice of channels 1..4 of the second part, a Conv of that slice added to the first part, Flatten, Gemm.
 */
const shuffleSplitSlice = (activation: string) => `
nodes.append(helper.make_node("Conv", ["x", w("k1", (6, 4, 1, 1)), w("b1", (6,))], ["c"], name="conv1"))
nodes.append(helper.make_node("${activation}", ["c"], ["a"], name="act"))
nodes.append(helper.make_node("Reshape", ["a", ints("grouped", [0, 2, 3, 3, 3])], ["g"], name="shuffle_view"))
nodes.append(helper.make_node("Transpose", ["g"], ["gt"], name="shuffle_transpose", perm=[0, 2, 1, 3, 4]))
nodes.append(helper.make_node("Reshape", ["gt", ints("back", [0, -1, 3, 3])], ["s"], name="shuffle_back"))
if opset >= 13:
    nodes.append(helper.make_node("Split", ["s", ints("sizes", [2, 4])], ["p", "q"], name="split", axis=1))
else:
    nodes.append(helper.make_node("Split", ["s"], ["p", "q"], name="split", axis=1, split=[2, 4]))
nodes.append(helper.make_node("Slice", ["q", ints("starts", [1]), ints("ends", [4]), ints("axes", [-3])], ["r"], name="slice"))
nodes.append(helper.make_node("Conv", ["r", w("k2", (2, 3, 3, 3)), w("b2", (2,))], ["e"], name="conv2", pads=[1, 1, 1, 1]))
nodes.append(helper.make_node("Add", ["p", "e"], ["m"], name="join"))
nodes.append(helper.make_node("Flatten", ["m"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 18)), w("bd", (4,))], ["y"], name="dense", transB=1))
`;

function inputs(seed: number): Float32Array {
  return new SeededRandom(seed).normals(INPUT_SHAPE.reduce((a, b) => a * b, 1));
}

/** The batch channels-last, as the engine takes it. */
function channelsLast(values: Float32Array): Float32Array {
  const [n, c, h, w] = INPUT_SHAPE;
  const out = new Float32Array(values.length);
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let p = 0; p < h * w; p++) out[(b * h * w + p) * c + ch] = values[(b * c + ch) * h * w + p];
  return out;
}

async function ortOutputs(file: string, values: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const outputs = await session.run({ x: new ort.Tensor('float32', values, INPUT_SHAPE) });
    return Float32Array.from(outputs[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

for (const opset of [11, 13]) {
  test(`channel shuffle, Split and Slice on channels (opset ${opset}) compute what ONNX Runtime computes`, { skip: missing }, async () => {
    const file = build(`shuffle-split-slice-${opset}`, shuffleSplitSlice('Tanh'), opset);
    const values = inputs(4);
    const expected = await ortOutputs(file, values);
    const checkpoint = await readOnnx(file);
    const classes = checkpoint.model.layers.map((l) => l.className);
    assert.deepEqual(classes.filter((c) => c.startsWith('Channel')), ['ChannelShuffle', 'ChannelSlice', 'ChannelSlice', 'ChannelSlice'], 'one shuffle; the split\'s two parts and the slice');
    const actual = engineOutputs(checkpoint, values, INPUT_SHAPE, 'nchw');
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 1e-5 * scale, `output ${i}: ${actual[i]} vs ${e}`));
  });
}

test('Split without sizes cuts the channels into equal parts, as ONNX Runtime does', { skip: missing }, async () => {
  const file = build('split-equal', `
nodes.append(helper.make_node("Split", ["x"], ["p", "q"], name="halves", axis=-3))
nodes.append(helper.make_node("Conv", ["q", w("k", (2, 2, 1, 1))], ["c"], name="conv"))
nodes.append(helper.make_node("Add", ["p", "c"], ["m"], name="join"))
nodes.append(helper.make_node("Flatten", ["m"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 18))], ["y"], name="dense", transB=1))`);
  const values = inputs(11);
  const expected = await ortOutputs(file, values);
  const checkpoint = await readOnnx(file);
  assert.deepEqual(checkpoint.model.layers.filter((l) => l.className === 'ChannelSlice').map((l) => [l.config.begin, l.config.size]), [[0, 2], [2, 2]]);
  const actual = engineOutputs(checkpoint, values, INPUT_SHAPE, 'nchw');
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 1e-5 * scale, `output ${i}: ${actual[i]} vs ${e}`));
});

test('ChannelShuffle and ChannelSlice: loss, gradient and Hv by tfjs and by ONNX Runtime equal the float64 reference', { skip: missing }, async () => {
  const checkpoint = await readOnnx(build('shuffle-hvp', shuffleSplitSlice('Tanh')));
  const network = new NetworkFunction(checkpoint);
  const x = channelsLast(inputs(6));
  const targets = randomClassTargets(SAMPLES, 4, 7);
  const dataset: Dataset = { source: 'shuffle', count: SAMPLES, sampleShape: [3, 3, 4], inputs: x, targets };
  const engines = { tfjs: new Objective(network, dataset, 'ce'), onnxruntime: new Objective(network, dataset, 'ce', SAMPLES, onnxExecutorFactory({ threads: 1 })) };
  try {
    const reference = exactGradient(checkpoint.model, checkpoint.weights, x, SAMPLES, targets, 'ce');
    const v = seededNormals(network.parameterCount, 8);
    const exactHv = exactHessianVectorProduct(checkpoint.model, checkpoint.weights, x, SAMPLES, targets, 'ce', Float64Array.from(v));
    assert.ok(Math.hypot(...exactHv) > 1e-6, 'the exact Hv is not trivially zero');
    for (const [name, objective] of Object.entries(engines)) {
      const { loss, gradient } = objective.gradient();
      assert.ok(Math.abs(loss - reference.loss) <= 1e-5 * reference.loss, `${name}: loss ${loss} vs ${reference.loss}`);
      assert.ok(relativeError(toFlat(gradient), reference.gradient) <= 1e-5, `${name}: gradient error ${relativeError(toFlat(gradient), reference.gradient)}`);
      disposeVector(gradient);
      const direction = fromFlat(v, network.parameters);
      const hv = objective.hessianVectorProduct(direction);
      assert.ok(relativeError(toFlat(hv), exactHv) <= 1e-4, `${name}: Hv error ${relativeError(toFlat(hv), exactHv)}`);
      disposeVector(direction);
      disposeVector(hv);
    }
  } finally {
    engines.tfjs.dispose();
    engines.onnxruntime.dispose();
    network.dispose();
  }
});

test('every rescaling the symmetry offers through a channel shuffle and channel slices keeps the outputs', { skip: missing }, async () => {
  const checkpoint = await readOnnx(build('shuffle-relu', shuffleSplitSlice('Relu')));
  const structure = analyzeSymmetry(checkpoint, 'unit');
  // 12 unit scales (conv1 6, conv2 2, dense 4): the output pins dense's 4, and the Add ties the split's first part (conv1
  // channels 0 and 3 after the shuffle) to conv2's 2 channels; the rest stay free, each moving its own channel's weights.
  assert.equal(structure.freedom, 6);
  const random = new SeededRandom(9);
  const u = new Array<number>(structure.variables.length).fill(0);
  for (const direction of structure.basis) {
    const c = random.normals(1)[0];
    direction.forEach((d, i) => (u[i] += c * d));
  }
  const scaled = applyScaling(checkpoint.weights, structure, u);
  assert.equal(scaled.problem, undefined);
  assert.ok(scaled.weights.some((w, i) => w.values.some((value, e) => Math.abs(value - checkpoint.weights[i].values[e]) > 1e-3 * Math.abs(value))), 'the weights did change');
  const x = channelsLast(inputs(10));
  const before = referenceOutputs(checkpoint.model, checkpoint.weights, x, SAMPLES);
  const after = referenceOutputs(checkpoint.model, scaled.weights, x, SAMPLES);
  assert.ok(relativeError(after, before) <= 1e-6, `outputs moved by ${relativeError(after, before)}`);
});

test('a Transpose or Slice that is not a channel move goes to the general layout handlers and computes what ONNX Runtime computes', { skip: missing }, async () => {
  const cases: [string, string][] = [
    ['transpose-spatial', `
nodes.append(helper.make_node("Transpose", ["x"], ["t"], name="swap_hw", perm=[0, 1, 3, 2]))
nodes.append(helper.make_node("Flatten", ["t"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 36))], ["y"], name="dense", transB=1))`],
    ['slice-height', `
nodes.append(helper.make_node("Slice", ["x", ints("starts", [1]), ints("ends", [3]), ints("axes", [2])], ["s"], name="crop_rows"))
nodes.append(helper.make_node("Flatten", ["s"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 24))], ["y"], name="dense", transB=1))`],
  ];
  for (const [name, body] of cases) {
    const file = build(name, body);
    const values = inputs(6);
    const expected = await ortOutputs(file, values);
    const checkpoint = await readOnnx(file);
    assert.ok(!checkpoint.model.layers.some((l) => l.className.startsWith('Channel')), `${name}: not a channel move`);
    const actual = engineOutputs(checkpoint, values, INPUT_SHAPE, 'nchw');
    const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) <= 1e-5 * scale, `${name} output ${i}: ${actual[i]} vs ${e}`));
  }
});

test('channel groups read by anything but a shuffle, and strided channel slices, are refused naming the node', { skip: missing }, async () => {
  const cases: [string, string, RegExp][] = [
    ['grouped-read', `
nodes.append(helper.make_node("Reshape", ["x", ints("grouped", [0, 2, 2, 3, 3])], ["g"], name="view"))
nodes.append(helper.make_node("Relu", ["g"], ["r"], name="relu_on_groups"))
nodes.append(helper.make_node("Reshape", ["r", ints("flat", [0, -1])], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 36))], ["y"], name="dense", transB=1))`, /relu_on_groups.*split into channel groups; only a channel shuffle may read it/],
    ['slice-step', `
nodes.append(helper.make_node("Slice", ["x", ints("starts", [0]), ints("ends", [4]), ints("axes", [1]), ints("steps", [2])], ["s"], name="every_other"))
nodes.append(helper.make_node("Flatten", ["s"], ["f"], name="flatten"))
nodes.append(helper.make_node("Gemm", ["f", w("d", (4, 18))], ["y"], name="dense", transB=1))`, /every_other.*step 2 is not supported/],
  ];
  for (const [name, body, reason] of cases) {
    const file = build(name, body);
    await assert.rejects(readOnnx(file), (error: Error) => error instanceof ModelProblem && reason.test(error.message), name);
  }
});
