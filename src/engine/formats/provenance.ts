import type { RescaleProvenance } from '../../protocol/report';
import type { Checkpoint } from '../model/spec';
import { PROVENANCE_KEY } from './tfjsLayers/writer';
import { sourceOfKind } from './checkpointFormat';
import type { TfjsLayersSource } from './tfjsLayers/modelJson';

type Fields = Readonly<Record<string, unknown>>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * The rescale record a checkpoint written by Rescale carries (in model.json under PROVENANCE_KEY),
 * checked field by field; undefined for any other checkpoint or a record this version cannot read.
 */
export function rescaleProvenance(checkpoint: Checkpoint): RescaleProvenance | undefined {
  const modelJson = sourceOfKind<TfjsLayersSource>(checkpoint, 'tfjs-layers')?.modelJson;
  if (!isFields(modelJson)) return undefined;
  const record = modelJson[PROVENANCE_KEY];
  if (!isFields(record) || !isFields(record.source) || typeof record.source.file !== 'string' || typeof record.mode !== 'string') return undefined;
  const factors = Array.isArray(record.factors)
    ? record.factors.filter(isFields).flatMap((f) => (typeof f.layer === 'string' ? [{ layer: f.layer, alpha: finite(f.alpha), unitScaleMin: finite(f.unitScaleMin), unitScaleMax: finite(f.unitScaleMax) }] : []))
    : [];
  const data = isFields(record.data) ? record.data : undefined;
  return {
    source: record.source.file,
    sourceSha256: text(record.source.sha256),
    mode: record.mode,
    objective: text(record.objective),
    granularity: text(record.granularity),
    factors,
    maxOutputDeviation: finite(record.maxOutputDeviation),
    samples: finite(data?.samples),
    data: data?.dataFree === true ? 'data-free probes' : text(data?.source),
  };
}

/** "3 Dense layers, 1 Conv2D layer (8 weight tensors)": the layers that hold weights, by Keras class, in order of first appearance. */
export function layerSummary(checkpoint: Checkpoint): string {
  const withWeights = new Set(checkpoint.weights.map((w) => w.layer));
  const counts = new Map<string, number>();
  for (const layer of checkpoint.model.layers) {
    if (withWeights.has(layer.name)) counts.set(layer.className, (counts.get(layer.className) ?? 0) + 1);
  }
  const kinds = [...counts].map(([kind, n]) => `${n} ${kind} layer${n === 1 ? '' : 's'}`);
  const tensors = checkpoint.weights.length;
  return `${kinds.join(', ') || 'no layers with weights'} (${tensors} weight tensor${tensors === 1 ? '' : 's'})`;
}
