/**
 * Shared by the calibration tests: a small Dense ReLU network whose Hessian is known exactly in
 * float64 (test/reference/mlpHessian.ts), the engine's Hessian-vector product on it, and z-score
 * summaries. An error bar is honest when (estimate − exact)/stderr over many seeds looks standard
 * normal: mean near 0 and about 95% within ±2.
 */
import type { Dataset } from '../../src/engine/data/dataset';
import type { ParameterInfo } from '../../src/engine/model/network';
import { NetworkFunction } from '../../src/engine/model/network';
import { Objective } from '../../src/engine/analysis/objective';
import type { ParameterVector } from '../../src/engine/analysis/vectors';
import { mlpHessian, mlpProblem, mlpTheta } from '../reference/mlpHessian';
import { symmetricEigenvalues } from '../reference/symmetricEigen';
import { TinyModelBuilder, randomClassTargets, randomInputs, type TinyCheckpoint } from '../reference/tinyModels';

export interface ExactModel {
  readonly checkpoint: TinyCheckpoint;
  readonly parameters: readonly ParameterInfo[];
  readonly hvp: (v: ParameterVector) => ParameterVector;
  readonly n: number;
  /** Row-major float64 Hessian. */
  readonly hessian: Float64Array;
  readonly trace: number;
  readonly blockTraces: number[];
  /** Ascending. */
  readonly eigenvalues: Float64Array;
  readonly hvpCount: () => number;
  dispose(): void;
}

/** A softmax classifier with ReLU hidden layers and biases, on seeded random data. */
export function exactReluMlp(sizes: readonly number[], count: number, seed: number, checkpoint?: TinyCheckpoint): ExactModel {
  const tiny = checkpoint ?? buildMlp(sizes, seed);
  const inputs = randomInputs([sizes[0]], count, seed + 1);
  const targets = randomClassTargets(count, sizes[sizes.length - 1], seed + 2);
  const problem = mlpProblem(tiny, inputs, count, targets, 'ce');
  const n = problem.parameterCount;
  const hessian = mlpHessian(problem, mlpTheta(tiny));
  let trace = 0;
  for (let i = 0; i < n; i++) trace += hessian[i * n + i];
  const blockTraces: number[] = [];
  let offset = 0;
  for (const w of tiny.weights) {
    let t = 0;
    for (let i = offset; i < offset + w.values.length; i++) t += hessian[i * n + i];
    blockTraces.push(t);
    offset += w.values.length;
  }
  const network = new NetworkFunction({ path: '<calibration>', format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } });
  const dataset: Dataset = { source: 'seeded', count, sampleShape: [sizes[0]], inputs, targets };
  const objective = new Objective(network, dataset, 'ce');
  return {
    checkpoint: tiny,
    parameters: network.parameters,
    hvp: (v) => objective.hessianVectorProduct(v),
    n,
    hessian,
    trace,
    blockTraces,
    eigenvalues: symmetricEigenvalues(hessian, n),
    hvpCount: () => objective.hvpCount,
    dispose: () => {
      objective.dispose();
      network.dispose();
    },
  };
}

export function buildMlp(sizes: readonly number[], seed: number): TinyCheckpoint {
  const b = new TinyModelBuilder([sizes[0]], seed);
  for (let i = 1; i < sizes.length; i++) b.dense(sizes[i - 1], sizes[i], i === sizes.length - 1 ? 'softmax' : 'relu', { useBias: true });
  return b.build();
}

export interface ZSummary {
  readonly mean: number;
  readonly within2: number;
  readonly count: number;
  readonly text: string;
}

export function zSummary(z: readonly number[]): ZSummary {
  const mean = z.reduce((a, b) => a + b, 0) / z.length;
  const within2 = z.filter((x) => Math.abs(x) <= 2).length / z.length;
  return { mean, within2, count: z.length, text: `mean z ${mean.toFixed(2)}, ${(within2 * 100).toFixed(0)}% within ±2 over ${z.length}` };
}
