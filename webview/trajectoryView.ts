import type { TrajectoryReport } from '../src/protocol/trajectory';
import { chartCard } from './chartCard';
import { drawTrajectoryChart } from './charts/trajectoryCharts';
import { button, element, shortPath } from './dom';
import { formatNumber } from './summaryRows';
import { vscode } from './vscodeApi';

const pick = (step: number) => vscode.postMessage({ type: 'trajectory/openPoint', step });

function header(t: TrajectoryReport, running: boolean): HTMLElement[] {
  const { summary } = t;
  const counts = `${t.points.length} checkpoints by ${t.series.counts}`;
  const done = `${summary.analyzed} analyzed${summary.failed ? `, ${summary.failed} failed` : ''}${summary.pending ? `, ${summary.pending} to go` : ''}`;
  const data = t.data.train ? shortPath(t.data.train) : 'data-free probes';
  const test = t.data.test ? ` · held-out ${shortPath(t.data.test)}` : ' · no held-out set: no generalization gap';
  const eta = t.learningRate ? ` · η = ${t.learningRate.value} (${t.learningRate.from}), 2/η = ${formatNumber(summary.edgeOfStability)}` : '';
  const parts: HTMLElement[] = [
    element('h1', `Training run ${t.series.pattern}`),
    element('p', `${counts} (${done}) · ${data}${test} · seed ${t.seed} for every step${eta}`, 'muted meta'),
  ];
  if (t.series.aliases.length > 0) parts.push(element('p', `Not in the series (no step number): ${t.series.aliases.join(', ')}`, 'muted'));
  const failed = t.points.filter((p) => p.status === 'failed');
  if (failed.length > 0) {
    const list = element('ul', undefined, 'notes');
    list.setAttribute('aria-label', 'Checkpoints that failed');
    for (const p of failed) list.append(element('li', `${t.series.counts} ${p.step}: ${p.error ?? 'failed'}`));
    parts.push(list);
  }
  const bar = element('div', undefined, 'toolbar');
  bar.setAttribute('role', 'toolbar');
  bar.setAttribute('aria-label', 'Training run actions');
  const json = button('Export JSON', () => vscode.postMessage({ type: 'trajectory/export', format: 'json' }), 'Save the trajectory (every report and the summary) as JSON');
  const csv = button('Export CSV', () => vscode.postMessage({ type: 'trajectory/export', format: 'csv' }), 'Save the series, one row per checkpoint, as CSV');
  json.className = csv.className = 'secondary';
  json.disabled = csv.disabled = running;
  bar.append(json, csv);
  parts.push(bar);
  return parts;
}

function tauTable(t: TrajectoryReport): HTMLElement {
  const table = element('table', undefined, 'summary trajectory-tau');
  table.append(element('caption', "Kendall's τ of each measure over the run (Jiang et al. 2020): +1 when it rises and falls exactly with the gap, −1 when opposite, 0 when unrelated"));
  const head = element('tr');
  for (const text of ['Measure', 'Invariant', 'τ vs step', 'τ vs loss gap', 'τ vs accuracy gap']) {
    const th = element('th', text);
    th.scope = 'col';
    head.append(th);
  }
  const thead = element('thead');
  thead.append(head);
  const body = element('tbody');
  for (const c of t.summary.correlations.filter((c) => c.points > 0)) {
    const tr = element('tr');
    tr.dataset.measure = c.measure;
    const th = element('th', c.label);
    th.scope = 'row';
    const invariant = element('td', c.invariant ? 'yes' : 'no');
    invariant.title = c.invariant ? 'No rescaling that keeps the network’s function can change it' : 'An equivalent rescaling (Dinh et al. 2017) can move it at will: its τ is a property of this parametrization';
    tr.append(th, invariant, ...[c.tauStep, c.tauLossGap, c.tauAccuracyGap].map((v) => element('td', v === null ? '—' : v.toFixed(3), 'value')));
    body.append(tr);
  }
  table.append(thead, body);
  const wrapper = element('div', undefined, 'table-wrapper');
  wrapper.append(table);
  return wrapper;
}

