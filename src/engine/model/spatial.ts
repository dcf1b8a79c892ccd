import * as tf from '@tensorflow/tfjs-core';

/**
 * Convolution and pooling written as pad + slices + matmul/relu, NHWC. tfjs's conv and pooling
 * kernels have gradients that cannot be differentiated again (and wasm has no filter-gradient
 * kernel at all); built from these primitives, double backprop is exact.
 */

export type Padding = 'valid' | 'same';

export interface WindowSpec {
  readonly kernel: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly padding: Padding;
}

export interface WindowGeometry {
  readonly outHeight: number;
  readonly outWidth: number;
  readonly padTop: number;
  readonly padBottom: number;
  readonly padLeft: number;
  readonly padRight: number;
}

function axisGeometry(size: number, kernel: number, stride: number, dilation: number, padding: Padding): [number, number, number] {
  const span = (kernel - 1) * dilation + 1;
  if (padding === 'valid') return [Math.floor((size - span) / stride) + 1, 0, 0];
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + span - size, 0);
  return [out, Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** Output size and TensorFlow's padding (the odd pixel goes to the bottom/right). */
export function windowGeometry(height: number, width: number, spec: WindowSpec): WindowGeometry {
  const [outHeight, padTop, padBottom] = axisGeometry(height, spec.kernel[0], spec.strides[0], spec.dilation[0], spec.padding);
  const [outWidth, padLeft, padRight] = axisGeometry(width, spec.kernel[1], spec.strides[1], spec.dilation[1], spec.padding);
  return { outHeight, outWidth, padTop, padBottom, padLeft, padRight };
}

/**
 * The input values under each window offset, one tensor per offset in row-major (kh, kw) order, each
 * laid out spatial-major [Ho, Wo, N, C]. In that layout every slice copies whole N·C rows, which
 * the wasm backend does with one memcpy per pixel; slices of NHWC tensors copy C values at a time.
 */
export function windowTaps(x: tf.Tensor4D, spec: WindowSpec, padding: 'zeros' | 'edge' = 'zeros'): { taps: tf.Tensor4D[]; geometry: WindowGeometry } {
  const [, height, width] = x.shape;
  const g = windowGeometry(height, width, spec);
  if (g.outHeight < 1 || g.outWidth < 1) {
    throw new Error(`window ${spec.kernel.join('x')} does not fit an input of ${height}x${width}`);
  }
  const [sh, sw] = spec.strides;
  const [dh, dw] = spec.dilation;
  const spatialMajor = tf.transpose(x, [1, 2, 0, 3]);
  const unpadded = g.padTop + g.padBottom + g.padLeft + g.padRight === 0;
  const padded = unpadded
    ? spatialMajor
    : padding === 'zeros'
    ? tf.pad(spatialMajor, [[g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0], [0, 0]])
    : edgePad(spatialMajor, g.padTop, g.padBottom, g.padLeft, g.padRight);
  const taps: tf.Tensor4D[] = [];
  for (let i = 0; i < spec.kernel[0]; i++) {
    for (let j = 0; j < spec.kernel[1]; j++) {
      taps.push(stridedBlock(padded, i * dh, j * dw, g.outHeight, g.outWidth, sh, sw));
    }
  }
  return { taps, geometry: g };
}

/**
 * Pads the two spatial axes of [H, W, N, C] by repeating the edge rows and columns. A window that
 * overlaps the border always contains the edge cell itself (pooling has no dilation), so its max
 * over replicated cells equals its max over real cells; and unlike a −∞ fill there is no
 * cancellation in max(a, b) = b + relu(a − b).
 */
function edgePad(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [h, w] = x.shape;
  const repeat = (edge: tf.Tensor4D, times: number, axis: number) => tf.tile(edge, axis === 0 ? [times, 1, 1, 1] : [1, times, 1, 1]);
  const rows: tf.Tensor4D[] = [];
  if (top > 0) rows.push(repeat(tf.slice(x, [0, 0, 0, 0], [1, -1, -1, -1]), top, 0));
  rows.push(x);
  if (bottom > 0) rows.push(repeat(tf.slice(x, [h - 1, 0, 0, 0], [1, -1, -1, -1]), bottom, 0));
  const tall = rows.length === 1 ? x : (tf.concat(rows, 0) as tf.Tensor4D);
  const columns: tf.Tensor4D[] = [];
  if (left > 0) columns.push(repeat(tf.slice(tall, [0, 0, 0, 0], [-1, 1, -1, -1]), left, 1));
  columns.push(tall);
  if (right > 0) columns.push(repeat(tf.slice(tall, [0, w - 1, 0, 0], [-1, 1, -1, -1]), right, 1));
  return columns.length === 1 ? tall : (tf.concat(columns, 1) as tf.Tensor4D);
}

/** Rows top, top+sh, … and columns left, left+sw, … of x: [outH, outW, N, C]. */
function stridedBlock(x: tf.Tensor4D, top: number, left: number, outH: number, outW: number, sh: number, sw: number): tf.Tensor4D {
  const [, , n, c] = x.shape;
  if (sh === 1 && sw === 1) return tf.slice(x, [top, left, 0, 0], [outH, outW, -1, -1]);
  // Take the span from the first to the last selected cell, pad it to whole strides, and keep the
  // first row and column of each stride with two reshapes and contiguous slices.
  const span = tf.slice(x, [top, left, 0, 0], [(outH - 1) * sh + 1, (outW - 1) * sw + 1, -1, -1]);
  const block = tf.pad(span, [[0, sh - 1], [0, sw - 1], [0, 0], [0, 0]]);
  const firstRowOfEach = tf.slice(tf.reshape(block, [outH, sh * outW * sw * n * c]), [0, 0], [outH, outW * sw * n * c]);
  const firstColumnOfEach = tf.slice(tf.reshape(firstRowOfEach, [outH * outW, sw * n * c]), [0, 0], [outH * outW, n * c]);
  return tf.reshape(firstColumnOfEach, [outH, outW, n, c]);
}

/** [Ho, Wo, N, C] back to NHWC. */
function batchMajor(t: tf.Tensor): tf.Tensor4D {
  return tf.transpose(t, [2, 0, 1, 3]) as tf.Tensor4D;
}

/**
 * Conv2D with an HWIO kernel. The native kernel (its gradients are registered in
 * convolutionGradients.ts) unless both strides and dilations exceed 1, which tfjs's conv2d does not
 * take: then Σ over window offsets k of tap_k · W[k].
 */
export function conv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, spec: Omit<WindowSpec, 'kernel'>): tf.Tensor4D {
  const [kh, kw, inChannels, filters] = kernel.shape;
  const stridesAndDilation = (spec.strides[0] > 1 || spec.strides[1] > 1) && (spec.dilation[0] > 1 || spec.dilation[1] > 1);
  if (!stridesAndDilation) {
    const g = windowGeometry(x.shape[1], x.shape[2], { ...spec, kernel: [kh, kw] });
    if (g.outHeight < 1 || g.outWidth < 1) throw new Error(`window ${kh}x${kw} does not fit an input of ${x.shape[1]}x${x.shape[2]}`);
    const pad: [[number, number], [number, number], [number, number], [number, number]] = [[0, 0], [g.padTop, g.padBottom], [g.padLeft, g.padRight], [0, 0]];
    return tf.conv2d(x, kernel, [spec.strides[0], spec.strides[1]], pad, 'NHWC', [spec.dilation[0], spec.dilation[1]]);
  }
  const { taps, geometry } = windowTaps(x, { ...spec, kernel: [kh, kw] });
  const perOffset = tf.reshape(kernel, [kh * kw, inChannels * filters]);
  const rows = geometry.outHeight * geometry.outWidth * x.shape[0];
  const products = taps.map((tap, k) => {
    const weights = tf.reshape(tf.slice(perOffset, [k, 0], [1, -1]), [inChannels, filters]);
    return tf.matMul(tf.reshape(tap, [rows, inChannels]), weights);
  });
  const sum = products.length === 1 ? products[0] : tf.addN(products);
  return batchMajor(tf.reshape(sum, [geometry.outHeight, geometry.outWidth, x.shape[0], filters]));
}

