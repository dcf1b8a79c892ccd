import type { ParameterInfo } from '../model/network';
import type { SeededRandom } from '../numeric/random';
import { throwIfAborted } from '../../protocol/errors';
import type { BlockTraceEntry } from '../../protocol/report';
import type { LanczosRun } from './lanczos';
import { countDetail, type StageProgress } from './progress';
import { meanAndStderr } from './trace';
import { subtractProjections } from './flatVectors';
import { hessianOperator, type HessianInput } from './hessianOperator';

/**
 * Probes drawn, projected and multiplied together; the stopping rule is checked after each such
 * block (from `minProbes` on), so every product paid for is used.
 */
export const probesPerBlock = 4;

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
 * `tolerance`·|estimate|, checked after every block of `probesPerBlock` probes.
 *
 * Block k's trace Tr(E_k H) splits the same way: Tr(E_k H QQᵀ) is exact from H q_i = β_{i−1}q_{i−1}
 * + α_i q_i + β_i q_{i+1} (q_{m+1} the last residual), and Tr(E_k H (I − QQᵀ)) = E[w_kᵀ(Hw)_k] from
 * the same probes, so the block traces sum to the total exactly and each carries its own error.
 */
export async function deflatedTrace(hessian: HessianInput, parameters: readonly ParameterInfo[], krylov: LanczosRun | undefined, options: DeflatedTraceOptions): Promise<DeflatedTraceEstimate> {
  const operator = hessianOperator(hessian, parameters);
  const dimension = operator.dimension;
  const basis = krylov?.basis ?? [];
  const residual = krylov?.residual;
  const exactParts = parameters.map((p) => exactBlockPart(krylov, basis, residual, p.offset, p.size));
  const deflatedTrace = exactParts.reduce((a, b) => a + b, 0);
  // The basis spans the whole space: the trace is Σ α_i, nothing is left to probe.
  const invariant = basis.length >= dimension;
  const samples: number[][] = parameters.map(() => []);
  const totals: number[] = [];
  let reachedTolerance = invariant;
  const random = options.random.fork('trace:deflated');
  while (!invariant && !reachedTolerance && totals.length < options.maxProbes) {
    throwIfAborted(options.signal);
    // Blocks end on minProbes, so that the first check comes as early as before.
    const size = Math.min(probesPerBlock, options.maxProbes - totals.length, totals.length < options.minProbes ? options.minProbes - totals.length : probesPerBlock);
    const probes = project(Array.from({ length: size }, () => random.rademachers(dimension)), basis);
    const products = operator.products(probes);
    probes.forEach((w, b) => {
      const hw = products[b];
      let total = 0;
      parameters.forEach((p, k) => {
        let part = 0;
        for (let e = p.offset; e < p.offset + p.size; e++) part += w[e] * hw[e];
        samples[k].push(part);
        total += part;
      });
      totals.push(total);
    });
    options.onProgress?.(totals.length / options.maxProbes, `${countDetail('probe', totals.length, options.maxProbes)} at most`);
    if (totals.length >= options.minProbes) {
      const { mean, stderr } = meanAndStderr(totals);
      if (stderr <= options.tolerance * Math.abs(deflatedTrace + mean)) reachedTolerance = true;
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

/** z − Q(Qᵀz) for each probe z, in float64 sums. */
function project(probes: readonly Float32Array[], basis: readonly Float32Array[]): Float32Array[] {
  const work = probes.map((z) => new Float64Array(z));
  subtractProjections(work, basis);
  return work.map((w) => new Float32Array(w));
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
