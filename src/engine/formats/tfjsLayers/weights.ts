/** Decoding weight values from shard bytes, and tying manifest names to the topology's layers. */
import { halfToFloat } from '../../data/halfFloat';
import { sizeOf } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';
import { storedBytesPerValue } from './modelJson';
import type { TfjsWeightEntry } from './modelJson';

/** Statistics that are updated by running averages, not by gradients. */
const NON_TRAINABLE_ROLES = new Set(['moving_mean', 'moving_variance']);

/**
 * The weight's values as float32, read little-endian from `view` at `offset`. DataView, because
 * after a uint8 weight the next offset need not be aligned for a typed-array view.
 */
export function decodeWeightValues(entry: TfjsWeightEntry, view: DataView, offset: number, file: string): Float32Array {
  const count = sizeOf(entry.shape);
  if (offset + count * storedBytesPerValue(entry) > view.byteLength) {
    throw new FileProblem(file, `weight '${entry.name}' runs past the end of its shards`);
  }
  const values = new Float32Array(count);
  const q = entry.quantization;
  if (q === undefined) {
    if (entry.dtype === 'float32') for (let i = 0; i < count; i++) values[i] = view.getFloat32(offset + 4 * i, true);
    else for (let i = 0; i < count; i++) values[i] = view.getInt32(offset + 4 * i, true);
  } else if (q.dtype === 'float16') {
    for (let i = 0; i < count; i++) values[i] = halfToFloat(view.getUint16(offset + 2 * i, true));
  } else {
    const scale = q.scale ?? 1;
    const min = q.min ?? 0;
    const read = q.dtype === 'uint8' ? (i: number) => view.getUint8(offset + i) : (i: number) => view.getUint16(offset + 2 * i, true);
    const rounded = entry.dtype === 'int32';
    for (let i = 0; i < count; i++) {
      const value = read(i) * scale + min;
      values[i] = rounded ? Math.round(value) : value;
    }
  }
  return values;
}

export interface WeightOwner {
  readonly layer: string;
  readonly role: string;
}

/**
 * `dense_1/kernel`, `model/block/dense_1/kernel:0` → layer `dense_1`, role `kernel`. tfjs renames
 * weights in memory on reload, but the segment before the role is the owning layer's name.
 */
export function ownerOfWeight(name: string, layerNames: ReadonlySet<string>, file: string): WeightOwner {
  const segments = name.split('/');
  if (segments.length < 2) throw new FileProblem(file, `weight '${name}' has no layer part (expected 'layer/role', e.g. 'dense_1/kernel')`);
  const role = segments[segments.length - 1].replace(/:\d+$/, '');
  const layer = segments[segments.length - 2];
  if (!layerNames.has(layer)) {
    throw new FileProblem(file, `weight '${name}' belongs to layer '${layer}', which is not in modelTopology`);
  }
  return { layer, role };
}

export function isTrainableWeight(role: string, layerConfig: Readonly<Record<string, unknown>>): boolean {
  return layerConfig.trainable !== false && !NON_TRAINABLE_ROLES.has(role);
}
