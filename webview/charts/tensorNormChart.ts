import type { TensorStatistics } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';
import { logAxisTick } from './logTicks';

/** The tensors that have a matrix view (rank ≥ 2, all values finite). */
export function weightMatrices(tensors: readonly TensorStatistics[]): (TensorStatistics & { matrix: NonNullable<TensorStatistics['matrix']> })[] {
  return tensors.filter((t): t is TensorStatistics & { matrix: NonNullable<TensorStatistics['matrix']> } => t.matrix !== undefined);
}

export function tensorChartHeight(tensors: readonly TensorStatistics[]): number {
  return Math.max(180, 30 * weightMatrices(tensors).length + 80);
}

/** Spectral and Frobenius norm of each weight matrix, as paired horizontal bars. */
export function drawTensorNormChart(canvas: HTMLCanvasElement, tensors: readonly TensorStatistics[], theme: ChartTheme, logScale: boolean): Chart {
  const matrices = weightMatrices(tensors);
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: matrices.map((t) => t.name),
      datasets: [
        { label: 'spectral norm ‖W‖₂', data: matrices.map((t) => t.matrix.spectralNorm), backgroundColor: withAlpha(theme.blue, 0.75), borderColor: theme.blue, borderWidth: 1 },
        { label: 'Frobenius norm ‖W‖_F', data: matrices.map((t) => t.l2Norm), backgroundColor: withAlpha(theme.orange, 0.6), borderColor: theme.orange, borderWidth: 1 },
      ],
    },
    options: {
      indexAxis: 'y',
      plugins: {
        canvasBackground: backgroundOption(theme),
        tooltip: {
          callbacks: {
            afterBody: (items) => {
              const t = matrices[items[0]?.dataIndex ?? 0];
              return t ? [`${t.matrix.rows} × ${t.matrix.cols} matrix; stable rank ${formatNumber(t.matrix.stableRank, 3)}`] : [];
            },
          },
        },
      },
      scales: {
        x: { type: logScale ? 'logarithmic' : 'linear', ticks: logScale ? { callback: logAxisTick, autoSkip: false, maxRotation: 0 } : {}, title: axisTitle(logScale ? 'norm (log scale)' : 'norm') },
        y: { grid: { display: false } },
      },
    },
  });
}

/** Stable rank ‖W‖²_F / ‖W‖²₂ of each weight matrix against its largest possible value, min(rows, cols). */
export function drawStableRankChart(canvas: HTMLCanvasElement, tensors: readonly TensorStatistics[], theme: ChartTheme): Chart {
  const matrices = weightMatrices(tensors);
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: matrices.map((t) => t.name),
      datasets: [
        { label: 'stable rank', data: matrices.map((t) => t.matrix.stableRank), backgroundColor: withAlpha(theme.green, 0.75), borderColor: theme.green, borderWidth: 1 },
        { label: 'min(rows, cols)', data: matrices.map((t) => Math.min(t.matrix.rows, t.matrix.cols)), backgroundColor: withAlpha(theme.foreground, 0.15), borderColor: withAlpha(theme.foreground, 0.4), borderWidth: 1 },
      ],
    },
    options: {
      indexAxis: 'y',
      plugins: { canvasBackground: backgroundOption(theme) },
      scales: {
        x: { type: 'logarithmic', ticks: { callback: logAxisTick, autoSkip: false, maxRotation: 0 }, title: axisTitle('stable rank (log scale)') },
        y: { grid: { display: false } },
      },
    },
  });
}
