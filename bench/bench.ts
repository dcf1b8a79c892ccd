import { peakResidentMemoryBytes } from '../src/engine/analysis/peakMemory';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { analyze } from '../src/engine/analysis/analyze';
import { mergeSettings } from '../src/engine/analysis/analyzeFile';
import { Objective } from '../src/engine/analysis/objective';
import { SeededRandom } from '../src/engine/numeric/random';
import { disposeVector } from '../src/engine/analysis/vectors';
import type { Dataset } from '../src/engine/data/dataset';
import { tfjsLayersFormat } from '../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import type { TfjsLayersSource } from '../src/engine/formats/tfjsLayers/modelJson';
import { initBackend } from '../src/engine/model/backend';
import { relaunchWithReusingAllocator, runsWithReusingAllocator } from '../src/engine/exec/reusingAllocator';
import { NetworkFunction } from '../src/engine/model/network';
import { toolVersion } from '../src/protocol/version';
import { benchModels } from './benchModels';
import { measureEventLoopLag } from './eventLoopLag';
import { productTimings } from './onnxBench';
import { analysisVsPeerTable, defaultPeerScript, medianPeerRun, peerEnvironment, python, pythonHasTorch, runPeer, type AnalysisVsPeerRow } from './defaultAnalysisBench';
import { chooseEngine } from '../src/engine/exec/onnxruntime/engineChoice';
import { defaultThreads, onnxRuntimeAvailable } from '../src/engine/exec/onnxruntime/runtime';
import { measureFlag, measureInThisProcess, resnetRuns } from './resnetBench';

const tfjsLayersSource = (modelJson: TfjsLayersSource['modelJson']): TfjsLayersSource => ({ kind: 'tfjs-layers', modelJson });
import { compareTraceEstimators, traceByUnitVectors, type EstimatorResult } from './traceEstimators';
import { execFileSync } from 'node:child_process';

/**
 * `npm run bench`: forward, gradient and Hessian-vector-product times (median of repeats) and the
 * default analysis on the benchmark networks. Writes JSON (default bench/results.json).
 * --save-models DIR also writes each network and its data as TF.js Layers + .npz, so the same work
 * can be timed in another framework. --skip-analysis times only the primitives.
 * ONNX Runtime's HVP is timed at 1 thread and at every core, with blocks of k directions per run
 * (median of at least 9 after 2 warm-ups); PyTorch's HVP on the same network and data is timed by
 * the peer script below (--torch-reference SCRIPT names another script with the same `peer`
 * command); the two alternate over 3 rounds and each gives its median.
 * The default analysis (the Hessian metrics below, on the engine the command line picks: ONNX
 * Runtime where it runs the network) is timed at 1 thread and at every core; each is followed, back
 * to back, by the peer at the same threads: `python3 SCRIPT peer --density` on the saved network,
 * once per seed (--peer-seeds, default 3), and the table "default analysis vs peer" sets the times
 * side by side: ours without the density against the peer's top eigenvalue and trace, ours with
 * it against the peer's with its density (PyHessian's 100 Lanczos steps) added.
 * The bench runs under the malloc settings of the command line (src/engine/exec/reusingAllocator.ts);
 * the peers run as PyTorch does by default.
 * The peer is bench/pyhessianPeer.py (PyHessian's defaults in PyTorch) when /usr/bin/python3 has
 * torch, or --peer SCRIPT; --no-peer skips it. Each analysis also compares the trace estimators at
 * equal products (bench/traceEstimators.ts).
 * Networks of at most 5,000 parameters get their exact trace (the script's float64 `exact` with
 * --peer, else one product per parameter), and every trace estimate, the peer's too, its actual error.
 * --models A,B runs only the networks whose names contain A or B; --skip-lag skips the event-loop lag.
 */
const exactTraceLimit = 5000;

interface TableRow {
  readonly model: string;
  readonly parameters: number;
  readonly exact?: number;
  readonly ours: { seconds: number; products: number; analysisSeconds: number; analysisProducts: number; estimate: number; stderr: number };
  readonly estimators: EstimatorResult[];
  readonly peer?: { seconds: number; hvps: number; trace: number };
}

const percent = (v: number | undefined) => (v === undefined ? 'n/a' : `${(100 * v).toFixed(2)}%`);

