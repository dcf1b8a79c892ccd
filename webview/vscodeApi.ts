import type { AnyReport, FlatnessReport } from '../src/protocol/report';
import type { TrajectoryReport } from '../src/protocol/trajectory';
import type { Equivalence, FromWebviewMessage } from '../src/protocol/webviewProtocol';

/** What the webview keeps with `setState` so the panel re-renders after a reload. */
export type PersistedState =
  | { readonly view: 'report'; readonly report: AnyReport; readonly stale: boolean }
  | { readonly view: 'compare'; readonly reports: readonly FlatnessReport[]; readonly equivalences: readonly Equivalence[] }
  | { readonly view: 'trajectory'; readonly trajectory: TrajectoryReport; readonly running: boolean };

export interface VsCodeApi {
  postMessage(message: FromWebviewMessage): void;
  setState(state: PersistedState): void;
  getState(): unknown;
}

declare const acquireVsCodeApi: (() => VsCodeApi) | undefined;

/** False in an exported HTML report opened in a browser: no host to send actions to. */
export const isInEditor = typeof acquireVsCodeApi === 'function';

/** An exported report's state: the report embedded in the page; actions go nowhere. */
function standaloneApi(): VsCodeApi {
  let state: unknown = embeddedState();
  return { postMessage: () => undefined, setState: (s) => (state = s), getState: () => state };
}

/** The report an exported HTML file carries in `<script type="application/json" id="embedded-report">`. */
function embeddedState(): PersistedState | undefined {
  const text = document.getElementById('embedded-report')?.textContent;
  if (!text) return undefined;
  const report = JSON.parse(text) as AnyReport;
  return { view: 'report', report, stale: false };
}

/** `acquireVsCodeApi` may be called once per page; every module shares this instance. */
export const vscode: VsCodeApi = isInEditor ? acquireVsCodeApi!() : standaloneApi();

/** The saved state if it has the shape this version writes, else undefined (e.g. state from an older build). */
export function readPersistedState(): PersistedState | undefined {
  const state = vscode.getState();
  if (typeof state !== 'object' || state === null) return undefined;
  const s = state as Record<string, unknown>;
  if (s.view === 'report' && typeof s.report === 'object' && s.report !== null) return state as PersistedState;
  if (s.view === 'compare' && Array.isArray(s.reports) && Array.isArray(s.equivalences)) return state as PersistedState;
  if (s.view === 'trajectory' && typeof s.trajectory === 'object' && s.trajectory !== null) return state as PersistedState;
  return undefined;
}
