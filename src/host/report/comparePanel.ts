import * as path from 'node:path';
import * as vscode from 'vscode';
import { saveWithDialog } from './reportExport';
import type { FlatnessReport } from '../../protocol/report';
import { isFromWebviewMessage, type Equivalence, type ToWebviewMessage } from '../../protocol/webviewProtocol';
import { reloadUntilReady, webviewHtml, webviewOptions } from './webviewHtml';

/** Checkpoints side by side, with "same function" lines for the pairs that compute the same outputs. */
export class ComparePanel {
  static readonly viewType = 'flatnessLens.compare';
  private static current: ComparePanel | undefined;
  private ready = false;

  private readonly markReady: () => void;

  private constructor(private readonly panel: vscode.WebviewPanel, private message: ToWebviewMessage, extensionUri: vscode.Uri) {
    this.markReady = reloadUntilReady(panel, () => webviewHtml(panel.webview, extensionUri, 'compare', 'Flatness: Compare'), () => undefined);
    panel.onDidDispose(() => (ComparePanel.current = undefined));
    panel.webview.onDidReceiveMessage((m: unknown) => {
      if (!isFromWebviewMessage(m)) return;
      if (m.type === 'compare/ready' || m.type === 'report/ready') {
        this.ready = true;
        this.markReady();
        void panel.webview.postMessage(this.message);
      } else if (m.type === 'report/exportChart') {
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
        const png = Buffer.from(m.dataUrl.slice(m.dataUrl.indexOf(',') + 1), 'base64');
        void saveWithDialog(path.join(folder, `flatness-compare.${m.chart}.png`), { PNG: ['png'] }, png);
      }
    });
  }

  static show(extensionUri: vscode.Uri, reports: FlatnessReport[], equivalences: Equivalence[]): void {
    const message: ToWebviewMessage = { type: 'compare/show', reports, equivalences };
    if (ComparePanel.current) {
      ComparePanel.current.message = message;
      if (ComparePanel.current.ready) void ComparePanel.current.panel.webview.postMessage(message);
      ComparePanel.current.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(ComparePanel.viewType, 'Flatness: Compare', vscode.ViewColumn.Active, webviewOptions(extensionUri));
    panel.webview.html = webviewHtml(panel.webview, extensionUri, 'compare', 'Flatness: Compare');
    ComparePanel.current = new ComparePanel(panel, message, extensionUri);
  }
}
