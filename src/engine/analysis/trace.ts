import * as tf from '@tensorflow/tfjs-core';
import { countDetail, type StageProgress } from './progress';
import type { ParameterInfo } from '../model/network';
import { throwIfAborted } from '../../protocol/errors';
import type { BlockTraceEntry } from '../../protocol/report';
import type { HessianVectorProduct } from './lanczos';
import type { SeededRandom } from '../numeric/random';
import { disposeVector, type ParameterVector } from './vectors';


export interface TraceEstimate {
  readonly estimate: number;
  readonly stderr: number;
  /** Rademacher probes per weight tensor (or in all, for the joint method). */
  readonly samples: number;
  readonly method: 'blocks' | 'joint';
  readonly blocks: BlockTraceEntry[];
}

export interface TraceOptions {
  readonly samples: number;
  readonly random: SeededRandom;
  /** Above this many weight tensors, one joint probe serves all blocks (cheaper, noisier blocks). */
  readonly maxBlocksForBlockProbes: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

/**
 * Hutchinson's estimator Tr H = E[zᵀHz] with Rademacher z (Hutchinson 1989; PyHessian), run per
 * weight tensor: each probe is zero outside one block k, so zᵀHz = z_kᵀ H_kk z_k has no cross-block
 * noise, and an α-scaled copy of the network (H_kk → H_kk/α_k²) gets exactly the scaled estimate
 * from the same seed. Blocks with at most `samples` entries are summed exactly over unit vectors.
 */
export async function hessianTrace(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], options: TraceOptions): Promise<TraceEstimate> {
  if (parameters.length > options.maxBlocksForBlockProbes) return jointTrace(hvp, parameters, options);
  const total = parameters.reduce((n, p) => n + Math.min(p.size, options.samples), 0);
  let done = 0;
  const blocks: BlockTraceEntry[] = [];
  for (const [k, p] of parameters.entries()) {
    const exact = p.size <= options.samples;
    const random = options.random.fork(blockStreamLabel(k, p.size));
    const values: number[] = [];
    const probes = exact ? p.size : options.samples;
    for (let s = 0; s < probes; s++) {
      throwIfAborted(options.signal);
      const probe = new Float32Array(p.size);
      if (exact) probe[s] = 1;
      else probe.set(random.rademachers(p.size));
      const z = blockVector(parameters, k, probe);
      const hz = hvp(z);
      values.push(tf.tidy(() => tf.sum(tf.mul(hz[k], z[k])).dataSync()[0]));
      disposeVector(z);
      disposeVector(hz);
      done++;
      options.onProgress?.(done / total, countDetail('probe', done, total));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const { mean, stderr } = meanAndStderr(values);
    blocks.push({ layer: p.layer, weight: p.role, name: p.name, size: p.size, exact, trace: exact ? mean * p.size : mean, stderr: exact ? 0 : stderr });
  }
  const estimate = blocks.reduce((s, b) => s + b.trace, 0);
  const stderr = Math.sqrt(blocks.reduce((s, b) => s + b.stderr * b.stderr, 0));
  return { estimate, stderr, samples: options.samples, method: 'blocks', blocks };
}

async function jointTrace(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], options: TraceOptions): Promise<TraceEstimate> {
  const random = options.random.fork('trace:joint');
  const totals: number[] = [];
  const perBlock: number[][] = parameters.map(() => []);
  for (let s = 0; s < options.samples; s++) {
    throwIfAborted(options.signal);
    const z = parameters.map((p) => tf.tensor(random.rademachers(p.size), [...p.shape]));
    const hz = hvp(z);
    const parts = Array.from(tf.tidy(() => tf.stack(hz.map((t, i) => tf.sum(tf.mul(t, z[i])))).dataSync() as Float32Array));
    parts.forEach((v, i) => perBlock[i].push(v));
    totals.push(parts.reduce((a, b) => a + b, 0));
    disposeVector(z);
    disposeVector(hz);
    options.onProgress?.((s + 1) / options.samples, countDetail('probe', s + 1, options.samples));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const { mean, stderr } = meanAndStderr(totals);
  const blocks = parameters.map((p, i) => {
    const b = meanAndStderr(perBlock[i]);
    return { layer: p.layer, weight: p.role, name: p.name, size: p.size, exact: false, trace: b.mean, stderr: b.stderr };
  });
  return { estimate: mean, stderr, samples: options.samples, method: 'joint' as const, blocks };
}

function blockVector(parameters: readonly ParameterInfo[], k: number, values: Float32Array): ParameterVector {
  return parameters.map((p, i) => (i === k ? tf.tensor(values, [...p.shape]) : tf.zeros([...p.shape])));
}

/**
 * The probe stream of weight tensor k: by position and size, not name, so the same network saved
 * in another format (other weight names) gets the same probes, and so does every rescaled copy.
 */
export function blockStreamLabel(index: number, size: number): string {
  return `trace:${index}:${size}`;
}

export function meanAndStderr(values: readonly number[]): { mean: number; stderr: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { mean, stderr: 0 };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n) };
}
