/** Nodes joining branches: Add (residuals, a per-channel value broadcast, a MatMul's bias, a parameter), Mul (gates: SiLU, squeeze-and-excitation) and Concat. */
import type { FeaturesValue, NodeMapping, OperatorHandler, TensorValue, Value } from '../mapping';
import { asTensor, materialized, normalized, onnxDims } from '../tensorLayout';
import { broadcastParameter, scalarInput, scaledByConstant } from './attention';
import { broadcastPair, combined, offsetByConstant } from './arithmetic';

const add: OperatorHandler = (n) => {
  const { initializers, constants, biasless, values } = n.graph;
  const constantSide = n.node.inputs.findIndex((name) => initializers.has(name) || constants.has(name));
  if (constantSide >= 0) {
    const other = n.node.inputs[1 - constantSide];
    const dense = biasless.get(other);
    const computed = values.get(other);
    if (!dense && scalarInput(n, constantSide) !== undefined) return offsetByConstant(n, constantSide);
    if (!dense && computed && initializers.has(n.node.inputs[constantSide])) return addParameter(n, computed, n.node.inputs[constantSide]);
    const bias = initializers.get(n.node.inputs[constantSide]);
    const units = dense ? (dense.config.units as number) : 0;
    if (!dense || !bias || bias.dims.reduce((a, d) => a * d, 1) !== units || bias.dims[bias.dims.length - 1] !== units) {
      n.fail('adding a constant is supported only as the bias of a MatMul ([units] initializer)');
    }
    biasless.delete(other);
    dense!.config.use_bias = true;
    n.addWeight(dense!, 'bias', bias!, { kind: 'same' }, [units]);
    n.output(values.get(other)!);
    return;
  }
  n.output(combined(n, 'Add', broadcastPair(n, [n.valueOf(0), n.valueOf(1)])));
};

/** A computed value plus a parameter [1, d₁, …] of its shape (a positional embedding): BroadcastParameter, then Add. */
function addParameter(n: NodeMapping, given: Value, name: string): void {
  const weight = n.graph.initializers.get(name)!;
  const perChannel = given.kind === 'image' && !given.squeezed && weight.dims.length >= 3 && weight.dims.slice(0, -3).every((d) => d === 1) && weight.dims.slice(-3).join() === `${given.c},1,1`;
  if (perChannel) {
    // One value per channel [C, 1, 1] (a bias): held as a parameter [1, 1, C] repeated over the batch and the positions.
    const parameter = broadcastParameter(n, [1, 1, given.c], name);
    return n.output(combined(n, 'Add', broadcastPair(n, [given, { kind: 'image', layer: parameter.layer, c: given.c, h: 1, w: 1 }])));
  }
  const x = materialized(n, asTensor(given));
  const dims = onnxDims(x);
  if (weight.dims.length !== dims.length || weight.dims[0] !== 1 || weight.dims.some((d, i) => i > 0 && d !== dims[i])) {
    n.fail(`adding initializer '${name}' of dims [${weight.dims}] to a value of dims [${dims}] is not supported (a MatMul's bias, a parameter [1, …] of the value's shape, or one per channel [C, 1, 1])`);
  }
  const parameter = broadcastParameter(n, weight.dims.slice(1), name);
  const layer = n.graph.addLayer(n.label, 'Add', {}, [x.layer, parameter.layer]);
  n.output(normalized({ ...x, layer: layer.name, nonNegative: false }));
}

/** A squeezed [N, C] value (after global pooling) as the [N, C, 1, 1] feature map ONNX has there. */
function unsqueezed(n: NodeMapping, v: Value): Value {
  if (v.kind !== 'image' || !v.squeezed) return v;
  const layer = n.graph.addLayer(`${n.label}.unsqueeze`, 'Reshape', { target_shape: [1, 1, v.c] }, [v.layer]);
  return { kind: 'image', layer: layer.name, c: v.c, h: 1, w: 1, nonNegative: v.nonNegative };
}

/**
 * The product of two computed values of one shape (x · sigmoid(x), x · HardSigmoid(x)), or of a
 * feature map and one value per channel ([N, C, 1, 1], squeeze-and-excitation), broadcast.
 */
