import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../../protocol/errors';
import { tridiagonalEigen } from './tridiagonal';
import { disposeVector, dot, norm, scale, type ParameterVector } from './vectors';

export type HessianVectorProduct = (v: ParameterVector) => ParameterVector;

/** A Hessian-vector product came back infinite or NaN: the curvature overflows float32 here. */
export class NonFiniteCurvature extends Error {
  constructor() {
    super('the Hessian-vector product is not finite: the curvature at this point overflows float32');
    this.name = 'NonFiniteCurvature';
  }
}

export interface LanczosRun {
  readonly alpha: number[];
  readonly beta: number[];
  /** The orthonormal Lanczos basis, kept only when asked for (the caller disposes it). */
  readonly basis?: ParameterVector[];
  /**
   * With the basis: the unit residual direction q_{m+1} (H Q = Q T + β_m q_{m+1} e_mᵀ, β_m the last
   * entry of `beta`), or undefined when the Krylov space became invariant. The caller disposes it.
   */
  readonly residual?: ParameterVector;
  readonly steps: number;
}

export interface LanczosOptions {
  readonly steps: number;
  readonly keepBasis: boolean;
  readonly signal?: AbortSignal;
  /** Called after each step with the step number, the diagonal so far and the off-diagonal including the new residual norm. */
  readonly onStep?: (step: number, alpha: readonly number[], beta: readonly number[]) => boolean | void;
}

/**
 * Lanczos tridiagonalization of H from a unit start vector, with full reorthogonalization against
 * every previous basis vector (float32 loses orthogonality within tens of steps otherwise, which
 * shows up as ghost copies of the top eigenvalue). `onStep` may return true to stop early.
 */
export async function lanczos(hvp: HessianVectorProduct, start: ParameterVector, options: LanczosOptions): Promise<LanczosRun> {
  const alpha: number[] = [];
  const beta: number[] = [];
  const basis: ParameterVector[] = [scale(start, 1 / norm(start))];
  let steps = 0;
  let lastResidual: ParameterVector | undefined;
  try {
    for (let j = 0; j < options.steps; j++) {
      throwIfAborted(options.signal);
      const q = basis[j];
      const w = hvp(q);
      const a = dot(w, q);
      alpha.push(a);
      steps++;
      const residual = tf.tidy(() => {
        let r = w.map((t, i) => tf.sub(t, tf.mul(q[i], a)));
        if (j > 0) r = r.map((t, i) => tf.sub(t, tf.mul(basis[j - 1][i], beta[j - 1])));
        // Two passes of classical Gram-Schmidt ("twice is enough").
        for (let pass = 0; pass < 2; pass++) {
          for (const b of basis) {
            const c = tf.addN(r.map((t, i) => tf.sum(tf.mul(t, b[i]))));
            r = r.map((t, i) => tf.sub(t, tf.mul(b[i], c)));
          }
        }
        return r;
      });
      disposeVector(w);
      const b = norm(residual);
      if (!Number.isFinite(a) || !Number.isFinite(b)) {
        disposeVector(residual);
        throw new NonFiniteCurvature();
      }
      beta.push(b);
      const stop = options.onStep?.(steps, alpha, beta) === true;
      if (stop || j === options.steps - 1 || b < 1e-10 * Math.max(1, Math.abs(a))) {
        if (options.keepBasis && b >= 1e-10 * Math.max(1, Math.abs(a))) lastResidual = scale(residual, 1 / b);
        disposeVector(residual);
        break;
      }
      basis.push(scale(residual, 1 / b));
      disposeVector(residual);
      await new Promise((resolve) => setImmediate(resolve));
    }
  } catch (error) {
    basis.forEach(disposeVector);
    throw error;
  }
  // basis has one vector per step; beta has one entry per step (the last is the residual norm).
  if (!options.keepBasis) {
    basis.forEach(disposeVector);
    return { alpha, beta, steps };
  }
  return { alpha, beta, basis: basis.slice(0, steps), residual: lastResidual, steps };
}

export interface RitzPair {
  readonly value: number;
  /** |β_m · s_m|: the residual norm ‖H y − θ y‖ of the Ritz pair in exact arithmetic. */
  readonly residualEstimate: number;
  /** Coefficients of the Ritz vector in the Lanczos basis. */
  readonly coefficients: number[];
}

/** Ritz values of a Lanczos run in descending order, with their residual estimates. */
export function ritzPairs(run: LanczosRun): RitzPair[] {
  const m = run.alpha.length;
  const { values, vectors } = tridiagonalEigen(run.alpha, run.beta.slice(0, m - 1));
  const lastBeta = run.beta[m - 1] ?? 0;
  return values
    .map((value, j) => ({
      value,
      residualEstimate: Math.abs(lastBeta * vectors[m - 1][j]),
      coefficients: vectors.map((row) => row[j]),
    }))
    .reverse();
}

/** Σ_j c_j q_j: a Ritz vector from its basis coefficients. */
export function combineBasis(basis: readonly ParameterVector[], coefficients: readonly number[]): ParameterVector {
  return tf.tidy(() => basis[0].map((_, i) => tf.addN(basis.map((q, j) => tf.mul(q[i], coefficients[j])))));
}
