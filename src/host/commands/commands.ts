import * as path from 'node:path';
import * as vscode from 'vscode';
import { AnalysisFailed, type AnalyzerClient } from '../analyzerClient';
import type { CheckpointEntry, CheckpointIndex } from '../checkpoints/checkpointIndex';
import type { AnalysisService } from '../jobs/analysisService';
import type { DataChoice, DataChoices } from '../jobs/dataChoice';
import { ComparePanel } from '../report/comparePanel';
import { ReportPanel, type ReportActions } from '../report/reportPanel';
import type { Granularity } from '../../protocol/requests';
import { comparisonRequest } from '../jobs/requests';
import { readSettings } from '../settings';
import { relativeToWorkspace } from '../workspacePaths';
import { isWeightsReport, type AnyReport, type FlatnessReport } from '../../protocol/report';
import type { Equivalence } from '../../protocol/webviewProtocol';
import { whyNotRescalable } from '../checkpoints/rescalable';
import { checkpointTarget, checkpointTargets } from './targets';
import { summarizeBarriers, type RescaleReport } from '../../protocol/rescaleResult';

/** Where the network fixed the scale, for the message after a rescale ('' when nowhere). */
function fixedScales(result: RescaleReport): string {
  const lines = summarizeBarriers(result.barriers ?? [], 1);
  return lines.length ? `; scale fixed at ${lines.join('; ')}` : '';
}

