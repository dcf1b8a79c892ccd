import type { Checkpoint } from '../model/spec';
import { FileProblem } from '../../protocol/errors';

/** The first NaN or infinite stored weight value, by tensor order and then flat (row-major) index. */
export function firstNonFiniteWeight(checkpoint: Checkpoint): { name: string; index: number; value: number; shape: readonly number[] } | undefined {
  for (const weight of checkpoint.weights) {
    const index = weight.values.findIndex((v) => !Number.isFinite(v));
    if (index >= 0) return { name: weight.name, index, value: weight.values[index], shape: weight.shape };
  }
  return undefined;
}

/**
 * Refuses a checkpoint holding NaN or infinite weights, whatever its format: every metric of such a
 * network is NaN. The message names the tensor and the first bad index.
 */
export function refuseNonFiniteWeights(file: string, checkpoint: Checkpoint): void {
  const bad = firstNonFiniteWeight(checkpoint);
  if (bad === undefined) return;
  const what = Number.isNaN(bad.value) ? 'NaN' : 'an infinite value';
  throw new FileProblem(file, `weight '${bad.name}' has ${what} at index ${bad.index} (shape [${bad.shape.join(', ')}]); every metric would be NaN (pass --allow-non-finite to analyze it anyway)`);
}
