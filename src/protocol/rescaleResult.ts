/** What a rescaling reports: `flatness rescale --json` and the analyzer's answer to a rescale job. */

export interface LayerFactor {
  readonly layer: string;
  /** The layer's kernel (or BatchNorm γ) is multiplied by this — the α of Dinh et al. — when uniform. */
  readonly alpha?: number;
  /** Range of the factors of its units' weights when they differ (unit granularity, mixed inputs). */
  readonly unitScaleMin?: number;
  readonly unitScaleMax?: number;
}

export interface CurvatureSummary {
  readonly trace: number;
  readonly traceStderr: number;
  readonly topEigenvalue: number;
}

/** The trace or top eigenvalue the optimizer expects after rescaling (checked by measuring). */
export interface PredictedCurvature {
  readonly trace?: number;
  readonly topEigenvalue?: number;
}

/** The inputs the outputs were compared on. */
export interface RescaleData {
  readonly source: string;
  readonly samples: number;
  readonly dataFree: boolean;
}

/** The JSON that `flatness rescale --json` writes. */
export interface RescaleReport {
  readonly source: string;
  readonly out: string;
  readonly files: string[];
  readonly mode: string;
  readonly objective: string;
  readonly granularity: string;
  readonly symmetry: string;
  readonly factors: LayerFactor[];
  readonly maxOutputDeviation: number;
  readonly before: CurvatureSummary;
  readonly after: CurvatureSummary;
  readonly predicted: PredictedCurvature;
  readonly data: RescaleData;
  readonly notes: string[];
}
