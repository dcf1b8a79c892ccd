/**
 * Test reference only: Conv2D, DepthwiseConv2D and 2-D pooling as explicit loops over NHWC tensors,
 * with TensorFlow's padding rules.
 */
import { SumAccumulator, div, maxByRealPart } from './hyperDual';
import type { Num } from './hyperDual';
import type { Padding } from './layerConfig';
import { ReferenceModelError, requireShape } from './referenceTensor';
import type { ReferenceTensor } from './referenceTensor';

/** Output length and padding before the first cell along one spatial axis. */
export interface AxisWindow {
  readonly outputSize: number;
  readonly padBefore: number;
}

/**
 * TF's rule: 'same' gives ceil(in/s) outputs and pads max((out − 1)·s + (k − 1)·d + 1 − in, 0)
 * in total, the extra cell (if odd) at the end; 'valid' pads nothing.
 */
export function windowAlongAxis(
  inputSize: number,
  kernelSize: number,
  stride: number,
  dilation: number,
  padding: Padding,
): AxisWindow {
  const effectiveKernel = (kernelSize - 1) * dilation + 1;
  if (padding === 'same') {
    const outputSize = Math.ceil(inputSize / stride);
    const padTotal = Math.max((outputSize - 1) * stride + effectiveKernel - inputSize, 0);
    return { outputSize, padBefore: Math.floor(padTotal / 2) };
  }
  return { outputSize: Math.floor((inputSize - effectiveKernel) / stride) + 1, padBefore: 0 };
}

export interface ConvolutionGeometry {
  readonly kernelSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly dilation: readonly [number, number];
  readonly padding: Padding;
}

interface SpatialPlan {
  readonly batch: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly rows: AxisWindow;
  readonly columns: AxisWindow;
}

function planWindows(input: ReferenceTensor, geometry: ConvolutionGeometry, layer: string): SpatialPlan {
  if (input.shape.length !== 4) {
    throw new ReferenceModelError(layer, `expected a rank-4 NHWC input, found shape [${input.shape.join(', ')}]`);
  }
  const [batch, height, width, channels] = input.shape;
  const rows = windowAlongAxis(height, geometry.kernelSize[0], geometry.strides[0], geometry.dilation[0], geometry.padding);
  const columns = windowAlongAxis(width, geometry.kernelSize[1], geometry.strides[1], geometry.dilation[1], geometry.padding);
  if (rows.outputSize < 1 || columns.outputSize < 1) {
    throw new ReferenceModelError(layer, `a ${geometry.kernelSize.join('×')} window does not fit a ${height}×${width} input`);
  }
  return { batch, height, width, channels, rows, columns };
}

/**
 * Conv2D with an HWIO kernel [kh, kw, inChannels / groups, filters]; with groups, filter f reads the
 * input channels of its group ⌊f / (filters / groups)⌋ only.
 */
export function conv2d(
  input: ReferenceTensor,
  kernel: ReferenceTensor,
  bias: ReferenceTensor | null,
  geometry: ConvolutionGeometry,
  layer: string,
  groups = 1,
): ReferenceTensor {
  const plan = planWindows(input, geometry, layer);
  const [kh, kw] = geometry.kernelSize;
  const filters = kernel.shape[3];
  const perGroup = plan.channels / groups;
  requireShape(kernel.shape, [kh, kw, perGroup, filters], 'kernel', layer);
  if (!Number.isInteger(perGroup) || filters % groups !== 0) throw new ReferenceModelError(layer, `${groups} groups do not divide ${plan.channels} channels and ${filters} filters`);
  if (bias !== null) requireShape(bias.shape, [filters], 'bias', layer);
  const { batch, height, width, channels, rows, columns } = plan;
  const data: Num[] = [];
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < rows.outputSize; oy++) {
      for (let ox = 0; ox < columns.outputSize; ox++) {
        for (let f = 0; f < filters; f++) {
          const sum = new SumAccumulator(bias === null ? 0 : bias.data[f]);
          for (let ky = 0; ky < kh; ky++) {
            const iy = oy * geometry.strides[0] - rows.padBefore + ky * geometry.dilation[0];
            if (iy < 0 || iy >= height) continue;
            for (let kx = 0; kx < kw; kx++) {
              const ix = ox * geometry.strides[1] - columns.padBefore + kx * geometry.dilation[1];
              if (ix < 0 || ix >= width) continue;
              const first = Math.floor(f / (filters / groups)) * perGroup;
              for (let c = 0; c < perGroup; c++) {
                const x = input.data[((n * height + iy) * width + ix) * channels + first + c];
                const w = kernel.data[((ky * kw + kx) * perGroup + c) * filters + f];
                sum.addProduct(x, w);
              }
            }
          }
          data.push(sum.result());
        }
      }
    }
  }
  return { shape: [batch, rows.outputSize, columns.outputSize, filters], data };
}