/** The extension's commands; each resolves its target, asks what it must, and reports failures. */
export class Commands implements ReportActions {
  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly index: CheckpointIndex,
    private readonly service: AnalysisService,
    private readonly analyzer: AnalyzerClient,
    private readonly data: DataChoices,
    private readonly output: vscode.OutputChannel,
  ) {}

  private log = (line: string) => this.output.appendLine(relativeToWorkspace(line));

  private showReport(report: AnyReport, stale = false, column?: vscode.ViewColumn): void {
    ReportPanel.show(this.extensionUri, report, stale, this, this.log, column);
  }

  private fail(error: unknown): void {
    if (error instanceof AnalysisFailed && error.kind === 'cancelled') {
      void vscode.window.showInformationMessage(`Flatness Lens: ${error.message === 'cancelled' ? 'analysis cancelled' : error.message}`);
      return;
    }
    const message = relativeToWorkspace(error instanceof Error ? error.message : String(error));
    this.log(`error: ${message}`);
    void vscode.window.showErrorMessage(`Flatness Lens: ${message}`, 'Show Log').then((choice) => choice && this.output.show(true));
  }

  async analyze(argument?: unknown, force = true): Promise<void> {
    const entry = await checkpointTarget(this.index, argument, 'Checkpoint to analyze');
    if (!entry) return;
    if (entry.state.kind === 'unreadable') {
      this.fail(new Error(`${entry.relativePath}: ${entry.state.reason}`));
      return;
    }
    const data = await this.service.dataFor(entry);
    if (!data) return;
    try {
      this.showReport(await this.service.analyze(entry, data, { force }));
    } catch (error) {
      ReportPanel.failed(entry.uri.fsPath, relativeToWorkspace(error instanceof Error ? error.message : String(error)));
      this.fail(error);
    }
  }

  async show(argument?: unknown): Promise<void> {
    const entry = await checkpointTarget(this.index, argument, 'Checkpoint whose report to show');
    if (!entry) return;
    if (entry.state.kind === 'done' || entry.state.kind === 'stale') {
      this.showReport(entry.state.report, entry.state.kind === 'stale');
      return;
    }
    const data = this.data.remembered(entry) ?? this.data.fromSettings(entry, readSettings(entry.uri).dataSets);
    const cached = data ? await this.service.cached(entry, data).catch(() => undefined) : undefined;
    if (cached) {
      entry.analyzedHash = await this.index.hashOf(entry);
      this.index.update(entry, { kind: 'done', report: cached });
      this.showReport(cached);
      return;
    }
    const choice = await vscode.window.showInformationMessage(`Flatness Lens: ${entry.relativePath} has not been analyzed yet.`, 'Analyze');
    if (choice) await this.analyze(entry.uri, false);
  }

  rerun(checkpoint: vscode.Uri): void {
    void this.analyze(checkpoint, true);
  }

  cancel(checkpoint?: vscode.Uri): void {
    const stopped = checkpoint ? this.service.cancel(checkpoint.fsPath) : this.service.cancelAll();
    if (!stopped) void vscode.window.showInformationMessage('Flatness Lens: no analysis is running.');
  }

  filesOf(checkpoint: vscode.Uri): readonly string[] {
    return this.index.get(checkpoint)?.files ?? [];
  }

  showReportOf(checkpoint: vscode.Uri): void {
    void this.show(checkpoint);
  }

  rescale(checkpoint: vscode.Uri, mode: 'flatten' | 'sharpen'): void {
    void this.rescaleCommand(checkpoint, mode);
  }

  async rescaleCommand(argument: unknown, mode: 'flatten' | 'sharpen'): Promise<void> {
    const entry = await checkpointTarget(this.index, argument, `Checkpoint to rescale (${mode})`, whyNotRescalable);
    if (!entry) return;
    const notRescalable = whyNotRescalable(entry);
    if (notRescalable) {
      this.fail(new Error(`cannot rescale ${entry.relativePath}: ${notRescalable}`));
      return;
    }
    let factor: number | undefined;
    if (mode === 'sharpen') {
      const text = await vscode.window.showInputBox({
        title: 'Rescale to Sharpen',
        prompt: 'The equivalent network’s trace (or top eigenvalue) will be at least this many times the original’s',
        value: '100',
        validateInput: (v) => (Number(v) > 1 && Number.isFinite(Number(v)) ? undefined : 'a number greater than 1'),
      });
      if (!text) return;
      factor = Number(text);
    }
    const granularity = await vscode.window.showQuickPick(
      [
        { label: 'Per layer', description: 'one factor per layer: the α-scale transformation of Dinh et al.', value: 'layer' as Granularity },
        { label: 'Per unit', description: 'one factor per unit or channel: more freedom', value: 'unit' as Granularity },
      ],
      { title: `Rescale to ${mode === 'flatten' ? 'Flatten' : 'Sharpen'}: granularity` },
    );
    if (!granularity) return;
    const objective = await vscode.window.showQuickPick(
      [
        { label: 'Trace', description: 'Σ Tr H_kk / α_k², from per-weight block traces', value: 'trace' as const },
        { label: 'Top eigenvalue λ_max', description: 'by Lanczos on D⁻¹HD⁻¹', value: 'lambda-max' as const },
      ],
      { title: `Rescale to ${mode === 'flatten' ? 'Flatten' : 'Sharpen'}: objective` },
    );
    if (!objective) return;
    const data = await this.service.dataFor(entry);
    if (!data) return;
    try {
      const result = await this.service.rescale(entry, data, { mode, factor, granularity: granularity.value, objective: objective.value });
      const measure = objective.value === 'trace' ? 'trace' : 'top eigenvalue';
      const [before, after] = objective.value === 'trace' ? [result.before.trace, result.after.trace] : [result.before.topEigenvalue, result.after.topEigenvalue];
      void vscode.window.showInformationMessage(
        `Flatness Lens: wrote ${path.basename(result.out)} — same function (max |Δ output| = ${result.maxOutputDeviation.toExponential(1)}), ${measure} ${before.toPrecision(4)} → ${after.toPrecision(4)}${fixedScales(result)}`,
      );
      for (const line of summarizeBarriers(result.barriers ?? [], Infinity)) this.log(`${entry.relativePath}: scale fixed at ${line}`);
      const written = vscode.Uri.file(result.out);
      const newEntry = await this.index.entryFor(written);
      await this.data.remember(newEntry, data);
      this.index.update(newEntry, newEntry.state);
      const [original, rescaled] = await Promise.all([this.service.analyze(entry, data, { silent: true }), this.service.analyze(newEntry, data, { silent: true })]);
      this.showReport(original, false, vscode.ViewColumn.One);
      this.showReport(rescaled, false, vscode.ViewColumn.Beside);
    } catch (error) {
      this.fail(error);
    }
  }

  async compare(argument?: unknown, selection?: unknown): Promise<void> {
    const entries = (await checkpointTargets(this.index, argument, selection)).filter((e) => e.state.kind !== 'unreadable');
    if (entries.length < 2) {
      if (entries.length === 1) void vscode.window.showInformationMessage('Flatness Lens: choose two or more checkpoints to compare.');
      return;
    }
    const data: DataChoice | undefined = await this.service.dataFor(entries[0]);
    if (!data) return;
    try {
      const reports: FlatnessReport[] = [];
      for (const entry of entries) {
        const report = await this.service.analyze(entry, data, { silent: true });
        if (isWeightsReport(report)) {
          this.showReport(report);
          throw new Error(`cannot compare ${entry.relativePath}: it ${report.architectureMissing}`);
        }
        reports.push(report);
      }
      const settings = readSettings(entries[0].uri);
      const equivalences: Equivalence[] = [];
      for (let a = 0; a < entries.length; a++) {
        for (let b = a + 1; b < entries.length; b++) {
          const comparison = await this.analyzer.compareOutputs(comparisonRequest(entries[a].uri.fsPath, entries[b].uri.fsPath, data, settings)).done;
          if (comparison.maxOutputDeviation !== null && comparison.maxOutputDeviation <= 1e-4) {
            equivalences.push({ a, b, maxOutputDeviation: comparison.maxOutputDeviation, samples: comparison.samples });
          }
        }
      }
      ComparePanel.show(this.extensionUri, reports, equivalences);
    } catch (error) {
      this.fail(error);
    }
  }

  async selectData(argument?: unknown): Promise<void> {
    const entry = await checkpointTarget(this.index, argument, 'Checkpoint whose data set to choose');
    if (!entry) return;
    const choice = await this.data.ask(entry);
    if (choice) this.log(`data set for ${entry.relativePath}: ${choice.kind === 'file' ? choice.path : 'data-free (Gaussian probe inputs)'}`);
  }

  /** Auto-analysis after a checkpoint changes on disk: only when enabled, trusted and its data is known. */
  async autoAnalyze(entry: CheckpointEntry): Promise<void> {
    if (!vscode.workspace.isTrusted || !readSettings(entry.uri).autoAnalyze) return;
    const data = this.data.remembered(entry) ?? this.data.fromSettings(entry, readSettings(entry.uri).dataSets);
    if (!data) return;
    try {
      const report = await this.service.analyze(entry, data, { silent: true });
      if (ReportPanel.isOpen(entry.uri.fsPath)) this.showReport(report);
    } catch (error) {
      this.log(`auto-analysis of ${entry.relativePath} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}
