/** Conv (any padding; any group: depthwise, grouped or dense) and Pad (a constant on channels, height and width, or the edge values on height and width). */
import type { IntValue } from '../constantFolding';
import type { MutableLayer, OperatorHandler } from '../mapping';
import { explicitPadsOf, hasPads, windowOf } from './window';

const conv: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  // After global pooling ONNX still has [N, C, 1, 1] (squeeze-and-excitation convolves it): the engine's [N, C] gets its 1×1 back.
  const x = given.kind === 'image' && given.squeezed
    ? { kind: 'image' as const, c: given.c, h: 1, w: 1, layer: n.graph.addLayer(`${n.label}.unsqueeze`, 'Reshape', { target_shape: [1, 1, given.c] }, [given.layer]).name }
    : n.needImage(given);
  const weight = n.constantInput(1, 'weight W');
  if (weight.dims.length !== 4) n.fail(`weight '${weight.name}' has dims [${weight.dims}]; 2-D convolutions (OIHW) only`);
  const [filters, perGroup, kh, kw] = weight.dims;
  const group = n.attr.int('group', 1);
  const window = windowOf(n.attr, n.fail, x, [kh, kw]);
  const kernelShape = n.attr.ints('kernel_shape', [kh, kw]);
  if (kernelShape[0] !== kh || kernelShape[1] !== kw) n.fail(`kernel_shape [${kernelShape}] does not match weight dims [${weight.dims}]`);
  const bias = n.node.inputs[2] ? n.constantInput(2, 'bias B') : undefined;
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== filters)) n.fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${filters}]`);
  let inbound = x.layer;
  const explicit = hasPads(window) && !window.matchesSame;
  if (explicit) inbound = n.graph.addLayer(`${n.label}.pad`, 'ZeroPadding2D', { padding: explicitPadsOf(window), data_format: 'channels_last' }, [inbound]).name;
  const padding = hasPads(window) && !explicit ? 'same' : 'valid';
  const common = { kernel_size: [kh, kw], strides: window.strides, padding, dilation_rate: window.dilations, activation: 'linear', use_bias: bias !== undefined, data_format: 'channels_last' };
  let layer: MutableLayer;
  if (group === 1) {
    if (perGroup !== x.c) n.fail(`weight '${weight.name}' expects ${perGroup} input channels, the node receives ${x.c}`);
    layer = n.graph.addLayer(n.label, 'Conv2D', { filters, ...common }, [inbound]);
    n.addWeight(layer, 'kernel', weight, { kind: 'conv' }, [kh, kw, perGroup, filters]);
  } else if (group === x.c && perGroup === 1 && filters % group === 0) {
    const multiplier = filters / group;
    layer = n.graph.addLayer(n.label, 'DepthwiseConv2D', { depth_multiplier: multiplier, ...common }, [inbound]);
    n.addWeight(layer, 'depthwise_kernel', weight, { kind: 'depthwise' }, [kh, kw, group, multiplier]);
  } else {
    if (!Number.isInteger(group) || group < 1 || perGroup * group !== x.c || filters % group !== 0) n.fail(`group = ${group} does not fit weight '${weight.name}' [${weight.dims}] on ${x.c} input channels`);
    layer = n.graph.addLayer(n.label, 'Conv2D', { filters, groups: group, ...common }, [inbound]);
    n.addWeight(layer, 'kernel', weight, { kind: 'conv' }, [kh, kw, perGroup, filters]);
  }
  if (bias) n.addWeight(layer, 'bias', bias, { kind: 'same' }, [filters]);
  n.output({ kind: 'image', layer: layer.name, c: filters, h: window.outH, w: window.outW });
};

const pad: OperatorHandler = (n) => {
  const x = n.needImage(n.valueOf(0));
  const mode = n.attr.string('mode', 'constant');
  if (mode !== 'constant' && mode !== 'edge') n.fail(`mode '${mode}' is not supported ('constant', or 'edge' on height and width)`);
  let pads: readonly IntValue[];
  let fill: readonly number[];
  if (n.graph.opset >= 11) {
    const given = n.graph.intOf(n.node.inputs[1]);
    if (!given) n.fail(`its pads ('${n.node.inputs[1] ?? ''}') must be a constant, or computed from constants`);
    pads = given!.values;
    const axes = n.node.inputs[3] ? n.graph.intOf(n.node.inputs[3]) : undefined;
    if (n.node.inputs[3] && !axes) n.fail('its axes must be a constant');
    if (axes) {
      const full: IntValue[] = new Array<number>(8).fill(0);
      axes.values.forEach((a, k) => {
        if (typeof a !== 'number' || a < -4 || a > 3) n.fail(`axis ${a} is out of range for an [N, C, H, W] tensor`);
        const axis = (a as number) < 0 ? (a as number) + 4 : (a as number);
        full[axis] = pads[k];
        full[axis + 4] = pads[k + axes.values.length];
      });
      pads = full;
    }
    const value = n.node.inputs[2] ? n.graph.constants.get(n.node.inputs[2]) : undefined;
    if (n.node.inputs[2] && !value) n.fail(`its constant_value ('${n.node.inputs[2]}') must be a constant`);
    fill = value ? n.graph.readNumbers(value) : [0];
  } else {
    pads = n.attr.ints('pads', []);
    fill = [n.attr.float('value', 0)];
  }
  if (fill.length !== 1 || !Number.isFinite(fill[0])) n.fail(`constant_value ${fill.join(', ')} is not supported (one finite number)`);
  if (pads.length !== 8 || pads.some((p) => typeof p !== 'number' || !Number.isInteger(p) || p < 0)) n.fail(`pads [${pads}] are not supported: 8 non-negative integers for [N, C, H, W] expected`);
  const [n0, c0, top, left, n1, c1, bottom, right] = pads as number[];
  if (n0 || n1) n.fail(`pads [${pads}] pad the batch axis; only channels, height and width may be padded`);
  if (c0 + c1 + top + bottom + left + right === 0) return n.output(x);
  if (mode === 'edge') {
    if (c0 + c1 > 0) n.fail(`pads [${pads}] pad the channels in mode 'edge'; only height and width may be`);
    const layer = n.graph.addLayer(n.label, 'EdgePadding2D', { padding: [[top, bottom], [left, right]] }, [x.layer]);
    return n.output({ ...x, layer: layer.name, h: x.h + top + bottom, w: x.w + left + right });
  }
  // A constant v: shift by −v, pad with zeros, shift back; the engine pads channels and positions with zeros.
  const value = fill[0];
  const steps: [string, Record<string, unknown>][] = [];
  if (value !== 0) steps.push(['Rescaling', { scale: 1, offset: -value }]);
  if (c0 + c1 > 0) steps.push(['ChannelPad', { padding: [c0, c1] }]);
  if (top + bottom + left + right > 0) steps.push(['ZeroPadding2D', { padding: [[top, bottom], [left, right]], data_format: 'channels_last' }]);
  if (value !== 0) steps.push(['Rescaling', { scale: 1, offset: value }]);
  const layer = steps.reduce((inbound, [className, config], k) => n.graph.addLayer(k === steps.length - 1 ? n.label : `${n.label}.${k}`, className, config, [inbound]).name, x.layer);
  n.output({ kind: 'image', layer, c: x.c + c0 + c1, h: x.h + top + bottom, w: x.w + left + right, nonNegative: x.nonNegative && value >= 0 });
};

export const convolutionOperators: Record<string, OperatorHandler> = { Conv: conv, Pad: pad };
