import type { TensorStatistics, WeightsReport } from '../src/protocol/report';
import { chartCard } from './chartCard';
import { drawStableRankChart, drawTensorNormChart, tensorChartHeight, weightMatrices } from './charts/tensorNormChart';
import { button, checkpointNotes, element, shortPath, staleBanner } from './dom';
import { formatNumber } from './summaryRows';
import { isInEditor, vscode } from './vscodeApi';

/** Every tensor's statistics as a table (name, shape, type, norms, spectral norm, stable rank). */
export function tensorTable(tensors: readonly TensorStatistics[]): HTMLElement {
  const table = element('table', undefined, 'tensors');
  const caption = element('caption', 'Statistics of each stored weight tensor');
  caption.className = 'visually-hidden';
  const head = element('thead');
  const headRow = element('tr');
  for (const h of ['Tensor', 'Shape', 'Type', 'Mean', 'Std', 'max |w|', '‖W‖_F', '‖W‖₂', 'Stable rank']) {
    const th = element('th', h);
    th.scope = 'col';
    headRow.append(th);
  }
  head.append(headRow);
  const body = element('tbody');
  for (const t of tensors) {
    const tr = element('tr');
    tr.dataset.tensor = t.name;
    const th = element('th', t.name);
    th.scope = 'row';
    const matrix = t.matrix;
    const cells = [
      `[${t.shape.join(', ')}]`,
      t.dtype ?? 'float32',
      formatNumber(t.mean),
      formatNumber(t.std),
      formatNumber(t.maxAbs),
      t.nonFinite > 0 ? `${t.nonFinite} NaN/∞` : formatNumber(t.l2Norm),
      matrix ? `${formatNumber(matrix.spectralNorm)}${matrix.converged ? '' : ' (not converged)'}` : '',
      matrix ? `${formatNumber(matrix.stableRank, 3)} of ${Math.min(matrix.rows, matrix.cols)}` : '',
    ];
    tr.append(th, ...cells.map((c, i) => element('td', c, i >= 2 ? 'value' : undefined)));
    if (t.nonFinite > 0) tr.className = 'non-finite';
    body.append(tr);
  }
  table.append(caption, head, body);
  const wrapper = element('div', undefined, 'table-wrapper');
  wrapper.append(table);
  return wrapper;
}

/** Norm and stable-rank charts of the weight matrices, or nothing when there is no matrix. */
export function tensorCharts(tensors: readonly TensorStatistics[]): HTMLElement[] {
  if (weightMatrices(tensors).length === 0) return [];
  const height = tensorChartHeight(tensors);
  return [
    chartCard({
      id: 'tensor-norms',
      title: 'Weight matrix norms',
      caption: 'Largest singular value ‖W‖₂ and Frobenius norm ‖W‖_F of each kernel, as an outputs × inputs matrix. Rescaling a layer by α multiplies both by α without changing the function.',
      height,
      toggle: { label: 'log scale', initial: true },
      draw: (canvas, theme, logScale) => drawTensorNormChart(canvas, tensors, theme, logScale),
    }),
    chartCard({
      id: 'stable-ranks',
      title: 'Stable ranks',
      caption: 'Stable rank ‖W‖²_F / ‖W‖²₂: how many directions carry the matrix’s energy, at most min(rows, cols). Unlike the norms, it does not change when a layer is rescaled.',
      height,
      draw: (canvas, theme) => drawStableRankChart(canvas, tensors, theme),
    }),
  ];
}

/** The report on a weights-only file: what is missing for the Hessian metrics, then the tensor statistics. */
export function weightsView(report: WeightsReport, stale: boolean): HTMLElement[] {
  const parts: HTMLElement[] = [element('h1', shortPath(report.checkpoint.path))];
  parts.push(element('p', `${report.checkpoint.format} · ${report.checkpoint.parameters.toLocaleString('en-US')} float values in ${report.tensors.length} tensors · flatness-lens ${report.tool.version}`, 'muted meta'));
  if (stale) parts.push(staleBanner());
  const missing = element('p', undefined, 'architecture-missing');
  missing.setAttribute('role', 'note');
  missing.append(element('span', 'weights only', 'badge'), document.createTextNode(` No Hessian metrics: this file ${report.architectureMissing}.`));
  parts.push(missing);
  if (report.checkpoint.notes.length > 0) parts.push(checkpointNotes(report.checkpoint.notes));
  const bar = element('div', undefined, 'toolbar');
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Report actions');
  const exportJson = button('Export JSON', () => vscode.postMessage({ type: 'report/export', format: 'json' }), 'Save the full report as JSON');
  const exportCsv = button('Export CSV', () => vscode.postMessage({ type: 'report/export', format: 'csv' }), 'Save the tensor statistics as CSV');
  const exportHtml = button('Export HTML', () => vscode.postMessage({ type: 'report/export', format: 'html' }), 'Save the report as one HTML file that opens in any browser, offline');
  exportJson.className = exportCsv.className = exportHtml.className = 'secondary';
  bar.append(button('Re-run', () => vscode.postMessage({ type: 'report/rerun' }), 'Read the file again (after adding its architecture)'), exportJson, exportCsv, exportHtml);
  if (isInEditor) parts.push(bar);
  const grid = element('div', undefined, 'chart-grid');
  grid.append(...tensorCharts(report.tensors));
  parts.push(element('h2', 'Tensors'), tensorTable(report.tensors), element('h2', 'Charts'), grid);
  return parts;
}
