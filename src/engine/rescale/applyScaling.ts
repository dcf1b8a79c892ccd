import type { WeightTensor } from '../model/spec';
import { evaluateForm, type ScaleStructure, type WeightScaling } from '../symmetry/symmetry';

/**
 * Log of the factor each entry of a weight tensor is multiplied by, for log-scales u. Kernels are
 * [..., in, out] (Dense, HWIO Conv2D): entry e has out-channel e mod out and in-channel
 * ⌊e/out⌋ mod in. Depthwise kernels [kh, kw, C, m]: channel c, multiplier j, output c·m + j.
 */
export function entryLogFactors(scaling: WeightScaling, u: readonly number[]): Float64Array {
  const size = scaling.shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  const columns = scaling.columns.map((f) => evaluateForm(f, u));
  const rows = scaling.rows?.map((f) => evaluateForm(f, u));
  switch (scaling.kind) {
    case 'kernel': {
      const outs = scaling.shape[scaling.shape.length - 1];
      const ins = scaling.shape[scaling.shape.length - 2];
      for (let e = 0; e < size; e++) out[e] = columns[e % outs] - rows![Math.floor(e / outs) % ins];
      return out;
    }
    case 'depthwise': {
      const [, , channels, multiplier] = scaling.shape;
      for (let e = 0; e < size; e++) {
        const c = Math.floor(e / multiplier) % channels;
        out[e] = columns[c * multiplier + (e % multiplier)] - rows![c];
      }
      return out;
    }
    default:
      for (let e = 0; e < size; e++) out[e] = columns[e % columns.length];
      return out;
  }
}

export interface ScaledWeights {
  readonly weights: WeightTensor[];
  /** Why the scaling cannot be written (non-finite values, a negative BN variance), if it cannot. */
  readonly problem?: string;
}

/** The checkpoint's weights after the scaling u; untouched weights are shared, not copied. */
export function applyScaling(weights: readonly WeightTensor[], structure: ScaleStructure, u: readonly number[]): ScaledWeights {
  const byName = new Map(structure.weights.map((s) => [s.name, s]));
  let problem: string | undefined;
  const scaled = weights.map((w) => {
    const scaling = byName.get(w.name);
    if (!scaling) return w;
    const logs = entryLogFactors(scaling, u);
    const values = new Float32Array(w.values.length);
    for (let e = 0; e < values.length; e++) {
      const factor = Math.exp(scaling.kind === 'batchnorm-variance' ? 2 * logs[e] : logs[e]);
      values[e] = scaling.kind === 'batchnorm-variance'
        ? factor * (w.values[e] + scaling.epsilon!) - scaling.epsilon!
        : w.values[e] * factor;
      if (!Number.isFinite(values[e]) && !problem) problem = `'${w.name}' entry ${e} would be ${values[e]} (factor ${factor.toExponential(3)}): beyond float32`;
      if (scaling.kind === 'batchnorm-variance' && values[e] < 0 && !problem) {
        problem = `'${w.name}' channel ${e} would need a negative moving variance (scale ${Math.sqrt(factor).toExponential(3)} is below sqrt(ε/(σ²+ε)))`;
      }
    }
    return { ...w, values };
  });
  return { weights: scaled, problem };
}
