import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AnalysisRequest, RescaleRequest } from '../../src/protocol/requests';
import { AnalysisFailed, AnalyzerClient, type Job } from '../../src/host/analyzerClient';
import { CheckpointIndex } from '../../src/host/checkpoints/checkpointIndex';
import { describeForListing } from '../../src/engine/formats/registry';
import type { CheckpointDescription, DescribeRequest } from '../../src/protocol/checkpointFiles';
import type { RescaleReport } from '../../src/protocol/rescaleResult';
import { Commands } from '../../src/host/commands/commands';
import { AnalysisService } from '../../src/host/jobs/analysisService';
import { DataChoices } from '../../src/host/jobs/dataChoice';
import { ResultCache } from '../../src/host/jobs/resultCache';
import type { FunctionComparison, FunctionComparisonRequest } from '../../src/protocol/analyzerProtocol';
import type { AnalysisProgress, AnyReport, FlatnessReport } from '../../src/protocol/report';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import { host, Uri } from './fakeVscode';
import { MemoryMemento } from './memoryMemento';
import { toAnalyzerMessageProblem } from '../../src/protocol/messageValidation';

type Sent = { readonly type: 'analyze'; readonly request: AnalysisRequest } | { readonly type: 'rescale'; readonly request: RescaleRequest } | { readonly type: 'compareOutputs'; readonly request: FunctionComparisonRequest };

/** Every request the host builds must pass the analyzer's checks, as it arrives (through IPC's JSON). */
function acceptedByTheAnalyzer(message: unknown): void {
  assert.equal(toAnalyzerMessageProblem(JSON.parse(JSON.stringify(message))), undefined);
}

/** The analyzer's host-side client with the process left out: records every request it is sent. */
class RecordingAnalyzer extends AnalyzerClient {
  readonly sent: Sent[] = [];
  private id = 0;
  constructor() {
    super({ script: '', log: () => undefined });
  }
  override analyze(request: AnalysisRequest): Job<AnyReport> {
    this.sent.push({ type: 'analyze', request });
    acceptedByTheAnalyzer({ type: 'analyze', id: 1, request });
    const report = { kind: 'full', checkpoint: { path: request.checkpoint }, timings: { total: 0.1 }, hessian: { topEigenvalues: [1], trace: { estimate: 2 } } };
    return { id: ++this.id, done: Promise.resolve(report as unknown as FlatnessReport) };
  }
  override rescale(request: RescaleRequest, _onProgress?: (p: AnalysisProgress) => void): Job<RescaleReport> {
    this.sent.push({ type: 'rescale', request });
    acceptedByTheAnalyzer({ type: 'rescale', id: 1, request });
    return { id: ++this.id, done: Promise.reject(new AnalysisFailed('refused', 'recorded only')) };
  }
  /** Listing is not recorded: the engine describes the file in this process instead of the analyzer's. */
  override describe(request: DescribeRequest): Job<CheckpointDescription> {
    return { id: ++this.id, done: describeForListing(request) };
  }
  override compareOutputs(request: FunctionComparisonRequest): Job<FunctionComparison> {
    this.sent.push({ type: 'compareOutputs', request });
    acceptedByTheAnalyzer({ type: 'compareOutputs', id: 1, request });
    return { id: ++this.id, done: Promise.resolve({ maxOutputDeviation: 0, samples: 8 }) };
  }
}

