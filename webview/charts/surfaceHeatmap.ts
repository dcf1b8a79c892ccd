import type { FlatnessReport } from '../../src/protocol/report';
import type { Drawing } from '../chartCard';
import { formatNumber } from '../summaryRows';
import type { ChartTheme } from '../theme';
import { colourAt, sequentialStops, ticks } from './colourScale';

const margin = { left: 58, right: 86, top: 12, bottom: 46 };

/** Bilinear interpolation of grid[i][j] at fractional indices (fi, fj). */
function bilinear(grid: readonly (readonly number[])[], fi: number, fj: number): number {
  const n = grid.length - 1;
  const m = (grid[0]?.length ?? 1) - 1;
  const i = Math.min(n - 1, Math.max(0, Math.floor(fi)));
  const j = Math.min(m - 1, Math.max(0, Math.floor(fj)));
  const di = fi - i;
  const dj = fj - j;
  const at = (a: number, b: number) => grid[Math.min(a, n)]![Math.min(b, m)]!;
  return (1 - di) * ((1 - dj) * at(i, j) + dj * at(i, j + 1)) + di * ((1 - dj) * at(i + 1, j) + dj * at(i + 1, j + 1));
}

/**
 * The 2-D loss surface L(θ + a·d₁ + b·d₂) as a heatmap of log₁₀ L, bilinearly interpolated between
 * grid points, with axes, a colour bar and the network itself (a = b = 0) marked. Drawn on a plain
 * canvas (chart.js has no heatmap) and redrawn when its box is resized.
 */
export function drawSurfaceHeatmap(canvas: HTMLCanvasElement, report: FlatnessReport, theme: ChartTheme): Drawing {
  const surface = report.landscape?.surface;
  if (!surface || surface.steps.length < 2) throw new Error('the report has no 2-D loss surface');
  const steps = surface.steps;
  const logLoss = surface.loss.map((row) => row.map((v) => Math.log10(Math.max(v, 1e-12))));
  const flat = logLoss.flat();
  const lo = Math.min(...flat);
  const hi = Math.max(...flat);
  const stops = sequentialStops(theme);
  const first = steps[0]!;
  const last = steps[steps.length - 1]!;
  const box = canvas.parentElement!;

  const draw = (): void => {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(200, box.clientWidth);
    const height = Math.max(160, box.clientHeight);
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;
    const ctx = canvas.getContext('2d');
    if (!ctx) return;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = theme.background;
    ctx.fillRect(0, 0, width, height);
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;

    // The heatmap, one device pixel at a time.
    const pw = Math.max(1, Math.round(plotWidth * ratio));
    const ph = Math.max(1, Math.round(plotHeight * ratio));
    const image = ctx.createImageData(pw, ph);
    const cells = steps.length - 1;
    for (let py = 0; py < ph; py++) {
      const fj = (1 - py / (ph - 1)) * cells; // b grows upwards
      for (let px = 0; px < pw; px++) {
        const fi = (px / (pw - 1)) * cells;
        const [r, g, b] = colourAt(stops, (bilinear(logLoss, fi, fj) - lo) / (hi - lo || 1));
        const o = 4 * (py * pw + px);
        image.data[o] = r;
        image.data[o + 1] = g;
        image.data[o + 2] = b;
        image.data[o + 3] = 255;
      }
    }
    ctx.putImageData(image, Math.round(margin.left * ratio), Math.round(margin.top * ratio));

    const font = `${Math.round(theme.fontSize * 0.92)}px ${theme.fontFamily}`;
    ctx.font = font;
    ctx.fillStyle = theme.foreground;
    ctx.strokeStyle = theme.foreground;
    ctx.lineWidth = 1;
    const xPixel = (a: number) => margin.left + ((a - first) / (last - first)) * plotWidth;
    const yPixel = (b: number) => margin.top + (1 - (b - first) / (last - first)) * plotHeight;

    // The network itself.
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.arc(xPixel(0), yPixel(0), 5, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.lineWidth = 1;

    // Axes and ticks.
    ctx.strokeStyle = theme.border;
    ctx.strokeRect(margin.left, margin.top, plotWidth, plotHeight);
    ctx.strokeStyle = theme.foreground;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (const a of ticks(first, last)) {
      const x = xPixel(a);
      ctx.beginPath();
      ctx.moveTo(x, margin.top + plotHeight);
      ctx.lineTo(x, margin.top + plotHeight + 4);
      ctx.stroke();
      ctx.fillText(formatNumber(a, 2), x, margin.top + plotHeight + 6);
    }
    ctx.fillText('a: step along random direction d₁', margin.left + plotWidth / 2, margin.top + plotHeight + 24);
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const b of ticks(first, last)) {
      const y = yPixel(b);
      ctx.beginPath();
      ctx.moveTo(margin.left - 4, y);
      ctx.lineTo(margin.left, y);
      ctx.stroke();
      ctx.fillText(formatNumber(b, 2), margin.left - 6, y);
    }
    ctx.save();
    ctx.translate(14, margin.top + plotHeight / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = 'center';
    ctx.fillText('b: step along random direction d₂', 0, 0);
    ctx.restore();

    // Colour bar of log₁₀ L, labelled in L.
    const barX = margin.left + plotWidth + 18;
    const barWidth = 14;
    for (let py = 0; py < plotHeight; py++) {
      const [r, g, b] = colourAt(stops, 1 - py / (plotHeight - 1));
      ctx.fillStyle = `rgb(${r}, ${g}, ${b})`;
      ctx.fillRect(barX, margin.top + py, barWidth, 1.5);
    }
    ctx.strokeStyle = theme.border;
    ctx.strokeRect(barX, margin.top, barWidth, plotHeight);
    ctx.fillStyle = theme.foreground;
    ctx.textAlign = 'left';
    for (const t of ticks(lo, hi, 7)) {
      const y = margin.top + (1 - (t - lo) / (hi - lo || 1)) * plotHeight;
      ctx.fillText(formatNumber(10 ** t, 2), barX + barWidth + 4, y);
    }
    ctx.textBaseline = 'bottom';
    ctx.fillText('loss', barX, margin.top + plotHeight + 20);
  };

  const showValueUnderPointer = (event: MouseEvent): void => {
    const rect = canvas.getBoundingClientRect();
    const plotWidth = rect.width - margin.left - margin.right;
    const plotHeight = rect.height - margin.top - margin.bottom;
    const u = (event.clientX - rect.left - margin.left) / plotWidth;
    const v = 1 - (event.clientY - rect.top - margin.top) / plotHeight;
    if (u < 0 || u > 1 || v < 0 || v > 1) {
      canvas.title = '';
      return;
    }
    const cells = steps.length - 1;
    const value = 10 ** bilinear(logLoss, u * cells, v * cells);
    canvas.title = `a = ${formatNumber(first + u * (last - first), 3)}, b = ${formatNumber(first + v * (last - first), 3)}: L ≈ ${formatNumber(value, 4)}`;
  };

  draw();
  const resizeObserver = new ResizeObserver(() => draw());
  resizeObserver.observe(box);
  canvas.addEventListener('mousemove', showValueUnderPointer);
  return {
    destroy() {
      resizeObserver.disconnect();
      canvas.removeEventListener('mousemove', showValueUnderPointer);
    },
  };
}
