import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnyReport } from '../../protocol/report';

/**
 * VS Code's light theme colours for the variables the report's stylesheet and charts read, so an
 * exported report looks like the editor's outside it.
 */
const lightThemeVariables = `:root {
  --vscode-font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --vscode-font-size: 13px;
  --vscode-editor-font-family: ui-monospace, Menlo, Consolas, monospace;
  --vscode-foreground: #3b3b3b;
  --vscode-descriptionForeground: #717171;
  --vscode-editor-background: #ffffff;
  --vscode-panel-border: #e5e5e5;
  --vscode-focusBorder: #005fb8;
  --vscode-errorForeground: #f85149;
  --vscode-editorWarning-foreground: #bf8803;
  --vscode-badge-background: #cccccc;
  --vscode-badge-foreground: #3b3b3b;
  --vscode-button-background: #005fb8;
  --vscode-button-foreground: #ffffff;
  --vscode-button-hoverBackground: #0258a8;
  --vscode-button-border: transparent;
  --vscode-button-secondaryBackground: #e5e5e5;
  --vscode-button-secondaryForeground: #3b3b3b;
  --vscode-button-secondaryHoverBackground: #cccccc;
  --vscode-progressBar-background: #005fb8;
  --vscode-inputValidation-errorBackground: #f2dede;
  --vscode-inputValidation-errorBorder: #be1100;
  --vscode-inputValidation-warningBackground: #f6f5d2;
  --vscode-editor-findMatchHighlightBackground: rgba(234, 92, 0, 0.33);
  --vscode-editor-findMatchHighlightBorder: transparent;
  --vscode-charts-blue: #1a85ff;
  --vscode-charts-green: #388a34;
  --vscode-charts-orange: #d18616;
  --vscode-charts-purple: #652d90;
  --vscode-charts-red: #e51400;
  --vscode-charts-yellow: #bf8803;
}
body { background: var(--vscode-editor-background); color: var(--vscode-foreground); margin: 0 auto; max-width: 1200px; padding: 16px 24px; }`;

/** Text that may sit inside a <script> or <style> element: no closing tag can end it early. */
function inertInElement(text: string, tag: 'script' | 'style'): string {
  return text.replace(new RegExp(`</(${tag})`, 'gi'), '<\\/$1');
}

/**
 * One HTML file that shows the report in any browser with no network: the report as JSON, the
 * webview's script and stylesheet inline, the charts drawn by the same code as in the editor.
 */
/** Text safe inside an HTML element or a double-quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function standaloneReportHtml(report: AnyReport, webviewScript: string, stylesheet: string): string {
  const title = escapeHtml(`Flatness report: ${report.checkpoint.path.split(/[\\/]/).slice(-2).join('/')}`);
  const json = JSON.stringify(report).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<meta name="generator" content="flatness-lens ${report.tool.version}">
<title>${title}</title>
<style>
${inertInElement(lightThemeVariables, 'style')}
${inertInElement(stylesheet, 'style')}
</style>
</head>
<body data-view="report" class="vscode-light standalone">
<main id="report"><p class="muted">This report needs JavaScript to draw its tables and charts.</p></main>
<script type="application/json" id="embedded-report">${json}</script>
<script>
${inertInElement(webviewScript, 'script')}
</script>
</body>
</html>
`;
}

/** The built webview script and the stylesheet, from the package root (the folder holding dist/ and media/). */
export function readStandaloneAssets(packageRoot: string): { script: string; stylesheet: string } {
  const read = (relative: string) => {
    const file = path.join(packageRoot, relative);
    try {
      return fs.readFileSync(file, 'utf8');
    } catch (error) {
      throw new Error(`cannot export HTML: ${relative} is missing from ${packageRoot} (${error instanceof Error ? error.message : String(error)}); build it with npm run build`);
    }
  };
  return { script: read('dist/webview.js').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n'), stylesheet: read('media/report.css') };
}

/** The nearest folder at or above `start` holding this package's package.json (dist/cli.js → the root; src/cli under tsx → the root too). */
export function packageRootFrom(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    try {
      if ((JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown }).name === 'flatness-lens') return dir;
    } catch {
      // no package.json here: keep climbing
    }
    if (path.dirname(dir) === dir) return path.resolve(start, '..');
  }
}
