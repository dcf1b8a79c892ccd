import * as crypto from 'node:crypto';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { FlatnessReport } from '../shared/report';
import { isFromWebviewMessage, type ToWebviewMessage } from '../shared/webviewProtocol';

/** A webview panel showing one checkpoint's report; one panel per checkpoint file. */
export class ReportPanel {
  static readonly viewType = 'flatnessLens.report';
  private static readonly panels = new Map<string, ReportPanel>();
  private ready = false;

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    private report: FlatnessReport,
    private readonly onRerun: (checkpoint: string) => void,
  ) {
    panel.onDidDispose(() => ReportPanel.panels.delete(report.checkpoint.path));
    panel.webview.onDidReceiveMessage((message: unknown) => {
      if (!isFromWebviewMessage(message)) return;
      switch (message.type) {
        case 'report/ready':
          this.ready = true;
          void this.post({ type: 'report/show', report: this.report });
          return;
        case 'report/rerun':
          this.onRerun(this.report.checkpoint.path);
          return;
        default: {
          const unexpected: never = message;
          return unexpected;
        }
      }
    });
  }

  static show(extensionUri: vscode.Uri, report: FlatnessReport, onRerun: (checkpoint: string) => void): void {
    const existing = ReportPanel.panels.get(report.checkpoint.path);
    if (existing) {
      existing.report = report;
      existing.panel.reveal(vscode.ViewColumn.Beside, true);
      if (existing.ready) void existing.post({ type: 'report/show', report });
      return;
    }
    const panel = vscode.window.createWebviewPanel(ReportPanel.viewType, `Flatness: ${path.basename(path.dirname(report.checkpoint.path))}/${path.basename(report.checkpoint.path)}`, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
    });
    panel.webview.html = ReportPanel.html(panel.webview, extensionUri);
    ReportPanel.panels.set(report.checkpoint.path, new ReportPanel(panel, report, onRerun));
  }

  private post(message: ToWebviewMessage): Thenable<boolean> {
    return this.panel.webview.postMessage(message);
  }

  private static html(webview: vscode.Webview, extensionUri: vscode.Uri): string {
    const nonce = crypto.randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'report.css'));
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} data:; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>Flatness report</title>
</head>
<body>
<main id="report"><p class="muted">Waiting for the report…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
  }
}
