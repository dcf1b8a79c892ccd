import type { LayerScaleStructure } from './layerSymmetry';
import { nullSpaceBasis } from './layerSymmetry';

export interface OrbitMinimum {
  /** min over the orbit of Σ_b Tr H_bb · e^{−2 c_b·u}: the smallest trace an equivalent network can have. */
  readonly minimum: number;
  /** The trace at u = 0 (the network as it is), from the same block traces. */
  readonly current: number;
  /** Per weighted layer, the kernel factor α_k = e^{u_k} that reaches the minimum. */
  readonly factors: readonly { readonly layer: string; readonly alpha: number }[];
  readonly degreesOfFreedom: number;
  /** Set when the minimum does not exist (a negative block trace on a free direction). */
  readonly unbounded: boolean;
  readonly newtonIterations: number;
}

/**
 * Minimizes the Hessian trace over the α-scale orbit. Scaling weight b by e^{s_b} turns its block
 * trace t_b into t_b·e^{−2 s_b} (H → D⁻¹HD⁻¹), and s_b = c_b·u is linear in the layer log-scales u,
 * so T(u) = Σ t_b e^{−2 c_b·u} restricted to A u = 0 is a sum of exponentials of linear forms:
 * convex when every t_b ≥ 0. Solved by damped Newton in the null space of A. Without biases and
 * with one chain, the minimum is K·(Π t_k)^{1/K} at α_k² ∝ t_k (AM–GM).
 */
export function minimizeTraceOverOrbit(structure: LayerScaleStructure, blockTraces: ReadonlyMap<string, number>): OrbitMinimum {
  const k = structure.layers.length;
  const basis = nullSpaceBasis(structure.constraints, k);
  const terms: { t: number; direction: number[] }[] = [];
  let constant = 0;
  for (const [name, trace] of blockTraces) {
    const c = structure.weightLogScale.get(name);
    const direction = c ? basis.map((b) => b.reduce((s, x, i) => s + x * c[i], 0)) : [];
    if (direction.length === 0 || direction.every((x) => Math.abs(x) < 1e-12)) constant += trace;
    else terms.push({ t: trace, direction });
  }
  const current = constant + terms.reduce((s, term) => s + term.t, 0);
  const identity = structure.layers.map((layer) => ({ layer, alpha: 1 }));
  const result = (minimum: number, w: number[], unbounded: boolean, newtonIterations: number): OrbitMinimum => {
    const u = new Array<number>(k).fill(0);
    basis.forEach((b, j) => b.forEach((x, i) => (u[i] += x * w[j])));
    return { minimum, current, factors: w.length ? structure.layers.map((layer, i) => ({ layer, alpha: Math.exp(u[i]) })) : identity, degreesOfFreedom: basis.length, unbounded, newtonIterations };
  };
  if (basis.length === 0 || terms.length === 0) return result(current, [], false, 0);
  if (terms.some((term) => term.t < 0)) return result(Number.NEGATIVE_INFINITY, [], true, 0);

  const d = basis.length;
  const value = (w: number[]) => constant + terms.reduce((s, term) => s + term.t * Math.exp(-2 * dotProduct(term.direction, w)), 0);
  let w = new Array<number>(d).fill(0);
  let current_value = value(w);
  let iterations = 0;
  for (; iterations < 200; iterations++) {
    const gradient = new Array<number>(d).fill(0);
    const hessian = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (const term of terms) {
      const e = term.t * Math.exp(-2 * dotProduct(term.direction, w));
      for (let i = 0; i < d; i++) {
        gradient[i] += -2 * e * term.direction[i];
        for (let j = 0; j < d; j++) hessian[i][j] += 4 * e * term.direction[i] * term.direction[j];
      }
    }
    const gradNorm = Math.hypot(...gradient);
    if (gradNorm <= 1e-12 * Math.max(1, current_value)) break;
    const ridge = 1e-12 * Math.max(...hessian.map((row, i) => row[i]), 1e-300);
    const step = solveSymmetric(hessian.map((row, i) => row.map((x, j) => (i === j ? x + ridge : x))), gradient.map((g) => -g));
    let t = 1;
    let next = w.map((x, i) => x + t * step[i]);
    let nextValue = value(next);
    while (nextValue > current_value + 1e-4 * t * dotProduct(gradient, step) && t > 1e-12) {
      t /= 2;
      next = w.map((x, i) => x + t * step[i]);
      nextValue = value(next);
    }
    if (!(nextValue < current_value)) break;
    const improvement = current_value - nextValue;
    w = next;
    current_value = nextValue;
    if (improvement <= 1e-15 * Math.abs(current_value)) break;
  }
  return result(current_value, w, false, iterations);
}

function dotProduct(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, x, i) => s + x * b[i], 0);
}

/** Solves A x = b for a small symmetric positive (semi)definite A by Gaussian elimination with pivoting. */
function solveSymmetric(a: number[][], b: number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[pivot][col])) pivot = r;
    [m[col], m[pivot]] = [m[pivot], m[col]];
    if (Math.abs(m[col][col]) < 1e-300) continue;
    for (let r = col + 1; r < n; r++) {
      const f = m[r][col] / m[col][col];
      for (let c = col; c <= n; c++) m[r][c] -= f * m[col][c];
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
