import * as tf from '@tensorflow/tfjs-core';
import type { ParameterInfo } from '../model/network';
import type { SeededRandom } from '../numeric/random';
import type { BlockEigenvalueEntry } from '../../protocol/report';
import { lanczos, ritzPairs, type HessianVectorProduct } from './lanczos';
import { disposeVector, type ParameterVector } from './vectors';

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
 * recurrence scaled and reports exactly λ/α².
 */
export async function blockTopEigenvalues(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], options: BlockEigenvalueOptions): Promise<BlockEigenvalueEntry[]> {
  const entries: BlockEigenvalueEntry[] = [];
  for (const [k, p] of parameters.entries()) {
    const restricted: HessianVectorProduct = (v) => {
      const full = parameters.map((q, i) => (i === k ? v[0] : tf.zeros([...q.shape])));
      const product = hvp(full);
      parameters.forEach((_, i) => {
        if (i !== k) full[i].dispose();
      });
      const block = product[k];
      product.forEach((t, i) => {
        if (i !== k) t.dispose();
      });
      return [block];
    };
    const steps = Math.min(p.size, options.maxSteps);
    const start: ParameterVector = [tf.tensor(options.random.fork(`block-eigenvalue:${k}:${p.size}`).normals(p.size), [...p.shape])];
    const run = await lanczos(restricted, start, {
      steps,
      keepBasis: false,
      signal: options.signal,
      onStep: (step, alpha, beta) => {
        options.onProgress?.((k + step / steps) / parameters.length);
        if (step < 2) return false;
        const top = ritzPairs({ alpha: [...alpha], beta: [...beta], steps: step })[0];
        return top.residualEstimate <= options.tolerance * Math.max(Math.abs(top.value), 1e-12);
      },
    }).finally(() => disposeVector(start));
    const top = ritzPairs(run)[0];
    entries.push({ layer: p.layer, weight: p.role, name: p.name, size: p.size, value: top.value, relativeResidual: top.residualEstimate / Math.max(Math.abs(top.value), 1e-30), steps: run.steps });
  }
  return entries;
}
