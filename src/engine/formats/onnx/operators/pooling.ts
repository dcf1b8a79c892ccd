/**
 * MaxPool and AveragePool (pads, ceil_mode) and the global pools (reduce.ts: ReduceMean and the others). TensorFlow's pools pad only as
 * 'same' does; other pads become a ZeroPadding2D layer where zeros give the same result: average
 * pooling that counts the padded cells (count_include_pad), and max pooling of an input that is
 * provably non-negative (after a ReLU), where a zero never exceeds the window's maximum. Max pooling
 * of any other input repeats the border cells instead (EdgePadding2D), which keeps every maximum.
 */
import type { ImageValue, NodeMapping, OperatorHandler } from '../mapping';
import { explicitPadsOf, hasPads, windowOf, type Window } from './window';

type Padding = { padding: 'valid' | 'same'; explicit?: 'ZeroPadding2D' | 'EdgePadding2D' };

function padding(n: NodeMapping, x: ImageValue, window: Window, kernel: readonly number[]): Padding {
  if (!hasPads(window)) return { padding: 'valid' };
  const ceilExtra = window.ceilExtra.some((e) => e > 0);
  if (n.node.opType === 'AveragePool') {
    if (ceilExtra) n.fail('ceil_mode = 1 adds a partial window here; averaging over it is not supported');
    if (n.attr.int('count_include_pad', 0) === 1) return { padding: 'valid', explicit: 'ZeroPadding2D' };
    if (window.matchesSame) return { padding: 'same' };
    return n.fail(`pads [${window.pads}] are not supported for average pooling without count_include_pad: only none, or the ones TensorFlow's 'same' padding uses here`);
  }
  if (window.matchesSame) return { padding: 'same' };
  if (x.nonNegative) return { padding: 'valid', explicit: 'ZeroPadding2D' };
  // Repeating the border cells keeps every maximum as long as each window holds a cell of the input.
  const [top, left, bottom, right] = window.pads;
  if (Math.max(top, bottom) >= kernel[0] || Math.max(left, right) >= kernel[1]) n.fail(`pads [${window.pads}] reach a whole window (kernel_shape [${kernel}]) past the input; not supported`);
  return { padding: 'valid', explicit: 'EdgePadding2D' };
}

const windowPool: OperatorHandler = (n) => {
  const x = n.needImage(n.valueOf(0));
  const kernel = n.attr.ints('kernel_shape', []);
  if (kernel.length !== 2) n.fail(`kernel_shape [${kernel}] is not supported (2-D pooling only)`);
  const ceilMode = n.attr.int('ceil_mode', 0);
  if (ceilMode !== 0 && ceilMode !== 1) n.fail(`ceil_mode ${ceilMode} must be 0 or 1`);
  const window = windowOf(n.attr, n.fail, x, [kernel[0], kernel[1]], ceilMode === 1);
  if (window.dilations.some((d) => d !== 1)) n.fail(`dilations [${window.dilations}] are not supported for pooling`);
  const how = padding(n, x, window, kernel);
  let inbound = x.layer;
  if (how.explicit) inbound = n.graph.addLayer(`${n.label}.pad`, how.explicit, { padding: explicitPadsOf(window), data_format: 'channels_last' }, [inbound]).name;
  const className = n.node.opType === 'MaxPool' ? 'MaxPooling2D' : 'AveragePooling2D';
  const layer = n.graph.addLayer(n.label, className, { pool_size: kernel, strides: window.strides, padding: how.padding, data_format: 'channels_last' }, [inbound]);
  n.output({ kind: 'image', layer: layer.name, c: x.c, h: window.outH, w: window.outW, nonNegative: x.nonNegative });
};

const globalPool = (className: string): OperatorHandler => (n) => {
  const x = n.needImage(n.valueOf(0));
  const layer = n.graph.addLayer(n.label, className, { data_format: 'channels_last' }, [x.layer]);
  n.output({ kind: 'image', layer: layer.name, c: x.c, h: 1, w: 1, squeezed: true, nonNegative: x.nonNegative });
};

export const poolingOperators: Record<string, OperatorHandler> = {
  MaxPool: windowPool,
  AveragePool: windowPool,
  GlobalAveragePool: globalPool('GlobalAveragePooling2D'),
  GlobalMaxPool: globalPool('GlobalMaxPooling2D'),
};
