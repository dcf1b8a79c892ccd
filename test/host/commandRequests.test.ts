import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AnalysisRequest, RescaleRequest } from '../../src/shared/requests';
import { AnalysisFailed, AnalyzerClient, type Job } from '../../src/analyzer/analyzerClient';
import { CheckpointIndex } from '../../src/checkpoints/checkpointIndex';
import type { RescaleReport } from '../../src/shared/rescaleResult';
import { Commands } from '../../src/commands/commands';
import { AnalysisService } from '../../src/jobs/analysisService';
import { DataChoices } from '../../src/jobs/dataChoice';
import { ResultCache } from '../../src/jobs/resultCache';
import type { FunctionComparison, FunctionComparisonRequest } from '../../src/shared/analyzerProtocol';
import type { AnalysisProgress, AnyReport, FlatnessReport } from '../../src/shared/report';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import { host, Uri } from './fakeVscode';

type Sent = { readonly type: 'analyze'; readonly request: AnalysisRequest } | { readonly type: 'rescale'; readonly request: RescaleRequest } | { readonly type: 'compareOutputs'; readonly request: FunctionComparisonRequest };

/** The analyzer's host-side client with the process left out: records every request it is sent. */
class RecordingAnalyzer extends AnalyzerClient {
  readonly sent: Sent[] = [];
  private id = 0;
  constructor() {
    super({ script: '', log: () => undefined });
  }
  override analyze(request: AnalysisRequest): Job<AnyReport> {
    this.sent.push({ type: 'analyze', request });
    const report = { kind: 'full', checkpoint: { path: request.checkpoint }, timings: { total: 0.1 }, hessian: { topEigenvalues: [1], trace: { estimate: 2 } } };
    return { id: ++this.id, done: Promise.resolve(report as unknown as FlatnessReport) };
  }
  override rescale(request: RescaleRequest, _onProgress?: (p: AnalysisProgress) => void): Job<RescaleReport> {
    this.sent.push({ type: 'rescale', request });
    return { id: ++this.id, done: Promise.reject(new AnalysisFailed('refused', 'recorded only')) };
  }
  override compareOutputs(request: FunctionComparisonRequest): Job<FunctionComparison> {
    this.sent.push({ type: 'compareOutputs', request });
    return { id: ++this.id, done: Promise.resolve({ maxOutputDeviation: 0, samples: 8 }) };
  }
}

class MemoryMemento {
  private readonly values = new Map<string, unknown>();
  keys(): readonly string[] {
    return [...this.values.keys()];
  }
  get<T>(key: string, fallback?: T): T {
    return (this.values.has(key) ? this.values.get(key) : fallback) as T;
  }
  async update(key: string, value: unknown): Promise<void> {
    this.values.set(key, value);
  }
}

/** A workspace with two small TF.js checkpoints under models/ and every request-shaping setting set. */
async function workspace() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-host-'));
  const first = await writeLayersModel(path.join(root, 'models', 'a'), mlpModel([3, 4, 2], 1));
  const second = await writeLayersModel(path.join(root, 'models', 'b'), mlpModel([3, 4, 2], 2));
  host.reset(root, {
    'flatnessLens.dataSets': { 'models/': 'data/train.npz' },
    'flatnessLens.architectures': { 'models/': 'arch/net.architecture.json' },
    'flatnessLens.inputShapes': { 'models/a': '3' },
    'flatnessLens.loss': 'mse',
    'flatnessLens.samples': 64,
    'flatnessLens.probeSamples': 128,
    'flatnessLens.seed': 7,
    'flatnessLens.metrics': ['loss', 'trace'],
    'flatnessLens.topEigenvalues': 3,
    'flatnessLens.traceSamples': 12,
    'flatnessLens.traceTolerance': 0.02,
    'flatnessLens.sharpnessEpsilon': 0.02,
    'flatnessLens.volumeEpsilon': 0.3,
    'flatnessLens.backend': 'cpu',
  });
  const analyzer = new RecordingAnalyzer();
  const index = new CheckpointIndex(() => [], () => undefined);
  const data = new DataChoices(new MemoryMemento());
  const output = { appendLine: () => undefined, show: () => undefined } as unknown as import('vscode').OutputChannel;
  const service = new AnalysisService(analyzer, index, new ResultCache(path.join(root, '.storage')), data, output);
  const commands = new Commands(Uri.file(root) as unknown as import('vscode').Uri, index, service, analyzer, data, output);
  const done = () => {
    index.dispose();
    service.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  };
  return { root, first: first.path, second: second.path, analyzer, commands, done };
}

