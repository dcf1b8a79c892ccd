import { evaluateForm, type ScaleStructure } from './symmetry';
import type { LayerFactor } from '../../protocol/rescaleResult';

/** What the scaling u does to each rescalable layer, in the paper's terms. */
export function layerFactors(structure: ScaleStructure, u: readonly number[]): LayerFactor[] {
  const layers = [...new Set(structure.weights.map((w) => w.layer))];
  return layers.map((layer) => {
    const kernel = structure.weights.find((w) => w.layer === layer && (w.kind === 'kernel' || w.kind === 'depthwise' || w.role === 'gamma'));
    if (!kernel) return { layer };
    const columns = kernel.columns.map((f) => evaluateForm(f, u));
    const rows = kernel.rows?.map((f) => evaluateForm(f, u)) ?? [0];
    const [columnMin, columnMax] = range(columns);
    const [rowMin, rowMax] = range(rows);
    const uniform = columnMax - columnMin < 1e-9 && rowMax - rowMin < 1e-9;
    if (structure.granularity === 'layer' && uniform) return { layer, alpha: Math.exp(columnMin - rowMin) };
    return { layer, unitScaleMin: Math.exp(columnMin - rowMax), unitScaleMax: Math.exp(columnMax - rowMin) };
  });
}

function range(values: readonly number[]): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  return [lo, hi];
}
