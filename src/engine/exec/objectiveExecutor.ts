/**
 * The contract between the objective (src/engine/analysis/objective.ts) and an executor that runs its
 * loss, gradient and Hessian-vector products outside tfjs, on the same batches.
 */
import type { LossKind } from '../model/loss';
import type { NetworkFunction } from '../model/network';
import type { ProjectionRunner } from './matrixProducts';

/** Values are per weight tensor, row-major, as ParameterInfo lays them out. */
export interface ObjectiveExecutor {
  value(params: readonly Float32Array[]): number;
  /** Also the network's outputs per batch, [count, units] row-major, as the loss takes them (logits for ce and bce). */
  gradient(params: readonly Float32Array[]): ExecutorGradient;
  /** As `gradient`, one batch at a time with a pause after each, so that progress reports and a cancel get through. */
  gradientInTurns(params: readonly Float32Array[], onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<ExecutorGradient>;
  /** H vⱼ per direction and weight tensor; written into `into[j]` (one array per tensor) and returned, when given. */
  hessianVectorProducts(directions: readonly (readonly Float32Array[])[], params: readonly Float32Array[], into?: readonly (readonly Float32Array[])[]): Float32Array[][];
  /** H_kk vⱼ for directions of weight tensor k alone: cheaper than full products (no R-pass before the tensor). */
  restrictedHessianVectorProducts?(tensor: number, directions: readonly Float32Array[], params: readonly Float32Array[]): Float32Array[];
  /** Gram-Schmidt passes for the estimators, run where the products run. */
  readonly projections?: ProjectionRunner;
  /** Why this executor cannot give the Hessian trace exactly for this network, or undefined when it can. */
  exactTraceUnavailable?(): string | undefined;
  /** Each weight tensor's Tr H_kk (its diagonal block's trace), exact, one batch at a time with a pause after each. */
  exactBlockTraces?(params: readonly Float32Array[], onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<number[]>;
  dispose(): void;
}

export interface ExecutorGradient {
  readonly loss: number;
  readonly gradient: Float32Array[];
  readonly outputs: Float32Array[];
}

export interface ExecutorBatch {
  readonly inputs: Float32Array;
  readonly targets: Float32Array;
  readonly count: number;
}

export type ExecutorFactory = (network: NetworkFunction, loss: LossKind, batches: readonly ExecutorBatch[], datasetCount: number) => ObjectiveExecutor;