const mul: OperatorHandler = (n) => {
  if (n.node.inputs.some((_, i) => scalarInput(n, i) !== undefined)) return scaledByConstant(n, false);
  if (n.node.inputs.some((name) => n.graph.initializers.has(name))) return channelScale(n);
  if (n.node.inputs.some((name) => n.graph.constants.has(name))) n.fail('multiplying by a constant is not supported (products of two computed values, or a feature map by a per-channel weight)');
  const [a, b] = [unsqueezed(n, n.valueOf(0)), unsqueezed(n, n.valueOf(1))];
  const shapeOf = (v: Value) => JSON.stringify({ ...v, layer: '', nonNegative: undefined });
  let result: Value;
  if (shapeOf(a) === shapeOf(b)) result = a;
  else if (a.kind === 'image' && b.kind === 'image' && a.c === b.c && ((b.h === 1 && b.w === 1) || (a.h === 1 && a.w === 1))) result = b.h === 1 && b.w === 1 ? a : b;
  else return n.fail('inputs of different shapes are supported only as a feature map times one value per channel ([N, C, H, W] · [N, C, 1, 1])');
  const layer = n.graph.addLayer(n.label, 'Multiply', {}, [a.layer, b.layer]);
  n.output({ ...result, layer: layer.name, nonNegative: Boolean(a.nonNegative && b.nonNegative) });
};

/**
 * A feature map times a per-channel weight [C, 1, 1] (ConvNeXt's layer scale): a diagonal linear
 * map, so a 1×1 depthwise convolution without bias whose kernel [1, 1, C, 1] holds the C factors.
 */
function channelScale(n: NodeMapping): void {
  const side = n.node.inputs.findIndex((name) => n.graph.initializers.has(name));
  const x = n.needImage(n.valueOf(1 - side));
  const weight = n.constantInput(side, 'scale');
  const trailing = weight.dims.slice(-3);
  const perChannel = weight.dims.length >= 3 && weight.dims.slice(0, -3).every((d) => d === 1) && trailing[0] === x.c && trailing[1] === 1 && trailing[2] === 1;
  if (!perChannel) n.fail(`multiplying by weight '${weight.name}' of dims [${weight.dims}] is not supported (one factor per channel, [${x.c}, 1, 1])`);
  const config = { kernel_size: [1, 1], strides: [1, 1], padding: 'valid', dilation_rate: [1, 1], depth_multiplier: 1, activation: 'linear', use_bias: false, data_format: 'channels_last' };
  const layer = n.graph.addLayer(n.label, 'DepthwiseConv2D', config, [x.layer]);
  n.addWeight(layer, 'depthwise_kernel', weight, { kind: 'same' }, [1, 1, x.c, 1]);
  n.output({ ...x, layer: layer.name, nonNegative: false });
}

const concat: OperatorHandler = (n) => {
  const parts = n.node.inputs.map((_, i) => n.valueOf(i));
  const axis = n.attr.int('axis', 1);
  const first = parts[0];
  let result: Value;
  if (parts.some((p) => p.kind === 'tensor')) return concatTensors(n, parts.map((p) => materialized(n, asTensor(p))), axis);
  if (first.kind === 'image') {
    if (axis !== 1 && axis !== -3) n.fail(`concatenation along axis ${axis} of NCHW tensors is not supported (channels, axis 1, only)`);
    if (parts.some((p) => p.kind !== 'image' || p.h !== first.h || p.w !== first.w || Boolean(p.squeezed) !== Boolean(first.squeezed))) n.fail('inputs differ in height or width');
    result = { ...first, c: parts.reduce((sum, p) => sum + (p as typeof first).c, 0), layer: '' };
  } else {
    if (axis !== 1 && axis !== -1) n.fail(`concatenation along axis ${axis} of [N, F] tensors is not supported`);
    if (parts.some((p) => p.kind !== 'features' || p.chw)) n.fail('inputs must all be plain [N, F] features');
    result = { kind: 'features', size: parts.reduce((sum, p) => sum + (p as FeaturesValue).size, 0), layer: '' };
  }
  const layer = n.graph.addLayer(n.label, 'Concatenate', { axis: -1 }, parts.map((p) => p.layer));
  n.output({ ...result, layer: layer.name, nonNegative: parts.every((p) => p.nonNegative) });
};

function concatTensors(n: NodeMapping, parts: readonly TensorValue[], axis: number): void {
  const rank = parts[0].axes.length;
  const resolved = axis < 0 ? axis + rank : axis;
  if (resolved < 1 || resolved >= rank) n.fail(`concatenation along axis ${axis} of a rank-${rank} tensor is not supported`);
  if (parts.some((p) => p.axes.length !== rank || p.engine.some((d, i) => i !== resolved - 1 && d !== parts[0].engine[i]))) n.fail(`inputs of dims ${parts.map((p) => `[${onnxDims(p)}]`).join(', ')} cannot be concatenated along axis ${axis}`);
  const layer = n.graph.addLayer(n.label, 'Concatenate', { axis: resolved }, parts.map((p) => p.layer));
  const engine = parts[0].engine.map((d, i) => (i === resolved - 1 ? parts.reduce((sum, p) => sum + p.engine[i], 0) : d));
  n.output(normalized({ ...parts[0], layer: layer.name, engine, nonNegative: parts.every((p) => p.nonNegative) }));
}

export const mergeOperators: Record<string, OperatorHandler> = { Add: add, Mul: mul, Concat: concat };
