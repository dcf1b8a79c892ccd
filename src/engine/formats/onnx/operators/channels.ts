/**
 * Nodes that move channels: the channel shuffle torch exports as Reshape to [N, groups, C/groups, H, W],
 * Transpose [0, 2, 1, 3, 4] and Reshape back (one ChannelShuffle layer), and Slice and Split along
 * the channel axis (ChannelSlice layers; torch's chunk exports as either). Every other Reshape is
 * shape.ts's, every other Transpose layout.ts's, every other Slice attention.ts's.
 */
import { BATCH, type IntValue } from '../constantFolding';
import type { ImageValue, NodeMapping, OperatorHandler, Value } from '../mapping';
import { attentionOperators } from './attention';
import { layoutOperators } from './layout';
import { flatten } from './shape';

const shufflePerm = [0, 2, 1, 3, 4];

/** The per-sample dims a Reshape target gives an input of per-sample dims `dims`, or undefined when the batch axis moves. */
function perSampleTarget(n: NodeMapping, target: readonly IntValue[], dims: readonly number[]): number[] | undefined {
  const batch = target[0];
  if (!(batch === BATCH || batch === 0 || batch === -1 || (typeof batch === 'number' && batch > 0))) return undefined;
  const allowZero = n.attr.int('allowzero', 0) === 1;
  const rest = target.slice(1).map((d, i) => (d === 0 && !allowZero ? dims[i] : d));
  if (rest.some((d) => typeof d !== 'number' || d === undefined || (d < 0 && d !== -1) || !Number.isInteger(d))) return undefined;
  const numbers = rest as number[];
  const total = dims.reduce((a, b) => a * b, 1);
  const inferred = numbers.filter((d) => d === -1).length;
  if (inferred > 1 || (inferred === 1 && batch === -1)) return undefined;
  const known = numbers.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const resolved = numbers.map((d) => (d === -1 ? total / known : d));
  return resolved.every(Number.isInteger) && resolved.reduce((a, b) => a * b, 1) === total ? resolved : undefined;
}

function targetOf(n: NodeMapping): readonly IntValue[] {
  const shape = n.graph.intOf(n.node.inputs[1]);
  if (!shape) return n.fail('its shape must be a constant, or computed from shapes and constants');
  return shape.values;
}

/** Reshape: into or out of channel groups (a channel shuffle), else flattening each sample (shape.ts). */
const reshape: OperatorHandler = (n) => {
  const grouped = n.graph.channelGroups.get(n.node.inputs[0]);
  if (grouped) {
    const { source, groups, transposed } = grouped;
    const groupedDims = transposed ? [source.c / groups, groups, source.h, source.w] : [groups, source.c / groups, source.h, source.w];
    const target = targetOf(n);
    const dims = perSampleTarget(n, target, groupedDims);
    if (!dims || dims.length !== 3 || dims[0] !== source.c || dims[1] !== source.h || dims[2] !== source.w) {
      n.fail(`reshape of channel groups [N, ${groupedDims.join(', ')}] to [${target}] is not supported (only back to [N, C, H, W] = [N, ${source.c}, ${source.h}, ${source.w}])`);
    }
    if (!transposed) return n.output(source);
    const layer = n.graph.addLayer(n.label, 'ChannelShuffle', { groups }, [source.layer]);
    return n.output({ ...source, layer: layer.name });
  }
  const x = n.valueOf(0);
  if (x.kind === 'image' && !x.squeezed) {
    const target = targetOf(n);
    if (target.length === 5) {
      const dims = perSampleTarget(n, target, [x.c, x.h, x.w]);
      if (!dims || dims[0] * dims[1] !== x.c || dims[2] !== x.h || dims[3] !== x.w) {
        n.fail(`reshape of [N, ${x.c}, ${x.h}, ${x.w}] to [${target}] is not supported (to [N, groups, C/groups, H, W] for a channel shuffle, or [N, -1])`);
      }
      const output = n.node.outputs[0];
      n.graph.channelGroups.set(output, { source: x, groups: dims![0], transposed: false });
      return;
    }
  }
  flatten(n);
};

const transpose: OperatorHandler = (n) => {
  const grouped = n.graph.channelGroups.get(n.node.inputs[0]);
  if (!grouped) return layoutOperators.Transpose(n);
  const perm = n.attr.ints('perm', []);
  if (perm.length !== 5 || perm.some((p, i) => p !== shufflePerm[i])) {
    n.fail(`perm [${perm}] is not supported: Transpose only as the middle of a channel shuffle (Reshape to [N, groups, C/groups, H, W], Transpose [${shufflePerm}], Reshape back to [N, C, H, W])`);
  }
  n.graph.channelGroups.set(n.node.outputs[0], { ...grouped!, transposed: !grouped!.transposed });
};

/** The channel count of a value channels can be sliced from, failing for others. */
function channelsOf(n: NodeMapping, x: Value): number {
  if (x.kind === 'image') return x.c;
  if (x.kind === 'tensor') return n.fail('splitting channels of a tensor moved out of NCHW is not supported');
  if (x.chw) n.fail('slicing a flattened NCHW tensor is not supported');
  return x.size;
}

