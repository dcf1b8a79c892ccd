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
  /** Where the network fixes the scale (the symmetry analysis' barriers). */
  readonly barriers?: readonly RescaleBarrier[];
}

/** A layer that fixes the scale of its input, and why (not positively homogeneous, or branches that must agree). */
export interface RescaleBarrier {
  readonly layer: string;
  readonly reason: string;
}

/**
 * One line per distinct reason, most frequent first: "35 layers: ReLU6 (…) clips at a fixed value,
 * so it is not positively homogeneous ('/features/…/Clip', … and 32 more)". The reason is cut at
 * its first ': ' (what follows is the formula).
 */
export function summarizeBarriers(barriers: readonly RescaleBarrier[], namesShown = 3): string[] {
  const byReason = new Map<string, string[]>();
  for (const { layer, reason } of barriers) {
    const short = reason.split(': ')[0];
    byReason.set(short, [...(byReason.get(short) ?? []), layer]);
  }
  return [...byReason]
    .sort((a, b) => b[1].length - a[1].length)
    .map(([reason, layers]) => {
      const names = layers.slice(0, namesShown).map((l) => `'${l}'`).join(', ');
      const more = layers.length > namesShown ? ` and ${layers.length - namesShown} more` : '';
      return `${layers.length} layer${layers.length === 1 ? '' : 's'}: ${reason} (${names}${more})`;
    });
}
