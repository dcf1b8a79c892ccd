import { evaluateForm, type LinearForm } from './symmetry';

/** A term h·e^{−2ℓ(u)} of the trace of a rescaled network: h a Hessian diagonal sum, ℓ its log-factor. */
export interface TraceTerm {
  readonly h: number;
  readonly form: LinearForm;
  /** The weight tensor (and entry group) it sums over, for display. */
  readonly label?: string;
}

export function exponentialSum(terms: readonly TraceTerm[], u: readonly number[]): number {
  let s = 0;
  for (const t of terms) s += t.h * Math.exp(-2 * evaluateForm(t.form, u));
  return s;
}

function toVariables(basis: readonly (readonly number[])[], w: readonly number[], dimension: number): number[] {
  const u = new Array<number>(dimension).fill(0);
  basis.forEach((b, j) => {
    if (w[j] !== 0) for (let i = 0; i < dimension; i++) u[i] += b[i] * w[j];
  });
  return u;
}

/**
 * Minimizes F(u) = Σ h_t e^{−2ℓ_t(u)} over u = B w (B the orthonormal basis of function-preserving
 * scalings). With every h_t ≥ 0, F is a sum of exponentials of linear functions, hence convex, and
 * damped Newton converges from w = 0. Returns u at the minimum.
 */
export function minimizeExponentialSum(
  terms: readonly TraceTerm[],
  basis: readonly (readonly number[])[],
  dimension: number,
  ridge = 0,
): { u: number[]; value: number; iterations: number } {
  const d = basis.length;
  const active = terms.filter((t) => t.h !== 0 && t.form.length > 0);
  let w = new Array<number>(d).fill(0);
  let u = toVariables(basis, w, dimension);
  // The ridge ρ‖w‖² keeps the minimizer finite when estimated terms leave a direction unopposed.
  const objective = (wv: readonly number[], uv: readonly number[]) => exponentialSum(terms, uv) + ridge * wv.reduce((s, x) => s + x * x, 0);
  let value = objective(w, u);
  if (d === 0 || active.length === 0) return { u, value, iterations: 0 };
  let iterations = 0;
  for (; iterations < 100; iterations++) {
    // gradient and Hessian in u, then projected onto the basis
    const gu = new Float64Array(dimension);
    const hu = new Map<number, number>();
    for (const t of active) {
      const e = t.h * Math.exp(-2 * evaluateForm(t.form, u));
      for (const [a, ca] of t.form) {
        gu[a] += -2 * e * ca;
        for (const [b, cb] of t.form) hu.set(a * dimension + b, (hu.get(a * dimension + b) ?? 0) + 4 * e * ca * cb);
      }
    }
    const gw = basis.map((b, j) => b.reduce((s, x, i) => s + x * gu[i], 0) + 2 * ridge * w[j]);
    const gradNorm = Math.hypot(...gw);
    if (gradNorm <= 1e-10 * Math.max(value, 1e-300)) break;
    const hb = basis.map(() => new Float64Array(dimension)); // (H_u B)ᵀ rows: hb[j] = H_u b_j
    for (const [key, h] of hu) {
      const a = Math.floor(key / dimension);
      const b = key % dimension;
      for (let j = 0; j < d; j++) hb[j][a] += h * basis[j][b];
    }
    const hw = basis.map((bi) => hb.map((col) => bi.reduce((s, x, k) => s + x * col[k], 0)));
    const trace = hw.reduce((s, row, i) => s + row[i], 0);
    hw.forEach((row, i) => (row[i] += 2 * ridge + 1e-12 * trace + 1e-300));
    const step = solveLinear(hw, gw.map((g) => -g));
    const slope = step.reduce((s, x, i) => s + x * gw[i], 0);
    let t = 1;
    let next = w.map((x, i) => x + t * step[i]);
    let nextU = toVariables(basis, next, dimension);
    let nextValue = objective(next, nextU);
    while (!(nextValue <= value + 1e-4 * t * slope) && t > 1e-10) {
      t /= 2;
      next = w.map((x, i) => x + t * step[i]);
      nextU = toVariables(basis, next, dimension);
      nextValue = objective(next, nextU);
    }
    if (!(nextValue < value)) break;
    const improvement = value - nextValue;
    w = next;
    u = nextU;
    value = nextValue;
    if (improvement <= 1e-14 * value) break;
  }
  return { u, value: exponentialSum(terms, u), iterations };
}

/**
 * A scaling along the steepest-ascent direction of F whose value is `factor` times F(0): the
 * sharpening counterpart of the minimization. F grows without bound along it (convexity), so a
 * doubling search then bisection finds it.
 */
export function scaleToGrowBy(terms: readonly TraceTerm[], basis: readonly (readonly number[])[], dimension: number, factor: number): { u: number[]; value: number } | undefined {
  const zero = new Array<number>(dimension).fill(0);
  const base = exponentialSum(terms, zero);
  const gu = new Float64Array(dimension);
  for (const t of terms) for (const [a, ca] of t.form) gu[a] += -2 * t.h * ca;
  let direction = basis.map((b) => b.reduce((s, x, i) => s + x * gu[i], 0));
  if (Math.hypot(...direction) < 1e-12 * Math.max(base, 1e-300)) direction = basis.map((_, j) => (j === 0 ? 1 : 0));
  const norm = Math.hypot(...direction);
  if (!(norm > 0)) return undefined;
  direction = direction.map((x) => x / norm);
  const at = (t: number) => {
    const u = toVariables(basis, direction.map((x) => x * t), dimension);
    return { u, value: exponentialSum(terms, u) };
  };
  let hi = 0.125;
  const target = factor * base * (1 + 1e-4);
  while (at(hi).value < target) {
    hi *= 2;
    if (hi > 200) return undefined;
  }
  let lo = 0;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (at(mid).value < target) lo = mid;
    else hi = mid;
  }
  return at(hi);
}

function solveLinear(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    if (Math.abs(m[col][col]) < 1e-300) continue;
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      if (f !== 0) for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    if (Math.abs(m[r][r]) < 1e-300) continue;
    let s = m[r][n];
    for (let c = r + 1; c < n; c++) s -= m[r][c] * x[c];
    x[r] = s / m[r][r];
  }
  return x;
}
