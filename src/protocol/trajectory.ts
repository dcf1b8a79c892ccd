/**
 * The trajectory report: the analysis of every checkpoint of one training run, ordered by step, and a
 * summary of the series. What `flatness trajectory --json` writes and the training-run panel draws.
 * Field names are a public contract (see README "Training runs").
 */
import type { FlatnessReport } from './report';

/** Checkpoints of one run: files whose paths differ only by a step (or epoch) number. */
export interface TrainingRunSeries {
  /** The folder the paths are relative to. */
  readonly root: string;
  /** The path with the step number replaced by `{step}`, e.g. `epoch_{step}/model.json`. */
  readonly pattern: string;
  /** What the number counts, from the word before it: `step`, `epoch`, or `number` when no word says. */
  readonly counts: 'step' | 'epoch' | 'number';
  /** The checkpoints in step order. */
  readonly checkpoints: readonly { readonly step: number; readonly path: string }[];
  /** Files of the run named without a number (`latest`, `best`, `final`): listed, not in the series. */
  readonly aliases: readonly string[];
}

/** The numbers a point contributes to the series, taken from its report. */
export interface PointMeasures {
  /** Largest Hessian eigenvalue λ₁. */
  readonly lambdaMax?: number;
  readonly trace?: number;
  readonly traceStderr?: number;
  /** ε-sharpness, full space. */
  readonly sharpness?: number;
  /** log of the volume of the ε-flat region (larger is flatter). */
  readonly logVolume?: number;
  /** min over layer rescalings of the Hessian trace: the same for every equivalent network. */
  readonly minTrace?: number;
  /** Adaptive (ASAM) sharpness: invariant to per-weight rescaling. */
  readonly adaptiveSharpness?: number;
  readonly fisherRaoNorm?: number;
}

export type MeasureName = keyof Omit<PointMeasures, 'traceStderr'>;

/** The measures correlated with the generalization gap, and whether an equivalent rescaling can move each. */
export const trajectoryMeasures: readonly { readonly name: MeasureName; readonly label: string; readonly invariant: boolean }[] = [
  { name: 'lambdaMax', label: 'λ₁ (top eigenvalue)', invariant: false },
  { name: 'trace', label: 'Hessian trace', invariant: false },
  { name: 'sharpness', label: 'ε-sharpness', invariant: false },
  { name: 'logVolume', label: 'log ε-flat volume', invariant: false },
  { name: 'minTrace', label: 'min trace over layer scalings', invariant: true },
  { name: 'adaptiveSharpness', label: 'adaptive sharpness (ASAM)', invariant: true },
  { name: 'fisherRaoNorm', label: 'Fisher–Rao norm', invariant: true },
];

export interface LossAndAccuracy {
  readonly loss: number;
  readonly accuracy: number | null;
}

export interface TrajectoryPoint {
  readonly step: number;
  readonly checkpoint: string;
  readonly status: 'done' | 'failed' | 'pending';
  /** Why the analysis failed (status 'failed'). */
  readonly error?: string;
  /** SHA-256 of the checkpoint's named file, as in its report. */
  readonly sha256?: string;
  /**
   * SHA-256 over every file of the checkpoint (model.json and its shards, external data, the
   * architecture file): a later trajectory reuses the point only while this is unchanged.
   */
  readonly contentHash?: string;
  /** Loss and accuracy on the analysis data (the training set). */
  readonly train?: LossAndAccuracy;
  /** Loss and accuracy on the held-out set, when one is given. */
  readonly test?: LossAndAccuracy;
  /** test loss − train loss, and train accuracy − test accuracy. */
  readonly gap?: { readonly loss: number; readonly accuracy: number | null };
  readonly measures?: PointMeasures;
  /** The learning rate stored in this checkpoint's training config, if any. */
  readonly learningRate?: number;
  /** The full per-checkpoint report. */
  readonly report?: FlatnessReport;
}

/** Kendall's τ-b of one measure against the generalization gap over the run's steps (Jiang et al. 2020). */
export interface MeasureCorrelation {
  readonly measure: MeasureName;
  readonly label: string;
  /** True when an observationally equivalent rescaling cannot change the measure. */
  readonly invariant: boolean;
  /** τ against the loss gap; null with fewer than two points or a constant series. */
  readonly tauLossGap: number | null;
  /** τ against the accuracy gap; null when accuracies are unknown. */
  readonly tauAccuracyGap: number | null;
  /** τ against the step: does the measure rise (progressive sharpening) or fall over training. */
  readonly tauStep: number | null;
  readonly points: number;
}

export interface TrajectorySummary {
  readonly analyzed: number;
  readonly failed: number;
  readonly pending: number;
  /** 2/η, the edge-of-stability threshold of λ₁ for (full-batch) gradient descent, when η is known. */
  readonly edgeOfStability: number | null;
  /** λ₁ of the last analyzed point divided by 2/η. */
  readonly lastLambdaOverEdge: number | null;
  readonly correlations: readonly MeasureCorrelation[];
}

export interface TrajectoryReport {
  readonly schemaVersion: 1;
  readonly kind: 'trajectory';
  readonly tool: { readonly name: 'flatness-lens'; readonly version: string };
  readonly series: TrainingRunSeries;
  readonly seed: number;
  readonly data: { readonly train: string | null; readonly test: string | null };
  readonly learningRate: { readonly value: number; readonly from: 'option' | 'training config' } | null;
  /** Identifies the analysis settings: points are reused from an earlier run of the same key. */
  readonly requestKey: string;
  readonly points: readonly TrajectoryPoint[];
  readonly summary: TrajectorySummary;
}

export function isTrajectoryReport(value: unknown): value is TrajectoryReport {
  if (typeof value !== 'object' || value === null) return false;
  const r = value as Record<string, unknown>;
  return r.kind === 'trajectory' && r.schemaVersion === 1 && Array.isArray(r.points) && typeof r.series === 'object' && r.series !== null;
}
