import { disposeKrylov, hessianTopEigenvalues } from '../src/engine/analysis/eigenvalues';
import { deflatedTrace } from '../src/engine/analysis/deflatedTrace';
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
}

/**
 * The trace three ways at the same number of Hessian-vector products: the deflated estimator with
 * the default settings (its Lanczos run included), then plain Hutchinson over all parameters and
 * Hutchinson per weight tensor with that many products. Without an exact trace for these networks,
 * the comparison is by standard error; each estimate lies within its own error bars of the others.
 */
export async function compareTraceEstimators(objective: Objective, seed: number): Promise<EstimatorResult[]> {
  const hvp = (v: ParameterVector) => objective.hessianVectorProduct(v);
  const random = new SeededRandom(seed);
  const start = objective.hvpCount;
  const eigen = await hessianTopEigenvalues(hvp, objective.parameters, { ...defaultSettings.eigenvalues, keepKrylov: true, random: random.fork('eigenvalues') });
  disposeVector(eigen.topVector);
  const trace = await deflatedTrace(hvp, objective.parameters, eigen.krylov, { tolerance: defaultSettings.trace.tolerance, maxProbes: defaultSettings.trace.samples, minProbes: 10, random: random.fork('trace') }).finally(() => disposeKrylov(eigen.krylov));
  const budget = objective.hvpCount - start;
  const row = (estimator: string, products: number, estimate: number, stderr: number): EstimatorResult => ({ estimator, products, estimate, stderr, relativeStderr: stderr / Math.abs(estimate) });
  const results = [row(`deflated (${eigen.lanczosSteps} Lanczos steps + ${trace.probes} probes)`, budget, trace.estimate, trace.stderr)];
  const before = objective.hvpCount;
  const joint = await hessianTrace(hvp, objective.parameters, { samples: budget, maxBlocksForBlockProbes: 0, random: random.fork('trace:plain') });
  results.push(row('plain Hutchinson, all parameters', objective.hvpCount - before, joint.estimate, joint.stderr));
  const perTensor = Math.max(2, Math.floor(budget / objective.parameters.length));
  const middle = objective.hvpCount;
  const blocks = await hessianTrace(hvp, objective.parameters, { samples: perTensor, maxBlocksForBlockProbes: Number.POSITIVE_INFINITY, random: random.fork('trace:blocks') });
  results.push(row(`Hutchinson per weight tensor (${perTensor} probes each)`, objective.hvpCount - middle, blocks.estimate, blocks.stderr));
  return results;
}