/** The comparison as a Markdown table: products, time and actual error for ours, plain Hutchinson and the peer. */
function comparisonTable(rows: readonly TableRow[]): string {
  const lines = [
    '| network | params | exact Tr H | default analysis: products, s (of which eigenvalues + trace) | trace ± s.e. (error) | plain Hutchinson, same products: ± s.e. (error); products for 1% | peer: products, s | peer trace (error) |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const error = (estimate: number) => (r.exact === undefined ? 'n/a' : percent((estimate - r.exact) / r.exact));
    const plain = r.estimators.find((e) => e.estimator.startsWith('plain'));
    lines.push([
      '', r.model, r.parameters.toLocaleString('en-US'), r.exact === undefined ? 'n/a' : r.exact.toPrecision(5),
      `${r.ours.analysisProducts}, ${r.ours.analysisSeconds.toFixed(1)} (${r.ours.products}, ${r.ours.seconds.toFixed(1)})`,
      `${r.ours.estimate.toPrecision(5)} ± ${percent(r.ours.stderr / Math.abs(r.ours.estimate))} (${error(r.ours.estimate)})`,
      plain ? `± ${percent(plain.relativeStderr)} (${error(plain.estimate)}); ${plain.productsFor1Percent?.toLocaleString('en-US')}` : 'n/a',
      r.peer ? `${r.peer.hvps}, ${r.peer.seconds.toFixed(1)}` : 'n/a',
      r.peer ? `${r.peer.trace.toPrecision(5)} (${error(r.peer.trace)}), no error bar` : 'n/a',
      '',
    ].join(' | ').trim());
  }
  return lines.join('\n');
}
function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(repeats: number, work: () => void): { medianMs: number; samples: number[] } {
  work();
  const samples: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    work();
    samples.push(performance.now() - t0);
  }
  return { medianMs: median(samples), samples };
}

function randomDataset(inputShape: readonly number[], count: number, classes: number, seed: number): Dataset {
  const random = new SeededRandom(seed);
  const perSample = inputShape.reduce((a, b) => a * b, 1);
  const inputs = new Float32Array(count * perSample).map(() => random.uniform());
  const labels = Int32Array.from({ length: count }, () => Math.floor(random.uniform() * classes));
  return { source: `${count} uniform random inputs, random labels`, count, sampleShape: inputShape, inputs, targets: { kind: 'classes', classes: labels } };
}

