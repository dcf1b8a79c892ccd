import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';
import { conv2dInputGradient } from './convolutionGradients';
import type { LayerNode } from './spec';

/**
 * Conv2DTranspose (ONNX's ConvTranspose, group 1, dilation 1): the adjoint of a Conv2D in its input.
 * Kernel [kh, kw, filters, in] (Keras's layout) is that Conv2D's HWIO kernel with I = filters and
 * O = in. The output, (H − 1)·s − pads + k + output_padding per axis, is the Conv2D's input gradient,
 * whose derivatives of every order are convolutions again (convolutionGradients.ts).
 * Config: `strides`, `pads` [top, left, bottom, right] cropped from the full output, `output_padding`.
 */
export function conv2dTranspose(node: LayerNode, x: tf.Tensor, kernel: tf.Tensor): tf.Tensor4D {
  const config = node.config;
  if ((config.padding ?? 'valid') !== 'valid') throw new ModelProblem(node.name, `Conv2DTranspose padding '${String(config.padding)}' is not supported (explicit pads only)`);
  if (x.rank !== 4 || kernel.rank !== 4 || kernel.shape[3] !== x.shape[3]) throw new ModelProblem(node.name, `Conv2DTranspose kernel [${kernel.shape}] does not fit an input [${x.shape}]`);
  const [n, h, w] = x.shape;
  const [kh, kw, filters] = kernel.shape;
  const geometry = transposedGeometry(node, [h, w], [kh, kw]);
  return conv2dInputGradient(x as tf.Tensor4D, kernel as tf.Tensor4D, [n, geometry.outH, geometry.outW, filters], {
    strides: geometry.strides,
    dilations: [1, 1],
    pad: [[0, 0], [geometry.pads[0], geometry.pads[2]], [geometry.pads[1], geometry.pads[3]], [0, 0]],
  });
}

export interface TransposedGeometry {
  readonly strides: [number, number];
  readonly pads: [number, number, number, number];
  readonly outH: number;
  readonly outW: number;
}

export function transposedGeometry(node: LayerNode, [h, w]: readonly number[], [kh, kw]: readonly number[]): TransposedGeometry {
  const pairOf = (key: string, fallback: number): [number, number] => {
    const v = node.config[key] ?? fallback;
    const list = Array.isArray(v) ? v : [v, v];
    if (list.length !== 2 || !list.every((d) => Number.isInteger(d) && d >= 0)) throw new ModelProblem(node.name, `Conv2DTranspose '${key}' must be two non-negative integers, found ${JSON.stringify(v)}`);
    return [list[0], list[1]];
  };
  const strides = pairOf('strides', 1);
  const outputPadding = pairOf('output_padding', 0);
  const pads = (node.config.pads ?? [0, 0, 0, 0]) as [number, number, number, number];
  if (strides.some((s) => s < 1) || outputPadding.some((p, i) => p >= strides[i])) throw new ModelProblem(node.name, `Conv2DTranspose strides [${strides}] and output_padding [${outputPadding}] do not fit (each output padding below its stride)`);
  const outH = (h - 1) * strides[0] - pads[0] - pads[2] + kh + outputPadding[0];
  const outW = (w - 1) * strides[1] - pads[1] - pads[3] + kw + outputPadding[1];
  if (outH < 1 || outW < 1) throw new ModelProblem(node.name, `Conv2DTranspose pads [${pads}] leave no output`);
  return { strides, pads, outH, outW };
}
