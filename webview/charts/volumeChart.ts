import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../summaryRows';
import { withAlpha, type ChartTheme } from '../theme';
import { axisTitle, backgroundOption, Chart } from './chartSetup';
import { logAxisTick } from './logTicks';

/**
 * Volume ε-flatness: for each random direction, the radius at which the loss first exceeds L + ε, as
 * horizontal bars on a log axis, with the search cap marked; directions that reach the cap are red.
 */
export function drawVolumeChart(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Chart {
  const volume = report.volumeFlatness;
  if (!volume) throw new Error('the report has no volume ε-flatness');
  const escaped = (r: number) => r >= volume.cap;
  const smallest = Math.min(...volume.radii.filter((r) => r > 0), volume.cap);
  return new Chart(canvas, {
    type: 'bar',
    data: {
      labels: volume.radii.map((_, i) => `d${i + 1}`),
      datasets: [{
        label: 'radius',
        data: volume.radii,
        backgroundColor: volume.radii.map((r) => withAlpha(escaped(r) ? theme.red : theme.purple, 0.7)),
        borderColor: volume.radii.map((r) => (escaped(r) ? theme.red : theme.purple)),
        borderWidth: 1,
      }],
    },
    options: {
      indexAxis: 'y',
      plugins: {
        canvasBackground: backgroundOption(theme),
        legend: { display: false },
        referenceLines: {
          lines: [
            { scaleId: 'x', value: volume.cap, label: `cap ${formatNumber(volume.cap)}`, colour: theme.red },
            { scaleId: 'x', value: volume.radiusMedian, label: `median ${formatNumber(volume.radiusMedian, 3)}`, colour: theme.foreground },
          ],
        },
        tooltip: { callbacks: { label: (item) => `radius ${formatNumber(item.parsed.x, 4)}${escaped(item.parsed.x ?? 0) ? ' (reached the cap: the loss never rose by ε)' : ''}` } },
      },
      scales: {
        x: { type: 'logarithmic', min: 10 ** Math.floor(Math.log10(smallest / 2)), max: volume.cap * 2, ticks: { callback: logAxisTick, autoSkip: false, maxRotation: 0 }, title: axisTitle(`radius where L first exceeds L + ${volume.epsilon} (log scale)`) },
        y: { grid: { display: false }, ticks: { autoSkip: false }, title: axisTitle('random direction') },
      },
    },
  });
}