/** The training-run page: λ₁ against 2/η, trace with error bands, sharpness, losses and accuracies, all against step; τ table. */
export function trajectoryView(t: TrajectoryReport, running: boolean): HTMLElement[] {
  const edge = t.summary.edgeOfStability;
  const charts = element('div', undefined, 'charts trajectory-charts');
  charts.append(
    chartCard({
      id: 'run-lambda',
      title: 'Top Hessian eigenvalue λ₁',
      caption: edge !== null
        ? `λ₁ at each checkpoint; the dashed line is 2/η = ${formatNumber(edge)}, where full-batch gradient descent stops being stable along the top eigenvector (the edge of stability, Cohen et al. 2021). Click a point to open its report.`
        : 'λ₁ at each checkpoint. Give the learning rate (--learning-rate, or an optimizer config in the checkpoint) to see the 2/η line. Click a point to open its report.',
      height: 220,
      draw: (canvas, theme) => drawTrajectoryChart(canvas, t, [{ label: 'λ₁', colour: theme.blue, value: (p) => p.measures?.lambdaMax }], { yTitle: 'λ₁', lines: edge !== null ? [{ scaleId: 'y', value: edge, label: '2/η', colour: theme.red }] : [], onPick: pick }, theme),
    }),
    chartCard({
      id: 'run-trace',
      title: 'Hessian trace',
      caption: 'The Hutchinson trace with a ±1 standard-error band, and its minimum over the layer rescalings that keep the function (invariant: no equivalent network has a smaller one).',
      height: 220,
      toggle: { label: 'log scale', initial: false },
      draw: (canvas, theme, log) => drawTrajectoryChart(canvas, t, [
        { label: 'trace', colour: theme.green, value: (p) => p.measures?.trace, error: (p) => p.measures?.traceStderr },
        { label: 'min trace over layer scalings (invariant)', colour: theme.purple, value: (p) => p.measures?.minTrace, dashed: true },
      ], { yTitle: 'Tr H', logScale: log, onPick: pick }, theme),
    }),
    chartCard({
      id: 'run-sharpness',
      title: 'Sharpness',
      caption: 'ε-sharpness (worst loss increase in an ε-ball) and adaptive sharpness (ASAM, invariant to per-weight rescaling).',
      height: 220,
      toggle: { label: 'log scale', initial: true },
      draw: (canvas, theme, log) => drawTrajectoryChart(canvas, t, [
        { label: 'ε-sharpness', colour: theme.orange, value: (p) => p.measures?.sharpness },
        { label: 'adaptive sharpness (invariant)', colour: theme.purple, value: (p) => p.measures?.adaptiveSharpness, dashed: true },
      ], { yTitle: 'loss increase', logScale: log, onPick: pick }, theme),
    }),
    chartCard({
      id: 'run-loss',
      title: 'Loss and generalization gap',
      caption: 'Loss on the analysis data (train) and on the held-out set (test), and their difference, the generalization gap.',
      height: 220,
      draw: (canvas, theme) => drawTrajectoryChart(canvas, t, [
        { label: 'train loss', colour: theme.blue, value: (p) => p.train?.loss },
        { label: 'test loss', colour: theme.orange, value: (p) => p.test?.loss },
        { label: 'gap (test − train)', colour: theme.red, value: (p) => p.gap?.loss, dashed: true },
      ], { yTitle: 'loss', onPick: pick }, theme),
    }),
    chartCard({
      id: 'run-accuracy',
      title: 'Accuracy',
      caption: 'Accuracy on the analysis data and on the held-out set.',
      height: 200,
      draw: (canvas, theme) => drawTrajectoryChart(canvas, t, [
        { label: 'train accuracy', colour: theme.blue, value: (p) => p.train?.accuracy },
        { label: 'test accuracy', colour: theme.orange, value: (p) => p.test?.accuracy },
      ], { yTitle: 'accuracy', onPick: pick }, theme),
    }),
  );
  return [...header(t, running), charts, element('h2', 'Which measures track generalization on this run'), tauTable(t)];
}
