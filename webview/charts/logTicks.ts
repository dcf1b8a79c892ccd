/**
 * Which ticks of a logarithmic axis get a label, so labels never crowd: powers of ten when the axis
 * spans three decades or more (every second, third … power beyond eight decades), 1-2-5 steps over
 * one to three decades, and 1, 1.5, 2, 3, 5, 7 steps within one decade (chart.js labels every
 * generated tick: 1.0, 1.1, 1.2, 1.3 … by default).
 */
export function labelledMantissas(decades: number): readonly number[] {
  if (decades >= 3) return [1];
  if (decades >= 1) return [1, 2, 5];
  return [1, 1.5, 2, 3, 5, 7];
}

/** The label of a tick at `value` on a log axis whose ticks run from `lowest` to `highest`; '' for an unlabelled tick. */
export function logTickLabel(value: number, lowest: number, highest: number): string {
  if (!(value > 0) || !(lowest > 0) || !(highest > 0)) return '';
  const exponent = Math.floor(Math.log10(value) + 1e-9);
  const mantissa = value / 10 ** exponent;
  const decades = Math.log10(highest / lowest);
  if (!labelledMantissas(decades).some((m) => Math.abs(mantissa - m) < 1e-6 * m)) return '';
  if (exponent % Math.max(1, Math.ceil(decades / 8)) !== 0) return '';
  const m = Math.round(mantissa * 10) / 10;
  return exponent >= -3 && exponent <= 4 ? String(Number((m * 10 ** exponent).toPrecision(2))) : `${m}e${exponent}`;
}

/** chart.js tick callback for a logarithmic axis, built on `logTickLabel`. */
export function logAxisTick(value: number | string, _index: number, ticks: readonly { readonly value: number }[]): string {
  const values = ticks.map((t) => t.value).filter((v) => v > 0);
  return logTickLabel(Number(value), Math.min(...values), Math.max(...values));
}
