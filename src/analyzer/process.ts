import { analyzeAnyFile } from '../engine/analysis/analyzeFile';
import { checkDataCandidates } from '../engine/analysis/dataCandidates';
import { rescaleReport } from '../cli/rescaleReport';
import { describeForListing } from '../engine/formats/registry';
import { compareFunctions } from '../engine/rescale/compareFunctions';
import { planRescale, writeRescaled } from '../engine/rescale/plan';
import { failureKind, throwIfAborted } from '../protocol/errors';
import type { FromAnalyzerMessage, JobMessage, JobResult, ToAnalyzerMessage } from '../protocol/analyzerProtocol';
import { messageId, toAnalyzerMessageProblem } from '../protocol/messageValidation';
import { removePendingTempFilesSync } from '../engine/io/atomicWrite';
import { endJobLedger, startNewJobLedger } from '../engine/io/readLedger';
import type { AnalysisProgress } from '../protocol/report';

/**
 * The background analyzer: a forked Node process that owns all tensor math, so the extension host
 * never blocks. Jobs run one at a time in arrival order; progress goes out at most every 250 ms.
 */
const queue: JobMessage[] = [];
const cancelled = new Set<number>();
/** The job in progress; `answered` once Cancel was acknowledged, so its late outcome is not sent. */
let running: { id: number; controller: AbortController; answered: boolean } | undefined;

function send(message: FromAnalyzerMessage): void {
  process.send?.(message);
}

async function run(job: JobMessage, signal: AbortSignal, onProgress: (progress: AnalysisProgress) => void): Promise<JobResult> {
  switch (job.type) {
    case 'analyze':
      return { kind: 'analysis', report: await analyzeAnyFile(job.request, { signal, onProgress }) };
    case 'rescale': {
      const plan = await planRescale(job.request, { signal, onProgress: (fraction, message) => onProgress({ stage: 'setup', fraction, message }) });
      throwIfAborted(signal);
      return { kind: 'rescale', report: rescaleReport(plan, await writeRescaled(plan, job.out)) };
    }
    case 'compareOutputs':
      return { kind: 'comparison', comparison: await compareFunctions(job.request) };
    case 'dataCandidates':
      return { kind: 'dataCandidates', candidates: await checkDataCandidates(job.request, signal) };
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
  const current = { id: job.id, controller, answered: false };
  running = current;
  startNewJobLedger();
  let lastProgress = 0;
  try {
    const result = await run(job, controller.signal, (progress) => {
      const now = Date.now();
      if (current.answered || (now - lastProgress < 250 && progress.fraction < 1)) return;
      lastProgress = now;
      send({ type: 'progress', id: job.id, progress });
    });
    if (!current.answered) send({ type: 'result', id: job.id, result });
  } catch (error) {
    if (!current.answered) send({ type: 'failed', id: job.id, kind: failureKind(error), message: error instanceof Error ? error.message : String(error) });
  } finally {
    endJobLedger();
    running = undefined;
    void runNext();
  }
}

/** Every message is checked against its schema here, at the process boundary: a bad one never reaches the engine. */
process.on('message', (raw: unknown) => {
  const problem = toAnalyzerMessageProblem(raw);
  if (problem !== undefined) {
    const id = messageId(raw);
    if (id !== undefined) send({ type: 'failed', id, kind: 'refused', message: `invalid request: ${problem}` });
    else process.stderr.write(`analyzer: ignored an invalid message: ${problem}\n`);
    return;
  }
  const message = raw as ToAnalyzerMessage;
  if (message.type === 'cancel') {
    if (running?.id === message.id) {
      // Answered at once; the job stops at its next check of the signal and writes nothing after it.
      running.controller.abort();
      if (!running.answered) send({ type: 'failed', id: message.id, kind: 'cancelled', message: 'cancelled' });
      running.answered = true;
    }
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

function stop(code: number): void {
  running?.controller.abort();
  removePendingTempFilesSync();
  process.exit(code);
}

process.on('disconnect', () => stop(0));
process.on('SIGTERM', () => stop(143));
process.on('SIGINT', () => stop(130));
send({ type: 'ready', pid: process.pid });
