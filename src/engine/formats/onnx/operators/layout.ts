/**
 * Transpose between ONNX's NCHW and channels-last [N, H, W, C]: the engine holds feature maps
 * channels-last already, so the permutation only changes how later nodes read the value.
 */
import type { OperatorHandler } from '../mapping';

const toChannelsLast = [0, 2, 3, 1];
const toChannelsFirst = [0, 3, 1, 2];
const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

const transpose: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  const perm = n.attr.ints('perm', []);
  if (x.kind === 'image' && same(perm, toChannelsLast)) {
    // After global pooling the engine has [N, C]; ONNX's [N, 1, 1, C] gets its 1×1 back.
    const layer = x.squeezed ? n.graph.addLayer(`${n.label}.unsqueeze`, 'Reshape', { target_shape: [1, 1, x.c] }, [x.layer]).name : x.layer;
    return n.output({ kind: 'tensor', layer, dims: [x.h, x.w, x.c], nonNegative: x.nonNegative });
  }
  if (x.kind === 'tensor' && x.dims.length === 3 && same(perm, toChannelsFirst)) {
    const [h, w, c] = x.dims;
    return n.output({ kind: 'image', layer: x.layer, c, h, w, nonNegative: x.nonNegative });
  }
  const shape = x.kind === 'image' ? `[N, ${x.c}, ${x.h}, ${x.w}]` : x.kind === 'tensor' ? `[N, ${x.dims}]` : `[N, ${x.size}]`;
  n.fail(`perm [${perm}] of a ${shape} tensor is not supported (NCHW ↔ channels-last only)`);
};

export const layoutOperators: Record<string, OperatorHandler> = { Transpose: transpose };
