/**
 * Checks a weight's stored shape against what its layer's config implies (units, filters,
 * kernel_size), so a file whose weights do not fit its model_config is refused with the layer named
 * instead of failing later inside a matrix multiply.
 */
import type { LayerNode, Shape } from '../../model/spec';
import { FileProblem } from '../../../protocol/errors';

/** Expected shape with `undefined` for dimensions the config does not fix (e.g. input channels). */
function expectedShape(node: LayerNode, role: string): (number | undefined)[] | undefined {
  const c = node.config;
  const pair = (v: unknown): (number | undefined)[] => (Array.isArray(v) ? v.map((d) => (typeof d === 'number' ? d : undefined)) : typeof v === 'number' ? [v, v] : [undefined, undefined]);
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  switch (node.className) {
    case 'Dense':
      if (role === 'kernel') return [undefined, num(c.units)];
      if (role === 'bias') return [num(c.units)];
      return undefined;
    case 'Conv2D':
    case 'Conv2DTranspose':
      if (role === 'kernel') return node.className === 'Conv2D' ? [...pair(c.kernel_size), undefined, num(c.filters)] : [...pair(c.kernel_size), num(c.filters), undefined];
      if (role === 'bias') return [num(c.filters)];
      return undefined;
    case 'Conv1D':
      if (role === 'kernel') return [Array.isArray(c.kernel_size) ? num(c.kernel_size[0]) : num(c.kernel_size), undefined, num(c.filters)];
      if (role === 'bias') return [num(c.filters)];
      return undefined;
    case 'DepthwiseConv2D':
      if (role === 'depthwise_kernel') return [...pair(c.kernel_size), undefined, num(c.depth_multiplier) ?? 1];
      return undefined;
    default:
      return undefined;
  }
}

export function checkWeightShape(node: LayerNode, weightName: string, role: string, shape: Shape, file: string): void {
  const expected = expectedShape(node, role);
  if (expected === undefined) return;
  const fits = expected.length === shape.length && expected.every((d, i) => d === undefined || d === shape[i]);
  if (!fits) {
    const wanted = `[${expected.map((d) => d ?? '?').join(', ')}]`;
    throw new FileProblem(file, `layer '${node.name}': weight '${weightName}' has shape [${shape.join(', ')}], but the ${node.className} config implies ${wanted}`);
  }
}
