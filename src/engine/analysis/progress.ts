import type { AnalysisProgress } from '../../protocol/report';

export type ProgressListener = (progress: AnalysisProgress) => void;

/** A stage's own progress: how far it is in [0, 1], and optionally where ("probe 3 of 30"). */
export type StageProgress = (fraction: number, detail?: string) => void;

/** Share of the bar that reading the checkpoint and the data takes before the first metric. */
export const setupShare = 0.05;

/**
 * Passes progress on with the fraction held monotone: a stage that estimates its own length
 * (Lanczos stopping early, say) may not move the bar back.
 */
export function monotoneProgress(listener: ProgressListener | undefined): ProgressListener | undefined {
  if (!listener) return undefined;
  let highest = 0;
  return (progress) => {
    const fraction = Math.min(1, Math.max(highest, progress.fraction));
    highest = fraction;
    listener({ ...progress, fraction });
  };
}

/** Maps a part's progress in [0, 1] onto [from, to] of the whole. */
export function progressSpan(listener: ProgressListener | undefined, from: number, to: number): ProgressListener | undefined {
  if (!listener) return undefined;
  return (progress) => listener({ ...progress, fraction: from + (to - from) * Math.min(1, Math.max(0, progress.fraction)) });
}

/** "12 of 30" for a count that is known, for `detail`. */
export function countDetail(what: string, done: number, total: number): string {
  return `${what} ${done} of ${total}`;
}
