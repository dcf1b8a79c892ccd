/** ConvTranspose, 2-D, group 1 and dilation 1, with any strides, pads and output_padding. */
import type { OperatorHandler } from '../mapping';

const convTranspose: OperatorHandler = (n) => {
  const x = n.needImage(n.valueOf(0));
  const weight = n.constantInput(1, 'weight W');
  if (weight.dims.length !== 4) n.fail(`weight '${weight.name}' has dims [${weight.dims}]; 2-D transposed convolutions ([in, out, kh, kw]) only`);
  const [inputs, filters, kh, kw] = weight.dims;
  if (inputs !== x.c) n.fail(`weight '${weight.name}' expects ${inputs} input channels, the node receives ${x.c}`);
  if (n.attr.int('group', 1) !== 1) n.fail(`group = ${n.attr.int('group', 1)} is not supported (1 only)`);
  const pair = (name: string, fallback: number): [number, number] => {
    const v = n.attr.ints(name, [fallback, fallback]);
    if (v.length !== 2 || !v.every((d) => Number.isInteger(d) && d >= 0)) n.fail(`${name} [${v}] must be two non-negative integers`);
    return [v[0], v[1]];
  };
  const strides = pair('strides', 1);
  const outputPadding = pair('output_padding', 0);
  if (pair('dilations', 1).some((d) => d !== 1)) n.fail(`dilations [${n.attr.ints('dilations', [])}] are not supported (1 only)`);
  const kernelShape = n.attr.ints('kernel_shape', [kh, kw]);
  if (kernelShape[0] !== kh || kernelShape[1] !== kw) n.fail(`kernel_shape [${kernelShape}] does not match weight dims [${weight.dims}]`);
  const autoPad = n.attr.string('auto_pad', 'NOTSET');
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID') n.fail(`auto_pad '${autoPad}' is not supported (explicit pads only)`);
  if (n.node.attributes.has('output_shape')) n.fail('output_shape is not supported (give pads and output_padding)');
  const pads = autoPad === 'VALID' ? [0, 0, 0, 0] : n.attr.ints('pads', [0, 0, 0, 0]);
  if (pads.length !== 4 || !pads.every((p) => Number.isInteger(p) && p >= 0)) n.fail(`pads [${pads}] must be four non-negative integers`);
  if (strides.some((s) => s < 1) || outputPadding.some((p, i) => p >= strides[i])) n.fail(`strides [${strides}] and output_padding [${outputPadding}] do not fit (each output padding below its stride)`);
  const h = (x.h - 1) * strides[0] - pads[0] - pads[2] + kh + outputPadding[0];
  const w = (x.w - 1) * strides[1] - pads[1] - pads[3] + kw + outputPadding[1];
  if (h < 1 || w < 1) n.fail(`pads [${pads}] leave no output of a ${x.h}×${x.w} input`);
  const bias = n.node.inputs[2] ? n.constantInput(2, 'bias B') : undefined;
  if (bias && (bias.dims.length !== 1 || bias.dims[0] !== filters)) n.fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${filters}]`);
  const layer = n.graph.addLayer(n.label, 'Conv2DTranspose', {
    filters, kernel_size: [kh, kw], strides, padding: 'valid', pads, output_padding: outputPadding, use_bias: bias !== undefined, data_format: 'channels_last',
  }, [x.layer]);
  // [in, out, kh, kw] → [kh, kw, out, in]: the permutation of a Conv's OIHW → HWIO.
  n.addWeight(layer, 'kernel', weight, { kind: 'conv' }, [kh, kw, filters, inputs]);
  if (bias) n.addWeight(layer, 'bias', bias, { kind: 'same' }, [filters]);
  n.output({ kind: 'image', layer: layer.name, c: filters, h, w });
};

export const transposedConvolutionOperators: Record<string, OperatorHandler> = { ConvTranspose: convTranspose };
