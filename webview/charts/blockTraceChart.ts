import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';

/** Height that gives every weight tensor's bar room for its label. */
export function blockTraceChartHeight(report: FlatnessReport): number {
  const perBlock = report.hessian.blockEigenvalues ? 40 : 26;
  return Math.max(180, perBlock * (report.hessian.blockTraces?.length ?? 0) + 70);
}

/**
 * Tr H_kk per weight tensor (the diagonal blocks of the Hessian) as horizontal bars with ± one
 * standard error whiskers, and next to each the top eigenvalue of the same block when the report has it.
 */
export function drawBlockTraceChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const blocks = report.hessian.blockTraces ?? [];
  const eigenvalues = new Map((report.hessian.blockEigenvalues ?? []).map((e) => [e.name, e]));
  const datasets = [{ label: 'block trace Tr H_kk', data: blocks.map((b) => b.trace), backgroundColor: withAlpha(theme.green, 0.7), borderColor: theme.green, borderWidth: 1 }];
  if (eigenvalues.size > 0) {
    datasets.push({ label: 'top eigenvalue of H_kk', data: blocks.map((b) => eigenvalues.get(b.name)?.value ?? Number.NaN), backgroundColor: withAlpha(theme.blue, 0.7), borderColor: theme.blue, borderWidth: 1 });
  }
  return new Chart(canvas, {
    type: 'bar',
    data: { labels: blocks.map((b) => b.name), datasets },
    options: {
      indexAxis: 'y',
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { display: eigenvalues.size > 0 },
        errorBars: { errors: blocks.map((b) => (b.exact ? 0 : b.stderr)), colour: theme.foreground },
        tooltip: {
          callbacks: {
            label: (item) => {
              const block = blocks[item.dataIndex]!;
              const top = eigenvalues.get(block.name);
              if (item.datasetIndex === 1 && top) return `λ_max(H_kk) = ${formatNumber(top.value)} (Lanczos, ${top.steps} steps)`;
              const value = block.exact ? `${formatNumber(block.trace)} (exact)` : `${formatNumber(block.trace)} ± ${formatNumber(block.stderr, 2)}`;
              return `Tr H = ${value}; ${block.size.toLocaleString()} parameters`;
            },
          },
        },
      },
      scales: {
        x: { title: axisTitle(eigenvalues.size > 0 ? 'trace (± one standard error) and top eigenvalue of the diagonal Hessian block' : 'trace of the diagonal Hessian block (± one standard error)') },
        y: { grid: { display: false } },
      },
    },
  });
}