/** A workspace with two small TF.js checkpoints under models/ and every request-shaping setting set. */
async function workspace(analyzer = new RecordingAnalyzer()) {
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
  const index = new CheckpointIndex((request) => analyzer.describe(request).done, () => [], () => undefined);
  const data = new DataChoices(new MemoryMemento());
  const logged: string[] = [];
  const output = { appendLine: (line: string) => logged.push(line), show: () => undefined } as unknown as import('vscode').OutputChannel;
  const service = new AnalysisService(analyzer, index, new ResultCache(path.join(root, '.storage')), data, output);
  const commands = new Commands(Uri.file(root) as unknown as import('vscode').Uri, index, service, analyzer, data, output);
  const done = () => {
    // Closing the panels, as a user would between tests, so that each test's panels are its own.
    for (const panel of host.panels) panel.dispose();
    index.dispose();
    service.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  };
  return { root, first: first.path, second: second.path, analyzer, commands, logged, done };
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

test('Compare from a right-click ticks that checkpoint first and keeps the columns in the order they were ticked, three or more', async () => {
  const w = await workspace();
  try {
    const third = await writeLayersModel(path.join(w.root, 'models', 'c'), mlpModel([3, 4, 2], 3));
    host.picks.push('models/b/model.json,models/c/model.json,models/a/model.json');
    await w.commands.compare(Uri.file(w.second), [Uri.file(w.second)]);
    assert.deepEqual(host.shownPicks.map((p) => ({ first: p.labels[0], ticked: p.ticked })), [{ first: 'models/b/model.json', ticked: ['models/b/model.json'] }]);
    const analyzed = w.analyzer.sent.filter((s) => s.type === 'analyze').map((s) => s.request.checkpoint);
    assert.deepEqual(analyzed, [w.second, third.path, w.first]);
    const shown = host.panels[0].posted[0] as { type: string; reports: { checkpoint: { path: string } }[] };
    assert.deepEqual(shown.reports.map((r) => r.checkpoint.path), [w.second, third.path, w.first], 'columns in the order ticked');
    assert.equal(w.analyzer.sent.filter((s) => s.type === 'compareOutputs').length, 3, 'every pair is compared');
  } finally {
    w.done();
  }
});

test('Compare on a multi-selection puts the right-clicked checkpoint first', async () => {
  const w = await workspace();
  try {
    await w.commands.compare(Uri.file(w.second), [Uri.file(w.first), Uri.file(w.second)]);
    assert.deepEqual(w.analyzer.sent.filter((s) => s.type === 'analyze').map((s) => s.request.checkpoint), [w.second, w.first]);
    assert.equal(host.shownPicks.length, 0, 'no picker when two or more are selected');
  } finally {
    w.done();
  }
});

/** An analyzer whose every analysis fails the way a bad checkpoint does: the message names the file by its absolute path. */
class FailingAnalyzer extends RecordingAnalyzer {
  override analyze(request: AnalysisRequest): Job<AnyReport> {
    super.analyze(request);
    return { id: 99, done: Promise.reject(new AnalysisFailed('file', `${request.checkpoint}: layer 'dense_9' has no weights`)) };
  }
}

test('a failed analysis is logged with the cause and workspace-relative paths, and so are the data choice and the run', async () => {
  const w = await workspace(new FailingAnalyzer());
  try {
    await w.commands.analyze(Uri.file(w.first));
    const log = w.logged.join('\n');
    assert.ok(!log.includes(w.root), `no absolute workspace path in the log:\n${log}`);
    assert.match(log, /analyzing models\/a\/model\.json on data\/train\.npz \(seed 7\)/);
    assert.match(log, /analysis of models\/a\/model\.json failed: models\/a\/model\.json: layer 'dense_9' has no weights/);
    assert.match(host.messages.map((m) => m.text).join('\n'), /Flatness Lens: models\/a\/model\.json: layer 'dense_9' has no weights/);
  } finally {
    w.done();
  }
});

test('a byte-identical copy gets the cached report under its own path, so Compare tells the two apart', async () => {
  const w = await workspace();
  try {
    // Same path length too: the content hash counts each file name's length.
    const copy = path.join(w.root, 'models', 'c', 'model.json');
    fs.mkdirSync(path.dirname(copy), { recursive: true });
    for (const file of fs.readdirSync(path.dirname(w.second))) fs.copyFileSync(path.join(path.dirname(w.second), file), path.join(path.dirname(copy), file));
    await w.commands.compare(undefined, [Uri.file(w.second), Uri.file(copy)]);
    assert.deepEqual(w.analyzer.sent.filter((s) => s.type === 'analyze').map((s) => s.request.checkpoint), [w.second], 'the copy comes from the cache');
    const shown = host.panels[0].posted[0] as { reports: { checkpoint: { path: string } }[] };
    assert.deepEqual(shown.reports.map((r) => r.checkpoint.path), [w.second, copy]);
  } finally {
    w.done();
  }
});
