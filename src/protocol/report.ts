/**
 * The analysis report: what `flatness analyze --json` writes, what the analyzer process sends to the
 * extension and what the webview draws. Field names are a public contract (see README "Report").
 */

export const metricNames = ['loss', 'eigenvalues', 'trace', 'density', 'sharpness', 'volume', 'landscape', 'invariant'] as const;
export type MetricName = (typeof metricNames)[number];

export type LossKind = 'ce' | 'bce' | 'mse';

export interface AnalysisSettings {
  /** `blockMaxSteps`: Lanczos steps per weight tensor for its block's top eigenvalue (0: none). */
  readonly eigenvalues: { readonly count: number; readonly maxSteps: number; readonly tolerance: number; readonly blockMaxSteps: number };
  /**
   * `samples`: at most this many probes of the deflated estimator (one Hessian-vector product each);
   * `tolerance`: it stops once its standard error is at most this fraction of the trace;
   * `blockSamples`: Hutchinson probes per weight tensor for the α-orbit's trace terms (invariant).
   */
  readonly trace: { readonly samples: number; readonly tolerance: number; readonly blockSamples: number; readonly maxBlocksForBlockProbes: number };
  readonly density: { readonly runs: number; readonly steps: number };
  readonly sharpness: { readonly epsilon: number; readonly subspaceDim: number; readonly iterations: number; readonly restarts: number };
  readonly volume: { readonly epsilon: number; readonly directions: number; readonly cap: number; readonly bisections: number };
  readonly landscape: { readonly radius: number; readonly points: number; readonly surfacePoints: number };
  readonly invariant: { readonly asamRho: number; readonly asamEta: number };
  /** Samples per batch when evaluating; bounds memory, does not change any number. */
  readonly batchSize: number;
}

export const defaultSettings: AnalysisSettings = {
  eigenvalues: { count: 5, maxSteps: 60, tolerance: 1e-3, blockMaxSteps: 20 },
  trace: { samples: 200, tolerance: 0.01, blockSamples: 30, maxBlocksForBlockProbes: 40 },
  density: { runs: 3, steps: 40 },
  sharpness: { epsilon: 0.05, subspaceDim: 20, iterations: 10, restarts: 2 },
  volume: { epsilon: 0.1, directions: 10, cap: 1000, bisections: 12 },
  landscape: { radius: 1, points: 25, surfacePoints: 13 },
  invariant: { asamRho: 0.05, asamEta: 0.01 },
  batchSize: 1024,
};

export interface BlockTraceEntry {
  readonly layer: string;
  /** The weight's role in its layer: kernel, bias, gamma, ... */
  readonly weight: string;
  readonly name: string;
  readonly size: number;
  /** Tr H_kk: the trace of the Hessian block of this weight tensor. */
  readonly trace: number;
  readonly stderr: number;
  /** True when computed exactly with unit vectors (blocks no larger than the probe count). */
  readonly exact: boolean;
}

/**
 * The Hessian trace. `method` names the estimator: `exact` (piecewise-linear networks: the
 * Hessian's diagonal is the Gauss–Newton matrix's, summed in closed form, see
 * src/engine/exec/onnxruntime/exactTraceGraph.ts; stderr 0), `deflated` (the exact trace on the Lanczos basis
 * plus Hutchinson probes of its complement, see analysis/deflatedTrace.ts); `blocks` and `joint` are
 * plain Hutchinson (per weight tensor, or over all parameters) in reports of older versions.
 */
export interface TraceReport {
  readonly estimate: number;
  /** One standard error of `estimate` (0 when exact). */
  readonly stderr: number;
  /** Probes: of the complement for `deflated`, per weight tensor for `blocks`, in all for `joint`. */
  readonly samples: number;
  readonly method: 'exact' | 'deflated' | 'blocks' | 'joint';
  /** Why the trace was estimated rather than computed exactly (method `deflated`). */
  readonly exactUnavailable?: string;
  /** Hessian-vector products the trace used beyond the eigenvalues' Lanczos run. */
  readonly products?: number;
  /** The requested relative standard error and whether it was reached within `settings.trace.samples` probes. */
  readonly tolerance?: number;
  readonly reachedTolerance?: boolean;
  /** The Krylov space taken out exactly: its dimension and the trace on it. */
  readonly deflation?: { readonly dimensions: number; readonly trace: number };
}

/** The largest eigenvalue of one weight tensor's diagonal Hessian block H_kk (analysis/blockEigenvalues.ts). */
export interface BlockEigenvalueEntry {
  readonly layer: string;
  readonly weight: string;
  readonly name: string;
  readonly size: number;
  readonly value: number;
  /** Lanczos' estimate of ‖H_kk y − θy‖/|θ|. */
  readonly relativeResidual: number;
  /** Lanczos steps, one Hessian-vector product each. */
  readonly steps: number;
}

