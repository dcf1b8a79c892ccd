import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AnalysisFailed, AnalyzerClient } from '../../src/host/analyzerClient';
import { isWeightsReport, type AnalysisProgress, type AnyReport, type FlatnessReport } from '../../src/protocol/report';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';

// The real background process, built by `npm test` into dist/analyzer.js.
const script = path.join(__dirname, '..', '..', 'dist', 'analyzer.js');
const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');

function fullReport(report: AnyReport): FlatnessReport {
  assert.ok(!isWeightsReport(report), 'a full analysis report');
  return report;
}

function client(log: string[] = []): AnalyzerClient {
  return new AnalyzerClient({ script, log: (line) => log.push(line) });
}

test('a job runs in the background process, reports progress and returns the report', async () => {
  const analyzer = client();
  try {
    const progress: AnalysisProgress[] = [];
    const job = analyzer.analyze(
      { checkpoint: path.join(example, 'model.json'), data: path.join(example, 'digits.csv.gz'), samples: 200, metrics: ['loss', 'eigenvalues'], settings: { eigenvalues: { count: 2 } } },
      (p) => progress.push(p),
    );
    const report = fullReport(await job.done);
    assert.equal(report.data.samples, 200);
    assert.equal(report.hessian.topEigenvalues!.length, 2);
    assert.ok(progress.length > 0);
    assert.ok(progress.every((p, i) => i === 0 || p.fraction >= progress[i - 1].fraction));
  } finally {
    analyzer.dispose();
  }
});

// The long jobs estimate the trace on the tfjs engine: on ONNX Runtime this ReLU network's trace is exact and instant.
test('cancel stops a long job within a second, and the next job still runs', async () => {
  const analyzer = client();
  try {
    const long = analyzer.analyze({ checkpoint: path.join(example, 'model.json'), data: path.join(example, 'digits.csv.gz'), settings: { trace: { samples: 100_000, tolerance: 1e-9 } }, metrics: ['trace'], backend: 'wasm' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const t0 = Date.now();
    analyzer.cancel(long.id);
    await assert.rejects(long.done, (e: unknown) => e instanceof AnalysisFailed && e.kind === 'cancelled');
    assert.ok(Date.now() - t0 < 1500, `cancel took ${Date.now() - t0} ms`);
    const next = analyzer.analyze({ checkpoint: path.join(example, 'model.json'), samples: 50, metrics: ['loss'] });
    assert.equal(fullReport(await next.done).data.dataFree, true);
  } finally {
    analyzer.dispose();
  }
});

test('a killed process fails its job with a readable message and is restarted for the next', async () => {
  const log: string[] = [];
  const analyzer = client(log);
  try {
    const job = analyzer.analyze({ checkpoint: path.join(example, 'model.json'), data: path.join(example, 'digits.csv.gz'), settings: { trace: { samples: 100_000, tolerance: 1e-9 } }, metrics: ['trace'], backend: 'wasm' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const pid = Number(/pid (\d+)/.exec(log.join('\n'))![1]);
    process.kill(pid, 'SIGTERM');
    await assert.rejects(job.done, (e: unknown) => e instanceof AnalysisFailed && /ended unexpectedly/.test(e.message));
    const next = analyzer.analyze({ checkpoint: path.join(example, 'model.json'), samples: 20, metrics: ['loss'] });
    assert.equal(fullReport(await next.done).data.samples, 20);
  } finally {
    analyzer.dispose();
  }
});

test('a bad file fails only its job, with the file named', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-analyzer-'));
  const written = await writeLayersModel(dir, mlpModel([3, 4, 2], 9));
  fs.writeFileSync(written.shardPaths[0], Buffer.alloc(3));
  const analyzer = client();
  try {
    const bad = analyzer.analyze({ checkpoint: written.path });
    await assert.rejects(bad.done, (e: unknown) => e instanceof AnalysisFailed && e.kind === 'file' && e.message.includes(path.basename(written.path)));
    const good = analyzer.analyze({ checkpoint: path.join(example, 'model.json'), samples: 10, metrics: ['loss'] });
    assert.ok(Number.isFinite(fullReport(await good.done).loss));
  } finally {
    analyzer.dispose();
  }
});

test('an analyzer that does not answer Cancel within the grace time is killed, restarted, and the user told', async () => {
  // A stand-in process that accepts jobs and never answers: what a stuck native call looks like.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-stuck-'));
  const stuck = path.join(dir, 'stuck.js');
  fs.writeFileSync(stuck, "process.on('message', () => undefined); process.send({ type: 'ready', pid: process.pid }); setInterval(() => undefined, 1000);\n");
  const log: string[] = [];
  const analyzer = new AnalyzerClient({ script: stuck, log: (line) => log.push(line) });
  try {
    const job = analyzer.analyze({ checkpoint: '/nowhere/model.json' });
    const started = Date.now();
    analyzer.cancel(job.id, 300);
    await assert.rejects(job.done, (error: unknown) => error instanceof AnalysisFailed && /did not answer Cancel within a second, so it was stopped/.test(error.message));
    assert.ok(Date.now() - started < 2000, `${Date.now() - started} ms`);
    assert.ok(log.some((line) => /did not stop job \d+ within 300 ms; restarting it/.test(line)), log.join('\n'));
    const next = analyzer.analyze({ checkpoint: '/nowhere/model.json' });
    assert.equal(log.filter((line) => /analyzer process started/.test(line)).length, 2);
    analyzer.cancel(next.id, 100);
    await assert.rejects(next.done);
  } finally {
    analyzer.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the analyzer process refuses a malformed job with a message, and keeps serving', async () => {
  const analyzer = client();
  try {
    const bogus = analyzer.rescale({ checkpoint: path.join(example, 'model.json'), mode: 'bogus' as 'flatten' });
    await assert.rejects(bogus.done, (error: unknown) => error instanceof AnalysisFailed && error.kind === 'refused' && /mode must be one of flatten, sharpen, alpha/.test(error.message));
    const report = fullReport(await analyzer.analyze({ checkpoint: path.join(example, 'model.json'), probeSamples: 16, metrics: ['loss'] }).done);
    assert.equal(report.data.samples, 16);
  } finally {
    analyzer.dispose();
  }
});

test('the data-set check runs in the background process and judges each file against the model', async () => {
  const analyzer = client();
  try {
    const files = [path.join(example, 'digits.csv.gz'), path.join(example, 'model.weights.bin')];
    const result = await analyzer.dataCandidates({ model: { checkpoint: path.join(example, 'model.json') }, files }).done;
    assert.deepEqual(result.inputShape, [64]);
    assert.deepEqual(result.candidates.map((c) => c.fits), [true, false]);
    assert.match(result.candidates[1].reason ?? '', /unrecognized data format/);
  } finally {
    analyzer.dispose();
  }
});
