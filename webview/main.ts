import type { ToWebviewMessage } from '../src/protocol/webviewProtocol';
import { destroyAllCharts, drawPendingCharts, redrawAllCharts } from './chartCard';
import { compareView } from './compareView';
import { element } from './dom';
import { reportView } from './reportView';
import { StatusView } from './statusView';
import { trajectoryView } from './trajectoryView';
import { observeThemeChanges } from './theme';
import { readPersistedState, vscode, type PersistedState } from './vscodeApi';

/** The host sets `<body data-view="report">`, `"compare"` or `"trajectory"`; report is the default. */
const view: PersistedState['view'] = document.body.dataset.view === 'compare' || document.body.dataset.view === 'trajectory' ? document.body.dataset.view : 'report';
const root = document.getElementById('report') ?? document.getElementById('compare') ?? document.body;
const status = new StatusView();
const content = element('div', undefined, 'content');
root.replaceChildren(status.element, content);

function show(state: PersistedState): void {
  destroyAllCharts();
  const page = state.view === 'report' ? reportView(state.report, state.stale) : state.view === 'compare' ? compareView(state.reports, state.equivalences) : trajectoryView(state.trajectory, state.running);
  content.replaceChildren(...page);
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
    case 'trajectory/show': {
      const state: PersistedState = { view: 'trajectory', trajectory: message.trajectory, running: message.running };
      vscode.setState(state);
      if (!message.running) status.clear();
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
else content.replaceChildren(element('p', view === 'compare' ? 'Waiting for the checkpoints…' : view === 'trajectory' ? 'Waiting for the training run…' : 'Waiting for the report…', 'muted'));
vscode.postMessage({ type: `${view}/ready` });
