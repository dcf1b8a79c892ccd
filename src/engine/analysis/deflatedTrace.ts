import type { ParameterInfo } from '../model/network';
import type { SeededRandom } from '../numeric/random';
import { throwIfAborted } from '../../protocol/errors';
import type { BlockTraceEntry } from '../../protocol/report';
import type { HessianVectorProduct, LanczosRun } from './lanczos';
import { countDetail, type StageProgress } from './progress';
import { meanAndStderr } from './trace';
import { disposeVector, fromFlat, toFlat } from './vectors';

export interface DeflatedTraceOptions {
  /** Stop once the standard error is at most this fraction of |estimate| (0: use every probe). */
  readonly tolerance: number;
  /** At most this many probes, one Hessian-vector product each. */
  readonly maxProbes: number;
  /** Never stop before this many probes: the standard error of fewer is itself too uncertain. */
  readonly minProbes: number;
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

export interface DeflatedTraceEstimate {
  readonly estimate: number;
  readonly stderr: number;
  /** Probes of the complement, one Hessian-vector product each. */
  readonly probes: number;
  /** Dimension of the Krylov space taken out exactly. */
  readonly deflatedDimensions: number;
  /** Tr(QᵀHQ) = Σ α_i: the part of the trace on the Krylov space, exact. */
  readonly deflatedTrace: number;
  /** Whether the standard error reached `tolerance`·|estimate| within `maxProbes`. */
  readonly reachedTolerance: boolean;
  /** Per weight tensor; they sum to `estimate`. */
  readonly blocks: BlockTraceEntry[];
}

/**
 * Tr H = Tr(QᵀHQ) + Tr(H(I − QQᵀ)) with Q the orthonormal Lanczos basis the eigenvalue run already
 * built: the first term is Σ α_i exactly (Lanczos' tridiagonal), the second is estimated by
 * Hutchinson probes w = (I − QQᵀ)z, z Rademacher, E[wᵀHw] = Tr((I − QQᵀ)H(I − QQᵀ)). The Krylov space
 * holds the outlying top eigendirections that dominate both the trace and the variance of plain
 * Hutchinson (Var zᵀHz = 2(‖H‖²_F − Σ H_ii²)), so the complement needs far fewer probes; this is the
 * deflation idea behind Hutch++ (Meyer, Musco, Musco & Woodruff 2021), with the sketch for free.
 * Probes are i.i.d., so the standard error is the plain sample one; probing stops when it reaches
 * `tolerance`·|estimate|.
 *
 * Block k's trace Tr(E_k H) splits the same way: Tr(E_k H QQᵀ) is exact from H q_i = β_{i−1}q_{i−1}
 * + α_i q_i + β_i q_{i+1} (q_{m+1} the last residual), and Tr(E_k H (I − QQᵀ)) = E[w_kᵀ(Hw)_k] from
 * the same probes, so the block traces sum to the total exactly and each carries its own error.
 */
export async function deflatedTrace(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], krylov: LanczosRun | undefined, options: DeflatedTraceOptions): Promise<DeflatedTraceEstimate> {
  const dimension = parameters.reduce((n, p) => n + p.size, 0);
  const basis = (krylov?.basis ?? []).map(toFlat);
  const residual = krylov?.residual ? toFlat(krylov.residual) : undefined;
  const exactParts = parameters.map((p) => exactBlockPart(krylov, basis, residual, p.offset, p.size));
  const deflatedTrace = exactParts.reduce((a, b) => a + b, 0);
  // The basis spans the whole space: the trace is Σ α_i, nothing is left to probe.
  const invariant = basis.length >= dimension;
  const samples: number[][] = parameters.map(() => []);
  const totals: number[] = [];
  let reachedTolerance = invariant;
  const random = options.random.fork('trace:deflated');
  for (let s = 0; !invariant && s < options.maxProbes; s++) {
    throwIfAborted(options.signal);
    const w = project(random.rademachers(dimension), basis);
    const vector = fromFlat(w, parameters);
    const product = hvp(vector);
    const hw = toFlat(product);
    disposeVector(vector);
    disposeVector(product);
    let total = 0;
    parameters.forEach((p, k) => {
      let part = 0;
      for (let e = p.offset; e < p.offset + p.size; e++) part += w[e] * hw[e];
      samples[k].push(part);
      total += part;
    });
    totals.push(total);
    options.onProgress?.((s + 1) / options.maxProbes, `${countDetail('probe', s + 1, options.maxProbes)} at most`);
    if (totals.length >= options.minProbes) {
      const { mean, stderr } = meanAndStderr(totals);
      if (stderr <= options.tolerance * Math.abs(deflatedTrace + mean)) {
        reachedTolerance = true;
        break;
      }
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
  const remainder = totals.length > 0 ? meanAndStderr(totals) : { mean: 0, stderr: 0 };
  const blocks = parameters.map((p, k): BlockTraceEntry => {
    const part = samples[k].length > 0 ? meanAndStderr(samples[k]) : { mean: 0, stderr: 0 };
    return { layer: p.layer, weight: p.role, name: p.name, size: p.size, exact: invariant, trace: exactParts[k] + part.mean, stderr: part.stderr };
  });
  return {
    estimate: deflatedTrace + remainder.mean,
    stderr: remainder.stderr,
    probes: totals.length,
    deflatedDimensions: basis.length,
    deflatedTrace,
    reachedTolerance,
    blocks,
  };
}

/** z − Q(Qᵀz), in float64 sums. */
function project(z: Float32Array, basis: readonly Float32Array[]): Float32Array {
  const w = Float64Array.from(z);
  for (const q of basis) {
    let c = 0;
    for (let e = 0; e < w.length; e++) c += q[e] * w[e];
    for (let e = 0; e < w.length; e++) w[e] -= c * q[e];
  }
  return Float32Array.from(w);
}

/** Tr(E_k H QQᵀ) = Σ_i α_i‖q_i^k‖² + 2Σ_{i<m} β_i⟨q_i^k, q_{i+1}^k⟩ + β_m⟨q_m^k, q_{m+1}^k⟩ over block k's entries. */
function exactBlockPart(krylov: LanczosRun | undefined, basis: readonly Float32Array[], residual: Float32Array | undefined, offset: number, size: number): number {
  if (!krylov || basis.length === 0) return 0;
  const m = basis.length;
  const dot = (a: Float32Array, b: Float32Array) => {
    let s = 0;
    for (let e = offset; e < offset + size; e++) s += a[e] * b[e];
    return s;
  };
  let sum = 0;
  for (let i = 0; i < m; i++) {
    sum += krylov.alpha[i] * dot(basis[i], basis[i]);
    if (i + 1 < m) sum += 2 * krylov.beta[i] * dot(basis[i], basis[i + 1]);
  }
  if (residual) sum += krylov.beta[m - 1] * dot(basis[m - 1], residual);
  return sum;
}
