import type { ParameterInfo } from '../model/network';
import type { SeededRandom } from '../numeric/random';
import type { BlockEigenvalueEntry } from '../../protocol/report';
import { lanczosInLockstep, ritzPairs } from './lanczos';
import { hessianOperator, type HessianInput } from './hessianOperator';

export interface BlockEigenvalueOptions {
  /** Lanczos steps per weight tensor at most (a tensor with fewer entries needs no more than its size). */
  readonly maxSteps: number;
  /** Stop a tensor's run when its top Ritz pair has estimated residual ≤ tolerance·|θ|. */
  readonly tolerance: number;
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: (fraction: number) => void;
}

/**
 * The largest eigenvalue of each weight tensor's diagonal Hessian block H_kk (the per-layer view of
 * the spectrum), by Lanczos on v_k ↦ (H [0 … v_k … 0])_k. The start vector of tensor k is drawn
 * from a stream named by its position and size, so an α-scaled copy (H_kk → H_kk/α²) runs the same
 * recurrence scaled and reports exactly λ/α². The tensors' runs advance together, one block of
 * products per step, or one restricted product per tensor where the operator has them (the R-pass
 * of a direction in tensor k skips every layer before k).
 */
export async function blockTopEigenvalues(hessian: HessianInput, parameters: readonly ParameterInfo[], options: BlockEigenvalueOptions): Promise<BlockEigenvalueEntry[]> {
  const operator = hessianOperator(hessian, parameters);
  const stepsOf = parameters.map((p) => Math.min(p.size, options.maxSteps));
  const done = parameters.map(() => 0);
  const totalSteps = stepsOf.reduce((a, b) => a + b, 0) || 1;
  const restricted = (vectors: readonly Float32Array[], runs: readonly number[]): Float32Array[] => {
    // Each run is one tensor's: an executor multiplies it by that tensor's block alone.
    if (operator.restrictedProducts) return vectors.map((v, i) => operator.restrictedProducts!(runs[i], [v])[0]);
    const full = vectors.map((v, i) => {
      const padded = new Float32Array(operator.dimension);
      padded.set(v, parameters[runs[i]].offset);
      return padded;
    });
    return operator.products(full).map((product, i) => {
      const p = parameters[runs[i]];
      return product.slice(p.offset, p.offset + p.size);
    });
  };
  const runs = await lanczosInLockstep(
    restricted,
    parameters.map((p, k) => ({
      start: options.random.fork(`block-eigenvalue:${k}:${p.size}`).normals(p.size),
      steps: stepsOf[k],
      keepBasis: false,
      onStep: (step: number, alpha: readonly number[], beta: readonly number[]) => {
        let converged = false;
        if (step >= 2) {
          const top = ritzPairs({ alpha: [...alpha], beta: [...beta], steps: step })[0];
          converged = top.residualEstimate <= options.tolerance * Math.max(Math.abs(top.value), 1e-12);
        }
        // A run that stops early counts as done, so the bar ends full however early they stop.
        done[k] = converged ? stepsOf[k] : step;
        options.onProgress?.(done.reduce((a, b) => a + b, 0) / totalSteps);
        return converged;
      },
    })),
    options.signal,
    operator.projections,
  );
  return parameters.map((p, k) => {
    const top = ritzPairs(runs[k])[0];
    return { layer: p.layer, weight: p.role, name: p.name, size: p.size, value: top.value, relativeResidual: top.residualEstimate / Math.max(Math.abs(top.value), 1e-30), steps: runs[k].steps };
  });
}
