import type { ChartDataset } from 'chart.js';
import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { seriesColours, withAlpha, type ChartTheme } from '../theme';
import { orbitCurves } from './alphaOrbit';
import { axisTitle, backgroundOption, Chart } from './chartSetup';
import { logAxisTick } from './logTicks';

/** Term lines are listed in the legend only up to this many tensors; more would bury the total. */
const maxTermsInLegend = 8;

/**
 * The Hessian trace along the α-orbit: one thin line per weight tensor and their sum in bold, for
 * t ∈ [−1, 2], with the network (t = 0) and the trace-minimizing rescaling (t = 1) marked.
 */
export function drawAlphaOrbitChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const orbit = report.invariant?.minTraceOverLayerScaling;
  if (!orbit || orbit.path.length === 0) throw new Error('the report has no α-orbit path');
  const curves = orbitCurves(orbit.path);
  const logScale = curves.total.every((v) => v > 0);
  const colours = seriesColours(theme);
  type Point = { x: number; y: number };
  const datasets: ChartDataset<'line', Point[]>[] = curves.terms.map((term, k) => ({
    label: orbit.path[k]!.weight,
    data: curves.positions.map((x, i) => ({ x, y: term[i]! })),
    borderColor: withAlpha(colours[k % colours.length]!, 0.75),
    backgroundColor: colours[k % colours.length]!,
    borderWidth: 1.2,
    pointRadius: 0,
  }));
  const totalAt = (t: number) => orbit.path.reduce((sum, term) => sum + term.trace * Math.exp(-2 * t * term.logFactor), 0);
  datasets.push({ label: 'Tr H (sum)', data: curves.positions.map((x, i) => ({ x, y: curves.total[i]! })), borderColor: theme.foreground, backgroundColor: theme.foreground, borderWidth: 3.5, pointRadius: 0 });
  datasets.push({
    label: 'this network (t = 0) and minimum (t = 1)',
    data: [{ x: 0, y: totalAt(0) }, { x: 1, y: totalAt(1) }],
    borderColor: theme.foreground,
    backgroundColor: [theme.blue, theme.green],
    pointRadius: 6,
    pointHoverRadius: 8,
    showLine: false,
  });
  const termCount = curves.terms.length;
  return new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      interaction: { mode: 'nearest', intersect: false },
      plugins: {
        canvasBackground: backgroundOption(theme),
        referenceLines: {
          lines: [
            { scaleId: 'x', value: 0, label: `this network: ${formatNumber(totalAt(0))}`, colour: theme.blue },
            { scaleId: 'x', value: 1, label: `minimum: ${formatNumber(totalAt(1))}`, colour: theme.green },
          ],
        },
        legend: { labels: { filter: (item) => termCount <= maxTermsInLegend || (item.datasetIndex ?? 0) >= termCount } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y)} at t = ${formatNumber(item.parsed.x, 3)}` } },
      },
      scales: {
        x: { type: 'linear', min: -1, max: 2, title: axisTitle('position along the α-orbit (0 = this network, 1 = minimum trace)') },
        y: { type: logScale ? 'logarithmic' : 'linear', ticks: logScale ? { callback: logAxisTick } : {}, title: axisTitle(`trace of the Hessian block${logScale ? ' (log scale)' : ''}`) },
      },
    },
  });
}
