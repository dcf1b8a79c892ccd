import type { FlatnessReport } from '../../protocol/report';
import type { AnalysisRequest } from '../../protocol/requests';
import { toolVersion } from '../../protocol/version';
import { trajectoryMeasures, type LossAndAccuracy, type PointMeasures, type TrainingRunSeries, type TrajectoryPoint, type TrajectoryReport, type TrajectorySummary } from '../../protocol/trajectory';
import { kendallTauB } from './kendallTau';

/** The series numbers of one checkpoint's report. */
export function measuresOf(report: FlatnessReport): PointMeasures {
  const measures: Record<string, number> = {};
  const set = (name: keyof PointMeasures, value: number | null | undefined) => {
    if (typeof value === 'number' && Number.isFinite(value)) measures[name] = value;
  };
  set('lambdaMax', report.hessian.topEigenvalues?.[0]);
  set('trace', report.hessian.trace?.estimate);
  set('traceStderr', report.hessian.trace?.stderr);
  set('sharpness', report.sharpness?.fullSpace);
  set('logVolume', report.volumeFlatness?.logVolume);
  set('minTrace', report.invariant?.minTraceOverLayerScaling?.value);
  set('adaptiveSharpness', report.invariant?.adaptiveSharpness.value);
  set('fisherRaoNorm', report.invariant?.fisherRaoNorm);
  return measures as PointMeasures;
}

/** A finished point: the report's measures, train loss and accuracy, and the gap to the held-out set. */
export function pointFromReport(step: number, report: FlatnessReport, test?: LossAndAccuracy): TrajectoryPoint {
  const train = { loss: report.loss, accuracy: report.accuracy };
  const gap = test
    ? { loss: test.loss - train.loss, accuracy: test.accuracy === null || train.accuracy === null ? null : train.accuracy - test.accuracy }
    : undefined;
  return {
    step,
    checkpoint: report.checkpoint.path,
    status: 'done',
    sha256: report.checkpoint.sha256,
    train,
    ...(test ? { test, gap } : {}),
    measures: measuresOf(report),
    ...(report.checkpoint.trainingLearningRate !== undefined ? { learningRate: report.checkpoint.trainingLearningRate } : {}),
    report,
  };
}

/** Kendall's τ of each measure against the gaps and the step, and where λ₁ stands against 2/η. */
export function summarizeTrajectory(points: readonly TrajectoryPoint[], learningRate: number | undefined): TrajectorySummary {
  const done = points.filter((p) => p.status === 'done');
  const correlations = trajectoryMeasures.map(({ name, label, invariant }) => {
    const withMeasure = done.filter((p) => p.measures?.[name] !== undefined);
    const values = withMeasure.map((p) => p.measures![name]!);
    const lossGaps = withMeasure.map((p) => p.gap?.loss ?? Number.NaN);
    const accuracyGaps = withMeasure.map((p) => p.gap?.accuracy ?? Number.NaN);
    return {
      measure: name,
      label,
      invariant,
      tauLossGap: kendallTauB(values, lossGaps),
      tauAccuracyGap: kendallTauB(values, accuracyGaps),
      tauStep: kendallTauB(values, withMeasure.map((p) => p.step)),
      points: withMeasure.length,
    };
  });
  const edgeOfStability = learningRate !== undefined && learningRate > 0 ? 2 / learningRate : null;
  const lastLambda = [...done].reverse().find((p) => p.measures?.lambdaMax !== undefined)?.measures?.lambdaMax;
  return {
    analyzed: done.length,
    failed: points.filter((p) => p.status === 'failed').length,
    pending: points.filter((p) => p.status === 'pending').length,
    edgeOfStability,
    lastLambdaOverEdge: edgeOfStability !== null && lastLambda !== undefined ? lastLambda / edgeOfStability : null,
    correlations,
  };
}

/**
 * The order to analyze a run's checkpoints in: every `every`-th first (the first and the last
 * included), so the shape of the curves shows early, then the ones between.
 */
export function analysisOrder(count: number, every: number): number[] {
  if (every <= 1) return Array.from({ length: count }, (_, i) => i);
  const first = new Set<number>();
  for (let i = 0; i < count; i += every) first.add(i);
  if (count > 0) first.add(count - 1);
  const rest = Array.from({ length: count }, (_, i) => i).filter((i) => !first.has(i));
  return [...[...first].sort((a, b) => a - b), ...rest];
}

/** What a trajectory is of: the run, the analysis of each point, the held-out set and η if given. */
export interface TrajectoryDescription {
  readonly series: TrainingRunSeries;
  readonly request: Omit<AnalysisRequest, 'checkpoint'>;
  readonly testData?: string;
  readonly learningRate?: number;
}

/** What identifies the settings of a trajectory: equal keys, comparable points. */
export function trajectoryRequestKey(request: Omit<AnalysisRequest, 'checkpoint'>, testData: string | undefined): string {
  return JSON.stringify({ ...request, testData: testData ?? null });
}

function learningRateOf(points: readonly TrajectoryPoint[], option: number | undefined): TrajectoryReport['learningRate'] {
  if (option !== undefined) return { value: option, from: 'option' };
  const stored = points.find((p) => p.learningRate !== undefined)?.learningRate;
  return stored === undefined ? null : { value: stored, from: 'training config' };
}

export function assembleTrajectory(options: TrajectoryDescription, points: readonly TrajectoryPoint[]): TrajectoryReport {
  const learningRate = learningRateOf(points, options.learningRate);
  return {
    schemaVersion: 1,
    kind: 'trajectory',
    tool: { name: 'flatness-lens', version: toolVersion },
    series: options.series,
    seed: options.request.seed ?? 0,
    data: { train: options.request.data ?? null, test: options.testData ?? null },
    learningRate,
    requestKey: trajectoryRequestKey(options.request, options.testData),
    points: [...points],
    summary: summarizeTrajectory(points, learningRate?.value),
  };
}

