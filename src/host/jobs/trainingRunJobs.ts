import * as vscode from 'vscode';
import { AnalysisFailed, type AnalyzerClient } from '../analyzerClient';
import type { IndexedRun } from '../checkpoints/trainingRuns';
import { analysisOrder, assembleTrajectory, pointFromReport, type TrajectoryDescription } from '../../engine/runs/trajectorySummary';
import { mappedValue, readSettings, workspacePath } from '../settings';
import { isWeightsReport, type AnalysisProgress } from '../../protocol/report';
import type { LossAndAccuracy, TrajectoryPoint, TrajectoryReport } from '../../protocol/trajectory';
import type { AnalysisService } from './analysisService';
import type { DataChoice } from './dataChoice';
import { analysisRequest } from './requests';

/** Where a run's progress and points go (the training-run panel). */
export interface TrajectoryView {
  show(trajectory: TrajectoryReport, running: boolean): void;
  progress(runKey: string, progress: AnalysisProgress): void;
  failed(runKey: string, message: string): void;
}

interface RunSession {
  readonly run: IndexedRun;
  readonly data: DataChoice;
  readonly description: TrajectoryDescription;
  points: TrajectoryPoint[];
  cancelled: boolean;
  running: Promise<void> | undefined;
}

/**
 * Analyzes the checkpoints of a training run one after another through the analysis service (so
 * each report is cached per checkpoint and reused), adds the held-out loss, and sends the series
 * to the view after every point. With live mode on, checkpoints that appear later in a run whose
 * panel is open are analyzed in the background and appended.
 */
export class TrainingRunJobs {
  private readonly sessions = new Map<string, RunSession>();

  constructor(
    private readonly service: AnalysisService,
    private readonly analyzer: AnalyzerClient,
    private readonly view: TrajectoryView,
    private readonly output: vscode.OutputChannel,
  ) {}

  private testDataFor(run: IndexedRun): string | undefined {
    const first = run.entries[0];
    const settings = readSettings(first.uri);
    const value = mappedValue(vscode.workspace.asRelativePath(first.uri, false).split('\\').join('/'), settings.testDataSets);
    return value === undefined ? undefined : workspacePath(value, first.uri.fsPath);
  }

  /** Analyzes every checkpoint of the run (cached ones at once), with one cancellable notification. */
  async analyze(run: IndexedRun, data: DataChoice): Promise<void> {
    const existing = this.sessions.get(run.key);
    if (existing?.running) return existing.running;
    const settings = readSettings(run.entries[0].uri);
    const { checkpoint: _perPoint, ...request } = analysisRequest('', data, settings);
    const description: TrajectoryDescription = { series: run.series, request, testData: this.testDataFor(run) };
    const session: RunSession = {
      run,
      data,
      description,
      points: run.entries.map((e, i) => ({ step: run.series.checkpoints[i].step, checkpoint: e.uri.fsPath, status: 'pending' })),
      cancelled: false,
      running: undefined,
    };
    this.sessions.set(run.key, session);
    await this.drive(session, analysisOrder(session.points.length, 1), false);
  }

  /** Runs the points at `indices`, in that order, with progress in a notification (or the status bar when `silent`). */
  private drive(session: RunSession, indices: readonly number[], silent: boolean): Promise<void> {
    const { run } = session;
    this.view.show(this.trajectory(session), true);
    const location = silent ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification;
    const work = vscode.window.withProgress({ location, title: `Flatness Lens: training run ${run.series.pattern}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => this.cancel(run.key));
      session.cancelled = false;
      for (const [done, index] of indices.entries()) {
        if (session.cancelled) break;
        const label = `${run.series.counts} ${session.points[index].step} (${done + 1}/${indices.length})`;
        progress.report({ message: label, increment: 100 / indices.length });
        this.view.progress(run.key, { stage: 'setup', fraction: done / indices.length, message: label });
        try {
          session.points[index] = await this.point(session, index);
        } catch (error) {
          if (error instanceof AnalysisFailed && error.kind === 'cancelled') {
            session.cancelled = true;
            break;
          }
          session.points[index] = { ...session.points[index], status: 'failed', error: error instanceof Error ? error.message : String(error) };
        }
        this.view.show(this.trajectory(session), done + 1 < indices.length);
      }
      const trajectory = this.trajectory(session);
      this.view.show(trajectory, false);
      if (session.cancelled) this.view.failed(run.key, 'cancelled');
      this.output.appendLine(`training run ${run.series.pattern}: ${trajectory.summary.analyzed} of ${trajectory.points.length} checkpoints analyzed${session.cancelled ? ' (cancelled)' : ''}`);
    });
    session.running = Promise.resolve(work).finally(() => (session.running = undefined));
    return session.running;
  }

  private async point(session: RunSession, index: number): Promise<TrajectoryPoint> {
    const entry = session.run.entries[index];
    const report = await this.service.analyze(entry, session.data, { silent: true });
    if (isWeightsReport(report)) throw new Error(`${entry.relativePath}: ${report.architectureMissing}`);
    const testData = session.description.testData;
    let test: LossAndAccuracy | undefined;
    if (testData) {
      const request = { ...analysisRequest(entry.uri.fsPath, { kind: 'file', path: testData }, readSettings(entry.uri)), samples: undefined, metrics: ['loss'] as const };
      const held = await this.analyzer.analyze(request).done;
      if (!isWeightsReport(held)) test = { loss: held.loss, accuracy: held.accuracy };
    }
    return pointFromReport(session.points[index].step, report, test);
  }

  private trajectory(session: RunSession): TrajectoryReport {
    return assembleTrajectory(session.description, session.points);
  }

  cancel(runKey: string): void {
    const session = this.sessions.get(runKey);
    if (!session?.running) return;
    session.cancelled = true;
    this.service.cancelAll();
  }

  /**
   * Live mode: the run as the index lists it now. New checkpoints of a run this session analyzed
   * (and whose panel is open) are analyzed in the background and their points added in step order.
   */
  runChanged(run: IndexedRun, panelOpen: boolean): void {
    const session = this.sessions.get(run.key);
    if (!session || session.running || !panelOpen) return;
    const known = new Set(session.points.map((p) => p.checkpoint));
    const added = run.entries.filter((e) => !known.has(e.uri.fsPath));
    if (added.length === 0) return;
    this.output.appendLine(`training run ${run.series.pattern}: ${added.length} new checkpoint${added.length === 1 ? '' : 's'}; analyzing in the background`);
    const old = new Map(session.points.map((p) => [p.checkpoint, p] as const));
    const updated: RunSession = {
      ...session,
      run,
      description: { ...session.description, series: run.series },
      points: run.entries.map((e, i) => old.get(e.uri.fsPath) ?? { step: run.series.checkpoints[i].step, checkpoint: e.uri.fsPath, status: 'pending' }),
    };
    this.sessions.set(run.key, updated);
    const indices = updated.points.flatMap((p, i) => (p.status === 'pending' ? [i] : []));
    void this.drive(updated, indices, true);
  }

  /** Whether this session analyzed (or is analyzing) the run. */
  knows(runKey: string): boolean {
    return this.sessions.has(runKey);
  }
}
