import type { FlatnessReport } from '../src/shared/report';

export interface SummaryRow {
  readonly metric: string;
  readonly value: string;
  readonly definition: string;
}

export function formatNumber(v: number | null | undefined, digits = 4): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e5 || a < 1e-3 ? v.toExponential(digits - 1) : v.toPrecision(digits);
}

/** Every metric of a report as a table row with its error bar and a one-line definition. */
export function summaryRows(report: FlatnessReport): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const add = (metric: string, value: string, definition: string) => rows.push({ metric, value, definition });
  add('Loss', formatNumber(report.loss, 6), `mean ${report.data.loss} over ${report.data.samples} samples; every Hessian is of this mean`);
  if (report.accuracy !== null) add('Accuracy', `${(report.accuracy * 100).toFixed(2)}%`, 'fraction of samples whose predicted class is the label');
  const h = report.hessian;
  if (h.topEigenvalues) add('Top eigenvalues λ', h.topEigenvalues.map((v) => formatNumber(v)).join(', '), `Lanczos, ${h.lanczosSteps} steps; largest relative residual ${formatNumber(Math.max(...(h.eigenvalueResiduals ?? [0])), 2)}`);
  if (h.trace) add('Trace Tr H', `${formatNumber(h.trace.estimate)} ± ${formatNumber(h.trace.stderr, 2)}`, `Hutchinson, ${h.trace.samples} Rademacher probes per weight tensor; ± one standard error`);
  const s = report.sharpness;
  if (s) {
    add(`ε-sharpness (ε = ${s.epsilon})`, formatNumber(s.fullSpace), 'max over ‖θ′−θ‖ ≤ ε of (L(θ′) − L(θ))/(1 + L(θ)), projected gradient ascent (a lower bound)');
    add(`ε-sharpness, ${s.subspace.dim}-dim subspace`, formatNumber(s.subspace.value), 'the same maximum within a random subspace (Keskar et al.)');
  }
  const v = report.volumeFlatness;
  if (v) add(`Volume ε-flatness (ε = ${v.epsilon})`, `log-volume ${formatNumber(v.logVolume)}`, `radius where L first exceeds L + ε along ${v.directions} random directions; ${(v.escapedFraction * 100).toFixed(0)}% never leave the band up to ${v.cap}`);
  const inv = report.invariant;
  if (inv?.minTraceOverLayerScaling) {
    const m = inv.minTraceOverLayerScaling;
    add('Min trace over α-orbit', m.unbounded ? 'unbounded' : formatNumber(m.value), `smallest Σ Tr H_kk/α_k² over function-preserving layer scalings (${m.degreesOfFreedom} free)`);
  }
  if (inv) {
    add(`Adaptive sharpness (ρ = ${inv.adaptiveSharpness.rho})`, formatNumber(inv.adaptiveSharpness.value), 'ASAM: max over ‖δ/(|θ|+η)‖ ≤ ρ of L(θ+δ) − L(θ)');
    add('Fisher–Rao norm', formatNumber(inv.fisherRaoNorm), 'sqrt of mean ⟨θ, ∇ℓ_i⟩² (Liang et al. 2019)');
  }
  return rows;
}
