import type { ToWebviewMessage } from '../src/shared/webviewProtocol';
import { destroyAllCharts, drawPendingCharts, redrawAllCharts } from './chartCard';
import { compareView } from './compareView';
import { element } from './dom';
import { reportView } from './reportView';
import { StatusView } from './statusView';
import { observeThemeChanges } from './theme';
import { readPersistedState, vscode, type PersistedState } from './vscodeApi';

/** The host sets `<body data-view="report">` or `"compare"`; report is the default. */
const view: 'report' | 'compare' = document.body.dataset.view === 'compare' ? 'compare' : 'report';
const root = document.getElementById('report') ?? document.getElementById('compare') ?? document.body;
const status = new StatusView();
const content = element('div', undefined, 'content');
root.replaceChildren(status.element, content);

function show(state: PersistedState): void {
  destroyAllCharts();
  content.replaceChildren(...(state.view === 'report' ? reportView(state.report, state.stale) : compareView(state.reports, state.equivalences)));
  drawPendingCharts();
}

function handle(message: ToWebviewMessage): void {
  switch (message.type) {
    case 'report/show': {
      const state: PersistedState = { view: 'report', report: message.report, stale: message.stale };
      vscode.setState(state);
      status.clear();
      show(state);
      return;
    }
    case 'report/progress':
      status.showProgress(message.progress);
      return;
    case 'report/failed':
      status.showFailure(message.message);
      return;
    case 'compare/show': {
      const state: PersistedState = { view: 'compare', reports: message.reports, equivalences: message.equivalences };
      vscode.setState(state);
      status.clear();
      show(state);
      return;
    }
    default: {
      // Unknown types (a newer host) are ignored at run time; adding a message type without handling it is a type error.
      const unhandled: never = message;
      return unhandled;
    }
  }
}

function isToWebviewMessage(data: unknown): data is ToWebviewMessage {
  return typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string';
}

window.addEventListener('message', (event: MessageEvent<unknown>) => {
  if (isToWebviewMessage(event.data)) handle(event.data);
});

observeThemeChanges(() => redrawAllCharts());

const saved = readPersistedState();
if (saved && saved.view === view) show(saved);
else content.replaceChildren(element('p', view === 'compare' ? 'Waiting for the checkpoints…' : 'Waiting for the report…', 'muted'));
vscode.postMessage({ type: view === 'compare' ? 'compare/ready' : 'report/ready' });