/** Volume ε-flatness as reported (see analysis/volume.ts for the estimator). */
export interface VolumeFlatnessEntry {
  readonly epsilon: number;
  readonly directions: number;
  readonly cap: number;
  /** Radius along each direction where the loss first exceeds L + ε (the cap when it never does). */
  readonly radii: number[];
  readonly radiusMin: number;
  readonly radiusMedian: number;
  readonly radiusMax: number;
  /** Fraction of directions along which the loss never left the ε-band up to the cap. */
  readonly escapedFraction: number;
  /**
   * log of the estimated volume of the ε-flat region around θ, seen as star-shaped:
   * Vol = V_n(1)·E_d[r(d)ⁿ]. A lower bound when directions reach the cap.
   */
  readonly logVolume: number;
  /**
   * Standard error of logVolume over the random directions, from a normal model of n·log r that also
   * counts the long radii a few directions miss (see analysis/volume.ts); absent with one direction.
   * It does not cover radii stopped at the cap, where logVolume is a lower bound.
   */
  readonly logVolumeStderr?: number;
}

export interface SliceEntry {
  readonly direction: string;
  readonly steps: number[];
  readonly loss: number[];
  readonly quadratic?: number[];
}

/** Data-free statistics of one stored weight tensor. */
export interface TensorStatistics {
  readonly name: string;
  readonly layer?: string;
  /** Element type as stored, for weights-only files. */
  readonly dtype?: string;
  readonly shape: readonly number[];
  readonly count: number;
  /** NaN or infinite values; the other statistics are over the finite ones. */
  readonly nonFinite: number;
  readonly mean: number;
  readonly std: number;
  readonly maxAbs: number;
  /** Euclidean (Frobenius) norm. */
  readonly l2Norm: number;
  /**
   * For tensors of rank ≥ 2 without non-finite values: the kernel as an outputs × inputs matrix
   * (a convolution's inputs are in-channels × kernel positions), its largest singular value, and
   * its stable rank ‖W‖²_F / ‖W‖²₂.
   */
  readonly matrix?: {
    readonly rows: number;
    readonly cols: number;
    readonly spectralNorm: number;
    readonly stableRank: number;
    readonly converged: boolean;
    readonly iterations: number;
  };
}

export interface ReportCheckpoint {
  readonly path: string;
  readonly format: string;
  readonly parameters: number;
  readonly layers: number;
  readonly sha256: string;
  readonly notes: readonly string[];
  /** The file the architecture came from, when the checkpoint file holds weights only. */
  readonly architecture?: string;
  /** "3 Dense layers (6 weight tensors)": the layers that hold weights, by kind. */
  readonly layerSummary?: string;
  /** The optimizer's learning rate η stored in the file's training config, if any. */
  readonly trainingLearningRate?: number;
  /** Where a checkpoint written by Rescale came from, as stored in the file. */
  readonly provenance?: RescaleProvenance;
}

/** The record a rescaled checkpoint carries: the original, the factors and the equivalence proof. */
export interface RescaleProvenance {
  /** The original checkpoint, relative to this checkpoint's folder. */
  readonly source: string;
  readonly sourceSha256?: string;
  readonly mode: string;
  readonly objective?: string;
  readonly granularity?: string;
  readonly factors: readonly { readonly layer: string; readonly alpha?: number; readonly unitScaleMin?: number; readonly unitScaleMax?: number }[];
  /** max |f_original(x) − f_rescaled(x)| / max |f_original(x)| on `samples` inputs. */
  readonly maxOutputDeviation?: number;
  readonly samples?: number;
  /** The inputs used for the check, relative to this checkpoint's folder (or "data-free probes"). */
  readonly data?: string;
}