/** What every request for a checkpoint under models/ carries, from the settings above. */
function inputsFor(root: string, checkpoint: string, inputShape?: number[]) {
  return {
    checkpoint,
    architecture: path.join(root, 'arch', 'net.architecture.json'),
    inputShape,
    data: path.join(root, 'data', 'train.npz'),
    loss: 'mse',
    samples: 64,
    probeSamples: 128,
    seed: 7,
    backend: 'cpu',
  };
}

test('Analyze sends the loss, samples, metric settings, backend, data and architecture from the settings', async () => {
  const w = await workspace();
  try {
    await w.commands.analyze(Uri.file(w.first));
    assert.deepEqual(w.analyzer.sent, [
      {
        type: 'analyze',
        request: {
          ...inputsFor(w.root, w.first, [3]),
          metrics: ['loss', 'trace'],
          settings: { eigenvalues: { count: 3 }, trace: { samples: 12, tolerance: 0.02 }, sharpness: { epsilon: 0.02 }, volume: { epsilon: 0.3 } },
        },
      },
    ]);
    assert.deepEqual(host.messages, []);
  } finally {
    w.done();
  }
});

test('Rescale to Sharpen sends the same loss, samples and backend as the analysis, with the trace probes', async () => {
  const w = await workspace();
  try {
    host.inputs.push('50');
    host.picks.push('Per layer', 'Trace');
    await w.commands.rescaleCommand(Uri.file(w.first), 'sharpen');
    assert.deepEqual(w.analyzer.sent, [
      {
        type: 'rescale',
        request: { ...inputsFor(w.root, w.first, [3]), mode: 'sharpen', factor: 50, granularity: 'layer', objective: 'trace', traceSamples: undefined },
      },
    ]);
    assert.deepEqual(host.messages, [{ severity: 'error', text: 'Flatness Lens: recorded only' }]);
  } finally {
    w.done();
  }
});

test('Rescale to Flatten per unit leaves the probe count to the rescaler (its probes are shared by all units)', async () => {
  const w = await workspace();
  try {
    host.picks.push('Per unit', 'Top eigenvalue λ_max');
    await w.commands.rescaleCommand(Uri.file(w.second), 'flatten');
    assert.deepEqual(w.analyzer.sent, [
      {
        type: 'rescale',
        request: { ...inputsFor(w.root, w.second), mode: 'flatten', factor: undefined, granularity: 'unit', objective: 'lambda-max', traceSamples: undefined },
      },
    ]);
  } finally {
    w.done();
  }
});

test('Compare analyzes each checkpoint and compares outputs with the same inputs, backend included', async () => {
  const w = await workspace();
  try {
    await w.commands.compare(undefined, [Uri.file(w.first), Uri.file(w.second)]);
    const analyzed = w.analyzer.sent.filter((s) => s.type === 'analyze').map((s) => s.request.checkpoint);
    assert.deepEqual(analyzed, [w.first, w.second]);
    assert.deepEqual(
      w.analyzer.sent.filter((s) => s.type === 'compareOutputs'),
      [{ type: 'compareOutputs', request: { first: inputsFor(w.root, w.first, [3]), second: w.second } }],
    );
    assert.equal(host.panels.length, 1);
    assert.deepEqual(host.panels[0].posted.map((m) => (m as { type: string }).type), ['compare/show']);
  } finally {
    w.done();
  }
});
