import type { TrajectoryReport } from '../../protocol/trajectory';

const columns = ['step', 'checkpoint', 'status', 'train_loss', 'train_accuracy', 'test_loss', 'test_accuracy', 'gap_loss', 'gap_accuracy', 'lambda_max', 'trace', 'trace_stderr', 'sharpness', 'log_volume', 'min_trace', 'adaptive_sharpness', 'fisher_rao_norm', 'learning_rate'] as const;

function cell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number') return String(value);
  return /[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** One row per checkpoint, in step order; empty cells where a number is unknown. */
export function trajectoryCsv(trajectory: TrajectoryReport): string {
  const rows = trajectory.points.map((p) => [
    p.step, p.checkpoint, p.status,
    p.train?.loss, p.train?.accuracy, p.test?.loss, p.test?.accuracy, p.gap?.loss, p.gap?.accuracy,
    p.measures?.lambdaMax, p.measures?.trace, p.measures?.traceStderr, p.measures?.sharpness, p.measures?.logVolume,
    p.measures?.minTrace, p.measures?.adaptiveSharpness, p.measures?.fisherRaoNorm, p.learningRate,
  ].map(cell).join(','));
  return [columns.join(','), ...rows].join('\n') + '\n';
}
