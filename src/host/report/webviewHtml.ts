import * as crypto from 'node:crypto';
import { escapeHtml } from '../../engine/reportExport/standaloneHtml';
import * as vscode from 'vscode';

/** The webview document: strict CSP (nothing but our bundled script by nonce and our stylesheet). */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, view: 'report' | 'compare' | 'trajectory', title: string): string {
  const nonce = crypto.randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'webview.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'report.css'));
  const escaped = escapeHtml(title);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} data:; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>${escaped}</title>
</head>
<body data-view="${view}">
<main id="report"><p class="muted">Waiting for the report…</p></main>
<script nonce="${nonce}" src="${script}"></script>
</body>
</html>`;
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
  return {
    enableScripts: true,
    retainContextWhenHidden: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  };
}

/**
 * Reloads a webview whose page has not said `ready` within `timeoutMs` (a few tries): when several
 * panels open at once, a page's script or stylesheet request can fail and leave it blank. Returns
 * the function to call when `ready` arrives.
 */
export function reloadUntilReady(panel: vscode.WebviewPanel, html: () => string, log: (line: string) => void, timeoutMs = 5000, tries = 3): () => void {
  let ready = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      if (ready || attempt >= tries) return;
      attempt++;
      log(`webview '${panel.title}' did not load within ${timeoutMs} ms; reloading it (${attempt}/${tries})`);
      try {
        panel.webview.html = html();
      } catch {
        return; // disposed meanwhile
      }
      arm();
    }, timeoutMs);
  };
  arm();
  panel.onDidDispose(() => clearTimeout(timer));
  return () => {
    ready = true;
    clearTimeout(timer);
  };
}