/** ONNX's channel axis (1, or its negative form) for this value; a squeezed image is still [N, C, 1, 1] in ONNX. */
function isChannelAxis(x: Value, axis: number): boolean {
  const rank = x.kind === 'image' ? 4 : 2;
  return axis === 1 || axis === 1 - rank;
}

/** A ChannelSlice layer of channels [begin, end) of x, or x itself when that is all of them. */
function sliceChannels(n: NodeMapping, x: Value, begin: number, end: number, base: string): Value {
  const channels = channelsOf(n, x);
  if (begin === 0 && end === channels) return x;
  const layer = n.graph.addLayer(base, 'ChannelSlice', { begin, size: end - begin }, [x.layer]);
  return x.kind === 'image' ? { ...(x as ImageValue), layer: layer.name, c: end - begin } : { kind: 'features', layer: layer.name, size: end - begin, nonNegative: x.nonNegative };
}

function numbersAt(n: NodeMapping, i: number, role: string): number[] | undefined {
  const name = n.node.inputs[i];
  if (!name) return undefined;
  const known = n.graph.intOf(name);
  if (!known || known.values.some((v) => typeof v !== 'number')) return n.fail(`its ${role} (input ${i}, '${name}') must be a constant, or computed from constants (not from the batch size)`);
  return known.values as number[];
}

/** Whether every axis a Slice names is the channel axis of an image or of features. */
function onChannelsOnly(n: NodeMapping, x: Value): boolean {
  const axes = n.graph.opset >= 10 ? (n.node.inputs[3] ? n.graph.intOf(n.node.inputs[3])?.values : undefined) : n.attr.ints('axes', []);
  if (axes === undefined) return false;
  return axes.length > 0 && axes.every((axis) => typeof axis === 'number' && isChannelAxis(x, axis));
}

const slice: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  if (x.kind === 'tensor' || !onChannelsOnly(n, x)) return attentionOperators.Slice(n);
  const channels = channelsOf(n, x);
  const fromInputs = n.graph.opset >= 10;
  const starts = fromInputs ? numbersAt(n, 1, 'starts') ?? [] : n.attr.ints('starts', []);
  const ends = fromInputs ? numbersAt(n, 2, 'ends') ?? [] : n.attr.ints('ends', []);
  const axes = (fromInputs ? numbersAt(n, 3, 'axes') : n.attr.ints('axes', [])) ?? starts.map((_, i) => i);
  const steps = (fromInputs ? numbersAt(n, 4, 'steps') : undefined) ?? starts.map(() => 1);
  if (starts.length === 0 || ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) n.fail('starts, ends, axes and steps must be given and of one length');
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + channels : v, 0), channels);
  let range: [number, number] = [0, channels];
  axes.forEach((axis, k) => {
    if (!isChannelAxis(x, axis)) n.fail(`slicing along axis ${axis} is not supported (the channel axis, 1, only)`);
    if (steps[k] !== 1) n.fail(`step ${steps[k]} is not supported (1 only)`);
    range = [clamp(starts[k]), Math.max(clamp(starts[k]), clamp(ends[k]))];
  });
  if (range[1] === range[0]) n.fail(`channels [${starts}, ${ends}) of ${channels} are empty`);
  n.output(sliceChannels(n, x, range[0], range[1], n.label));
};

/** Split along channels into the given sizes (input from opset 13, attribute before), or into equal parts. */
const split: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  const channels = channelsOf(n, x);
  const axis = n.attr.int('axis', 0);
  if (!isChannelAxis(x, axis)) n.fail(`splitting along axis ${axis} is not supported (the channel axis, 1, only)`);
  const parts = n.node.outputs.length;
  let sizes = n.graph.opset >= 13 ? numbersAt(n, 1, 'split') : n.attr.ints('split', []);
  if (!sizes || sizes.length === 0) {
    const count = n.attr.int('num_outputs', parts);
    if (count !== parts) n.fail(`num_outputs ${count} differs from its ${parts} outputs`);
    const each = Math.ceil(channels / parts);
    sizes = Array.from({ length: parts }, (_, k) => Math.max(0, Math.min(each, channels - k * each)));
  }
  if (sizes.length !== parts || sizes.some((s) => !Number.isInteger(s) || s < 1) || sizes.reduce((a, b) => a + b, 0) !== channels) {
    n.fail(`split sizes [${sizes}] do not divide ${channels} channels into its ${parts} outputs`);
  }
  let begin = 0;
  sizes.forEach((size, k) => {
    const name = n.node.outputs[k];
    if (name !== '' && (n.graph.consumers.get(name) ?? 0) > 0) n.graph.values.set(name, sliceChannels(n, x, begin, begin + size, `${n.label}.${k}`));
    begin += size;
  });
};

export const channelOperators: Record<string, OperatorHandler> = { Reshape: reshape, Transpose: transpose, Slice: slice, Split: split };
