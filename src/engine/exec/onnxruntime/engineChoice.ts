/**
 * Chooses what runs the objective's Hessian-vector products: ONNX Runtime when asked or, for auto,
 * when its native binary loads and it has a rule for every layer; else tfjs (the caller's fallback).
 */
import type { ModelSpec } from '../../model/spec';
import type { BackendChoice, DeviceChoice } from '../../../protocol/requests';
import type { ExecutorFactory } from '../objectiveExecutor';
import { onnxExecutorFactory } from './executorFactory';
import { onnxGramProducts } from './gramProducts';
import type { GramProductFactory } from '../matrixProducts';
import { unsupportedByOnnxRuntime } from './objectiveGraph';
import { defaultThreads, onnxRuntime, probeDevice } from './runtime';

export interface EngineChoice {
  /** Set when ONNX Runtime runs the products; undefined: tfjs does. */
  readonly executorFactory?: ExecutorFactory;
  /** Set with `executorFactory`: large kernels' spectral norms run on ONNX Runtime too. */
  readonly gramProducts?: GramProductFactory;
  readonly device?: DeviceChoice;
  readonly threads?: number;
  /** Why ONNX Runtime was not used, for auto. */
  readonly note?: string;
}

export class EngineUnavailable extends Error {}

export function chooseEngine(choice: BackendChoice, model: ModelSpec, options: { threads?: number; device?: DeviceChoice }): EngineChoice {
  const device = options.device ?? 'cpu';
  const wantsOnnx = choice === 'onnxruntime' || choice === 'auto';
  if (!wantsOnnx) {
    if (device !== 'cpu') throw new EngineUnavailable(`--device ${device} needs the onnxruntime backend (got --backend ${choice})`);
    return {};
  }
  const runtime = onnxRuntime();
  const unsupported = typeof runtime === 'string' ? runtime : unsupportedByOnnxRuntime(model);
  if (unsupported !== undefined) {
    if (choice === 'onnxruntime' || device !== 'cpu') throw new EngineUnavailable(`${unsupported}; use --backend wasm`);
    return { note: unsupported };
  }
  const problem = probeDevice(device);
  if (problem) throw new EngineUnavailable(problem);
  const threads = options.threads && options.threads > 0 ? options.threads : defaultThreads();
  return { executorFactory: onnxExecutorFactory({ threads, device }), gramProducts: onnxGramProducts({ threads }), device, threads };
}
