import { isWeightsReport, type AnyReport, type FlatnessReport, type RescaleProvenance } from '../src/protocol/report';
import { chartCard } from './chartCard';
import { drawAlphaOrbitChart } from './charts/alphaOrbitChart';
import { blockTraceChartHeight, drawBlockTraceChart } from './charts/blockTraceChart';
import { drawDensityChart } from './charts/densityChart';
import { drawEigenvalueChart } from './charts/eigenvalueChart';
import { drawLossSliceChart } from './charts/lossSliceChart';
import { drawSurfaceHeatmap } from './charts/surfaceHeatmap';
import { drawVolumeChart } from './charts/volumeChart';
import { button, checkpointNotes, element, shortPath, staleBanner } from './dom';
import { formatNumber, summaryRows } from './summaryRows';
import { tensorCharts, tensorTable, weightsView } from './tensorView';
import { isInEditor, vscode } from './vscodeApi';

function toolbar(report: FlatnessReport): HTMLElement {
  const bar = element('div', undefined, 'toolbar');
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Report actions');
  const orbit = report.invariant?.minTraceOverLayerScaling;
  const noFreedom = orbit !== undefined && orbit.degreesOfFreedom === 0;
  const rescaleTitle = (what: string) => (noFreedom ? 'This network has no function-preserving layer scalings to use' : what);
  const flatten = button('Rescale to Flatten', () => vscode.postMessage({ type: 'report/rescale', mode: 'flatten' }), rescaleTitle('Write an equivalent checkpoint (same outputs) with the smallest Hessian trace its symmetries allow'));
  const sharpen = button('Rescale to Sharpen', () => vscode.postMessage({ type: 'report/rescale', mode: 'sharpen' }), rescaleTitle('Write an equivalent checkpoint (same outputs) with a much larger Hessian trace'));
  flatten.disabled = sharpen.disabled = noFreedom;
  const exportJson = button('Export JSON', () => vscode.postMessage({ type: 'report/export', format: 'json' }), 'Save the full report as JSON');
  const exportCsv = button('Export CSV', () => vscode.postMessage({ type: 'report/export', format: 'csv' }), 'Save the summary metrics as CSV');
  const exportHtml = button('Export HTML', () => vscode.postMessage({ type: 'report/export', format: 'html' }), 'Save the report as one HTML file that opens in any browser, offline');
  for (const b of [flatten, sharpen, exportJson, exportCsv, exportHtml]) b.className = 'secondary';
  bar.append(button('Re-run', () => vscode.postMessage({ type: 'report/rerun' }), 'Analyze the checkpoint again'), flatten, sharpen, exportJson, exportCsv, exportHtml);
  return bar;
}

function header(report: FlatnessReport, stale: boolean): HTMLElement[] {
  const parts: HTMLElement[] = [element('h1', shortPath(report.checkpoint.path))];
  const data = report.data.dataFree ? `data-free probes (${report.data.samples})` : `${shortPath(report.data.source)} (${report.data.samples} samples)`;
  const layers = report.checkpoint.layerSummary ?? `${report.checkpoint.layers} layers`;
  const meta = element('p', `${report.checkpoint.format} · ${report.checkpoint.parameters.toLocaleString('en-US')} parameters in ${layers} · ${data} · seed ${report.seed} · ${report.tool.backend}${report.tool.device ? ` (${report.tool.device}, ${report.tool.threads} threads)` : ''} backend${report.tool.peakMemoryBytes !== undefined ? ` · peak memory ${(report.tool.peakMemoryBytes / 2 ** 20).toFixed(0)} MiB` : ''} · flatness-lens ${report.tool.version}`, 'muted meta');
  parts.push(meta);
  if (stale) parts.push(staleBanner());
  if (report.checkpoint.provenance) parts.push(provenanceSection(report.checkpoint.provenance));
  if (report.data.dataFree) {
    const badge = element('p', undefined, 'data-free');
    badge.append(element('span', 'data-free', 'badge'), document.createTextNode(' No data set: Gaussian probe inputs labelled with the model’s own predictions. The numbers describe the model near those probes, not on real data.'));
    parts.push(badge);
  }
  if (report.checkpoint.notes.length > 0) parts.push(checkpointNotes(report.checkpoint.notes));
  return parts;
}

function factorText(f: RescaleProvenance['factors'][number]): string {
  if (f.alpha !== undefined) return `${f.layer} ×${formatNumber(f.alpha)}`;
  if (f.unitScaleMin !== undefined && f.unitScaleMax !== undefined) return `${f.layer} ×${formatNumber(f.unitScaleMin)}…${formatNumber(f.unitScaleMax)}`;
  return f.layer;
}

/** "Equivalent to model.json": the original, the factors and the measured output difference, with a link to the original's report. */
function provenanceSection(p: RescaleProvenance): HTMLElement {
  const section = element('section', undefined, 'provenance');
  section.setAttribute('aria-label', 'Provenance');
  const heading = element('h2', `Equivalent to ${p.source}`);
  const what = `${p.mode === 'flatten' ? 'Rescaled to flatten' : p.mode === 'sharpen' ? 'Rescaled to sharpen' : 'Rescaled'}${p.objective ? ` (${p.objective}, per ${p.granularity ?? 'layer'})` : ''}: the same function with different weights.`;
  const factors = p.factors.length > 0 ? `Factors: ${p.factors.map(factorText).join(', ')}.` : 'No factors recorded.';
  const proof = p.maxOutputDeviation !== undefined ? `Same function: max |Δ output| = ${p.maxOutputDeviation.toExponential(1)} (relative to the largest output)${p.samples !== undefined ? ` on ${p.samples} samples` : ''}${p.data ? ` of ${p.data}` : ''}.` : 'No output comparison recorded.';
  section.append(heading, element('p', what), element('p', factors, 'factors'), element('p', proof, 'equivalence'));
  if (isInEditor) {
    const open = button(`Open the report of ${p.source}`, () => vscode.postMessage({ type: 'report/openOriginal' }), 'Show the original checkpoint’s report beside this one');
    open.className = 'secondary open-original';
    section.append(open);
  }
  return section;
}

