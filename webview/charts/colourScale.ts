import { colourToRgb, type ChartTheme } from '../theme';

export type Rgb = readonly [number, number, number];

/** The theme's chart colours from low to high, for a sequential colour scale (blue → green → yellow → orange → red). */
export function sequentialStops(theme: ChartTheme): Rgb[] {
  return [theme.blue, theme.green, theme.yellow, theme.orange, theme.red].map(colourToRgb);
}

/** The colour at u ∈ [0, 1] of the piecewise-linear scale through `stops`. */
export function colourAt(stops: readonly Rgb[], u: number): Rgb {
  const clamped = Math.min(1, Math.max(0, Number.isFinite(u) ? u : 0));
  const position = clamped * (stops.length - 1);
  const k = Math.min(stops.length - 2, Math.floor(position));
  const f = position - k;
  const a = stops[k]!;
  const b = stops[k + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

/** `count` round-ish tick values covering [lo, hi]. */
export function ticks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / (count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const first = Math.ceil(lo / step - 1e-9) * step;
  const values: number[] = [];
  for (let v = first; v <= hi + step * 1e-9; v += step) values.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return values;
}
