/**
 * The requests the CLI parses and the extension sends to the analyzer process: plain data, shared by
 * both sides, so the host never imports the engine to build one.
 */
import type { AnalysisSettings, LossKind, MetricName } from './report';

/** How to read a data set file. */
export interface LoadDatasetOptions {
  /** CSV: which column holds the label: 0-based index (negative counts from the end), 'first' or 'last' (default). */
  readonly labelColumn?: number | 'first' | 'last';
  /** CSV: whether the first row is a header. Detected when not given. */
  readonly header?: boolean;
  /** npz/JSON: name of the inputs array; for a .npy file, not used. */
  readonly inputKey?: string;
  /** npz/JSON: name of the labels array; for a .npy file, the labels file is `<labelKey>.npy` beside it. */
  readonly labelKey?: string;
  /** IDX: divide uint8 images by 255, as MNIST-style training code does (default true). */
  readonly scale?: boolean;
}

/**
 * What runs the Hessian-vector products: ONNX Runtime's native engine, or tfjs on native TensorFlow,
 * WebAssembly or plain JavaScript; auto picks ONNX Runtime when its binary loads, else tfjs.
 */
export type BackendChoice = 'auto' | 'onnxruntime' | 'tensorflow' | 'wasm' | 'cpu';

/** Where ONNX Runtime runs: the CPU, or an NVIDIA GPU through its CUDA execution provider. */
export type DeviceChoice = 'cpu' | 'cuda';

/** Rescale one factor per layer (the α-scale of Dinh et al.) or one per unit or channel. */
export type Granularity = 'layer' | 'unit';

/** Everything needed to analyze one checkpoint file: what the CLI parses and the extension sends. */
export interface AnalysisRequest {
  readonly checkpoint: string;
  /** For a weights-only checkpoint: the file holding its architecture (else looked for next to it). */
  readonly architecture?: string;
  /** Data set file; without one the data-free mode is used. */
  readonly data?: string;
  readonly dataOptions?: LoadDatasetOptions;
  readonly loss?: LossKind;
  /** Use the first N samples (all when absent). */
  readonly samples?: number;
  /** Probe inputs in the data-free mode. */
  readonly probeSamples?: number;
  readonly seed?: number;
  readonly metrics?: readonly MetricName[];
  readonly settings?: DeepPartial<AnalysisSettings>;
  readonly backend?: BackendChoice;
  /** ONNX Runtime's threads (default: every core). */
  readonly threads?: number;
  readonly device?: DeviceChoice;
  /** Per-sample input shape (channels-last) for inputs whose dimensions the file leaves open. */
  readonly inputShape?: readonly number[];
  /** Analyze a checkpoint even when some weights are NaN or infinite (refused by default). */
  readonly allowNonFinite?: boolean;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export type InputRequest = Pick<AnalysisRequest, 'checkpoint' | 'architecture' | 'data' | 'dataOptions' | 'loss' | 'samples' | 'probeSamples' | 'seed' | 'backend' | 'threads' | 'device' | 'inputShape' | 'allowNonFinite'>;

export type RescaleMode = 'flatten' | 'sharpen' | 'alpha';

export type RescaleObjective = 'trace' | 'lambda-max';

export interface RescaleRequest extends InputRequest {
  readonly mode: RescaleMode;
  /** sharpen: the trace (or λ_max) of the result is at least this many times the original's. */
  readonly factor?: number;
  /** alpha: per rescalable layer, the factor its kernel is multiplied by (product 1 along a chain). */
  readonly alphas?: readonly number[];
  readonly granularity?: Granularity;
  readonly objective?: RescaleObjective;
  /** Hutchinson probes per group (layer granularity) or in all (unit granularity). */
  readonly traceSamples?: number;
  /** Largest accepted max |Δ output| / max |output| before writing. */
  readonly tolerance?: number;
}
