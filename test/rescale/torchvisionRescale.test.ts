/**
 * Rescaling torchvision models exported to ONNX (test/fixtures/torchvision_export.py, opset 17):
 * ResNet-18's free scales (residual Adds tie their branches) give a file that ONNX Runtime computes
 * the same outputs from; in MobileNetV2 every ReLU6 (Clip(0, 6)) is named as a barrier because it is
 * not positively homogeneous, and the scales it leaves free — the linear bottlenecks between
 * blocks — still give an equivalent file. ShuffleNetV2's scales pass through its channel shuffles and
 * channel slices channel by channel, and its rescaled file is the same function too.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnxFormat, readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { SeededRandom } from '../../src/engine/numeric/random';
import { applyScaling } from '../../src/engine/rescale/applyScaling';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { missingPythonModules } from '../fixtures/python';
import { TORCHVISION_SAMPLES as SAMPLES, exportTorchvision, type TorchReference } from '../fixtures/torchvisionModels';
import { caseFolders } from '../fixtures/tempDirs';

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root, freshDir } = caseFolders('torchvision-rescale');
let batches: Record<string, TorchReference> = {};

before(() => {
  if (!missing) batches = exportTorchvision(root, { resnet18: [17], mobilenet_v2: [17], shufflenet_v2_x0_5: [17] });
});

/** The batch as ONNX takes it: NCHW from the fixture's channels-last samples. */
function nchw(inputs: readonly number[]): Float32Array {
  const out = new Float32Array(inputs.length);
  for (let n = 0; n < SAMPLES; n++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) out[((n * 3 + c) * 32 + y) * 32 + x] = inputs[((n * 32 + y) * 32 + x) * 3 + c];
  return out;
}

async function runOrt(file: string, values: Float32Array): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const outputs = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', values, [SAMPLES, 3, 32, 32]) });
    return Float32Array.from(outputs[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/**
 * Rescales along a seeded combination of every free direction, writes the file, and returns
 * max |Δ output| / max |output| in ONNX Runtime and the largest factor applied to any weight.
 */
async function rescaleAndCompare(name: string) {
  const original = join(root, `${name}-opset17.onnx`);
  const checkpoint = await readOnnx(original);
  const structure = analyzeSymmetry(checkpoint, 'layer');
  const random = new SeededRandom(5);
  const coefficients = random.normals(structure.freedom);
  const u = structure.variables.map((_, k) => structure.basis.reduce((sum, direction, d) => sum + coefficients[d] * direction[k], 0));
  const scaled = applyScaling(checkpoint.weights, structure, u);
  assert.equal(scaled.problem, undefined);
  let largestFactor = 1;
  scaled.weights.forEach((w, i) => w.values.forEach((v, j) => {
    const before = checkpoint.weights[i].values[j];
    if (Math.abs(before) > 1e-3) largestFactor = Math.max(largestFactor, Math.abs(v / before), Math.abs(before / v));
  }));
  const [written] = await onnxFormat.write(checkpoint, join(await freshDir(), `${name}.rescaled.onnx`), { weights: scaled.weights, metadata: { mode: 'free directions' } });
  const batch = nchw(batches[name].inputs);
  const expected = await runOrt(original, batch);
  const actual = await runOrt(written, batch);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const deviation = expected.reduce((m, v, i) => Math.max(m, Math.abs(actual[i] - v)), 0) / scale;
  return { checkpoint, structure, deviation, largestFactor };
}

test('torchvision ResNet-18 rescaled along its free scales is the same function in ONNX Runtime', { skip: missing }, async (t) => {
  const { structure, deviation, largestFactor } = await rescaleAndCompare('resnet18');
  t.diagnostic(`ResNet-18: ${structure.freedom} free scales, largest weight factor ${largestFactor.toFixed(2)}, max |Δ| / max |y| ${deviation.toExponential(2)}`);
  assert.ok(structure.freedom > 0, 'ResNet-18 has free scales');
  assert.ok(largestFactor > 1.5, `the weights changed (largest factor ${largestFactor})`);
  assert.ok(deviation <= 1e-5, `max |Δ| / max |y| = ${deviation}`);
});

test('torchvision MobileNetV2: every ReLU6 (Clip) is named as not positively homogeneous; the scales left free still give the same function', { skip: missing }, async (t) => {
  const { checkpoint, structure, deviation, largestFactor } = await rescaleAndCompare('mobilenet_v2');
  const clipBarriers = structure.barriers.filter((b) => b.layer.endsWith('Clip'));
  t.diagnostic(`MobileNetV2: ${clipBarriers.length} ReLU6 barriers, ${structure.freedom} free scales, largest weight factor ${largestFactor.toFixed(2)}, max |Δ| / max |y| ${deviation.toExponential(2)}`);
  assert.equal(clipBarriers.length, 35, 'one barrier per Clip node');
  for (const barrier of clipBarriers) assert.match(barrier.reason, /ReLU6 .*not positively homogeneous/);
  const free = new Set(structure.variables.filter((_, k) => structure.basis.some((direction) => Math.abs(direction[k]) > 1e-9)).map((v) => v.layer));
  const feedingReLU6 = checkpoint.model.layers.filter((l) => l.className === 'ReLU' && l.config.max_value === 6).map((l) => l.inbound[0]);
  assert.equal(feedingReLU6.length, 35);
  for (const layer of feedingReLU6) assert.ok(!free.has(layer), `the output scale of '${layer}' is free, but a ReLU6 reads it`);
  assert.ok(free.size > 0, 'some scales are free');
  assert.ok(deviation <= 1e-5, `max |Δ| / max |y| = ${deviation}`);
});

test('torchvision ShuffleNetV2 rescaled along its free scales, through channel shuffles and slices, is the same function in ONNX Runtime', { skip: missing }, async (t) => {
  const { checkpoint, structure, deviation, largestFactor } = await rescaleAndCompare('shufflenet_v2_x0_5');
  t.diagnostic(`ShuffleNetV2: ${structure.freedom} free scales, largest weight factor ${largestFactor.toFixed(2)}, max |Δ| / max |y| ${deviation.toExponential(2)}`);
  const moves = checkpoint.model.layers.filter((l) => l.className === 'ChannelShuffle' || l.className === 'ChannelSlice');
  assert.ok(moves.length >= 16, `the channel shuffles and slices are layers (found ${moves.length})`);
  assert.ok(!structure.barriers.some((b) => moves.some((l) => l.name === b.layer)), 'no channel move pins a scale');
  assert.ok(structure.freedom > 0, 'ShuffleNetV2 has free scales');
  assert.ok(largestFactor > 1.5, `the weights changed (largest factor ${largestFactor})`);
  assert.ok(deviation <= 1e-5, `max |Δ| / max |y| = ${deviation}`);
});
