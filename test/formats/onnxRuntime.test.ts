/**
 * ONNX Runtime as an independent implementation of ONNX: a rescaled file computes there what the
 * original computes, a file written back unchanged computes exactly the same, and Flatness Lens's
 * own forward pass (channels-last) computes what ONNX Runtime computes from the NCHW original.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SeededRandom } from '../../src/engine/numeric/random';
import { onnxFormat, readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { initBackend } from '../../src/engine/model/backend';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import type { RescaleRequest } from '../../src/protocol/requests';
import { caseFolders } from '../fixtures/tempDirs';
import { engineOutputs } from '../fixtures/referenceOutputs';

const fixture = (name: string) => join(__dirname, '..', 'fixtures', 'onnx', name);
const { freshDir } = caseFolders('onnx-runtime');

/**
 * Each fixture with one factor per rescalable layer for `--alpha`: the product along each chain is 1
 * (BatchNormalization starts a new chain: it undoes its input's scale) and 1 before an ELU.
 */
const cases: readonly { name: string; alphas: number[] }[] = [
  { name: 'mlp', alphas: [4, 0.25] },
  { name: 'cnn', alphas: [3, 1 / 3] },
  { name: 'convbn', alphas: [2, 2, 0.5] },
  { name: 'leaky', alphas: [2, 0.25, 2] },
  { name: 'depthwise', alphas: [2, 4, 0.125] },
  { name: 'concat', alphas: [1, 1, 5, 0.2, 1] },
  { name: 'pool', alphas: [1, 2, 2, 0.5] },
];

interface Batch {
  /** NCHW or [N, F], as ONNX takes it. */
  readonly shape: number[];
  readonly values: Float32Array;
}

/** PyTorch's reference inputs followed by 16 seeded Gaussian samples of the same shape. */
function inputsFor(name: string): Batch {
  const ref = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as { inputShape: number[]; inputs: number[] };
  const perSample = ref.inputShape.slice(1).reduce((a, b) => a * b, 1);
  const extra = new SeededRandom(7).fork(name).normals(16 * perSample);
  const values = new Float32Array(ref.inputs.length + extra.length);
  values.set(ref.inputs);
  values.set(extra, ref.inputs.length);
  return { shape: [ref.inputShape[0] + 16, ...ref.inputShape.slice(1)], values };
}

async function runOrt(file: string, batch: Batch): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const outputs = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', batch.values, batch.shape) });
    return Float32Array.from(outputs[session.outputNames[0]].data as Float32Array);
  } finally {
    await session.release();
  }
}

/**
 * max |actual − expected| / max |expected| (the measure planRescale checks before writing), asserted
 * to be at most 1e-5: float32 noise, where an elementwise ratio would blow up at outputs near zero.
 */
function assertClose(actual: Float32Array, expected: Float32Array, what: string): number {
  assert.equal(actual.length, expected.length, `${what}: output sizes`);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let worst = 0;
  expected.forEach((e, i) => {
    if (!(Math.abs(actual[i] - e) <= Math.abs(actual[worst] - expected[worst]))) worst = i;
  });
  const deviation = Math.abs(actual[worst] - expected[worst]) / scale;
  assert.ok(deviation <= 1e-5, `${what}: output ${worst} is ${actual[worst]}, expected ${expected[worst]} (max |output| ${scale})`);
  return deviation;
}

function report(t: TestContext, name: string, deviations: Record<string, number>): void {
  t.diagnostic(`${name}: max |Δ| / max |y|: ${Object.entries(deviations).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
}

for (const { name, alphas } of cases) {
  test(`${name}.onnx: ONNX Runtime agrees with PyTorch and with Flatness Lens's forward pass`, async (t) => {
    await initBackend();
    const ref = JSON.parse(readFileSync(fixture(`${name}.json`), 'utf8')) as { inputShape: number[]; inputs: number[]; outputs: number[] };
    const torchBatch = { shape: ref.inputShape, values: Float32Array.from(ref.inputs) };
    const ortOnTorchInputs = await runOrt(fixture(`${name}.onnx`), torchBatch);
    const vsTorch = assertClose(ortOnTorchInputs, Float32Array.from(ref.outputs), `${name}: ONNX Runtime vs PyTorch`);
    const batch = inputsFor(name);
    const ortOutputs = await runOrt(fixture(`${name}.onnx`), batch);
    const ours = assertClose(engineOutputs(await readOnnx(fixture(`${name}.onnx`)), batch.values, batch.shape, 'nchw'), ortOutputs, `${name}: Flatness Lens vs ONNX Runtime`);
    report(t, name, { 'ORT vs PyTorch': vsTorch, 'Flatness Lens vs ORT': ours });
  });

  test(`${name}.onnx written back with the same weights computes exactly the same in ONNX Runtime`, async () => {
    const checkpoint = await readOnnx(fixture(`${name}.onnx`));
    const [written] = await onnxFormat.write(checkpoint, join(await freshDir(), `${name}.same.onnx`), { weights: checkpoint.weights, metadata: { mode: 'round trip' } });
    const batch = inputsFor(name);
    assert.deepEqual(await runOrt(written, batch), await runOrt(fixture(`${name}.onnx`), batch));
  });

  test(`${name}.onnx rescaled (flatten, sharpen ×10, explicit --alpha) computes the same in ONNX Runtime`, async (t) => {
    const original = fixture(`${name}.onnx`);
    const batch = inputsFor(name);
    const expected = await runOrt(original, batch);
    const originalWeights = (await readOnnx(original)).weights;
    const requests: Record<string, Omit<RescaleRequest, 'checkpoint'>> = {
      flatten: { mode: 'flatten' },
      'sharpen ×10': { mode: 'sharpen', factor: 10 },
      [`alpha [${alphas.map((a) => +a.toFixed(3))}]`]: { mode: 'alpha', alphas },
    };
    const deviations: Record<string, number> = {};
    for (const [label, request] of Object.entries(requests)) {
      const plan = await planRescale({ ...request, checkpoint: original, probeSamples: 8, traceSamples: 4, seed: 1 });
      const [written] = await writeRescaled(plan, join(await freshDir(), `${name}.rescaled.onnx`));
      const changed = plan.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - originalWeights[i].values[j]) > 1e-3 * Math.abs(v)));
      assert.ok(changed, `${name} ${label}: the weights changed`);
      deviations[label] = assertClose(await runOrt(written, batch), expected, `${name} ${label}: rescaled vs original in ONNX Runtime`);
    }
    report(t, name, deviations);
  });
}
