import * as vscode from 'vscode';
import { AnalysisFailed, type AnalyzerClient, type Job } from '../analyzerClient';
import { lacksArchitecture, type CheckpointEntry, type CheckpointIndex, type CheckpointState } from '../checkpoints/checkpointIndex';
import type { RescaleReport } from '../../protocol/rescaleResult';
import { readSettings } from '../settings';
import { relativeToWorkspace } from '../workspacePaths';
import { isWeightsReport, progressText, type AnalysisProgress, type AnyReport } from '../../protocol/report';
import type { DataChoice, DataChoices } from './dataChoice';
import { analysisRequest, rescaleRequest, type RescaleChoices } from './requests';
import type { ResultCache } from './resultCache';

/**
 * Runs analyses and rescalings in the background analyzer, one at a time, with progress in a
 * cancellable notification and in the Checkpoints view, and caches reports by content hash.
 */
export class AnalysisService implements vscode.Disposable {
  private running: { entry: CheckpointEntry; job: Job<unknown> } | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly waiting = new Set<CheckpointEntry>();
  private readonly finished = new vscode.EventEmitter<{ entry: CheckpointEntry; report: AnyReport }>();
  readonly onDidFinish = this.finished.event;
  private readonly progressed = new vscode.EventEmitter<{ entry: CheckpointEntry; progress: AnalysisProgress }>();
  /** Each progress report of a running analysis (the report panel of that checkpoint shows it). */
  readonly onDidProgress = this.progressed.event;

  constructor(
    private readonly analyzer: AnalyzerClient,
    private readonly index: CheckpointIndex,
    private readonly cache: ResultCache,
    private readonly data: DataChoices,
    private readonly output: vscode.OutputChannel,
  ) {}

  /** A line in the Output channel, with workspace paths relative. */
  private log(line: string): void {
    this.output.appendLine(relativeToWorkspace(line));
  }

  /** The data choice for a checkpoint, asking if needed; undefined when the user cancels. */
  dataFor(entry: CheckpointEntry): Promise<DataChoice | undefined> {
    // Tensor statistics need no data: do not ask for any.
    if (lacksArchitecture(entry)) return Promise.resolve({ kind: 'data-free' });
    return this.data.resolve(entry, readSettings(entry.uri).dataSets);
  }

  private requestKey(entry: CheckpointEntry, data: DataChoice): string {
    // Keyed by everything but the path: the cache is already per content hash.
    const request = analysisRequest(entry.uri.fsPath, data, readSettings(entry.uri));
    return JSON.stringify({ ...request, checkpoint: '' });
  }

  /**
   * Shows the last results of every listed checkpoint at once after a reload: done when the files
   * are unchanged, stale when they changed since.
   */
  async restoreStates(): Promise<void> {
    for (const entry of await this.index.all()) {
      if (entry.state.kind !== 'new') continue;
      const latest = await this.cache.latest(entry.uri.fsPath);
      if (!latest) continue;
      const hash = await this.index.hashOf(entry).catch(() => undefined);
      entry.analyzedHash = latest.contentHash;
      const report = asReportOf(latest.report, entry);
      this.index.update(entry, hash === latest.contentHash ? { kind: 'done', report } : { kind: 'stale', report });
    }
  }

  /** A cached report for the checkpoint's current content and settings, if any. */
  async cached(entry: CheckpointEntry, data: DataChoice): Promise<AnyReport | undefined> {
    if (entry.state.kind === 'unreadable') return undefined;
    const report = await this.cache.get(await this.index.hashOf(entry), this.requestKey(entry, data));
    return report && asReportOf(report, entry);
  }

