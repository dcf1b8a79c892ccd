import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';

/** Bar chart of the top Hessian eigenvalues λ1 ≥ λ2 ≥ …, with each Ritz pair's relative residual in the tooltip. */
export function drawEigenvalueChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const eigenvalues = report.hessian.topEigenvalues ?? [];
  const residuals = report.hessian.eigenvalueResiduals ?? [];
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: eigenvalues.map((_, i) => `λ${i + 1}`),
      datasets: [{ label: 'eigenvalue', data: eigenvalues, backgroundColor: withAlpha(theme.blue, 0.75), borderColor: theme.blue, borderWidth: 1 }],
    },
    options: {
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { display: false },
        tooltip: {
          callbacks: {
            label: (item) => `λ = ${formatNumber(item.parsed.y, 6)}`,
            afterLabel: (item) => {
              const residual = residuals[item.dataIndex];
              return residual === undefined ? '' : `relative residual ‖Hv − λv‖/|λ| = ${formatNumber(residual, 2)}`;
            },
          },
        },
      },
      scales: {
        x: { grid: { display: false } },
        y: { title: axisTitle('eigenvalue λ') },
      },
    },
  });
}
