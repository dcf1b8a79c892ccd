/**
 * Data-free statistics of stored weight tensors: norms, spectral norm and stable rank. They need no
 * architecture, so they are what a weights-only file gets; they are also part of every full report,
 * where they show that a function-preserving rescale changes them too.
 */
import type { TensorStatistics } from '../../protocol/report';
import { throwIfAborted } from '../../protocol/errors';
import type { GramProductFactory } from '../exec/matrixProducts';
import { SeededRandom } from '../numeric/random';
import { countDetail, type StageProgress } from './progress';
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
  /** Runs the products of large kernels (ONNX Runtime); float32, so their tolerance is `float32Tolerance` at least. */
  readonly products?: GramProductFactory;
}

/** The Ritz residual a float32 Gram product can certify: the σ reported is good to about a millionth. */
export const float32Tolerance = 1e-6;

export const defaultSpectralNormOptions: SpectralNormOptions = { tolerance: 1e-10, maxIterations: 300 };

export function describeTensors(tensors: readonly TensorToDescribe[], outputAxis: OutputAxis, options = defaultSpectralNormOptions): TensorStatistics[] {
  return tensors.map((tensor) => describeTensor(tensor, outputAxis, options));
}

export interface DescribeCallbacks {
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

/** How long the asynchronous description computes before it lets the event loop run. */
const sliceMs = 50;

/**
 * `describeTensors` that never holds the event loop for long: the spectral norm of a large kernel
 * (a 4096×9216 dense layer takes about a hundred passes over its 38M values) yields between
 * Lanczos steps, so progress is shown, a cancel or a signal is heard, and the host stays responsive.
 */
export async function describeTensorsInTurn(
  tensors: readonly TensorToDescribe[],
  outputAxis: OutputAxis,
  callbacks: DescribeCallbacks = {},
  options = defaultSpectralNormOptions,
): Promise<TensorStatistics[]> {
  const totalValues = tensors.reduce((n, t) => n + t.values.length, 0) || 1;
  let doneValues = 0;
  let sliceStart = performance.now();
  const described: TensorStatistics[] = [];
  for (const [index, tensor] of tensors.entries()) {
    const steps = describeTensorSteps(tensor, outputAxis, options);
    try {
      let step = steps.next();
      let lanczosSteps = 0;
      while (!step.done) {
        lanczosSteps++;
        if (performance.now() - sliceStart > sliceMs) {
          callbacks.onProgress?.(doneValues / totalValues, `${countDetail('tensor', index + 1, tensors.length)} (${tensor.name}), spectral norm step ${lanczosSteps}`);
          await new Promise((resolve) => setImmediate(resolve));
          throwIfAborted(callbacks.signal);
          sliceStart = performance.now();
        }
        step = steps.next();
      }
      described.push(step.value);
    } finally {
      steps.return(undefined as never);
    }
    doneValues += tensor.values.length;
    callbacks.onProgress?.(doneValues / totalValues, countDetail('tensor', index + 1, tensors.length));
  }
  return described;
}

export function describeTensor(tensor: TensorToDescribe, outputAxis: OutputAxis, options = defaultSpectralNormOptions): TensorStatistics {
  return drain(describeTensorSteps(tensor, outputAxis, options));
}

/** A tensor's statistics, yielding after each Lanczos step of its spectral norm. */
function* describeTensorSteps(tensor: TensorToDescribe, outputAxis: OutputAxis, options: SpectralNormOptions): Generator<void, TensorStatistics> {
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
  const top = yield* singularValueSteps(values, rows, cols, options, new SeededRandom(0).fork(tensor.name));
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
): SingularValue {
  return drain(singularValueSteps(a, rows, cols, options, random));
}

export interface SingularValue {
  readonly value: number;
  readonly converged: boolean;
  readonly iterations: number;
}

function drain<T>(steps: Generator<void, T>): T {
  let step = steps.next();
  while (!step.done) step = steps.next();
  return step.value;
}

/** `largestSingularValue` one Lanczos step per `next()`. */
function* singularValueSteps(a: Float32Array, rows: number, cols: number, options: SpectralNormOptions, random: SeededRandom): Generator<void, SingularValue> {
  const onColumns = cols <= rows;
  const n = onColumns ? cols : rows;
  const executor = options.products?.(a, rows, cols);
  try {
    return yield* lanczosOnGram(executor ? (v) => executor.product(v) : gramInJavaScript(a, rows, cols), n, executor ? { ...options, tolerance: Math.max(options.tolerance, float32Tolerance) } : options, random);
  } finally {
    executor?.dispose();
  }
}

function gramInJavaScript(a: Float32Array, rows: number, cols: number): (v: Float64Array) => Float64Array {
  const onColumns = cols <= rows;
  return (v: Float64Array): Float64Array => {
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
}

function* lanczosOnGram(gram: (v: Float64Array) => Float64Array, n: number, options: SpectralNormOptions, random: SeededRandom): Generator<void, SingularValue> {
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
    yield;
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
