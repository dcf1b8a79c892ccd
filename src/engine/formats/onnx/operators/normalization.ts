/** BatchNormalization (inference), LayerNormalization over the feature axis, and InstanceNormalization of feature maps. */
import type { OperatorHandler } from '../mapping';
import { asTensor, lastAxisLast, normalized, onnxDims } from '../tensorLayout';

const batchNormalization: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  if (x.kind === 'features' && x.chw) n.fail('batch normalization of a flattened NCHW tensor is not supported');
  if (x.kind === 'tensor') n.fail(`batch normalization of a [${onnxDims(x)}] tensor is not supported ([N, C, H, W] or [N, C] only)`);
  if (n.attr.int('training_mode', 0) !== 0) n.fail('training_mode = 1 is not supported (inference only)');
  const channels = x.kind === 'image' ? x.c : x.kind === 'features' ? x.size : 0;
  const layer = n.graph.addLayer(n.label, 'BatchNormalization', { axis: -1, epsilon: n.attr.float('epsilon', 1e-5), momentum: n.attr.float('momentum', 0.9), center: true, scale: true }, [x.layer]);
  (['gamma', 'beta', 'moving_mean', 'moving_variance'] as const).forEach((role, k) => {
    const tensor = n.constantInput(k + 1, role);
    if (tensor.dims.length !== 1 || tensor.dims[0] !== channels) n.fail(`${role} '${tensor.name}' has dims [${tensor.dims}], expected [${channels}]`);
    n.addWeight(layer, role, tensor, { kind: 'same' }, [channels], role === 'gamma' || role === 'beta');
  });
  n.output({ ...x, layer: layer.name, nonNegative: false });
};

const layerNormalization: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  if (given.kind === 'features' && given.chw) n.fail('normalizing a flattened NCHW tensor is not supported');
  const x = lastAxisLast(n, asTensor(given));
  const rank = x.axes.length;
  const size = x.engine[x.engine.length - 1];
  const axis = n.attr.int('axis', -1);
  if (axis !== -1 && axis !== rank - 1) n.fail(`axis ${axis} of a rank-${rank} tensor is not supported (the last axis only)`);
  if (n.attr.int('stash_type', 1) !== 1) n.fail(`stash_type ${n.attr.int('stash_type', 1)} is not supported (float32 statistics only)`);
  const scale = n.node.inputs[1] ? n.constantInput(1, 'scale') : undefined;
  const bias = n.node.inputs[2] ? n.constantInput(2, 'bias B') : undefined;
  const layer = n.graph.addLayer(n.label, 'LayerNormalization', { axis: -1, epsilon: n.attr.float('epsilon', 1e-5), center: bias !== undefined, scale: scale !== undefined }, [x.layer]);
  for (const [role, tensor] of [['gamma', scale], ['beta', bias]] as const) {
    if (!tensor) continue;
    if (tensor.dims.reduce((a, d) => a * d, 1) !== size || tensor.dims[tensor.dims.length - 1] !== size) n.fail(`${role} '${tensor.name}' has dims [${tensor.dims}], expected [${size}]`);
    n.addWeight(layer, role, tensor, { kind: 'same' }, [size]);
  }
  n.output(normalized({ ...x, layer: layer.name, nonNegative: false }));
};

/** Each sample's channel normalized over height and width, then scaled and shifted per channel. */
const instanceNormalization: OperatorHandler = (n) => {
  const x = n.needImage(n.valueOf(0));
  const layer = n.graph.addLayer(n.label, 'InstanceNormalization', { epsilon: n.attr.float('epsilon', 1e-5) }, [x.layer]);
  (['gamma', 'beta'] as const).forEach((role, k) => {
    const tensor = n.constantInput(k + 1, role === 'gamma' ? 'scale' : 'bias B');
    if (tensor.dims.length !== 1 || tensor.dims[0] !== x.c) n.fail(`${role} '${tensor.name}' has dims [${tensor.dims}], expected [${x.c}]`);
    n.addWeight(layer, role, tensor, { kind: 'same' }, [x.c]);
  });
  n.output({ ...x, layer: layer.name, nonNegative: false });
};

export const normalizationOperators: Record<string, OperatorHandler> = { BatchNormalization: batchNormalization, LayerNormalization: layerNormalization, InstanceNormalization: instanceNormalization };
