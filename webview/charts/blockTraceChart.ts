import type { FlatnessReport } from '../../src/shared/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';

/** Height that gives every weight tensor's bar room for its label. */
export function blockTraceChartHeight(report: FlatnessReport): number {
  return Math.max(180, 26 * (report.hessian.blockTraces?.length ?? 0) + 70);
}

/** Tr H_kk per weight tensor (the diagonal blocks of the Hessian) as horizontal bars with ± one standard error whiskers. */
export function drawBlockTraceChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const blocks = report.hessian.blockTraces ?? [];
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: blocks.map((b) => b.name),
      datasets: [{ label: 'block trace', data: blocks.map((b) => b.trace), backgroundColor: withAlpha(theme.green, 0.7), borderColor: theme.green, borderWidth: 1 }],
    },
    options: {
      indexAxis: 'y',
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { display: false },
        errorBars: { errors: blocks.map((b) => (b.exact ? 0 : b.stderr)), colour: theme.foreground },
        tooltip: {
          callbacks: {
            label: (item) => {
              const block = blocks[item.dataIndex]!;
              const value = block.exact ? `${formatNumber(block.trace)} (exact)` : `${formatNumber(block.trace)} ± ${formatNumber(block.stderr, 2)}`;
              return `Tr H = ${value}; ${block.size.toLocaleString()} parameters`;
            },
          },
        },
      },
      scales: {
        x: { title: axisTitle('trace of the diagonal Hessian block (± one standard error)') },
        y: { grid: { display: false } },
      },
    },
  });
}
