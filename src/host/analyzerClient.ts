import { fork, type ChildProcess } from 'node:child_process';
import { withReusingAllocator } from '../engine/exec/reusingAllocator';
import type { AnalysisRequest, RescaleRequest } from '../protocol/requests';
import type { RescaleReport } from '../protocol/rescaleResult';
import type { CheckpointDescription, DescribeRequest } from '../protocol/checkpointFiles';
import type { FailureKind } from '../protocol/errors';
import type { DataCandidates, DataCandidatesRequest, FromAnalyzerMessage, FunctionComparison, FunctionComparisonRequest, JobMessage, JobResult, ToAnalyzerMessage } from '../protocol/analyzerProtocol';
import type { AnalysisProgress, AnyReport } from '../protocol/report';
import { escapeControlCharacters } from '../protocol/safeText';

export interface Job<T> {
  readonly id: number;
  readonly done: Promise<T>;
}

export class AnalysisFailed extends Error {
  constructor(readonly kind: FailureKind, message: string) {
    super(message);
    this.name = 'AnalysisFailed';
  }
}

interface PendingJob {
  readonly resolve: (result: JobResult) => void;
  readonly reject: (error: AnalysisFailed) => void;
  readonly onProgress?: (progress: AnalysisProgress) => void;
}

export interface AnalyzerClientOptions {
  /** Path of the bundled analyzer process script. */
  readonly script: string;
  readonly log: (line: string) => void;
  /** --max-old-space-size for the process, in MB. */
  readonly memoryLimitMb?: number;
}

/**
 * The extension host's side of the background analyzer: forks the process on first use, sends jobs,
 * routes progress, and survives the process dying (the running job fails, the next job forks anew).
 */
export class AnalyzerClient {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, PendingJob>();
  /** The process killed because it did not answer Cancel in time. */
  private killedAfterCancel: ChildProcess | undefined;

  constructor(private readonly options: AnalyzerClientOptions) {}

  analyze(request: AnalysisRequest, onProgress?: (progress: AnalysisProgress) => void): Job<AnyReport> {
    return this.submit((id) => ({ type: 'analyze', id, request }), onProgress, (r) => (r.kind === 'analysis' ? r.report : undefined));
  }

  rescale(request: RescaleRequest, onProgress?: (progress: AnalysisProgress) => void, out?: string): Job<RescaleReport> {
    return this.submit((id) => ({ type: 'rescale', id, request, out }), onProgress, (r) => (r.kind === 'rescale' ? r.report : undefined));
  }

  compareOutputs(request: FunctionComparisonRequest): Job<FunctionComparison> {
    return this.submit((id) => ({ type: 'compareOutputs', id, request }), undefined, (r) => (r.kind === 'comparison' ? r.comparison : undefined));
  }

  /** Which of the files could feed the model, by a quick look at each. */
  dataCandidates(request: DataCandidatesRequest): Job<DataCandidates> {
    return this.submit((id) => ({ type: 'dataCandidates', id, request }), undefined, (r) => (r.kind === 'dataCandidates' ? r.candidates : undefined));
  }

  /** Format, size, files and (when asked) content hash of a file: the engine reads it, in the analyzer process. */
  describe(request: DescribeRequest): Job<CheckpointDescription> {
    return this.submit((id) => ({ type: 'describe', id, request }), undefined, (r) => (r.kind === 'description' ? r.description : undefined));
  }

  private submit<T>(message: (id: number) => JobMessage, onProgress: ((p: AnalysisProgress) => void) | undefined, pick: (r: JobResult) => T | undefined): Job<T> {
    const id = this.nextId++;
    const done = new Promise<JobResult>((resolve, reject) => this.pending.set(id, { resolve, reject, onProgress })).then((result) => {
      const value = pick(result);
      if (value === undefined) throw new AnalysisFailed('internal', `the analyzer answered job ${id} with a ${result.kind} result`);
      return value;
    });
    this.send(message(id));
    return { id, done };
  }

  /** Asks the job to stop; if the process does not finish it within `graceMs`, kills the process. */
  cancel(id: number, graceMs = 1000): void {
    if (!this.pending.has(id)) return;
    this.send({ type: 'cancel', id });
    const child = this.child;
    setTimeout(() => {
      if (this.pending.has(id) && this.child === child && child) {
        this.options.log(`analyzer did not stop job ${id} within ${graceMs} ms; restarting it`);
        this.killedAfterCancel = child;
        child.kill('SIGKILL');
      }
    }, graceMs).unref();
  }

  dispose(): void {
    this.child?.kill();
    this.child = undefined;
    for (const job of this.pending.values()) job.reject(new AnalysisFailed('cancelled', 'the extension is shutting down'));
    this.pending.clear();
  }

  private send(message: ToAnalyzerMessage): void {
    this.ensureProcess().send(message);
  }

  private ensureProcess(): ChildProcess {
    if (this.child && this.child.connected) return this.child;
    const execArgv = this.options.memoryLimitMb ? [`--max-old-space-size=${this.options.memoryLimitMb}`] : [];
    const child = fork(this.options.script, [], { execArgv, env: withReusingAllocator(process.env), stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.options.log(`analyzer process started (pid ${child.pid})`);
    child.stdout?.on('data', (d: Buffer) => this.options.log(escapeControlCharacters(d.toString().trimEnd())));
    child.stderr?.on('data', (d: Buffer) => this.options.log(escapeControlCharacters(d.toString().trimEnd())));
    child.on('message', (message: FromAnalyzerMessage) => this.receive(message));
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.options.log(`analyzer process exited (${signal ?? `code ${code}`})`);
      const forced = this.killedAfterCancel === child;
      this.killedAfterCancel = undefined;
      const reason = forced
        ? 'the analyzer did not answer Cancel within a second, so it was stopped; it starts afresh with the next job'
        : signal === 'SIGKILL'
          ? 'the analysis was stopped'
          : `the analyzer process ended unexpectedly (${signal ?? `exit code ${code}`}); it may have run out of memory`;
      for (const job of this.pending.values()) job.reject(new AnalysisFailed(signal === 'SIGKILL' ? 'cancelled' : 'internal', reason));
      this.pending.clear();
    });
    this.child = child;
    return child;
  }

  private receive(message: FromAnalyzerMessage): void {
    if (message.type === 'ready') return;
    const job = this.pending.get(message.id);
    if (!job) return;
    switch (message.type) {
      case 'progress':
        job.onProgress?.(message.progress);
        return;
      case 'result':
        this.pending.delete(message.id);
        job.resolve(message.result);
        return;
      case 'failed':
        this.pending.delete(message.id);
        job.reject(new AnalysisFailed(message.kind, escapeControlCharacters(message.message)));
        return;
      default: {
        const unexpected: never = message;
        this.options.log(`unexpected message from analyzer: ${JSON.stringify(unexpected)}`);
      }
    }
  }
}
