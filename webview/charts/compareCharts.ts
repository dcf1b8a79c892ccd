import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { seriesColours, withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';
import { logAxisTick } from './logTicks';

/** Top eigenvalues of every checkpoint side by side (log axis when they span more than a decade). */
export function drawCompareEigenvalueChart(canvas: HTMLCanvasElement, reports: readonly FlatnessReport[], names: readonly string[], theme: ChartTheme): Chart {
  const colours = seriesColours(theme);
  const count = Math.max(0, ...reports.map((r) => r.hessian.topEigenvalues?.length ?? 0));
  const all = reports.flatMap((r) => r.hessian.topEigenvalues ?? []);
  const logScale = all.length > 0 && all.every((v) => v > 0) && Math.max(...all) / Math.min(...all) > 10;
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: Array.from({ length: count }, (_, i) => `λ${i + 1}`),
      datasets: reports.map((report, k) => ({
        label: names[k]!,
        data: report.hessian.topEigenvalues ?? [],
        backgroundColor: withAlpha(colours[k % colours.length]!, 0.7),
        borderColor: colours[k % colours.length]!,
        borderWidth: 1,
      })),
    },
    options: {
      plugins: {
        canvasBackground: backgroundOption(theme),
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: λ = ${formatNumber(item.parsed.y, 6)}` } },
      },
      scales: {
        x: { grid: { display: false } },
        y: { type: logScale ? 'logarithmic' : 'linear', ticks: logScale ? { callback: logAxisTick } : {}, title: axisTitle(`Hessian eigenvalue${logScale ? ' (log scale)' : ''}`) },
      },
    },
  });
}

/** The loss along each checkpoint's filter-normalized random direction, overlaid. */
export function drawCompareSliceChart(canvas: HTMLCanvasElement, reports: readonly FlatnessReport[], names: readonly string[], theme: ChartTheme): Chart {
  const colours = seriesColours(theme);
  return new Chart(canvas, {
    type: 'line',
    data: {
      datasets: reports.flatMap((report, k) => {
        const slice = report.landscape?.random;
        if (!slice) return [];
        const colour = colours[k % colours.length]!;
        return [{
          label: names[k]!,
          data: slice.steps.map((x, i) => ({ x, y: slice.loss[i]! })),
          borderColor: colour,
          backgroundColor: colour,
          borderWidth: 2,
          pointRadius: 0,
          borderDash: k % 2 === 1 ? [6, 4] : [],
          // Later checkpoints on top: equivalent checkpoints' curves coincide, and the dashed one must stay visible.
          order: reports.length - k,
        }];
      }),
    },
    options: {
      parsing: false,
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { labels: { sort: (a, b) => a.datasetIndex! - b.datasetIndex! } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: L = ${formatNumber(item.parsed.y, 5)}` } },
      },
      scales: {
        x: { type: 'linear', title: axisTitle('step along a filter-normalized random direction (× direction)') },
        y: { title: axisTitle('loss') },
      },
    },
  });
}
