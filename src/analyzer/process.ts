import { analyzeAnyFile } from '../analysis/analyzeFile';
import { rescaleReport } from '../cli/rescaleReport';
import { describeForListing } from '../formats/registry';
import { compareFunctions } from '../rescale/compareFunctions';
import { planRescale, writeRescaled } from '../rescale/plan';
import { failureKind } from '../shared/errors';
import { isToAnalyzerMessage, type FromAnalyzerMessage, type JobMessage, type JobResult } from '../shared/analyzerProtocol';
import type { AnalysisProgress } from '../shared/report';

/**
 * The background analyzer: a forked Node process that owns all tensor math, so the extension host
 * never blocks. Jobs run one at a time in arrival order; progress goes out at most every 250 ms.
 */
const queue: JobMessage[] = [];
const cancelled = new Set<number>();
let running: { id: number; controller: AbortController } | undefined;

function send(message: FromAnalyzerMessage): void {
  process.send?.(message);
}

async function run(job: JobMessage, signal: AbortSignal, onProgress: (progress: AnalysisProgress) => void): Promise<JobResult> {
  switch (job.type) {
    case 'analyze':
      return { kind: 'analysis', report: await analyzeAnyFile(job.request, { signal, onProgress }) };
    case 'rescale': {
      const plan = await planRescale(job.request, { signal, onProgress: (fraction, message) => onProgress({ stage: 'setup', fraction, message }) });
      return { kind: 'rescale', report: rescaleReport(plan, await writeRescaled(plan, job.out)) };
    }
    case 'compareOutputs':
      return { kind: 'comparison', comparison: await compareFunctions(job.request) };
    case 'describe':
      return { kind: 'description', description: await describeForListing(job.request) };
    default: {
      const unexpected: never = job;
      throw new Error(`unknown job ${JSON.stringify(unexpected)}`);
    }
  }
}

/**
 * Listing a file reads its header (and hashes its files when asked): it runs at once, beside a running
 * analysis, so the Checkpoints view fills while a long job is under way.
 */
async function describeNow(job: Extract<JobMessage, { type: 'describe' }>): Promise<void> {
  try {
    send({ type: 'result', id: job.id, result: await run(job, new AbortController().signal, () => undefined) });
  } catch (error) {
    send({ type: 'failed', id: job.id, kind: failureKind(error), message: error instanceof Error ? error.message : String(error) });
  }
}

async function runNext(): Promise<void> {
  if (running) return;
  const job = queue.shift();
  if (!job) return;
  if (cancelled.delete(job.id)) {
    send({ type: 'failed', id: job.id, kind: 'cancelled', message: 'cancelled' });
    void runNext();
    return;
  }
  const controller = new AbortController();
  running = { id: job.id, controller };
  let lastProgress = 0;
  try {
    const result = await run(job, controller.signal, (progress) => {
      const now = Date.now();
      if (now - lastProgress < 250 && progress.fraction < 1) return;
      lastProgress = now;
      send({ type: 'progress', id: job.id, progress });
    });
    send({ type: 'result', id: job.id, result });
  } catch (error) {
    send({ type: 'failed', id: job.id, kind: failureKind(error), message: error instanceof Error ? error.message : String(error) });
  } finally {
    running = undefined;
    void runNext();
  }
}

process.on('message', (message: unknown) => {
  if (!isToAnalyzerMessage(message)) return;
  if (message.type === 'cancel') {
    if (running?.id === message.id) running.controller.abort();
    else cancelled.add(message.id);
    return;
  }
  if (message.type === 'describe') {
    void describeNow(message);
    return;
  }
  queue.push(message);
  void runNext();
});

process.on('disconnect', () => process.exit(0));
send({ type: 'ready', pid: process.pid });
