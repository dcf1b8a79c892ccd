import { lanczos, ritzPairs, type LanczosRun } from './lanczos';
import { SeededRandom } from '../numeric/random';
import { type StageProgress } from './progress';
import { combine } from './flatVectors';
import { hessianOperator, type HessianInput } from './hessianOperator';
import { fromFlat, type ParameterVector } from './vectors';
import type { ParameterInfo } from '../model/network';

export interface TopEigenvaluesOptions {
  readonly count: number;
  /** Upper bound on Lanczos steps (each is one Hessian-vector product). */
  readonly maxSteps: number;
  /** Stop when every wanted Ritz pair has ‖Hy − θy‖ ≤ tolerance·|θ| (estimated). */
  readonly tolerance: number;
  readonly random: SeededRandom;
  /** Keep the Lanczos run (basis, residual, tridiagonal) for deflation and quadrature. */
  readonly keepKrylov?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

export interface TopEigenvalues {
  /** Largest eigenvalues of H, descending. */
  readonly values: number[];
  /** ‖Hy − λy‖ / |λ| for each, measured with one extra Hessian-vector product per pair. */
  readonly relativeResiduals: number[];
  readonly lanczosSteps: number;
  /** Unit eigenvector of the largest eigenvalue (the caller disposes it). */
  readonly topVector: ParameterVector;
  /** The tridiagonal of the Lanczos run (a quadrature for spectral density, see density.ts). */
  readonly tridiagonal: { readonly alpha: number[]; readonly beta: number[] };
  /** The Lanczos run itself, when asked for with `keepKrylov`. */
  readonly krylov?: LanczosRun;
}

/**
 * The k largest (algebraic) eigenvalues of the Hessian by Lanczos with full reorthogonalization.
 * Lanczos converges to the extreme eigenvalues first, needs no shift, and unlike power iteration
 * with deflation does not accumulate the error of each deflated vector into the next value.
 */
export async function hessianTopEigenvalues(
  hessian: HessianInput,
  parameters: readonly ParameterInfo[],
  options: TopEigenvaluesOptions,
): Promise<TopEigenvalues> {
  const operator = hessianOperator(hessian, parameters);
  const dimension = operator.dimension;
  const k = Math.min(options.count, dimension);
  const steps = Math.min(dimension, Math.max(options.maxSteps, k + 2));
  const start = options.random.normals(dimension);
  const convergence = convergenceProgress();
  const run = await lanczos(operator, start, {
    steps,
    keepBasis: true,
    signal: options.signal,
    onStep: (step, alpha, beta) => {
      const detail = `Lanczos step ${step} of at most ${steps}`;
      if (step < k + 2) {
        options.onProgress?.(step / steps, detail);
        return false;
      }
      const pairs = ritzPairs({ alpha: [...alpha], beta: [...beta], steps: step }).slice(0, k);
      const worst = Math.max(...pairs.map((p) => p.residualEstimate / (options.tolerance * Math.max(Math.abs(p.value), 1e-12))));
      options.onProgress?.(Math.max(step / steps, convergence(worst)), detail);
      return worst <= 1;
    },
  });
  const basis = run.basis!;
  const pairs = ritzPairs(run).slice(0, k);
  // The Ritz vectors' products as one block: ‖Hy − θy‖ measured, not estimated.
  const vectors = pairs.map((pair) => combine(basis, pair.coefficients, dimension));
  const products = operator.products(vectors);
  const relativeResiduals = pairs.map((pair, index) => {
    const y = vectors[index];
    const hy = products[index];
    let sum = 0;
    for (let e = 0; e < dimension; e++) sum += (hy[e] - pair.value * y[e]) ** 2;
    return Math.sqrt(sum) / Math.max(Math.abs(pair.value), 1e-30);
  });
  const kept = options.keepKrylov === true;
  return {
    values: pairs.map((p) => p.value), relativeResiduals, lanczosSteps: run.steps, topVector: vectors.length > 0 ? fromFlat(vectors[0], parameters) : [],
    tridiagonal: { alpha: run.alpha, beta: run.beta }, ...(kept ? { krylov: run } : {}),
  };
}

/**
 * How far Lanczos is from stopping, from the worst ratio of residual to tolerance (stop at ≤ 1):
 * the residuals shrink about geometrically, so the share of the orders of magnitude already gained
 * since the first check moves evenly, where the step count alone would jump when it stops early.
 */
function convergenceProgress(): (worstRatio: number) => number {
  let first: number | undefined;
  return (worstRatio) => {
    if (!Number.isFinite(worstRatio)) return 0;
    if (worstRatio <= 1) return 1;
    first ??= worstRatio;
    if (first <= worstRatio) return 0;
    return Math.log(first / worstRatio) / Math.log(first);
  };
}

/** Lets go of a kept Lanczos run's vectors (plain arrays: the run's holders may keep it no longer). */
export function disposeKrylov(run: LanczosRun | undefined): void {
  run?.basis?.splice(0);
}
