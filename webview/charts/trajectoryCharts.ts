import type { ActiveElement, ChartDataset, ChartEvent } from 'chart.js';
import type { TrajectoryPoint, TrajectoryReport } from '../../src/protocol/trajectory';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart, type ReferenceLine } from './chartSetup';
import { logAxisTick } from './logTicks';

/** One line of a chart against step: a value per analyzed point. */
interface Series {
  readonly label: string;
  readonly colour: string;
  readonly value: (p: TrajectoryPoint) => number | null | undefined;
  readonly dashed?: boolean;
  /** A band of ± this around the line (a standard error). */
  readonly error?: (p: TrajectoryPoint) => number | undefined;
}

export interface TrajectoryChartOptions {
  readonly yTitle: string;
  readonly logScale?: boolean;
  readonly lines?: readonly ReferenceLine[];
  /** Called with the step of a clicked point. */
  readonly onPick?: (step: number) => void;
}

const yAxisWidth = 72;

const done = (t: TrajectoryReport) => t.points.filter((p) => p.status === 'done');

/**
 * The step range every chart shares, so the charts line up one above the other: the first and the
 * last step with a small margin, so their points lie wholly inside the plot and can be clicked.
 */
function stepRange(t: TrajectoryReport): { first: number; last: number; min: number; max: number } {
  const steps = t.points.map((p) => p.step);
  const first = Math.min(...steps);
  const last = Math.max(...steps);
  const margin = first === last ? 1 : (last - first) * 0.015;
  return { first, last, min: first - margin, max: last + margin };
}

function points(t: TrajectoryReport, value: (p: TrajectoryPoint) => number | null | undefined): { x: number; y: number }[] {
  return done(t).flatMap((p) => {
    const y = value(p);
    return typeof y === 'number' && Number.isFinite(y) ? [{ x: p.step, y }] : [];
  });
}

/** Lines of measures against step on a linear step axis shared by all the run's charts; clicking a point picks its step. */
export function drawTrajectoryChart(canvas: HTMLCanvasElement, t: TrajectoryReport, series: readonly Series[], options: TrajectoryChartOptions, theme: ChartTheme): Chart {
  const datasets: ChartDataset<'line', { x: number; y: number }[]>[] = [];
  for (const s of series) {
    const data = points(t, s.value);
    if (data.length === 0) continue;
    if (s.error) {
      const error = s.error;
      const band = (sign: number) => points(t, (p) => {
        const v = s.value(p);
        const e = error(p);
        return typeof v === 'number' && e !== undefined ? v + sign * e : undefined;
      });
      datasets.push({ label: `${s.label} − 1 s.e.`, data: band(-1), borderWidth: 0, pointRadius: 0, backgroundColor: withAlpha(s.colour, 0.2) });
      datasets.push({ label: `${s.label} + 1 s.e.`, data: band(1), borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: withAlpha(s.colour, 0.2) });
    }
    datasets.push({ label: s.label, data, borderColor: s.colour, backgroundColor: s.colour, borderWidth: 2, pointRadius: 3, pointHoverRadius: 6, borderDash: s.dashed ? [6, 4] : [] });
  }
  const { first, last, min, max } = stepRange(t);
  const values = datasets.flatMap((d) => d.data.map((p) => p.y));
  const logScale = options.logScale === true && values.length > 0 && values.every((v) => v > 0);
  return new Chart(canvas, {
    type: 'line',
    data: { datasets },
    options: {
      parsing: false,
      animation: false,
      onClick: (_event: ChartEvent, elements: ActiveElement[]) => {
        const hit = elements[0];
        if (!hit || !options.onPick) return;
        const point = datasets[hit.datasetIndex]?.data[hit.index];
        if (point) options.onPick(point.x);
      },
      interaction: { mode: 'nearest', intersect: true },
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { labels: { filter: (item) => !item.text.includes('1 s.e.') } },
        referenceLines: { lines: options.lines ?? [] },
        tooltip: {
          filter: (item) => !(item.dataset.label ?? '').includes('1 s.e.'),
          callbacks: { label: (item) => `${item.dataset.label}: ${formatNumber(item.parsed.y, 5)} (click: open this checkpoint’s report)` },
        },
      },
      scales: {
        x: {
          type: 'linear',
          min,
          max,
          // Ticks at the first and last step and the round steps between, none in the margins.
          afterBuildTicks: (axis) => {
            const inner = axis.ticks.filter((tick) => tick.value > first && tick.value < last);
            const gap = (last - first) * 0.04;
            axis.ticks = [{ value: first }, ...inner.filter((tick) => tick.value - first > gap && last - tick.value > gap), { value: last }];
          },
          title: axisTitle(t.series.counts),
        },
        // The same y-axis width on every chart, so the step axes line up one above the other.
        y: { afterFit: (scale) => { scale.width = yAxisWidth; }, type: logScale ? 'logarithmic' : 'linear', ticks: logScale ? { callback: logAxisTick } : {}, title: axisTitle(options.yTitle + (logScale ? ' (log scale)' : '')) },
      },
    },
  });
}

export type { Series as TrajectorySeries };
