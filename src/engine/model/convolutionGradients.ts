import * as tf from '@tensorflow/tfjs-core';

/**
 * Conv2D's gradients written with Conv2D itself (plus pad, slice, reverse and transpose), registered
 * as the kernel's gradient. Differentiating them again records more Conv2D ops, whose gradients are
 * these again, so every order is exact. Stock tfjs uses Conv2DBackpropInput/Filter kernels that have
 * no gradients (and the wasm backend has no filter-gradient kernel at all).
 *
 * Shapes: x [N, H, W, Ci], filter [kh, kw, Ci, Co] (HWIO), dy [N, Ho, Wo, Co]; explicit padding.
 */
type Pair = [number, number];
export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

const asPair = (v: number | number[]): Pair => (Array.isArray(v) ? [v[0], v[1]] : [v, v]);
const noPadding = (): ExplicitPadding => [[0, 0], [0, 0], [0, 0], [0, 0]];

/** Inserts s − 1 zeros between the rows and columns of dy: [N, (Ho−1)·sh + 1, (Wo−1)·sw + 1, C]. */
function dilate(dy: tf.Tensor4D, [sh, sw]: Pair): tf.Tensor4D {
  if (sh === 1 && sw === 1) return dy;
  const [n, ho, wo, c] = dy.shape;
  let out: tf.Tensor4D = dy;
  if (sh > 1) {
    const rows = tf.pad(tf.reshape(out, [n, ho, 1, wo * c]), [[0, 0], [0, 0], [0, sh - 1], [0, 0]]);
    out = tf.slice(tf.reshape(rows, [n, ho * sh, wo, c]), [0, 0, 0, 0], [n, (ho - 1) * sh + 1, wo, c]) as tf.Tensor4D;
  }
  if (sw > 1) {
    const h = out.shape[1];
    const columns = tf.pad(tf.reshape(out, [n * h, wo, 1, c]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]);
    out = tf.slice(tf.reshape(columns, [n, h, wo * sw, c]), [0, 0, 0, 0], [n, h, (wo - 1) * sw + 1, c]) as tf.Tensor4D;
  }
  return out;
}

/** Pads (positive) or crops (negative) the two spatial axes. */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const padded = tf.pad(x, [[0, 0], [Math.max(top, 0), Math.max(bottom, 0)], [Math.max(left, 0), Math.max(right, 0)], [0, 0]]);
  const [n, h, w, c] = padded.shape;
  const cropTop = Math.max(-top, 0);
  const cropLeft = Math.max(-left, 0);
  const height = h - cropTop - Math.max(-bottom, 0);
  const width = w - cropLeft - Math.max(-right, 0);
  return cropTop || cropLeft || height !== h || width !== w ? tf.slice(padded, [0, cropTop, cropLeft, 0], [n, height, width, c]) : padded;
}

/** ∂L/∂x from dy: a stride-1 convolution of the stride-dilated dy with the flipped, transposed filter. */
function inputGradientValue(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: readonly number[], strides: Pair, dilations: Pair, pad: ExplicitPadding): tf.Tensor4D {
  const [kh, kw] = filter.shape;
  const [, h, w] = inputShape;
  const spreadH = (kh - 1) * dilations[0];
  const spreadW = (kw - 1) * dilations[1];
  const dilated = dilate(dy, strides);
  const top = spreadH - pad[1][0];
  const left = spreadW - pad[2][0];
  const bottom = h + spreadH - top - dilated.shape[1];
  const right = w + spreadW - left - dilated.shape[2];
  const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
  return tf.conv2d(padOrCrop(dilated, top, bottom, left, right), flipped, 1, noPadding(), 'NHWC', dilations);
}

/** ∂L/∂filter: the input's patches correlated with dy, as a convolution over (batch ↔ channel) transposes. */
function filterGradientValue(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], strides: Pair, dilations: Pair, pad: ExplicitPadding): tf.Tensor4D {
  const [kh, kw] = filterShape;
  const padded = padOrCrop(x, pad[1][0], pad[1][1], pad[2][0], pad[2][1]);
  const channelsAsBatch = tf.transpose(padded, [3, 1, 2, 0]) as tf.Tensor4D; // [Ci, Hp, Wp, N]
  const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D; // [Ho, Wo, N, Co]
  const full = tf.conv2d(channelsAsBatch, dyAsFilter, dilations, noPadding(), 'NHWC', strides); // [Ci, ≥kh, ≥kw, Co]
  const cropped = full.shape[1] === kh && full.shape[2] === kw ? full : tf.slice(full, [0, 0, 0, 0], [-1, kh, kw, -1]);
  return tf.transpose(cropped, [1, 2, 0, 3]) as tf.Tensor4D;
}

interface ConvolutionGeometry {
  readonly strides: Pair;
  readonly dilations: Pair;
  readonly pad: ExplicitPadding;
}

function forward(x: tf.Tensor4D, filter: tf.Tensor4D, g: ConvolutionGeometry): tf.Tensor4D {
  return tf.conv2d(x, filter, g.strides, g.pad, 'NHWC', g.dilations);
}

/**
 * The two gradients are bilinear, and each one's derivatives are the other two maps of the same
 * convolution: for F(x, dy) = ∂⟨conv(x, W), dy⟩/∂W, ⟨F(x, dy), V⟩ = ⟨x, I(dy, V)⟩ = ⟨dy, conv(x, V)⟩,
 * where I is the input gradient. Declaring that with customGrad keeps every higher-order product
 * a convolution of the original shapes, instead of differentiating the transposed forms above
 * (which tfjs would do with large, slow kernels).
 */
export function conv2dInputGradient(dy: tf.Tensor4D, filter: tf.Tensor4D, inputShape: readonly number[], g: ConvolutionGeometry): tf.Tensor4D {
  const op = tf.customGrad(((dyIn: tf.Tensor4D, filterIn: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([dyIn, filterIn]);
    return {
      value: inputGradientValue(dyIn, filterIn, inputShape, g.strides, g.dilations, g.pad),
      gradFunc: (upstream: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [savedDy, savedFilter] = saved as tf.Tensor4D[];
        return [forward(upstream, savedFilter, g), conv2dFilterGradient(upstream, savedDy, savedFilter.shape, g)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(dy, filter) as tf.Tensor4D;
}

export function conv2dFilterGradient(x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: readonly number[], g: ConvolutionGeometry): tf.Tensor4D {
  const op = tf.customGrad(((xIn: tf.Tensor4D, dyIn: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([xIn, dyIn]);
    return {
      value: filterGradientValue(xIn, dyIn, filterShape, g.strides, g.dilations, g.pad),
      gradFunc: (upstream: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [savedX, savedDy] = saved as tf.Tensor4D[];
        return [conv2dInputGradient(savedDy, upstream, savedX.shape, g), forward(savedX, upstream, g)];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, dy) as tf.Tensor4D;
}

export function registerConvolutionGradients(): void {
  tf.registerGradient({
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const { strides, pad, dilations, dataFormat } = attrs as unknown as tf.Conv2DAttrs;
      if (dataFormat !== 'NHWC' || !(Array.isArray(pad) || pad === 'valid')) throw new Error('Conv2D gradient: the engine calls conv2d with NHWC and explicit padding only');
      const geometry: ConvolutionGeometry = { strides: asPair(strides), dilations: asPair(dilations), pad: pad === 'valid' ? noPadding() : (pad as ExplicitPadding) };
      return {
        x: () => conv2dInputGradient(dy as tf.Tensor4D, filter, x.shape, geometry),
        filter: () => conv2dFilterGradient(x, dy as tf.Tensor4D, filter.shape, geometry),
      };
    },
  });
}
