import type { Checkpoint, WeightTensor } from '../model/spec';
import { sizeOf } from '../model/spec';
import { FileProblem } from '../../protocol/errors';

/** The checkpoint's weights in file order, with values replaced from `replacements` when given. */
export function weightsToWrite(checkpoint: Checkpoint, replacements: readonly WeightTensor[] | undefined, out: string): readonly WeightTensor[] {
  let weights = checkpoint.weights;
  if (replacements !== undefined) {
    const byName = new Map(replacements.map((w) => [w.name, w]));
    if (byName.size !== replacements.length) throw new FileProblem(out, 'the replacement weights have duplicate names');
    weights = checkpoint.weights.map((original) => {
      const replacement = byName.get(original.name);
      if (replacement === undefined) throw new FileProblem(out, `no replacement values given for weight '${original.name}'`);
      if (replacement.shape.length !== original.shape.length || replacement.shape.some((d, i) => d !== original.shape[i])) {
        throw new FileProblem(out, `replacement for weight '${original.name}' has shape [${replacement.shape}], expected [${original.shape}]`);
      }
      byName.delete(original.name);
      return { ...original, values: replacement.values };
    });
    if (byName.size > 0) throw new FileProblem(out, `replacement weight '${[...byName.keys()][0]}' is not a weight of ${checkpoint.path}`);
  }
  for (const w of weights) {
    if (w.values.length !== sizeOf(w.shape)) {
      throw new FileProblem(out, `weight '${w.name}' has ${w.values.length} values, its shape [${w.shape}] needs ${sizeOf(w.shape)}`);
    }
    const bad = w.values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new FileProblem(out, `weight '${w.name}' has ${w.values[bad]} at index ${bad}; refusing to write it`);
  }
  return weights;
}
