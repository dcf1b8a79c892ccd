import * as path from 'node:path';
import * as vscode from 'vscode';
import { trajectoryCsv } from '../../engine/runs/trajectoryCsv';
import type { AnalysisProgress } from '../../protocol/report';
import { isTrajectoryReport, type TrajectoryReport } from '../../protocol/trajectory';
import { isFromWebviewMessage, type FromWebviewMessage, type ToWebviewMessage } from '../../protocol/webviewProtocol';
import { saveWithDialog } from './reportExport';
import { reloadUntilReady, webviewHtml, webviewOptions } from './webviewHtml';

/** What the training-run panel asks the rest of the extension to do. */
export interface TrajectoryActions {
  /** Shows the report of the run's checkpoint at this step. */
  openPoint(runKey: string, checkpoint: string): void;
  /** Stops the analysis of this run, if one runs. */
  cancelRun(runKey: string): void;
}

/** The key of a run: its folder and pattern (the same as the Checkpoints view's). */
export const runKeyOf = (trajectory: TrajectoryReport) => `${trajectory.series.root}\n${trajectory.series.pattern}`;

const titleOf = (trajectory: TrajectoryReport) => `Training run: ${path.basename(trajectory.series.root)}/${trajectory.series.pattern}`;

/** One webview panel per training run: the series against step, filled in as points arrive; survives a reload. */
export class TrajectoryPanel {
  static readonly viewType = 'flatnessLens.trajectory';
  private static readonly panels = new Map<string, TrajectoryPanel>();
  private static extensionUri: vscode.Uri | undefined;
  private ready = false;
  private shown: Extract<ToWebviewMessage, { type: 'trajectory/show' }>;
  private progress: ToWebviewMessage | undefined;
  private readonly markReady: () => void;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly key: string,
    trajectory: TrajectoryReport,
    running: boolean,
    private readonly actions: TrajectoryActions,
    private readonly log: (line: string) => void,
  ) {
    this.shown = { type: 'trajectory/show', trajectory, running };
    TrajectoryPanel.panels.set(key, this);
    this.markReady = reloadUntilReady(panel, () => webviewHtml(panel.webview, TrajectoryPanel.extensionUri!, 'trajectory', panel.title), log);
    panel.onDidDispose(() => TrajectoryPanel.panels.delete(key));
    panel.webview.onDidReceiveMessage((message: unknown) => {
      if (!isFromWebviewMessage(message)) {
        this.log(`ignored an unexpected message from the training-run webview: ${JSON.stringify(message)?.slice(0, 200)}`);
        return;
      }
      void this.receive(message).catch((error: unknown) => this.log(`training-run webview action failed: ${String(error)}`));
    });
  }

  /** Shows (or updates in place) the panel of this run. */
  static show(extensionUri: vscode.Uri, trajectory: TrajectoryReport, running: boolean, actions: TrajectoryActions, log: (line: string) => void): void {
    TrajectoryPanel.extensionUri = extensionUri;
    const key = runKeyOf(trajectory);
    const existing = TrajectoryPanel.panels.get(key);
    if (existing) {
      existing.post({ type: 'trajectory/show', trajectory, running });
      return;
    }
    const panel = vscode.window.createWebviewPanel(TrajectoryPanel.viewType, titleOf(trajectory), { viewColumn: vscode.ViewColumn.Active, preserveFocus: false }, webviewOptions(extensionUri));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'trajectory', titleOf(trajectory));
    new TrajectoryPanel(panel, key, trajectory, running, actions, log);
  }

  /** Restores a panel after a reload from the webview's saved state; an interrupted run shows what it had. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, actions: TrajectoryActions, log: (line: string) => void): void {
    TrajectoryPanel.extensionUri = extensionUri;
    const trajectory = (state as { trajectory?: unknown } | undefined)?.trajectory;
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'trajectory', panel.title);
    if (!isTrajectoryReport(trajectory)) {
      panel.dispose();
      return;
    }
    new TrajectoryPanel(panel, runKeyOf(trajectory), trajectory, false, actions, log);
  }

  static isOpen(key: string): boolean {
    return TrajectoryPanel.panels.has(key);
  }

  /** The trajectory an open panel shows (for live updates after a reload). */
  static shownTrajectory(key: string): TrajectoryReport | undefined {
    return TrajectoryPanel.panels.get(key)?.shown.trajectory;
  }

  static progress(key: string, progress: AnalysisProgress): void {
    TrajectoryPanel.panels.get(key)?.post({ type: 'report/progress', progress });
  }

  static failed(key: string, message: string): void {
    TrajectoryPanel.panels.get(key)?.post({ type: 'report/failed', message });
  }

  private post(message: ToWebviewMessage): void {
    if (message.type === 'trajectory/show') this.shown = message;
    else this.progress = message;
    if (this.ready) void this.panel.webview.postMessage(message);
  }

  private async receive(message: FromWebviewMessage): Promise<void> {
    const trajectory = this.shown.trajectory;
    const base = path.join(trajectory.series.root, 'trajectory');
    switch (message.type) {
      case 'trajectory/ready':
        this.ready = true;
        this.markReady();
        void this.panel.webview.postMessage(this.shown);
        if (this.shown.running && this.progress) void this.panel.webview.postMessage(this.progress);
        return;
      case 'trajectory/openPoint': {
        const point = trajectory.points.find((p) => p.step === message.step);
        if (point) this.actions.openPoint(this.key, point.checkpoint);
        return;
      }
      case 'report/cancel':
        this.actions.cancelRun(this.key);
        return;
      case 'trajectory/export':
        if (message.format === 'json') await saveWithDialog(`${base}.json`, { JSON: ['json'] }, JSON.stringify(trajectory, null, 2));
        else await saveWithDialog(`${base}.csv`, { CSV: ['csv'] }, trajectoryCsv(trajectory));
        return;
      case 'report/exportChart': {
        const png = Buffer.from(message.dataUrl.slice(message.dataUrl.indexOf(',') + 1), 'base64');
        await saveWithDialog(`${base}.${message.chart}.png`, { PNG: ['png'] }, png);
        return;
      }
      default:
        return; // the report and compare pages' messages
    }
  }
}
