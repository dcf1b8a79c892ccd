/**
 * Data-free statistics of stored weight tensors: norms, spectral norm and stable rank. They need no
 * architecture, so they are what a weights-only file gets; they are also part of every full report,
 * where they show that a function-preserving rescale changes them too.
 */
import type { TensorStatistics } from '../shared/report';
import { SeededRandom } from './random';

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

export const defaultSpectralNormOptions: SpectralNormOptions = { tolerance: 1e-10, maxIterations: 3000 };

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
 * σ₁ of the row-major rows×cols matrix by power iteration on AᵀA in float64, stopped when the
 * estimate changes by less than `tolerance` (relative). Singular values do not depend on which of
 * A or Aᵀ is iterated, so callers need not transpose.
 */
export function largestSingularValue(
  a: Float32Array,
  rows: number,
  cols: number,
  options: SpectralNormOptions,
  random: SeededRandom,
): { value: number; converged: boolean; iterations: number } {
  let v = new Float64Array(cols);
  for (let j = 0; j < cols; j++) v[j] = random.normal();
  normalize(v);
  const u = new Float64Array(rows);
  let estimate = 0;
  for (let iteration = 1; iteration <= options.maxIterations; iteration++) {
    for (let i = 0; i < rows; i++) {
      let s = 0;
      const offset = i * cols;
      for (let j = 0; j < cols; j++) s += a[offset + j] * v[j];
      u[i] = s;
    }
    const next = new Float64Array(cols);
    for (let i = 0; i < rows; i++) {
      const ui = u[i];
      if (ui === 0) continue;
      const offset = i * cols;
      for (let j = 0; j < cols; j++) next[j] += a[offset + j] * ui;
    }
    // ‖Aᵀ A v‖ for a unit v converges to σ₁² from below.
    const sigmaSquared = normalize(next);
    if (sigmaSquared === 0) return { value: 0, converged: true, iterations: iteration };
    const value = Math.sqrt(sigmaSquared);
    v = next;
    if (Math.abs(value - estimate) <= options.tolerance * value) return { value, converged: true, iterations: iteration };
    estimate = value;
  }
  return { value: estimate, converged: false, iterations: options.maxIterations };
}

function normalize(x: Float64Array): number {
  let s = 0;
  for (const xi of x) s += xi * xi;
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < x.length; i++) x[i] /= n;
  return n;
}
