import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  LogarithmicScale,
  PointElement,
  ScatterController,
  Tooltip,
  type ChartType,
  type Plugin,
} from 'chart.js';
import type { ChartTheme } from '../theme';

/** A dashed line across the plot at one value of one scale, with a label at its end. */
export interface ReferenceLine {
  readonly scaleId: string;
  readonly value: number;
  readonly label: string;
  readonly colour: string;
}

/** ± error per bar of dataset 0, drawn as whiskers along the value axis. */
export interface ErrorBarOptions {
  readonly errors: readonly number[];
  readonly colour: string;
}

declare module 'chart.js' {
  interface PluginOptionsByType<TType extends ChartType> {
    canvasBackground?: { readonly colour: string };
    referenceLines?: { readonly lines: readonly ReferenceLine[] };
    errorBars?: ErrorBarOptions;
  }
}

/** Fills the canvas with the editor background, so an exported PNG looks like the panel. */
const canvasBackground: Plugin = {
  id: 'canvasBackground',
  beforeDraw(chart, _args, options: { colour?: string }) {
    if (!options.colour) return;
    const { ctx, width, height } = chart;
    ctx.save();
    ctx.globalCompositeOperation = 'destination-over';
    ctx.fillStyle = options.colour;
    ctx.fillRect(0, 0, width, height);
    ctx.restore();
  },
};

const referenceLines: Plugin = {
  id: 'referenceLines',
  afterDatasetsDraw(chart, _args, options: { lines?: readonly ReferenceLine[] }) {
    const { ctx, chartArea } = chart;
    for (const line of options.lines ?? []) {
      const scale = chart.scales[line.scaleId];
      if (!scale) continue;
      const pixel = scale.getPixelForValue(line.value);
      if (!Number.isFinite(pixel)) continue;
      ctx.save();
      ctx.strokeStyle = line.colour;
      ctx.fillStyle = line.colour;
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.font = `${Chart.defaults.font.size ?? 12}px ${Chart.defaults.font.family ?? 'sans-serif'}`;
      if (scale.isHorizontal()) {
        ctx.moveTo(pixel, chartArea.top);
        ctx.lineTo(pixel, chartArea.bottom);
        ctx.stroke();
        const width = ctx.measureText(line.label).width;
        ctx.textAlign = pixel + 4 + width > chartArea.right ? 'right' : 'left';
        ctx.fillText(line.label, ctx.textAlign === 'right' ? pixel - 4 : pixel + 4, chartArea.top + 12);
      } else {
        ctx.moveTo(chartArea.left, pixel);
        ctx.lineTo(chartArea.right, pixel);
        ctx.stroke();
        ctx.textAlign = 'right';
        ctx.fillText(line.label, chartArea.right - 4, pixel - 4);
      }
      ctx.restore();
    }
  },
};

const errorBars: Plugin = {
  id: 'errorBars',
  afterDatasetsDraw(chart, _args, options: Partial<ErrorBarOptions>) {
    const errors = options.errors;
    if (!errors || errors.length === 0) return;
    const meta = chart.getDatasetMeta(0);
    const values = chart.data.datasets[0]?.data ?? [];
    const horizontal = chart.options.indexAxis === 'y';
    const valueScale = chart.scales[horizontal ? 'x' : 'y'];
    if (!valueScale) return;
    const { ctx } = chart;
    ctx.save();
    ctx.strokeStyle = options.colour ?? Chart.defaults.color.toString();
    ctx.lineWidth = 1.2;
    meta.data.forEach((bar, i) => {
      const value = values[i];
      const error = errors[i];
      if (typeof value !== 'number' || error === undefined || !(error > 0)) return;
      const low = valueScale.getPixelForValue(value - error);
      const high = valueScale.getPixelForValue(value + error);
      const across = horizontal ? bar.y : bar.x;
      const cap = 4;
      ctx.beginPath();
      if (horizontal) {
        ctx.moveTo(low, across);
        ctx.lineTo(high, across);
        ctx.moveTo(low, across - cap);
        ctx.lineTo(low, across + cap);
        ctx.moveTo(high, across - cap);
        ctx.lineTo(high, across + cap);
      } else {
        ctx.moveTo(across, low);
        ctx.lineTo(across, high);
        ctx.moveTo(across - cap, low);
        ctx.lineTo(across + cap, low);
        ctx.moveTo(across - cap, high);
        ctx.lineTo(across + cap, high);
      }
      ctx.stroke();
    });
    ctx.restore();
  },
};

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  ScatterController,
  Filler,
  CategoryScale,
  LinearScale,
  LogarithmicScale,
  Tooltip,
  Legend,
  canvasBackground,
  referenceLines,
  errorBars,
);

/** Sets chart.js's global colours and font from the theme; call before drawing charts. */
export function applyThemeToCharts(theme: ChartTheme): void {
  Chart.defaults.color = theme.foreground;
  Chart.defaults.borderColor = theme.border;
  Chart.defaults.font.family = theme.fontFamily;
  Chart.defaults.font.size = Math.round(theme.fontSize * 0.92);
  Chart.defaults.animation = false;
  Chart.defaults.responsive = true;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.plugins.tooltip.backgroundColor = theme.background;
  Chart.defaults.plugins.tooltip.titleColor = theme.foreground;
  Chart.defaults.plugins.tooltip.bodyColor = theme.foreground;
  Chart.defaults.plugins.tooltip.borderColor = theme.border;
  Chart.defaults.plugins.tooltip.borderWidth = 1;
  Chart.defaults.plugins.legend.labels.boxWidth = 14;
}

/** The background fill every chart gets, so exported PNGs carry the theme's background. */
export function backgroundOption(theme: ChartTheme): { readonly colour: string } {
  return { colour: theme.background };
}

export function axisTitle(text: string, colour?: string): { display: true; text: string; color?: string } {
  return colour ? { display: true, text, color: colour } : { display: true, text };
}

export { Chart };