export interface FlatnessReport {
  readonly schemaVersion: 1;
  readonly kind?: 'flatness';
  readonly tool: {
    readonly name: 'flatness-lens';
    readonly version: string;
    readonly backend: string;
    /** Where the Hessian-vector products ran and on how many threads (ONNX Runtime only). */
    readonly device?: string;
    readonly threads?: number;
    /**
     * Peak resident memory of the process that ran the analysis, in bytes, up to the report's end
     * (the operating system's maximum resident set size: weights, data, activations and runtimes).
     */
    readonly peakMemoryBytes?: number;
  };
  readonly checkpoint: ReportCheckpoint;
  readonly data: {
    readonly source: string;
    readonly samples: number;
    readonly loss: LossKind;
    readonly lossDefinition: string;
    /** Where the loss came from: the --loss option, the file's training config, or the output layer. */
    readonly lossFrom: 'option' | 'training config' | 'output layer';
    readonly dataFree: boolean;
  };
  readonly seed: number;
  readonly metrics: readonly MetricName[];
  readonly settings: AnalysisSettings;
  readonly loss: number;
  readonly accuracy: number | null;
  readonly gradientNorm: number;
  readonly hessian: {
    readonly topEigenvalues?: number[];
    readonly eigenvalueResiduals?: number[];
    readonly lanczosSteps?: number;
    readonly trace?: TraceReport;
    readonly blockTraces?: BlockTraceEntry[];
    /** Top eigenvalue of each weight tensor's diagonal block. */
    readonly blockEigenvalues?: BlockEigenvalueEntry[];
    /** `reusedRuns` of the `runs` came from the eigenvalues' Lanczos run; `stepsPerRun` lists each run's steps. */
    readonly density?: { readonly nodes: number[]; readonly weights: number[]; readonly runs: number; readonly steps: number; readonly reusedRuns?: number; readonly stepsPerRun?: number[] };
    /** Hessian-vector products used by the whole analysis. */
    readonly hvps: number;
  };
  /**
   * Each value is the best of the restarts of a local search: a lower bound on the true maximum over
   * the ball, not an estimate with a symmetric error. The per-restart values (restart 0 starts along
   * the gradient, the others at random points) show how much the result depends on the start; their
   * spread is not a confidence interval for the true maximum.
   */
  readonly sharpness?: {
    readonly epsilon: number;
    readonly fullSpace: number;
    readonly fullSpaceRestarts?: number[];
    readonly subspace: { readonly dim: number; readonly value: number; readonly restartValues?: number[] };
    readonly iterations: number;
    readonly restarts: number;
  };
  readonly volumeFlatness?: VolumeFlatnessEntry;
  readonly landscape?: {
    readonly random: SliceEntry;
    readonly topEigenvector?: SliceEntry;
    readonly surface: { readonly direction: string; readonly steps: number[]; readonly loss: number[][] };
  };
  readonly invariant?: {
    readonly minTraceOverLayerScaling?: {
      readonly value: number | null;
      readonly current: number;
      readonly factors: readonly { readonly layer: string; readonly alpha: number }[];
      readonly degreesOfFreedom: number;
      readonly unbounded: boolean;
      readonly barriers: readonly { readonly layer: string; readonly reason: string }[];
      /**
       * The path from the network (t = 0) to the minimum (t = 1) in log-scale space: each term's trace
       * along it is trace·e^{−2t·logFactor}, and the total is their sum.
       */
      readonly path: readonly { readonly weight: string; readonly trace: number; readonly logFactor: number }[];
    };
    readonly adaptiveSharpness: { readonly rho: number; readonly eta: number; readonly value: number };
    readonly fisherRaoNorm: number;
  };
  /** Statistics of every weight tensor, in the engine's layout (absent in reports of older versions). */
  readonly tensors?: readonly TensorStatistics[];
  readonly timings: Readonly<Record<string, number>>;
}

/**
 * The report on a weights-only file (safetensors, PyTorch state dict, NumPy .npz) analyzed without
 * an architecture: statistics that need no data, and what is missing for the Hessian metrics.
 */
export interface WeightsReport {
  readonly schemaVersion: 1;
  readonly kind: 'weights';
  readonly tool: FlatnessReport['tool'];
  readonly checkpoint: Omit<ReportCheckpoint, 'layers' | 'architecture'>;
  readonly tensors: readonly TensorStatistics[];
  /** Why no Hessian metric was computed and how to supply the architecture. */
  readonly architectureMissing: string;
  readonly timings: Readonly<Record<string, number>>;
}

/** Every kind of report the analyzer produces. */
export type AnyReport = FlatnessReport | WeightsReport;

export function isWeightsReport(report: AnyReport): report is WeightsReport {
  return report.kind === 'weights';
}

export interface AnalysisProgress {
  /** The metric being computed. */
  readonly stage: MetricName | 'setup';
  /** Overall completion in [0, 1]; never goes back within one job. */
  readonly fraction: number;
  /** What the stage does, the same for all of its reports ("Hessian trace (Hutchinson)"). */
  readonly message: string;
  /** Where the stage is ("probe 12 of 180"), when it can say. */
  readonly detail?: string;
}

/** The message with its detail, as a progress line shows it. */
export function progressText(progress: AnalysisProgress): string {
  return progress.detail ? `${progress.message}: ${progress.detail}` : progress.message;
}
