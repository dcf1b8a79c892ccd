import type { ExecutorFactory } from '../objectiveExecutor';
import { OnnxObjectiveExecutor } from './objectiveExecutor';
import type { RuntimeOptions } from './runtime';

/** Objectives built with this factory run loss, gradient and Hessian-vector products on ONNX Runtime. */
export function onnxExecutorFactory(options: RuntimeOptions): ExecutorFactory {
  return (network, loss, batches, datasetCount) => new OnnxObjectiveExecutor(network, loss, batches, datasetCount, options);
}
