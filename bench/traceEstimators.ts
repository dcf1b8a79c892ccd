import * as tf from '@tensorflow/tfjs-core';
import { disposeKrylov, hessianTopEigenvalues } from '../src/engine/analysis/eigenvalues';
import { deflatedTrace } from '../src/engine/analysis/deflatedTrace';
import { minimumTraceProbes } from '../src/engine/analysis/analyze';
import type { Objective } from '../src/engine/analysis/objective';
import { hessianTrace } from '../src/engine/analysis/trace';
import { disposeVector, type ParameterVector } from '../src/engine/analysis/vectors';
import { SeededRandom } from '../src/engine/numeric/random';
import { defaultSettings } from '../src/protocol/report';

export interface EstimatorResult {
  readonly estimator: string;
  readonly products: number;
  readonly estimate: number;
  readonly stderr: number;
  readonly relativeStderr: number;
  /** (estimate − exact)/exact, when the exact trace is known. */
  readonly relativeError?: number;
  /** (estimate − exact)/stderr: how many of its own error bars the estimate is off. */
  readonly errorInStderrs?: number;
  /** Products a run of this estimator would need for a 1% standard error, from its own variance (plain Hutchinson only). */
  readonly productsFor1Percent?: number;
}

/**
 * The trace three ways at the same number of Hessian-vector products: the deflated estimator with
 * the default settings (its Lanczos run included), then plain Hutchinson over all parameters and
 * Hutchinson per weight tensor with that many products. With the exact trace, each also gets its
 * actual error; without it, the comparison is by standard error.
 */
export async function compareTraceEstimators(objective: Objective, seed: number, exact?: number): Promise<EstimatorResult[]> {
  const hvp = (v: ParameterVector) => objective.hessianVectorProduct(v);
  const random = new SeededRandom(seed);
  const start = objective.hvpCount;
  const eigen = await hessianTopEigenvalues(objective.hessianOperator(), objective.parameters, { ...defaultSettings.eigenvalues, keepKrylov: true, random: random.fork('eigenvalues') });
  disposeVector(eigen.topVector);
  const trace = await deflatedTrace(objective.hessianOperator(), objective.parameters, eigen.krylov, { tolerance: defaultSettings.trace.tolerance, maxProbes: defaultSettings.trace.samples, minProbes: minimumTraceProbes, random: random.fork('trace') }).finally(() => disposeKrylov(eigen.krylov));
  const budget = objective.hvpCount - start;
  const row = (estimator: string, products: number, estimate: number, stderr: number): EstimatorResult => ({
    estimator, products, estimate, stderr, relativeStderr: stderr / Math.abs(estimate),
    ...(exact === undefined ? {} : { relativeError: (estimate - exact) / exact, errorInStderrs: stderr > 0 ? (estimate - exact) / stderr : undefined }),
  });
  const results = [row(`deflated (${eigen.lanczosSteps} Lanczos steps + ${trace.probes} probes)`, budget, trace.estimate, trace.stderr)];
  const before = objective.hvpCount;
  const joint = await hessianTrace(hvp, objective.parameters, { samples: budget, maxBlocksForBlockProbes: 0, random: random.fork('trace:plain') });
  const jointProducts = objective.hvpCount - before;
  // The standard error falls as 1/√probes: the probes' standard deviation is stderr·√probes.
  const productsFor1Percent = Math.ceil(((joint.stderr * Math.sqrt(jointProducts)) / (0.01 * Math.abs(joint.estimate))) ** 2);
  results.push({ ...row('plain Hutchinson, all parameters', jointProducts, joint.estimate, joint.stderr), productsFor1Percent });
  const perTensor = Math.max(2, Math.floor(budget / objective.parameters.length));
  const middle = objective.hvpCount;
  const blocks = await hessianTrace(hvp, objective.parameters, { samples: perTensor, maxBlocksForBlockProbes: Number.POSITIVE_INFINITY, random: random.fork('trace:blocks') });
  results.push(row(`Hutchinson per weight tensor (${perTensor} probes each)`, objective.hvpCount - middle, blocks.estimate, blocks.stderr));
  return results;
}

/** Tr H = Σᵢ eᵢᵀHeᵢ: one product per parameter, exact up to the products' float32 rounding. */
export function traceByUnitVectors(objective: Objective): number {
  const zeros = objective.parameters.map((p) => tf.zeros([...p.shape]));
  let trace = 0;
  try {
    objective.parameters.forEach((p, k) => {
      for (let j = 0; j < p.size; j++) {
        const unit = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(tf.tensor1d([j], 'int32'), p.size), 'float32'), [...p.shape]));
        const product = objective.hessianVectorProduct(zeros.map((z, i) => (i === k ? unit : z)));
        trace += (product[k].dataSync() as Float32Array)[j];
        disposeVector(product);
        unit.dispose();
      }
    });
  } finally {
    disposeVector(zeros);
  }
  return trace;
}
