import type { FlatnessReport } from '../src/shared/report';
import type { FromWebviewMessage, ToWebviewMessage } from '../src/shared/webviewProtocol';
import { summaryRows } from './summaryRows';

declare function acquireVsCodeApi(): { postMessage(message: FromWebviewMessage): void; setState(state: unknown): void; getState(): unknown };

const vscode = acquireVsCodeApi();
const root = document.getElementById('report')!;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function render(report: FlatnessReport): void {
  root.replaceChildren();
  root.append(element('h1', report.checkpoint.path.split(/[\\/]/).slice(-2).join('/')));
  const meta = element('p', `${report.checkpoint.format} · ${report.checkpoint.parameters.toLocaleString()} parameters · ${report.data.source} (${report.data.samples} samples) · seed ${report.seed} · ${report.tool.backend}`, 'muted');
  root.append(meta);
  if (report.data.dataFree) root.append(element('p', 'Data-free mode: Gaussian probe inputs labelled with the model’s own predictions.', 'badge'));
  const table = element('table');
  const head = element('tr');
  ['Metric', 'Value', 'Definition'].forEach((h) => head.append(element('th', h)));
  table.append(head);
  for (const row of summaryRows(report)) {
    const tr = element('tr');
    tr.append(element('td', row.metric), element('td', row.value, 'value'), element('td', row.definition, 'definition'));
    table.append(tr);
  }
  root.append(element('h2', 'Summary'), table);
  const rerun = element('button', 'Re-run analysis');
  rerun.addEventListener('click', () => vscode.postMessage({ type: 'report/rerun' }));
  root.append(element('p'), rerun);
}

window.addEventListener('message', (event: MessageEvent<ToWebviewMessage>) => {
  const message = event.data;
  if (message?.type === 'report/show') {
    vscode.setState({ report: message.report });
    render(message.report);
  }
});

const saved = vscode.getState() as { report?: FlatnessReport } | undefined;
if (saved?.report) render(saved.report);
vscode.postMessage({ type: 'report/ready' });
