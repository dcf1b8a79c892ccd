import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';
import { logAxisTick } from './logTicks';
import { smoothedDensity, visibleDensity } from './spectralDensity';

/**
 * The Hessian's spectral density: Gaussian-smoothed quadrature nodes as a line, the nodes themselves
 * (with their weights on a second axis) as points. `logScale` puts both y axes on a log scale, where
 * the outliers far from the bulk near 0 become visible.
 */
export function drawDensityChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme, logScale: boolean): Chart {
  const quadrature = report.hessian.density ?? { nodes: [], weights: [], runs: 0, steps: 0 };
  const smoothed = smoothedDensity(quadrature.nodes, quadrature.weights);
  const { points: density, floor } = visibleDensity(smoothed.grid, smoothed.density, logScale);
  const total = quadrature.weights.reduce((sum, w) => sum + w, 0) || 1;
  const nodes = quadrature.nodes.map((x, i) => ({ x, y: quadrature.weights[i]! / total }));
  return new Chart(canvas, {
    type: 'scatter',
    data: {
      datasets: [
        { type: 'line', label: `smoothed density (σ = ${formatNumber(smoothed.width, 2)})`, data: density, borderColor: theme.blue, backgroundColor: theme.blue, borderWidth: 2, pointRadius: 0, spanGaps: false, yAxisID: 'y' },
        { type: 'scatter', label: `quadrature nodes (${quadrature.runs} runs × ${quadrature.steps} steps)`, data: nodes, borderColor: theme.orange, backgroundColor: withAlpha(theme.orange, 0.6), pointRadius: 3, yAxisID: 'weights' },
      ],
    },
    options: {
      plugins: {
        canvasBackground: backgroundOption(theme),
        tooltip: {
          callbacks: {
            label: (item) => item.datasetIndex === 0
              ? `density ${formatNumber(item.parsed.y, 3)} at λ = ${formatNumber(item.parsed.x, 4)}`
              : `node λ = ${formatNumber(item.parsed.x, 4)}, weight ${formatNumber(item.parsed.y, 3)}`,
          },
        },
      },
      scales: {
        x: { type: 'linear', title: axisTitle('eigenvalue λ') },
        y: { type: logScale ? 'logarithmic' : 'linear', position: 'left', min: logScale ? floor : 0, ticks: logScale ? { callback: logAxisTick } : {}, title: axisTitle('density', theme.blue) },
        weights: { type: logScale ? 'logarithmic' : 'linear', position: 'right', min: logScale ? undefined : 0, ticks: logScale ? { callback: logAxisTick } : {}, grid: { drawOnChartArea: false }, title: axisTitle('node weight', theme.orange) },
      },
    },
  });
}
