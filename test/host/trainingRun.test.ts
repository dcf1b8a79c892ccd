import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { AnalyzerClient, type Job } from '../../src/host/analyzerClient';
import { CheckpointIndex } from '../../src/host/checkpoints/checkpointIndex';
import { trainingRunsAmong } from '../../src/host/checkpoints/trainingRuns';
import { TrainingRunCommands } from '../../src/host/commands/trainingRunCommands';
import { AnalysisService } from '../../src/host/jobs/analysisService';
import { DataChoices } from '../../src/host/jobs/dataChoice';
import { ResultCache } from '../../src/host/jobs/resultCache';
import { TrainingRunJobs } from '../../src/host/jobs/trainingRunJobs';
import type { AnalysisRequest } from '../../src/protocol/requests';
import type { AnyReport } from '../../src/protocol/report';
import type { TrajectoryReport } from '../../src/protocol/trajectory';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import { host, Uri } from './fakeVscode';
import { MemoryMemento } from './memoryMemento';

// The host's side of a training run against the real analyzer process (npm test builds dist/ first).
const script = path.join(__dirname, '..', '..', 'dist', 'analyzer.js');
const skip = fs.existsSync(script) ? false : 'dist/analyzer.js is not built';

/** The real client, counting the jobs it sends. */
class CountingAnalyzer extends AnalyzerClient {
  readonly sent: AnalysisRequest[] = [];
  override analyze(request: AnalysisRequest, onProgress?: Parameters<AnalyzerClient['analyze']>[1]): Job<AnyReport> {
    this.sent.push(request);
    return super.analyze(request, onProgress);
  }
}

function csv(file: string, rows: number, offset: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lines = Array.from({ length: rows }, (_, i) => [Math.sin(i + offset), Math.cos(2 * i + offset), ((i * 7 + offset) % 5) / 5, (i + offset) % 2].join(','));
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

test('Analyze Training Run on a folder: every checkpoint in step order, the held-out gap, cached reuse, a new checkpoint added live', { skip, timeout: 120_000 }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-host-run-'));
  const checkpoints = [];
  for (const step of [30, 10, 20]) checkpoints.push((await writeLayersModel(path.join(root, 'run', `epoch_${String(step).padStart(3, '0')}`), mlpModel([3, 5, 2], step))).path);
  csv(path.join(root, 'data', 'train.csv'), 40, 0);
  csv(path.join(root, 'data', 'test.csv'), 30, 100);
  host.reset(root, {
    'flatnessLens.dataSets': { 'run/': 'data/train.csv' },
    'flatnessLens.testDataSets': { 'run/': 'data/test.csv' },
    'flatnessLens.metrics': ['loss', 'eigenvalues', 'trace'],
    'flatnessLens.topEigenvalues': 1,
    'flatnessLens.traceSamples': 4,
    'flatnessLens.seed': 5,
    'flatnessLens.backend': 'cpu',
  });
  const analyzer = new CountingAnalyzer({ script, log: () => undefined });
  const index = new CheckpointIndex((request) => analyzer.describe(request).done, () => [], () => undefined);
  const output = { appendLine: () => undefined, show: () => undefined } as unknown as import('vscode').OutputChannel;
  const service = new AnalysisService(analyzer, index, new ResultCache(path.join(root, '.storage')), new DataChoices(new MemoryMemento() as unknown as import('vscode').Memento), output);
  const shown: { trajectory: TrajectoryReport; running: boolean }[] = [];
  const jobs = new TrainingRunJobs(service, analyzer, { show: (trajectory, running) => shown.push({ trajectory, running }), progress: () => undefined, failed: () => undefined }, output);
  const commands = new TrainingRunCommands(index, service, jobs, output);
  try {
    for (const file of checkpoints) await index.entryFor(Uri.file(file) as unknown as import('vscode').Uri);
    await commands.analyzeRun(Uri.file(path.join(root, 'run')));
    assert.deepEqual(host.messages, []);
    assert.equal(shown[0]?.running, true, `nothing shown; messages: ${JSON.stringify(host.messages)}`);
    assert.ok(shown[0].trajectory.points.every((p) => p.status === 'pending'));
    const final = shown[shown.length - 1];
    assert.equal(final.running, false);
    const t = final.trajectory;
    assert.equal(t.series.pattern, 'run/epoch_{step}/model.json');
    assert.deepEqual(t.points.map((p) => [p.step, p.status]), [[10, 'done'], [20, 'done'], [30, 'done']]);
    // The analyzer's numbers for each point are those of the same request analyzed here.
    for (const point of t.points) {
      const request = { ...analyzer.sent.find((r) => r.checkpoint === point.checkpoint && r.metrics?.includes('trace'))!, backend: 'cpu' as const };
      assert.equal(request.seed, 5);
      const own = await analyzeFile(request);
      assert.equal(point.measures!.lambdaMax, own.hessian.topEigenvalues![0]);
      assert.equal(point.measures!.trace, own.hessian.trace!.estimate);
      const held = await analyzeFile({ ...request, data: path.join(root, 'data', 'test.csv'), samples: undefined, metrics: ['loss'] });
      assert.equal(point.test!.loss, held.loss);
      assert.equal(point.gap!.loss, held.loss - own.loss);
    }
    assert.deepEqual(analyzer.sent.map((r) => [path.basename(path.dirname(r.checkpoint)), r.data?.endsWith('test.csv') ? 'test' : 'train']), [
      ['epoch_010', 'train'], ['epoch_010', 'test'], ['epoch_020', 'train'], ['epoch_020', 'test'], ['epoch_030', 'train'], ['epoch_030', 'test'],
    ]);

    // Again: the per-checkpoint reports come from the cache; only the held-out losses are computed.
    analyzer.sent.length = 0;
    await commands.analyzeRun(Uri.file(path.join(root, 'run')));
    assert.ok(analyzer.sent.every((r) => r.data?.endsWith('test.csv')), 'cached reports are not analyzed again');
    assert.equal(analyzer.sent.length, 3);

    // Live: a checkpoint that appears later is analyzed and its point added in step order.
    const later = (await writeLayersModel(path.join(root, 'run', 'epoch_040'), mlpModel([3, 5, 2], 40))).path;
    await index.entryFor(Uri.file(later) as unknown as import('vscode').Uri);
    const run = trainingRunsAmong(await index.all(), [])[0];
    analyzer.sent.length = 0;
    jobs.runChanged(run, false);
    assert.equal(analyzer.sent.length, 0, 'no live analysis while the run’s panel is closed');
    const before = shown.length;
    jobs.runChanged(run, true);
    await new Promise<void>((resolve) => {
      const wait = () => (shown.length > before && !shown[shown.length - 1].running ? resolve() : setTimeout(wait, 50));
      wait();
    });
    const live = shown[shown.length - 1].trajectory;
    assert.deepEqual(live.points.map((p) => [p.step, p.status]), [[10, 'done'], [20, 'done'], [30, 'done'], [40, 'done']]);
    assert.deepEqual(analyzer.sent.map((r) => path.basename(path.dirname(r.checkpoint))), ['epoch_040', 'epoch_040']);
  } finally {
    analyzer.dispose();
    index.dispose();
    service.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
