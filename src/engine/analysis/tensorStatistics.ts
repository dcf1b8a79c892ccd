/**
 * Data-free statistics of stored weight tensors: norms, spectral norm and stable rank. They need no
 * architecture, so they are what a weights-only file gets; they are also part of every full report,
 * where they show that a function-preserving rescale changes them too.
 */
import type { TensorStatistics } from '../../protocol/report';
import { SeededRandom } from '../numeric/random';
import { tridiagonalEigen } from './tridiagonal';

export interface TensorToDescribe {
  readonly name: string;
  readonly shape: readonly number[];
  readonly values: Float32Array;
  readonly dtype?: string;
  readonly layer?: string;
}

/**
 * Where a kernel's output units are: `first` for PyTorch and ONNX (Linear [out, in], Conv OIHW),
 * `last` for Keras and TF.js (Dense [in, out], Conv HWIO). The matrix whose singular values are
 * reported is outputs × (everything else), so both layouts of one kernel give the same numbers.
 */
export type OutputAxis = 'first' | 'last';

export interface SpectralNormOptions {
  readonly tolerance: number;
  readonly maxIterations: number;
}

export const defaultSpectralNormOptions: SpectralNormOptions = { tolerance: 1e-10, maxIterations: 300 };

export function describeTensors(tensors: readonly TensorToDescribe[], outputAxis: OutputAxis, options = defaultSpectralNormOptions): TensorStatistics[] {
  return tensors.map((tensor) => describeTensor(tensor, outputAxis, options));
}

export function describeTensor(tensor: TensorToDescribe, outputAxis: OutputAxis, options = defaultSpectralNormOptions): TensorStatistics {
  const { values, shape } = tensor;
  let finite = 0;
  let sum = 0;
  let sumSquares = 0;
  let maxAbs = 0;
  for (const x of values) {
    if (!Number.isFinite(x)) continue;
    finite++;
    sum += x;
    sumSquares += x * x;
    maxAbs = Math.max(maxAbs, Math.abs(x));
  }
  const mean = finite > 0 ? sum / finite : 0;
  const variance = finite > 0 ? Math.max(0, sumSquares / finite - mean * mean) : 0;
  const statistics: TensorStatistics = {
    name: tensor.name,
    ...(tensor.layer !== undefined ? { layer: tensor.layer } : {}),
    ...(tensor.dtype !== undefined ? { dtype: tensor.dtype } : {}),
    shape: [...shape],
    count: values.length,
    nonFinite: values.length - finite,
    mean,
    std: Math.sqrt(variance),
    maxAbs,
    l2Norm: Math.sqrt(sumSquares),
  };
  if (shape.length < 2 || finite < values.length || values.length === 0) return statistics;
  const [rows, cols] = outputAxis === 'first' ? [shape[0], values.length / shape[0]] : [values.length / shape[shape.length - 1], shape[shape.length - 1]];
  const top = largestSingularValue(values, rows, cols, options, new SeededRandom(0).fork(tensor.name));
  return {
    ...statistics,
    matrix: {
      rows: outputAxis === 'first' ? rows : cols,
      cols: outputAxis === 'first' ? cols : rows,
      spectralNorm: top.value,
      stableRank: top.value > 0 ? sumSquares / (top.value * top.value) : 0,
      converged: top.converged,
      iterations: top.iterations,
    },
  };
}

/**
 * σ₁ of the row-major rows×cols matrix: the largest eigenvalue of the Gram matrix on the smaller
 * side (AᵀA or AAᵀ), by Lanczos with full reorthogonalization in float64. Stops when the Ritz
 * residual bound β·|last component| is below `tolerance`·σ₁², or the Krylov space is the whole space
 * (then the value is exact up to rounding). `iterations` counts Lanczos steps (two matrix products each).
 */
export function largestSingularValue(
  a: Float32Array,
  rows: number,
  cols: number,
  options: SpectralNormOptions,
  random: SeededRandom,
): { value: number; converged: boolean; iterations: number } {
  const onColumns = cols <= rows;
  const n = onColumns ? cols : rows;
  const gram = (v: Float64Array): Float64Array => {
    const [inner, outer] = onColumns ? [rows, cols] : [cols, rows];
    const middle = new Float64Array(inner);
    const out = new Float64Array(outer);
    if (onColumns) {
      for (let i = 0; i < rows; i++) {
        let sum = 0;
        const offset = i * cols;
        for (let j = 0; j < cols; j++) sum += a[offset + j] * v[j];
        middle[i] = sum;
      }
      for (let i = 0; i < rows; i++) {
        const m = middle[i];
        if (m === 0) continue;
        const offset = i * cols;
        for (let j = 0; j < cols; j++) out[j] += a[offset + j] * m;
      }
    } else {
      for (let i = 0; i < rows; i++) {
        const offset = i * cols;
        const vi = v[i];
        if (vi !== 0) for (let j = 0; j < cols; j++) middle[j] += a[offset + j] * vi;
      }
      for (let i = 0; i < rows; i++) {
        let sum = 0;
        const offset = i * cols;
        for (let j = 0; j < cols; j++) sum += a[offset + j] * middle[j];
        out[i] = sum;
      }
    }
    return out;
  };
  const basis: Float64Array[] = [];
  const alpha: number[] = [];
  const beta: number[] = [];
  let q: Float64Array = new Float64Array(n);
  for (let j = 0; j < n; j++) q[j] = random.normal();
  normalize(q);
  let estimate = 0;
  const maxSteps = Math.min(n, options.maxIterations);
  for (let step = 1; step <= maxSteps; step++) {
    basis.push(q);
    const w = gram(q);
    alpha.push(dot(w, q));
    for (let pass = 0; pass < 2; pass++) for (const b of basis) axpy(w, b, -dot(w, b));
    const norm = normalize(w);
    const { values, vectors } = tridiagonalEigen(alpha, beta);
    const top = values.length - 1;
    estimate = Math.max(values[top], 0);
    const residual = norm * Math.abs(vectors[step - 1][top]);
    if (estimate === 0 && norm === 0) return { value: 0, converged: true, iterations: step };
    if (residual <= options.tolerance * estimate || norm <= 1e-14 * Math.max(estimate, 1e-300) || step === n) {
      return { value: Math.sqrt(estimate), converged: true, iterations: step };
    }
    beta.push(norm);
    q = w;
  }
  return { value: Math.sqrt(estimate), converged: false, iterations: maxSteps };
}

function dot(x: Float64Array, y: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * y[i];
  return s;
}

function axpy(y: Float64Array, x: Float64Array, scale: number): void {
  for (let i = 0; i < y.length; i++) y[i] += scale * x[i];
}

function normalize(x: Float64Array): number {
  let s = 0;
  for (const xi of x) s += xi * xi;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < x.length; i++) x[i] /= n;
  return n;
}