/** DepthwiseConv2D; kernel [kh, kw, C, multiplier]; output channel c*multiplier + m, as in Keras. */
export function depthwiseConv2d(x: tf.Tensor4D, kernel: tf.Tensor4D, spec: Omit<WindowSpec, 'kernel'>): tf.Tensor4D {
  const [kh, kw, channels, multiplier] = kernel.shape;
  const { taps, geometry } = windowTaps(x, { ...spec, kernel: [kh, kw] });
  const perOffset = tf.reshape(kernel, [kh * kw, channels * multiplier]);
  const products = taps.map((tap, k) => {
    const weights = tf.reshape(tf.slice(perOffset, [k, 0], [1, -1]), [channels, multiplier]);
    return multiplier === 1 ? tf.mul(tap, tf.reshape(weights, [channels])) : tf.mul(tf.expandDims(tap, 4), weights);
  });
  const sum = products.length === 1 ? products[0] : tf.addN(products);
  return batchMajor(tf.reshape(sum, [geometry.outHeight, geometry.outWidth, x.shape[0], channels * multiplier]));
}

/** Max over each window (of real cells, as in TensorFlow), as a tree of max(a, b) = b + relu(a − b). */
export function maxPool(x: tf.Tensor4D, spec: WindowSpec): tf.Tensor4D {
  let { taps } = windowTaps(x, spec, 'edge');
  while (taps.length > 1) {
    const next: tf.Tensor4D[] = [];
    for (let i = 0; i + 1 < taps.length; i += 2) next.push(tf.add(taps[i + 1], tf.relu(tf.sub(taps[i], taps[i + 1]))));
    if (taps.length % 2 === 1) next.push(taps[taps.length - 1]);
    taps = next;
  }
  return batchMajor(taps[0]);
}

/** Average over each window; with 'same' padding only the real cells count, as in TensorFlow. */
export function averagePool(x: tf.Tensor4D, spec: WindowSpec): tf.Tensor4D {
  const { taps, geometry: g } = windowTaps(x, spec);
  const sums = taps.length === 1 ? taps[0] : tf.addN(taps);
  const [, height, width] = x.shape;
  const counts = new Float32Array(g.outHeight * g.outWidth);
  for (let r = 0; r < g.outHeight; r++) {
    const rows = overlap(r * spec.strides[0] - g.padTop, spec.kernel[0], spec.dilation[0], height);
    for (let c = 0; c < g.outWidth; c++) {
      counts[r * g.outWidth + c] = rows * overlap(c * spec.strides[1] - g.padLeft, spec.kernel[1], spec.dilation[1], width);
    }
  }
  return batchMajor(tf.div(sums, tf.tensor4d(counts, [g.outHeight, g.outWidth, 1, 1])));
}

function overlap(start: number, kernel: number, dilation: number, size: number): number {
  let count = 0;
  for (let k = 0; k < kernel; k++) {
    const at = start + k * dilation;
    if (at >= 0 && at < size) count++;
  }
  return count;
}