function summaryTable(report: FlatnessReport): HTMLElement {
  const table = element('table', undefined, 'summary');
  const caption = element('caption', 'Flatness metrics of this checkpoint, with error bars where the estimate is stochastic');
  caption.className = 'visually-hidden';
  const head = element('thead');
  const headRow = element('tr');
  for (const h of ['Metric', 'Value', 'Definition']) {
    const th = element('th', h);
    th.scope = 'col';
    headRow.append(th);
  }
  head.append(headRow);
  const body = element('tbody');
  for (const row of summaryRows(report)) {
    const tr = element('tr');
    tr.dataset.metric = row.key;
    const th = element('th', row.metric);
    th.scope = 'row';
    tr.append(th, element('td', row.value, 'value'), element('td', row.definition, 'definition'));
    body.append(tr);
  }
  table.append(caption, head, body);
  const wrapper = element('div', undefined, 'table-wrapper');
  wrapper.append(table);
  return wrapper;
}

function charts(report: FlatnessReport): HTMLElement {
  const grid = element('div', undefined, 'chart-grid');
  const h = report.hessian;
  if (h.topEigenvalues && h.topEigenvalues.length > 0) {
    grid.append(chartCard({ id: 'eigenvalues', title: 'Top Hessian eigenvalues', caption: 'The largest eigenvalues of the Hessian of the mean loss (Lanczos); hover a bar for its relative residual.', draw: (canvas, theme) => drawEigenvalueChart(canvas, report, theme) }));
  }
  if (h.density && h.density.nodes.length > 0) {
    grid.append(chartCard({ id: 'density', title: 'Spectral density', caption: 'Stochastic Lanczos quadrature: Gauss nodes and weights smoothed with a Gaussian of width (λmax − λmin)/100. Most of the mass sits near 0; a log scale shows the outliers.', toggle: { label: 'log scale', initial: true }, draw: (canvas, theme, logScale) => drawDensityChart(canvas, report, theme, logScale) }));
  }
  if (report.landscape) {
    grid.append(chartCard({ id: 'slices', title: '1-D loss slices', caption: 'The loss along a filter-normalized random direction and along the top eigenvector; the dashed line is the quadratic model L + ½λ₁t² the eigenvalue predicts.', height: 320, draw: (canvas, theme) => drawLossSliceChart(canvas, report, theme) }));
    grid.append(chartCard({ id: 'surface', title: '2-D loss landscape', caption: 'The loss on the plane spanned by two filter-normalized random directions (colour: log scale); the circle is this network. Hover for values.', height: 320, draw: (canvas, theme) => drawSurfaceHeatmap(canvas, report, theme) }));
  }
  if (h.blockTraces && h.blockTraces.length > 0) {
    grid.append(chartCard({ id: 'block-traces', title: 'Per-tensor Hessian traces', caption: 'Trace of each weight tensor’s diagonal Hessian block, ± one standard error of the deflated Hutchinson estimate (they sum to Tr H), and the block’s top eigenvalue (Lanczos on that block alone).', height: blockTraceChartHeight(report), draw: (canvas, theme) => drawBlockTraceChart(canvas, report, theme) }));
  }
  const orbit = report.invariant?.minTraceOverLayerScaling;
  if (orbit && orbit.path.length > 0) {
    grid.append(chartCard({ id: 'alpha-orbit', title: 'Trace along the α-orbit', caption: 'Every point on these curves is the same function: rescaling layers by α and 1/α changes no output, only the trace (Dinh et al. 2017).', height: 300, draw: (canvas, theme) => drawAlphaOrbitChart(canvas, report, theme) }));
  }
  grid.append(...tensorCharts(report.tensors ?? []));
  if (report.volumeFlatness) {
    grid.append(chartCard({ id: 'volume', title: 'Volume ε-flatness radii', caption: `How far one can walk along each random direction before the loss rises by ε = ${report.volumeFlatness.epsilon}; the search stops at the cap.`, height: Math.max(220, 20 * report.volumeFlatness.radii.length + 100), draw: (canvas, theme) => drawVolumeChart(canvas, report, theme) }));
  }
  return grid;
}

/** The whole report: header, actions, summary table and charts. Charts are drawn once the returned nodes are in the page. */
export function reportView(report: AnyReport, stale: boolean): HTMLElement[] {
  if (isWeightsReport(report)) return weightsView(report, stale);
  const summaryHeading = element('h2', 'Summary');
  const chartsHeading = element('h2', 'Charts');
  const parts = [...header(report, stale), ...(isInEditor ? [toolbar(report)] : []), summaryHeading, summaryTable(report), chartsHeading, charts(report)];
  if (report.tensors && report.tensors.length > 0) {
    const details = element('details', undefined, 'tensor-details');
    details.append(element('summary', `Weight tensors (${report.tensors.length})`), tensorTable(report.tensors));
    parts.push(details);
  }
  return parts;
}
