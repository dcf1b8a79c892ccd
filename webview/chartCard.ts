import { button, element } from './dom';
import { readTheme, type ChartTheme } from './theme';
import { applyThemeToCharts } from './charts/chartSetup';
import { isInEditor, vscode } from './vscodeApi';

/** The short id a chart is exported under (`report/exportChart`). */
export type ChartId = 'eigenvalues' | 'density' | 'slices' | 'surface' | 'block-traces' | 'alpha-orbit' | 'volume' | 'tensor-norms' | 'stable-ranks' | 'compare-eigenvalues' | 'compare-slices' | 'run-lambda' | 'run-trace' | 'run-sharpness' | 'run-loss' | 'run-accuracy';

/** Something drawn on a canvas that owns resources (a chart.js instance, a ResizeObserver). */
export interface Drawing {
  destroy(): void;
}

export interface ChartCardSpec {
  readonly id: ChartId;
  readonly title: string;
  /** One or two sentences under the chart: what is plotted and how to read it. */
  readonly caption: string;
  /** Height of the plot in CSS pixels; the width follows the grid column. */
  readonly height?: number;
  /** An on/off view option shown as a checkbox (e.g. a log-scaled axis); its value is passed to `draw`. */
  readonly toggle?: { readonly label: string; readonly initial: boolean };
  readonly draw: (canvas: HTMLCanvasElement, theme: ChartTheme, toggled: boolean) => Drawing;
}

interface LiveCard {
  readonly spec: ChartCardSpec;
  readonly box: HTMLElement;
  toggled: boolean;
  drawing?: Drawing;
}

const liveCards = new Set<LiveCard>();

/** A titled card with a canvas, a caption and an "Export PNG" button; drawn by `drawPendingCharts` once in the page. */
export function chartCard(spec: ChartCardSpec): HTMLElement {
  const card = element('section', undefined, 'chart-card');
  card.dataset.chart = spec.id;
  const header = element('div', undefined, 'chart-header');
  const title = element('h3', spec.title);
  title.id = `chart-title-${spec.id}`;
  const actions = element('div', undefined, 'chart-actions');
  const box = element('div', undefined, 'chart-box');
  // A least height: the box grows to fill a card stretched by a taller neighbour in its row.
  if (spec.height !== undefined) box.style.minHeight = `${spec.height}px`;
  const live: LiveCard = { spec, box, toggled: spec.toggle?.initial ?? false };
  if (spec.toggle) {
    const label = element('label', undefined, 'chart-toggle');
    const checkbox = element('input');
    checkbox.type = 'checkbox';
    checkbox.checked = live.toggled;
    checkbox.addEventListener('change', () => {
      live.toggled = checkbox.checked;
      drawCard(live, readTheme());
    });
    label.append(checkbox, document.createTextNode(` ${spec.toggle.label}`));
    actions.append(label);
  }
  const exportButton = button('Export PNG', () => exportCard(live), `Save the ${spec.title.toLowerCase()} chart as a PNG file`);
  exportButton.className = 'secondary';
  exportButton.dataset.exportChart = spec.id;
  if (isInEditor) actions.append(exportButton);
  header.append(title, actions);
  card.setAttribute('aria-labelledby', title.id);
  card.append(header, box, element('p', spec.caption, 'caption'));
  liveCards.add(live);
  return card;
}

function exportCard(live: LiveCard): void {
  const canvas = live.box.querySelector('canvas');
  if (!canvas) return;
  vscode.postMessage({ type: 'report/exportChart', chart: live.spec.id, dataUrl: canvas.toDataURL('image/png') });
}

function drawCard(live: LiveCard, theme: ChartTheme): void {
  live.drawing?.destroy();
  const canvas = element('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${live.spec.title}. ${live.spec.caption}`);
  live.box.replaceChildren(canvas);
  applyThemeToCharts(theme);
  try {
    live.drawing = live.spec.draw(canvas, theme, live.toggled);
  } catch (error) {
    live.drawing = undefined;
    live.box.replaceChildren(element('p', `Could not draw this chart: ${error instanceof Error ? error.message : String(error)}`, 'error-box'));
  }
}

/** Draws every card that is in the document and not drawn yet (canvases must be attached for chart.js to size them). */
export function drawPendingCharts(): void {
  const theme = readTheme();
  for (const live of liveCards) if (!live.drawing && live.box.isConnected) drawCard(live, theme);
}

/** Redraws every chart with the current theme's colours. */
export function redrawAllCharts(): void {
  const theme = readTheme();
  for (const live of liveCards) if (live.box.isConnected) drawCard(live, theme);
}

/** Destroys every chart; call before replacing the page's content. */
export function destroyAllCharts(): void {
  for (const live of liveCards) live.drawing?.destroy();
  liveCards.clear();
}
