import type { FlatnessReport } from '../src/protocol/report';
import type { Equivalence } from '../src/protocol/webviewProtocol';
import { chartCard } from './chartCard';
import { drawCompareEigenvalueChart, drawCompareSliceChart } from './charts/compareCharts';
import { element, fileName, shortPath } from './dom';
import { formatNumber, reparametrizationSensitiveKeys, summaryRows, type SummaryKey, type SummaryRow } from './summaryRows';

/** Column headers: file names, with the folder (then an index) added where two would read the same. */
export function checkpointNames(reports: readonly FlatnessReport[]): string[] {
  const names = reports.map((r) => fileName(r.checkpoint.path));
  const longer = names.map((name, i) => (names.indexOf(name) !== names.lastIndexOf(name) ? shortPath(reports[i]!.checkpoint.path) : name));
  return longer.map((name, i) => (longer.indexOf(name) !== longer.lastIndexOf(name) ? `${name} #${i + 1}` : name));
}

function comparisonTable(reports: readonly FlatnessReport[], names: readonly string[], equivalences: readonly Equivalence[]): HTMLElement {
  const rowsByReport = reports.map((r) => new Map(summaryRows(r).map((row) => [row.key, row] as const)));
  const keys: SummaryKey[] = [];
  for (const rows of rowsByReport) for (const key of rows.keys()) if (!keys.includes(key)) keys.push(key);
  const equivalentColumns = new Set(equivalences.flatMap((e) => [e.a, e.b]));

  const table = element('table', undefined, 'summary compare');
  const caption = element('caption', 'Flatness metrics per checkpoint; highlighted cells are measures that changed between checkpoints computing the same function');
  caption.className = 'visually-hidden';
  const headRow = element('tr');
  const corner = element('th', 'Metric');
  corner.scope = 'col';
  headRow.append(corner);
  names.forEach((name, k) => {
    const th = element('th', name);
    th.scope = 'col';
    th.title = reports[k]!.checkpoint.path;
    headRow.append(th);
  });
  const head = element('thead');
  head.append(headRow);
  const body = element('tbody');
  for (const key of keys) {
    const tr = element('tr');
    tr.dataset.metric = key;
    const first = rowsByReport.map((rows) => rows.get(key)).find((row): row is SummaryRow => row !== undefined)!;
    const th = element('th', first.metric);
    th.scope = 'row';
    th.title = first.definition;
    tr.append(th);
    rowsByReport.forEach((rows, k) => {
      const td = element('td', rows.get(key)?.value ?? '—', 'value');
      if (equivalentColumns.has(k) && reparametrizationSensitiveKeys.has(key)) td.classList.add('highlight');
      tr.append(td);
    });
    body.append(tr);
  }
  table.append(caption, head, body);
  const wrapper = element('div', undefined, 'table-wrapper');
  wrapper.append(table);
  return wrapper;
}

/** "×10.0" — how many times larger b is than a, or the plain pair when a ratio means nothing. */
function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(a > 0) || !(b > 0)) return '';
  const r = b / a;
  return r >= 1 ? ` (×${formatNumber(r, 3)})` : ` (÷${formatNumber(1 / r, 3)})`;
}

function differences(a: FlatnessReport, b: FlatnessReport): string[] {
  const pairs: [string, number | undefined, number | undefined][] = [
    ['λ_max', a.hessian.topEigenvalues?.[0], b.hessian.topEigenvalues?.[0]],
    ['Tr H', a.hessian.trace?.estimate, b.hessian.trace?.estimate],
    ['ε-sharpness', a.sharpness?.fullSpace, b.sharpness?.fullSpace],
  ];
  return pairs.filter(([, x, y]) => x !== undefined && y !== undefined).map(([label, x, y]) => `${label} ${formatNumber(x)} vs ${formatNumber(y)}${ratio(x, y)}`);
}

function equivalenceList(reports: readonly FlatnessReport[], names: readonly string[], equivalences: readonly Equivalence[]): HTMLElement {
  const list = element('ul', undefined, 'equivalences');
  for (const e of equivalences) {
    const a = reports[e.a];
    const b = reports[e.b];
    if (!a || !b) continue;
    const item = element('li', undefined, 'equivalence');
    item.append(
      element('strong', `${names[e.a]} and ${names[e.b]}`),
      document.createTextNode(' — '),
      element('span', `same function: max |Δ output| = ${formatNumber(e.maxOutputDeviation, 2)} (relative to max |output|, on ${e.samples.toLocaleString('en-US')} samples)`, 'same-function'),
    );
    const diffs = differences(a, b);
    if (diffs.length > 0) item.append(element('span', `, yet ${diffs.join('; ')}.`, 'sharpness-difference'));
    list.append(item);
  }
  return list;
}

/** Several checkpoints side by side, with the pairs that compute the same function called out. */
export function compareView(reports: readonly FlatnessReport[], equivalences: readonly Equivalence[]): HTMLElement[] {
  const names = checkpointNames(reports);
  const parts: HTMLElement[] = [element('h1', `Comparing ${reports.length} checkpoints`)];
  parts.push(element('p', reports.map((r, k) => `${names[k]}: ${r.checkpoint.parameters.toLocaleString('en-US')} parameters, ${r.data.dataFree ? 'data-free' : `${r.data.samples} samples`}, seed ${r.seed}`).join(' · '), 'muted meta'));
  parts.push(element('h2', 'Metrics'), comparisonTable(reports, names, equivalences));
  if (equivalences.length > 0) {
    parts.push(element('h2', 'Same function, different sharpness'), equivalenceList(reports, names, equivalences));
    parts.push(element('p', 'Rescaling one layer by α and the next by 1/α leaves a ReLU network’s outputs unchanged but multiplies curvature-based measures; highlighted cells are those measures (Dinh et al. 2017).', 'muted'));
  }
  const grid = element('div', undefined, 'chart-grid');
  if (reports.some((r) => (r.hessian.topEigenvalues?.length ?? 0) > 0)) {
    grid.append(chartCard({ id: 'compare-eigenvalues', title: 'Top eigenvalues per checkpoint', caption: 'The top Hessian eigenvalues of each checkpoint side by side.', draw: (canvas, theme) => drawCompareEigenvalueChart(canvas, reports, names, theme) }));
  }
  if (reports.some((r) => r.landscape !== undefined)) {
    grid.append(chartCard({ id: 'compare-slices', title: 'Random 1-D slices per checkpoint', caption: 'The loss along each checkpoint’s filter-normalized random direction; filter normalization follows layer rescalings, so equivalent checkpoints analyzed with the same seed should trace nearly the same curve.', draw: (canvas, theme) => drawCompareSliceChart(canvas, reports, names, theme) }));
  }
  parts.push(element('h2', 'Charts'), grid);
  return parts;
}
