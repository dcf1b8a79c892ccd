/**
 * The whole analysis on ONNX Runtime and on tfjs (wasm) gives the same numbers: the example MLP
 * with its data set, same seed, so the same probes and start vectors; the differences are float32
 * rounding (tolerances: loss and gradient norm 1e-5, eigenvalues 1e-3, relative; accuracy equal). The
 * ReLU MLP's trace is exact on ONNX Runtime (src/engine/exec/onnxruntime/exactTraceGraph.ts) and an
 * estimate on tfjs: the estimate's error bar covers it.
 * Also: the report states backend, device, threads and peak memory, and a missing CUDA provider is named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { onnxRuntimeAvailable, probeDevice } from '../../src/engine/exec/onnxruntime/runtime';
import type { AnalysisRequest } from '../../src/protocol/requests';

const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');
const request: AnalysisRequest = {
  checkpoint: path.join(example, 'model.json'),
  data: path.join(example, 'digits.csv.gz'),
  samples: 300,
  metrics: ['loss', 'eigenvalues', 'trace', 'density'],
  // Three batches: each batch's outputs (for accuracy) and gradient come from the executor's one pass.
  settings: { batchSize: 128, eigenvalues: { count: 3 }, trace: { samples: 8 }, density: { runs: 1, steps: 10 } },
};

const relative = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-30);

test('ONNX Runtime and tfjs give the same analysis of the example MLP', { skip: !onnxRuntimeAvailable() }, async () => {
  const residentBefore = process.memoryUsage().rss;
  const onnx = await analyzeFile({ ...request, backend: 'onnxruntime', threads: 1 });
  // The peak resident memory is at least what was resident before, at most the kernel's high-water mark after.
  assert.ok(onnx.tool.peakMemoryBytes! >= residentBefore, `peak ${onnx.tool.peakMemoryBytes} < resident ${residentBefore}`);
  const highWater = /VmHWM:\s+(\d+) kB/.exec(fs.existsSync('/proc/self/status') ? fs.readFileSync('/proc/self/status', 'utf8') : '');
  if (highWater) assert.ok(onnx.tool.peakMemoryBytes! <= Number(highWater[1]) * 1024, `peak ${onnx.tool.peakMemoryBytes} above VmHWM ${highWater[1]} kB`);
  const wasm = await analyzeFile({ ...request, backend: 'wasm' });
  assert.equal(onnx.tool.backend, 'onnxruntime');
  assert.equal(onnx.tool.device, 'cpu');
  assert.equal(onnx.tool.threads, 1);
  assert.equal(wasm.tool.device, undefined);
  assert.ok(relative(onnx.loss, wasm.loss) <= 1e-5, `loss ${onnx.loss} vs ${wasm.loss}`);
  assert.ok(relative(onnx.gradientNorm, wasm.gradientNorm) <= 1e-5, `gradient norm ${onnx.gradientNorm} vs ${wasm.gradientNorm}`);
  assert.equal(onnx.accuracy, wasm.accuracy);
  onnx.hessian.topEigenvalues!.forEach((l, i) => assert.ok(relative(l, wasm.hessian.topEigenvalues![i]) <= 1e-3, `λ${i + 1} ${l} vs ${wasm.hessian.topEigenvalues![i]}`));
  const [exact, estimate] = [onnx.hessian.trace!, wasm.hessian.trace!];
  assert.equal(exact.method, 'exact');
  assert.equal(estimate.method, 'deflated');
  assert.ok(estimate.stderr > 0 && Math.abs(exact.estimate - estimate.estimate) <= 3 * estimate.stderr, `exact trace ${exact.estimate} vs estimate ${estimate.estimate} ± ${estimate.stderr}`);
  assert.equal(onnx.hessian.hvps, wasm.hessian.hvps - estimate.products!);
});

test('--device cuda without the CUDA provider is refused, naming the way out', { skip: !onnxRuntimeAvailable() || probeDevice('cuda') === undefined }, async () => {
  await assert.rejects(analyzeFile({ ...request, backend: 'onnxruntime', device: 'cuda' }), /CUDA execution provider.*README/);
});

test('--device cuda needs the onnxruntime backend', async () => {
  await assert.rejects(analyzeFile({ ...request, backend: 'wasm', device: 'cuda' }), /--device cuda needs the onnxruntime backend/);
});
