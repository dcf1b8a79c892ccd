import type { FlatnessReport, SliceEntry } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import type { ChartTheme } from '../theme';
import type { ChartDataset } from 'chart.js';
import { axisTitle, backgroundOption, Chart } from './chartSetup';

function points(slice: SliceEntry, values: readonly number[]): { x: number; y: number }[] {
  return slice.steps.map((x, i) => ({ x, y: values[i]! }));
}

/**
 * 1-D loss slices through the network: along a filter-normalized random direction (bottom axis, in
 * multiples of the direction) and along the top Hessian eigenvector (top axis, distance in parameter
 * space), with the quadratic model L + ½λ₁t² of the latter dashed.
 */
export function drawLossSliceChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const landscape = report.landscape;
  if (!landscape) throw new Error('the report has no landscape');
  const eigen = landscape.topEigenvector;
  const datasets: ChartDataset<'line', { x: number; y: number }[]>[] = [
    { label: `random: ${landscape.random.direction}`, data: points(landscape.random, landscape.random.loss), borderColor: theme.blue, backgroundColor: theme.blue, borderWidth: 2, pointRadius: 2, xAxisID: 'x' },
  ];
  if (eigen) {
    datasets.push({ label: `${eigen.direction}`, data: points(eigen, eigen.loss), borderColor: theme.red, backgroundColor: theme.red, borderWidth: 2, pointRadius: 2, xAxisID: 'eigen' });
    if (eigen.quadratic) {
      datasets.push({ label: 'quadratic model L + ½λ₁t²', data: points(eigen, eigen.quadratic), borderColor: theme.orange, backgroundColor: theme.orange, borderWidth: 1.5, pointRadius: 0, xAxisID: 'eigen', borderDash: [6, 4] });
    }
  }
  return new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      plugins: {
        canvasBackground: backgroundOption(theme),
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: L(${formatNumber(item.parsed.x, 3)}) = ${formatNumber(item.parsed.y, 5)}` } },
      },
      scales: {
        x: { type: 'linear', position: 'bottom', title: axisTitle('step along the random direction (× direction)', theme.blue) },
        eigen: { type: 'linear', position: 'top', display: eigen !== undefined, grid: { drawOnChartArea: false }, title: axisTitle('distance t along the top eigenvector', theme.red) },
        y: { title: axisTitle(`loss (${report.data.loss})`) },
      },
    },
  });
}
