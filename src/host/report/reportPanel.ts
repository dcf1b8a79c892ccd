import * as path from 'node:path';
import * as vscode from 'vscode';
import { isWeightsReport, type AnalysisProgress, type AnyReport } from '../../protocol/report';
import { isFromWebviewMessage, type FromWebviewMessage, type ToWebviewMessage } from '../../protocol/webviewProtocol';
import { reportCsv, saveWithDialog } from './reportExport';
import { readStandaloneAssets, standaloneReportHtml } from '../../engine/reportExport/standaloneHtml';
import { reloadUntilReady, webviewHtml, webviewOptions } from './webviewHtml';

/** What the report panel asks the rest of the extension to do. */
export interface ReportActions {
  rerun(checkpoint: vscode.Uri): void;
  rescale(checkpoint: vscode.Uri, mode: 'flatten' | 'sharpen'): void;
  /** Stops the analysis of this checkpoint, if one runs. */
  cancel(checkpoint: vscode.Uri): void;
  /** Shows the report of another checkpoint (the original of a rescaled one). */
  showReportOf(checkpoint: vscode.Uri): void;
  /** Every file the checkpoint consists of (weight shards, sidecars), as far as the Checkpoints view knows them. */
  filesOf(checkpoint: vscode.Uri): readonly string[];
}

const reportTitle = (checkpoint: string) => `Flatness: ${path.basename(path.dirname(checkpoint))}/${path.basename(checkpoint)}`;

/** One webview panel per checkpoint showing its report; survives a window reload (see ReportSerializer). */
export class ReportPanel {
  static readonly viewType = 'flatnessLens.report';
  private static readonly panels = new Map<string, ReportPanel>();
  private ready = false;
  private pending: ToWebviewMessage | undefined;
  private readonly markReady: () => void;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private readonly checkpoint: string,
    private report: AnyReport | undefined,
    private readonly actions: ReportActions,
    private readonly log: (line: string) => void,
  ) {
    ReportPanel.panels.set(checkpoint, this);
    this.markReady = reloadUntilReady(panel, () => webviewHtml(panel.webview, ReportPanel.extensionUri!, 'report', panel.title), log);
    panel.onDidDispose(() => ReportPanel.panels.delete(checkpoint));
    panel.webview.onDidReceiveMessage((message: unknown) => {
      if (!isFromWebviewMessage(message)) {
        this.log(`ignored an unexpected message from the report webview: ${JSON.stringify(message)?.slice(0, 200)}`);
        return;
      }
      void this.receive(message).catch((error: unknown) => this.log(`report webview action failed: ${String(error)}`));
    });
  }

  private static extensionUri: vscode.Uri | undefined;

  static show(extensionUri: vscode.Uri, report: AnyReport, stale: boolean, actions: ReportActions, log: (line: string) => void, column = vscode.ViewColumn.Beside): void {
    ReportPanel.extensionUri = extensionUri;
    const checkpoint = report.checkpoint.path;
    const existing = ReportPanel.panels.get(checkpoint);
    if (existing) {
      existing.report = report;
      existing.post({ type: 'report/show', report, stale });
      existing.panel.reveal(undefined, true);
      return;
    }
    const panel = vscode.window.createWebviewPanel(ReportPanel.viewType, reportTitle(checkpoint), { viewColumn: column, preserveFocus: true }, webviewOptions(extensionUri));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'report', reportTitle(checkpoint));
    const created = new ReportPanel(panel, checkpoint, report, actions, log);
    created.post({ type: 'report/show', report, stale });
  }

  /** Restores a panel after a reload from the webview's saved state. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, state: unknown, actions: ReportActions, log: (line: string) => void): void {
    ReportPanel.extensionUri = extensionUri;
    const report = (state as { report?: AnyReport } | undefined)?.report;
    panel.webview.options = webviewOptions(extensionUri);
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'report', panel.title);
    if (!report?.checkpoint?.path) {
      panel.dispose();
      return;
    }
    new ReportPanel(panel, report.checkpoint.path, report, actions, log).pending = { type: 'report/show', report, stale: false };
  }

  static progress(checkpoint: string, progress: AnalysisProgress): void {
    ReportPanel.panels.get(checkpoint)?.post({ type: 'report/progress', progress });
  }

  static failed(checkpoint: string, message: string): void {
    ReportPanel.panels.get(checkpoint)?.post({ type: 'report/failed', message });
  }

  static isOpen(checkpoint: string): boolean {
    return ReportPanel.panels.has(checkpoint);
  }

  private post(message: ToWebviewMessage): void {
    if (message.type === 'report/show') this.lastShown = message;
    if (!this.ready) {
      if (message.type === 'report/show' || !this.pending) this.pending = message;
      return;
    }
    void this.panel.webview.postMessage(message);
  }

  /** The last report sent: sent again whenever the page (re)loads. */
  private lastShown: ToWebviewMessage | undefined;

  /** The files the shown report was computed from, which an export must never replace. */
  private inputFiles(): string[] {
    const report = this.report;
    const data = report && !isWeightsReport(report) && path.isAbsolute(report.data.source) ? [report.data.source] : [];
    return [this.checkpoint, ...this.actions.filesOf(vscode.Uri.file(this.checkpoint)), ...data];
  }

  private async receive(message: FromWebviewMessage): Promise<void> {
    const uri = vscode.Uri.file(this.checkpoint);
    switch (message.type) {
      case 'report/ready':
      case 'compare/ready': {
        this.ready = true;
        this.markReady();
        const message = this.pending ?? this.lastShown;
        if (message) void this.panel.webview.postMessage(message);
        this.pending = undefined;
        return;
      }
      case 'report/rerun':
        this.actions.rerun(uri);
        return;
      case 'report/cancel':
        this.actions.cancel(uri);
        return;
      case 'report/openOriginal': {
        const source = this.report?.checkpoint.provenance?.source;
        if (source) this.actions.showReportOf(vscode.Uri.file(path.resolve(path.dirname(this.checkpoint), source)));
        return;
      }
      case 'report/rescale':
        this.actions.rescale(uri, message.mode);
        return;
      case 'report/export': {
        if (!this.report) return;
        const base = this.checkpoint.replace(/\.json$/i, '');
        const inputs = this.inputFiles();
        if (message.format === 'json') await saveWithDialog(`${base}.flatness.json`, { JSON: ['json'] }, JSON.stringify(this.report, null, 2), inputs);
        else if (message.format === 'html') {
          const { script, stylesheet } = readStandaloneAssets(ReportPanel.extensionUri!.fsPath);
          await saveWithDialog(`${base}.flatness.html`, { HTML: ['html'] }, standaloneReportHtml(this.report, script, stylesheet), inputs);
        } else await saveWithDialog(`${base}.flatness.csv`, { CSV: ['csv'] }, reportCsv(this.report), inputs);
        return;
      }
      case 'report/exportChart': {
        const png = Buffer.from(message.dataUrl.slice(message.dataUrl.indexOf(',') + 1), 'base64');
        await saveWithDialog(`${this.checkpoint.replace(/\.json$/i, '')}.${message.chart}.png`, { PNG: ['png'] }, png, this.inputFiles());
        return;
      }
      case 'trajectory/ready':
      case 'trajectory/openPoint':
      case 'trajectory/export':
        return; // the training-run panel's messages
      default: {
        const unexpected: never = message;
        return unexpected;
      }
    }
  }
}