/** DepthwiseConv2D with kernel [kh, kw, C, M]; output channel c·M + j filters input channel c. */
export function depthwiseConv2d(
  input: ReferenceTensor,
  kernel: ReferenceTensor,
  bias: ReferenceTensor | null,
  geometry: ConvolutionGeometry,
  layer: string,
): ReferenceTensor {
  const plan = planWindows(input, geometry, layer);
  const [kh, kw] = geometry.kernelSize;
  const multiplier = kernel.shape[3];
  requireShape(kernel.shape, [kh, kw, plan.channels, multiplier], 'depthwise_kernel', layer);
  const { batch, height, width, channels, rows, columns } = plan;
  const outChannels = channels * multiplier;
  if (bias !== null) requireShape(bias.shape, [outChannels], 'bias', layer);
  const data: Num[] = [];
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < rows.outputSize; oy++) {
      for (let ox = 0; ox < columns.outputSize; ox++) {
        for (let c = 0; c < channels; c++) {
          for (let j = 0; j < multiplier; j++) {
            const sum = new SumAccumulator(bias === null ? 0 : bias.data[c * multiplier + j]);
            for (let ky = 0; ky < kh; ky++) {
              const iy = oy * geometry.strides[0] - rows.padBefore + ky * geometry.dilation[0];
              if (iy < 0 || iy >= height) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = ox * geometry.strides[1] - columns.padBefore + kx * geometry.dilation[1];
                if (ix < 0 || ix >= width) continue;
                const x = input.data[((n * height + iy) * width + ix) * channels + c];
                const w = kernel.data[((ky * kw + kx) * channels + c) * multiplier + j];
                sum.addProduct(x, w);
              }
            }
            data.push(sum.result());
          }
        }
      }
    }
  }
  return { shape: [batch, rows.outputSize, columns.outputSize, outChannels], data };
}

export type PoolingKind = 'max' | 'average';

/**
 * Max or average pooling. Padded cells never take part: max ignores them and 'same' average
 * pooling divides by the number of real cells in the window, as TF does.
 */
export function pool2d(
  input: ReferenceTensor,
  kind: PoolingKind,
  poolSize: readonly [number, number],
  strides: readonly [number, number],
  padding: Padding,
  layer: string,
): ReferenceTensor {
  const plan = planWindows(input, { kernelSize: poolSize, strides, dilation: [1, 1], padding }, layer);
  const { batch, height, width, channels, rows, columns } = plan;
  const data: Num[] = [];
  for (let n = 0; n < batch; n++) {
    for (let oy = 0; oy < rows.outputSize; oy++) {
      for (let ox = 0; ox < columns.outputSize; ox++) {
        for (let c = 0; c < channels; c++) {
          const cells: Num[] = [];
          for (let ky = 0; ky < poolSize[0]; ky++) {
            const iy = oy * strides[0] - rows.padBefore + ky;
            if (iy < 0 || iy >= height) continue;
            for (let kx = 0; kx < poolSize[1]; kx++) {
              const ix = ox * strides[1] - columns.padBefore + kx;
              if (ix < 0 || ix >= width) continue;
              cells.push(input.data[((n * height + iy) * width + ix) * channels + c]);
            }
          }
          if (kind === 'max') {
            data.push(cells.reduce(maxByRealPart));
          } else {
            const sum = new SumAccumulator();
            for (const cell of cells) sum.add(cell);
            data.push(div(sum.result(), cells.length));
          }
        }
      }
    }
  }
  return { shape: [batch, rows.outputSize, columns.outputSize, channels], data };
}

/** Mean over the two spatial axes of an NHWC tensor: [N, C], or [N, 1, 1, C] with keepdims. */
export function globalAveragePool2d(input: ReferenceTensor, keepDims: boolean, layer: string): ReferenceTensor {
  if (input.shape.length !== 4) {
    throw new ReferenceModelError(layer, `expected a rank-4 NHWC input, found shape [${input.shape.join(', ')}]`);
  }
  const [batch, height, width, channels] = input.shape;
  const data: Num[] = [];
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const sum = new SumAccumulator();
      for (let p = 0; p < height * width; p++) sum.add(input.data[(n * height * width + p) * channels + c]);
      data.push(div(sum.result(), height * width));
    }
  }
  return { shape: keepDims ? [batch, 1, 1, channels] : [batch, channels], data };
}
