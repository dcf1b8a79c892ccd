/**
 * Arithmetic on flat parameter vectors (Float32Array storage, float64 sums). The loops keep four
 * independent sums (a single running sum waits on each addition) and the orthogonalizations walk
 * the vectors in cache-sized chunks, so that each basis vector is read once per pass however many
 * vectors it is applied to.
 */

const chunk = 2048;

export function dot(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let e = 0;
  for (; e + 3 < n; e += 4) {
    s0 += a[e] * b[e];
    s1 += a[e + 1] * b[e + 1];
    s2 += a[e + 2] * b[e + 2];
    s3 += a[e + 3] * b[e + 3];
  }
  for (; e < n; e++) s0 += a[e] * b[e];
  return s0 + s1 + s2 + s3;
}

/** Σ q_e v_e over [from, to): a float32 vector against a float64 one. */
function mixedDot(q: Float32Array, v: Float64Array, from: number, to: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let e = from;
  for (; e + 3 < to; e += 4) {
    s0 += q[e] * v[e];
    s1 += q[e + 1] * v[e + 1];
    s2 += q[e + 2] * v[e + 2];
    s3 += q[e + 3] * v[e + 3];
  }
  for (; e < to; e++) s0 += q[e] * v[e];
  return s0 + s1 + s2 + s3;
}

export function norm(a: Float32Array): number {
  return Math.sqrt(dot(a, a));
}

export function norm64(a: Float64Array): number {
  let s0 = 0;
  let s1 = 0;
  let e = 0;
  for (; e + 1 < a.length; e += 2) {
    s0 += a[e] * a[e];
    s1 += a[e + 1] * a[e + 1];
  }
  for (; e < a.length; e++) s0 += a[e] * a[e];
  return Math.sqrt(s0 + s1);
}

/** s·a as a new float32 vector. */
export function scaled(a: Float32Array | Float64Array, s: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let e = 0; e < a.length; e++) out[e] = a[e] * s;
  return out;
}

/** Σ_j c_j q_j, summed in float64, stored in float32. */
export function combine(basis: readonly Float32Array[], coefficients: readonly number[], dimension = basis[0].length): Float32Array {
  const sum = new Float64Array(dimension);
  for (let j = 0; j < basis.length; j++) {
    const q = basis[j];
    const c = coefficients[j];
    for (let e = 0; e < dimension; e++) sum[e] += c * q[e];
  }
  return new Float32Array(sum);
}

/**
 * One classical Gram-Schmidt pass for every vector: v ← v − Q(Qᵀv), Q the (orthonormal) basis.
 * The coefficients of all vectors are taken before any is changed.
 */
export function subtractProjections(vectors: readonly Float64Array[], basis: readonly Float32Array[]): void {
  const m = basis.length;
  if (m === 0 || vectors.length === 0) return;
  const dimension = vectors[0].length;
  const coefficients = vectors.map(() => new Float64Array(m));
  for (let start = 0; start < dimension; start += chunk) {
    const end = Math.min(dimension, start + chunk);
    for (let i = 0; i < m; i++) {
      const q = basis[i];
      let k = 0;
      // Four vectors per sweep of q: one load of each q entry for four sums.
      for (; k + 3 < vectors.length; k += 4) {
        const v0 = vectors[k];
        const v1 = vectors[k + 1];
        const v2 = vectors[k + 2];
        const v3 = vectors[k + 3];
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let e = start; e < end; e++) {
          const x = q[e];
          s0 += x * v0[e];
          s1 += x * v1[e];
          s2 += x * v2[e];
          s3 += x * v3[e];
        }
        coefficients[k][i] += s0;
        coefficients[k + 1][i] += s1;
        coefficients[k + 2][i] += s2;
        coefficients[k + 3][i] += s3;
      }
      for (; k < vectors.length; k++) coefficients[k][i] += mixedDot(q, vectors[k], start, end);
    }
  }
  for (let start = 0; start < dimension; start += chunk) {
    const end = Math.min(dimension, start + chunk);
    for (let k = 0; k < vectors.length; k++) {
      const v = vectors[k];
      const c = coefficients[k];
      let i = 0;
      // Four basis vectors per sweep of v: a quarter of the loads and stores of v.
      for (; i + 3 < m; i += 4) {
        const q0 = basis[i];
        const q1 = basis[i + 1];
        const q2 = basis[i + 2];
        const q3 = basis[i + 3];
        const c0 = c[i];
        const c1 = c[i + 1];
        const c2 = c[i + 2];
        const c3 = c[i + 3];
        for (let e = start; e < end; e++) v[e] -= c0 * q0[e] + c1 * q1[e] + c2 * q2[e] + c3 * q3[e];
      }
      for (; i < m; i++) {
        const q = basis[i];
        const ci = c[i];
        for (let e = start; e < end; e++) v[e] -= ci * q[e];
      }
    }
  }
}
