import * as tf from '@tensorflow/tfjs-core';
import { combineBasis, lanczos, ritzPairs, type HessianVectorProduct, type LanczosRun } from './lanczos';
import { SeededRandom } from '../numeric/random';
import { type StageProgress } from './progress';
import { disposeVector, norm, randomNormalVector, type ParameterVector } from './vectors';
import type { ParameterInfo } from '../model/network';

export interface TopEigenvaluesOptions {
  readonly count: number;
  /** Upper bound on Lanczos steps (each is one Hessian-vector product). */
  readonly maxSteps: number;
  /** Stop when every wanted Ritz pair has ‖Hy − θy‖ ≤ tolerance·|θ| (estimated). */
  readonly tolerance: number;
  readonly random: SeededRandom;
  /** Keep the Lanczos run (basis, residual, tridiagonal) for deflation and quadrature; the caller disposes it. */
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
  hvp: HessianVectorProduct,
  parameters: readonly ParameterInfo[],
  options: TopEigenvaluesOptions,
): Promise<TopEigenvalues> {
  const dimension = parameters.reduce((n, p) => n + p.size, 0);
  const k = Math.min(options.count, dimension);
  const steps = Math.min(dimension, Math.max(options.maxSteps, k + 2));
  const start = randomNormalVector(parameters, options.random);
  const convergence = convergenceProgress();
  const run = await lanczos(hvp, start, {
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
  }).finally(() => disposeVector(start));
  const basis = run.basis!;
  let kept = false;
  try {
    const pairs = ritzPairs(run).slice(0, k);
    const relativeResiduals: number[] = [];
    let topVector: ParameterVector | undefined;
    for (const [index, pair] of pairs.entries()) {
      const y = combineBasis(basis, pair.coefficients);
      const hy = hvp(y);
      const r = tf.tidy(() => hy.map((t, i) => tf.sub(t, tf.mul(y[i], pair.value))));
      relativeResiduals.push(norm(r) / Math.max(Math.abs(pair.value), 1e-30));
      disposeVector(r);
      disposeVector(hy);
      if (index === 0) topVector = y;
      else disposeVector(y);
    }
    kept = options.keepKrylov === true;
    return { values: pairs.map((p) => p.value), relativeResiduals, lanczosSteps: run.steps, topVector: topVector!, tridiagonal: { alpha: run.alpha, beta: run.beta }, ...(kept ? { krylov: run } : {}) };
  } finally {
    if (!kept) disposeKrylov(run);
  }
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

export function disposeKrylov(run: LanczosRun | undefined): void {
  run?.basis?.forEach(disposeVector);
  disposeVector(run?.residual);
}