  /** Analyzes a checkpoint (or returns the cached report unless `force`). Rejects on failure or cancel. */
  async analyze(entry: CheckpointEntry, data: DataChoice, options: { force?: boolean; silent?: boolean } = {}): Promise<AnyReport> {
    if (!options.force) {
      const cached = await this.cached(entry, data).catch(() => undefined);
      if (cached) {
        entry.analyzedHash = entry.contentHash;
        this.index.update(entry, { kind: 'done', report: cached });
        return cached;
      }
    }
    if (this.waiting.has(entry) || this.running?.entry === entry) throw new AnalysisFailed('cancelled', `${entry.relativePath} is already being analyzed`);
    this.waiting.add(entry);
    const before = entry.state;
    this.index.update(entry, { kind: 'queued' });
    const run = this.queue.then(() => this.runAnalysis(entry, data, options.silent === true, before));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async runAnalysis(entry: CheckpointEntry, data: DataChoice, silent: boolean, before: CheckpointState): Promise<AnyReport> {
    this.waiting.delete(entry);
    const settings = readSettings(entry.uri);
    const dataPath = data.kind === 'file' ? data.path : undefined;
    this.log(
      lacksArchitecture(entry)
        ? `describing the tensors of ${entry.relativePath} (weights only, no architecture: tensor statistics, no data used)`
        : `analyzing ${entry.relativePath} on ${dataPath ? vscode.workspace.asRelativePath(dataPath, false) : `data-free Gaussian probe inputs (${settings.probeSamples})`} (seed ${settings.seed})`,
    );
    let hash: string;
    try {
      hash = await this.index.hashOf(entry);
    } catch (error) {
      const reason = relativeToWorkspace(error instanceof Error ? error.message : String(error));
      this.index.update(entry, { kind: 'failed', reason });
      throw new AnalysisFailed('file', reason);
    }
    const run = (onProgress: (p: AnalysisProgress) => void) => {
      const job = this.analyzer.analyze(analysisRequest(entry.uri.fsPath, data, settings), (p) => {
        this.index.update(entry, { kind: 'analyzing', fraction: p.fraction, message: progressText(p) });
        this.progressed.fire({ entry, progress: p });
        onProgress(p);
      });
      this.running = { entry, job };
      return job;
    };
    try {
      const report = await this.withProgress(`Analyzing ${entry.relativePath}`, run, silent);
      await this.cache.put(hash, this.requestKey(entry, data), report).catch((e: unknown) => this.log(`could not cache the report: ${String(e)}`));
      entry.analyzedHash = hash;
      const stillSame = entry.contentHash === hash;
      this.index.update(entry, stillSame ? { kind: 'done', report } : { kind: 'stale', report });
      this.log(
        isWeightsReport(report)
          ? `done in ${report.timings.total.toFixed(1)} s: statistics of ${report.tensors.length} tensors; no architecture, so no Hessian metrics`
          : `done in ${report.timings.total.toFixed(1)} s: top eigenvalue ${report.hessian.topEigenvalues?.[0]}, trace ${report.hessian.trace?.estimate}`,
      );
      this.finished.fire({ entry, report });
      return report;
    } catch (error) {
      const cancelled = error instanceof AnalysisFailed && error.kind === 'cancelled';
      const reason = relativeToWorkspace(error instanceof Error ? error.message : String(error));
      const previous = before.kind === 'done' || before.kind === 'stale' ? before : ({ kind: 'new' } as const);
      this.index.update(entry, cancelled ? previous : { kind: 'failed', reason });
      this.log(cancelled ? `analysis of ${entry.relativePath} cancelled` : `analysis of ${entry.relativePath} failed: ${reason}`);
      throw error;
    } finally {
      this.running = undefined;
    }
  }

  /** Rescales a checkpoint into a new file next to it; resolves with the rescale report. */
  rescale(entry: CheckpointEntry, data: DataChoice, choices: RescaleChoices): Promise<RescaleReport> {
    const request = rescaleRequest(entry.uri.fsPath, data, readSettings(entry.uri), choices);
    const run = this.queue.then(() =>
      this.withProgress(`Rescaling ${entry.relativePath}`, (onProgress) => {
        const job = this.analyzer.rescale(request, onProgress);
        this.running = { entry, job };
        return job;
      }, false).finally(() => (this.running = undefined)),
    );
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Stops the analysis or rescale of this checkpoint if it is the one running; false otherwise. */
  cancel(checkpoint: string): boolean {
    const running = this.running;
    if (!running || running.entry.uri.fsPath !== checkpoint) return false;
    this.analyzer.cancel(running.job.id);
    return true;
  }

  /** Stops the running job and everything queued behind it. */
  cancelAll(): boolean {
    const running = this.running;
    if (!running) return false;
    this.analyzer.cancel(running.job.id);
    return true;
  }

  private withProgress<T>(title: string, start: (onProgress: (p: AnalysisProgress) => void) => Job<T>, silent: boolean): Promise<T> {
    const location = silent ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification;
    return Promise.resolve(
      vscode.window.withProgress({ location, title: `Flatness Lens: ${title}`, cancellable: true }, (progress, token) => {
        let reported = 0;
        const job = start((p) => {
          const percent = Math.round(p.fraction * 100);
          progress.report({ message: `${progressText(p)} (${percent}%)`, increment: Math.max(0, percent - reported) });
          reported = Math.max(reported, percent);
        });
        token.onCancellationRequested(() => this.analyzer.cancel(job.id));
        return job.done;
      }),
    );
  }

  dispose(): void {
    this.finished.dispose();
    this.progressed.dispose();
  }
}

/**
 * A cached report as the report of this checkpoint: the cache is keyed by content, so a byte-identical
 * copy elsewhere finds the report computed for the other file, whose path it must not show.
 */
function asReportOf(report: AnyReport, entry: CheckpointEntry): AnyReport {
  const file = entry.uri.fsPath;
  return report.checkpoint.path === file ? report : ({ ...report, checkpoint: { ...report.checkpoint, path: file } } as AnyReport);
}