function npy(shape: number[], data: Float32Array | Int32Array): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : '<i4';
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8], 0);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === measureFlag) return measureInThisProcess(args.slice(1));
  const option = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const out = option('--out') ?? path.join('bench', 'results.json');
  // PyTorch reads the networks and data from files: save them (to a temporary folder unless --save-models).
  const repeats = Number(option('--repeats') ?? 5);
  const skipAnalysis = args.includes('--skip-analysis');
  const ownPeer = pythonHasTorch() ? defaultPeerScript(__dirname) : undefined;
  // PyTorch's per-product time comes from the peer's products unless another script is named.
  const torchReference = option('--torch-reference') ?? (args.includes('--no-peer') ? undefined : ownPeer);
  const peer = args.includes('--no-peer') || skipAnalysis ? undefined : (option('--peer') ?? ownPeer);
  const peerSeeds = Number(option('--peer-seeds') ?? 3);
  const saveModels = option('--save-models') ?? (torchReference || peer ? fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-bench-')) : undefined);
  if (peer) process.stderr.write(`peer: ${peer}\n`);
  const only = option('--models')?.split(',');
  // First, while this process is as idle as an extension host: nothing of its own in memory yet.
  const lag = args.includes('--skip-lag') ? undefined : await measureEventLoopLag(__dirname, path.join(__dirname, '..', 'examples', 'digits-mlp'));
  if (lag) process.stderr.write(`extension-host event-loop lag during an analysis: p50 ${lag.p50Ms.toFixed(2)} ms, p99 ${lag.p99Ms.toFixed(2)} ms, max ${lag.maxMs.toFixed(2)} ms (goal: p99 < 20 ms)\n`);
  const backend = await initBackend((option('--backend') as 'auto' | 'wasm' | 'cpu' | undefined) ?? 'auto');
  const results: unknown[] = [];
  const table: TableRow[] = [];
  const versusPeer: AnalysisVsPeerRow[] = [];
  for (const model of benchModels.filter((m) => !only || only.some((name) => m.name.includes(name)))) {
    const network = new NetworkFunction(model.checkpoint);
    const dataset = randomDataset(network.inputShape, model.batch, 10, 1);
    if (saveModels) {
      const dir = path.join(saveModels, model.name);
      fs.mkdirSync(dir, { recursive: true });
      for (const f of ['model.json', 'model.weights.bin']) fs.rmSync(path.join(dir, f), { force: true });
      await tfjsLayersFormat.write({ ...model.checkpoint, format: 'tfjs-layers', source: tfjsLayersSource(syntheticModelJson(model.checkpoint)) }, path.join(dir, 'model.json'), {});
      const { zipSync } = await import('fflate');
      fs.writeFileSync(path.join(dir, 'data.npz'), zipSync({
        'x.npy': npy([dataset.count, ...network.inputShape], dataset.inputs),
        'y.npy': npy([dataset.count], (dataset.targets as { classes: Int32Array }).classes),
      }));
    }
    const modelDir = saveModels ? path.join(saveModels, model.name) : undefined;
    const { onnx, torch } = productTimings(network, dataset, model.batch, repeats, torchReference && modelDir ? { script: torchReference, modelDir } : undefined);
    const tfjsRssMb = peakResidentMemoryBytes() / 2 ** 20;
    const objective = new Objective(network, dataset, 'ce', model.batch);
    const v = objective.parameters.map((p) => tf.randomNormal([...p.shape]));
    const forward = time(repeats, () => objective.value());
    const gradient = time(repeats, () => disposeVector(objective.gradient().gradient));
    const hvp = time(repeats, () => disposeVector(objective.hessianVectorProduct(v)));
    disposeVector(v);
    objective.dispose();
    const entry: Record<string, unknown> = {
      model: model.name,
      parameters: network.parameterCount,
      batch: model.batch,
      forwardMs: forward.medianMs,
      gradientMs: gradient.medianMs,
      hvpMs: hvp.medianMs,
      hvpPerGradient: hvp.medianMs / gradient.medianMs,
      onnxruntime: onnx,
      torch,
      peakRssMbBeforeTfjs: tfjsRssMb,
      peakRssMbAfterTfjs: peakResidentMemoryBytes() / 2 ** 20,
    };
    for (const o of onnx) process.stderr.write(`${model.name}: onnxruntime ${o.threads} thread(s): HVP ${o.hvpMs.toFixed(1)} ms; per direction in blocks ${o.blocks.map((b) => `k=${b.directions} ${b.perDirectionMs.toFixed(1)}`).join(', ')} ms\n`);
    if (torch) for (const t of torch) process.stderr.write(`${model.name}: torch ${t.threads} thread(s): ${t.secondsPerHvp === undefined ? t.error : `${(t.secondsPerHvp * 1000).toFixed(1)} ms per HVP (with our malloc settings ${(t.secondsPerHvpSameMalloc! * 1000).toFixed(1)} ms)`}\n`);
    process.stderr.write(`${model.name}: forward ${forward.medianMs.toFixed(1)} ms, gradient ${gradient.medianMs.toFixed(1)} ms, HVP ${hvp.medianMs.toFixed(1)} ms\n`);
    if (!skipAnalysis) {
      const exact = network.parameterCount <= exactTraceLimit ? exactTrace(network, dataset, model.batch, peer && modelDir ? { script: peer, modelDir } : undefined) : undefined;
      if (exact) {
        entry.exactTrace = exact;
        process.stderr.write(`${model.name}: exact trace ${exact.trace} (${exact.source}, ${exact.seconds.toFixed(1)} s)\n`);
      }
      // The default analysis as the command line runs it, at 1 thread and at every core, each with the peer right after.
      const threadCounts = onnxRuntimeAvailable() ? [...new Set([1, defaultThreads()])] : [undefined];
      const analyses: { threads?: number; seconds: number; report: Awaited<ReturnType<typeof analyze>> }[] = [];
      for (const threads of threadCounts) {
        // What the peer computes (the top eigenvalue and the trace: ours with the top 5, their residuals, the
        // per-tensor eigenvalues and the trace's error bar), then the Hessian metrics with the spectral density.
        const rows: AnalysisVsPeerRow[] = [];
        for (const metrics of [peerMetrics, hessianMetrics]) {
          const engine = threads === undefined ? {} : chooseEngine('auto', model.checkpoint.model, { threads });
          const t0 = performance.now();
          const report = await analyze({
            checkpoint: model.checkpoint, checkpointSha256: '', network, dataset, dataFree: false, loss: 'ce', lossFrom: 'option',
            metrics, seed: 0, settings: mergeSettings(undefined), version: toolVersion,
            ...(engine.executorFactory ? { backend: 'onnxruntime', device: engine.device, threads: engine.threads, executorFactory: engine.executorFactory, gramProducts: engine.gramProducts } : { backend: backend.name }),
          });
          const analysisSeconds = (performance.now() - t0) / 1000;
          if (metrics === hessianMetrics) analyses.push({ threads, seconds: analysisSeconds, report });
          process.stderr.write(`${model.name}: analysis (${metrics.join(', ')}) on ${report.tool.backend}${threads ? ` at ${threads} thread(s)` : ''}: ${analysisSeconds.toFixed(1)} s, ${report.hessian.hvps} products, trace ${report.hessian.trace?.method}\n`);
          rows.push({ model: model.name, metrics: metrics.join(', '), withDensity: (metrics as readonly string[]).includes('density'), threads: threads ?? 1, ours: { seconds: analysisSeconds, products: report.hessian.hvps } });
        }
        const peerRuns = peer && modelDir && threads !== undefined ? runPeer(peer, modelDir, threads, peerSeeds) : undefined;
        if (peerRuns) process.stderr.write(`${model.name}: peer at ${threads} thread(s): ${peerRuns.error ?? peerRuns.runs.map((r) => `${r.hvps} products ${r.seconds.toFixed(1)} s`).join('; ')}\n`);
        versusPeer.push(...rows.map((r) => ({ ...r, peer: peerRuns })));
      }
      entry.defaultAnalysisVsPeer = versusPeer.filter((r) => r.model === model.name);
      const { seconds, report } = analyses[0];
      const density = report.hessian.density;
      const densityProducts = density?.stepsPerRun ? density.stepsPerRun.slice(density.reusedRuns ?? 0).reduce((a, b) => a + b, 0) : 0;
      const eigenAndTrace = { products: report.hessian.hvps - densityProducts, seconds: (report.timings.eigenvalues ?? 0) + (report.timings.trace ?? 0) };
      const trace = report.hessian.trace!;
      entry.defaultAnalysis = {
        metrics: hessianMetrics, seconds, hvps: report.hessian.hvps, eigenvaluesAndTrace: eigenAndTrace, timings: report.timings,
        topEigenvalue: report.hessian.topEigenvalues?.[0], trace: trace.estimate, traceStderr: trace.stderr,
        traceRelativeError: exact ? (trace.estimate - exact.trace) / exact.trace : undefined,
      };
      process.stderr.write(`${model.name}: default analysis (${hessianMetrics.join(', ')}) ${seconds.toFixed(1)} s, ${report.hessian.hvps} HVPs (${eigenAndTrace.products} for eigenvalues and trace, ${eigenAndTrace.seconds.toFixed(1)} s)\n`);
      const comparisonEngine = onnxRuntimeAvailable() ? chooseEngine('auto', model.checkpoint.model, { threads: defaultThreads() }) : {};
      const comparison = new Objective(network, dataset, 'ce', model.batch, comparisonEngine.executorFactory);
      try {
        entry.traceEstimators = await compareTraceEstimators(comparison, 0, exact?.trace);
      } finally {
        comparison.dispose();
      }
      const row: { -readonly [K in keyof TableRow]: TableRow[K] } = {
        model: model.name, parameters: network.parameterCount, exact: exact?.trace,
        ours: { seconds: eigenAndTrace.seconds, products: eigenAndTrace.products, analysisSeconds: seconds, analysisProducts: report.hessian.hvps, estimate: trace.estimate, stderr: trace.stderr },
        estimators: entry.traceEstimators as EstimatorResult[],
      };
      table.push(row);
      for (const r of entry.traceEstimators as Awaited<ReturnType<typeof compareTraceEstimators>>) {
        process.stderr.write(`${model.name}: trace ${r.estimator}: ${r.estimate.toPrecision(5)} ± ${r.stderr.toPrecision(2)} (${(100 * r.relativeStderr).toFixed(2)}%) in ${r.products} products\n`);
      }
      const peerRunsAtOneThread = versusPeer.find((r) => r.model === model.name && r.threads === 1)?.peer;
      const peerAtOneThread = peerRunsAtOneThread && peerRunsAtOneThread.runs.length > 0 ? medianPeerRun(peerRunsAtOneThread, false) : undefined;
      if (peerAtOneThread) {
        entry.peer = { ...peerAtOneThread, traceRelativeError: exact ? (peerAtOneThread.trace - exact.trace) / exact.trace : undefined };
        row.peer = peerAtOneThread;
      }
    }
    network.dispose();
    results.push(entry);
  }
  if (table.length > 0) process.stderr.write(`\n${comparisonTable(table)}\n`);
  if (versusPeer.length > 0) process.stderr.write(`\n${analysisVsPeerTable(versusPeer)}\n`);
  let resnet18: unknown;
  if (!args.includes('--skip-resnet')) {
    const batch = Number(option('--resnet-batch') ?? 32);
    resnet18 = { model: 'resnet18-32x32', batch, ...resnetRuns(process.argv[1], fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-bench-resnet-')), batch, repeats, Boolean(peer || torchReference)) };
  }
  const summary = { tool: toolVersion, backend: backend.name, node: process.version, cpu: os.cpus()[0]?.model, cores: os.cpus().length, date: new Date().toISOString(), results, resnet18, extensionHostEventLoopLag: lag };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(summary, null, 2) + '\n');
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}

/** What the bench times as the default analysis: the Hessian metrics a peer such as PyHessian also computes. */
const hessianMetrics = ['loss', 'eigenvalues', 'trace', 'density'] as const;
/** The quantities the PyHessian-style peer computes: the top eigenvalue and the trace. */
const peerMetrics = ['loss', 'eigenvalues', 'trace'] as const;

/** The exact trace: the reference script's float64 Hessian of the saved network when there is one, else one product per parameter. */
function exactTrace(network: NetworkFunction, dataset: Dataset, batch: number, reference?: { script: string; modelDir: string }): { trace: number; source: string; seconds: number } {
  const t0 = performance.now();
  if (reference) {
    const output = execFileSync(python, [reference.script, 'exact', '--model', reference.modelDir, '--data', path.join(reference.modelDir, 'data.npz')], { encoding: 'utf8', env: peerEnvironment() });
    const { trace } = JSON.parse(output.trim().split('\n').pop() ?? '{}') as { trace: number };
    return { trace, source: 'float64 Hessian, PyTorch', seconds: (performance.now() - t0) / 1000 };
  }
  const objective = new Objective(network, dataset, 'ce', batch);
  try {
    return { trace: traceByUnitVectors(objective), source: `${network.parameterCount} products with unit vectors`, seconds: (performance.now() - t0) / 1000 };
  } finally {
    objective.dispose();
  }
}

/** A Sequential Layers-format model.json for a benchmark network (no InputLayer: the widest-read form). */
function syntheticModelJson(checkpoint: typeof benchModels[number]['checkpoint']): Record<string, unknown> {
  const layers = checkpoint.model.layers.slice(1).map((l, i) => ({
    class_name: l.className,
    config: { ...l.config, name: l.name, ...(i === 0 ? { batch_input_shape: [null, ...checkpoint.model.inputs[0].shape] } : {}) },
  }));
  return {
    format: 'layers-model',
    generatedBy: `flatness-lens ${toolVersion} benchmark`,
    modelTopology: { class_name: 'Sequential', config: { name: 'bench', layers } },
    weightsManifest: [],
  };
}

// Under the malloc settings the command line and the analyzer process run with.
if (!runsWithReusingAllocator()) void relaunchWithReusingAllocator().then((code) => process.exit(code));
else {
  main().catch((error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
