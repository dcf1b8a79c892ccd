/**
 * TEST REFERENCE — not part of the engine. Eigen-decomposition of dense symmetric float64 matrices,
 * written independently of src/engine/analysis (which only has a tridiagonal solver):
 *
 * - `jacobiEigen`: cyclic Jacobi rotations, eigenvalues and eigenvectors; O(n³) per sweep, for
 *   matrices up to a few hundred rows.
 * - `symmetricEigenvalues`: Householder reduction to tridiagonal form, then eigenvalues by Sturm-
 *   sequence bisection; eigenvalues only, O(n³) once, for matrices of a few thousand rows.
 *
 * Matrices are row-major Float64Arrays of n·n entries; the input is not modified.
 */

export interface EigenDecomposition {
  /** Ascending. */
  readonly values: Float64Array;
  /** Column j (vectors[i·n + j], i = 0..n−1) is the unit eigenvector of values[j]. */
  readonly vectors: Float64Array;
}

export function jacobiEigen(matrix: Float64Array, n: number, tolerance = 1e-14): EigenDecomposition {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  const frobenius = Math.sqrt(a.reduce((s, x) => s + x * x, 0)) || 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q] ** 2;
    if (Math.sqrt(2 * off) <= tolerance * frobenius) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q];
        if (apq === 0) continue;
        const theta = (a[q * n + q] - a[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p];
          const akq = a[k * n + q];
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k];
          const aqk = a[q * n + k];
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i * n + i] - a[j * n + j]);
  const values = Float64Array.from(order, (i) => a[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = v[k * n + src];
  });
  return { values, vectors };
}

/** Householder tridiagonalization: returns the diagonal d and the sub-diagonal e (e[i] couples i and i+1). */
export function householderTridiagonal(matrix: Float64Array, n: number): { diagonal: Float64Array; offDiagonal: Float64Array } {
  const a = Float64Array.from(matrix);
  const d = new Float64Array(n);
  const e = new Float64Array(Math.max(n - 1, 0));
  const v = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    // Householder vector for column k below the diagonal.
    let alpha = 0;
    for (let i = k + 1; i < n; i++) alpha += a[i * n + k] ** 2;
    alpha = Math.sqrt(alpha);
    if (alpha === 0) {
      e[k] = 0;
      continue;
    }
    const x0 = a[(k + 1) * n + k];
    const sign = x0 >= 0 ? 1 : -1;
    e[k] = -sign * alpha;
    for (let i = 0; i <= k; i++) v[i] = 0;
    v[k + 1] = x0 + sign * alpha;
    for (let i = k + 2; i < n; i++) v[i] = a[i * n + k];
    let vv = 0;
    for (let i = k + 1; i < n; i++) vv += v[i] * v[i];
    const beta = 2 / vv;
    // A ← (I − βvvᵀ) A (I − βvvᵀ) on the trailing block: p = βAv, w = p − (β/2)(vᵀp)v, A −= vwᵀ + wvᵀ.
    for (let i = k + 1; i < n; i++) {
      let s = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) s += a[row + j] * v[j];
      p[i] = beta * s;
    }
    let vp = 0;
    for (let i = k + 1; i < n; i++) vp += v[i] * p[i];
    const half = (beta / 2) * vp;
    for (let i = k + 1; i < n; i++) p[i] -= half * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = v[i];
      const wi = p[i];
      for (let j = k + 1; j < n; j++) a[row + j] -= vi * p[j] + wi * v[j];
    }
  }
  if (n >= 2) e[n - 2] = a[(n - 1) * n + (n - 2)];
  for (let i = 0; i < n; i++) d[i] = a[i * n + i];
  return { diagonal: d, offDiagonal: e };
}

/** Number of eigenvalues of the tridiagonal matrix below x (Sturm sequence). */
function countBelow(d: Float64Array, e: Float64Array, x: number): number {
  let count = 0;
  let q = 1;
  for (let i = 0; i < d.length; i++) {
    const off = i === 0 ? 0 : e[i - 1] * e[i - 1];
    q = d[i] - x - (i === 0 ? 0 : off / q);
    if (q === 0) q = -1e-300;
    if (q < 0) count++;
  }
  return count;
}

/** All eigenvalues, ascending, of a dense symmetric matrix (Householder + Sturm bisection). */
export function symmetricEigenvalues(matrix: Float64Array, n: number): Float64Array {
  const { diagonal: d, offDiagonal: e } = householderTridiagonal(matrix, n);
  // Gershgorin bounds.
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const r = (i > 0 ? Math.abs(e[i - 1]) : 0) + (i < n - 1 ? Math.abs(e[i]) : 0);
    lo = Math.min(lo, d[i] - r);
    hi = Math.max(hi, d[i] + r);
  }
  const span = Math.max(hi - lo, 1e-300);
  const values = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    // the (k+1)-th smallest: the smallest x with countBelow(x) > k
    let a = lo - 1e-12 * span;
    let b = hi + 1e-12 * span;
    for (let it = 0; it < 200 && b - a > 1e-15 * span; it++) {
      const mid = (a + b) / 2;
      if (countBelow(d, e, mid) > k) b = mid;
      else a = mid;
    }
    values[k] = (a + b) / 2;
  }
  return values;
}
