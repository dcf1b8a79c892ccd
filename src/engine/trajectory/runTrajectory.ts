import * as path from 'node:path';
import { analyzeAnyFile } from '../analysis/analyzeFile';
import { checkpointContentHash } from '../formats/registry';
import { forgetJobFiles } from '../io/jobFiles';
import { analysisOrder, assembleTrajectory, pointFromReport, trajectoryRequestKey } from '../runs/trajectorySummary';
import { failureKind, throwIfAborted } from '../../protocol/errors';
import { isWeightsReport, type AnalysisProgress } from '../../protocol/report';
import type { AnalysisRequest } from '../../protocol/requests';
import type { LossAndAccuracy, TrainingRunSeries, TrajectoryPoint, TrajectoryReport } from '../../protocol/trajectory';

export interface TrajectoryOptions {
  readonly series: TrainingRunSeries;
  /** The analysis of every checkpoint: all but `checkpoint` (each point sets its own). */
  readonly request: Omit<AnalysisRequest, 'checkpoint'>;
  /** A held-out data set: loss and accuracy on it at every step, and the generalization gap. */
  readonly testData?: string;
  /** Analyze every N-th checkpoint first, then those between. */
  readonly every?: number;
  /** η given by the user; else the one in the checkpoints' training config. */
  readonly learningRate?: number;
  /** An earlier trajectory of the same run: its points are reused where the checkpoint's files and the settings are unchanged. */
  readonly previous?: TrajectoryReport;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: AnalysisProgress) => void;
  /** Called after each point, with the trajectory so far (pending points included). */
  readonly onPoint?: (trajectory: TrajectoryReport) => void;
}

/** Loss and accuracy of a checkpoint on the held-out set (the loss metric alone). */
async function heldOut(request: AnalysisRequest, testData: string, signal: AbortSignal | undefined): Promise<LossAndAccuracy> {
  const report = await analyzeAnyFile({ ...request, data: testData, samples: undefined, metrics: ['loss'] }, { signal });
  if (isWeightsReport(report)) throw new Error('no architecture');
  return { loss: report.loss, accuracy: report.accuracy };
}

/**
 * Analyzes every checkpoint of a run with the same request — the same seed gives the same probe
 * vectors at every step, so differences between steps are not probe noise — and summarizes the
 * series. A checkpoint that fails becomes a failed point; cancelling stops at once.
 */
export async function runTrajectory(options: TrajectoryOptions): Promise<TrajectoryReport> {
  const { series, request, testData, signal } = options;
  const key = trajectoryRequestKey(request, testData);
  const reusable = options.previous?.requestKey === key ? options.previous.points : [];
  const points: TrajectoryPoint[] = series.checkpoints.map((c) => ({ step: c.step, checkpoint: path.resolve(series.root, c.path), status: 'pending' }));
  const order = analysisOrder(points.length, options.every ?? 1);
  for (const [done, index] of order.entries()) {
    throwIfAborted(signal);
    const checkpoint = points[index].checkpoint;
    const label = `${series.counts} ${points[index].step} (${done + 1}/${points.length})`;
    let files: readonly string[] = [checkpoint];
    try {
      const hashed = await checkpointContentHash(checkpoint, request.architecture);
      files = hashed.files;
      const earlier = reusable.find((p) => p.checkpoint === checkpoint && p.contentHash === hashed.contentHash && p.status === 'done');
      if (earlier) {
        points[index] = earlier;
      } else {
        const pointRequest = { ...request, checkpoint };
        const report = await analyzeAnyFile(pointRequest, {
          signal,
          onProgress: (p) => options.onProgress?.({ stage: p.stage, fraction: (done + p.fraction) / points.length, message: `${label}: ${p.message}` }),
        });
        if (isWeightsReport(report)) throw new Error(report.architectureMissing);
        const test = testData ? await heldOut(pointRequest, testData, signal) : undefined;
        points[index] = { ...pointFromReport(points[index].step, report, test), contentHash: hashed.contentHash };
      }
    } catch (error) {
      if (failureKind(error) === 'cancelled') throw error;
      points[index] = { ...points[index], status: 'failed', error: error instanceof Error ? error.message : String(error) };
    } finally {
      // The next checkpoint's files, not this one's, are what the job keeps in memory (with the data sets).
      forgetJobFiles(files);
    }
    options.onProgress?.({ stage: 'setup', fraction: (done + 1) / points.length, message: `${label} done` });
    options.onPoint?.(assembleTrajectory(options, points));
  }
  return assembleTrajectory(options, points);
}
