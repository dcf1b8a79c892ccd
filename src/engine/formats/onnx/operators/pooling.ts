/**
 * MaxPool and AveragePool (pads, ceil_mode) and the global pools (reduce.ts: ReduceMean and the others). TensorFlow's pools pad only as
 * 'same' does; other pads become a ZeroPadding2D layer where zeros give the same result: average
 * pooling that counts the padded cells (count_include_pad), and max pooling of an input that is
 * provably non-negative (after a ReLU), where a zero never exceeds the window's maximum. Max pooling
 * of any other input repeats the border cells instead (EdgePadding2D), which keeps every maximum;
 * average pooling over fewer cells than the window (pads not counted, ceil_mode) divides by the
 * fraction of the window that counts.
 */
import type { ImageValue, NodeMapping, OperatorHandler } from '../mapping';
import { explicitPadsOf, hasPads, windowOf, type Window } from './window';

type Padding = { padding: 'valid' | 'same'; explicit?: 'ZeroPadding2D' | 'EdgePadding2D'; countedCells?: 'input' | 'input and pads' };

function padding(n: NodeMapping, x: ImageValue, window: Window, kernel: readonly number[]): Padding {
  if (!hasPads(window)) return { padding: 'valid' };
  const ceilExtra = window.ceilExtra.some((e) => e > 0);
  const [top, left, bottom, right] = window.pads;
  const reachesWholeWindow = Math.max(top, bottom) >= kernel[0] || Math.max(left, right) >= kernel[1];
  if (n.node.opType === 'AveragePool') {
    const includePads = n.attr.int('count_include_pad', 0) === 1;
    if (includePads && !ceilExtra) return { padding: 'valid', explicit: 'ZeroPadding2D' };
    if (!includePads && !ceilExtra && window.matchesSame) return { padding: 'same' };
    if (reachesWholeWindow) n.fail(`pads [${window.pads}] reach a whole window (kernel_shape [${kernel}]) past the input; not supported`);
    return { padding: 'valid', countedCells: includePads ? 'input and pads' : 'input' };
  }
  if (window.matchesSame) return { padding: 'same' };
  if (x.nonNegative) return { padding: 'valid', explicit: 'ZeroPadding2D' };
  // Repeating the border cells keeps every maximum as long as each window holds a cell of the input.
  if (reachesWholeWindow) n.fail(`pads [${window.pads}] reach a whole window (kernel_shape [${kernel}]) past the input; not supported`);
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
  if (how.countedCells) return n.output({ kind: 'image', layer: averageOfCountedCells(n, x, window, kernel, how.countedCells), c: x.c, h: window.outH, w: window.outW, nonNegative: x.nonNegative });
  let inbound = x.layer;
  if (how.explicit) inbound = n.graph.addLayer(`${n.label}.pad`, how.explicit, { padding: explicitPadsOf(window), data_format: 'channels_last' }, [inbound]).name;
  const className = n.node.opType === 'MaxPool' ? 'MaxPooling2D' : 'AveragePooling2D';
  const layer = n.graph.addLayer(n.label, className, { pool_size: kernel, strides: window.strides, padding: how.padding, data_format: 'channels_last' }, [inbound]);
  n.output({ kind: 'image', layer: layer.name, c: x.c, h: window.outH, w: window.outW, nonNegative: x.nonNegative });
};

/**
 * An average over the cells a window counts (the input's, or also the node's pads; never what
 * ceil_mode adds): the mean over the zero-padded window divided by the fraction of it that counts.
 * That fraction is pooled from ones made as x·0 + 1, so it is exact and carries no derivative.
 */
function averageOfCountedCells(n: NodeMapping, x: ImageValue, window: Window, kernel: readonly number[], counted: 'input' | 'input and pads'): string {
  const add = (base: string, className: string, config: Record<string, unknown>, inbound: string[]) => n.graph.addLayer(base, className, config, inbound).name;
  const format = { data_format: 'channels_last' };
  const pool = { pool_size: kernel, strides: window.strides, padding: 'valid', ...format };
  const allPads = explicitPadsOf(window);
  const mean = add(`${n.label}.mean`, 'AveragePooling2D', pool, [add(`${n.label}.pad`, 'ZeroPadding2D', { padding: allPads, ...format }, [x.layer])]);
  const [extraH, extraW] = window.ceilExtra;
  const nodePads = [[allPads[0][0], allPads[0][1] - extraH], [allPads[1][0], allPads[1][1] - extraW]];
  const ones = counted === 'input'
    ? add(`${n.label}.ones`, 'Rescaling', { scale: 0, offset: 1 }, [x.layer])
    : add(`${n.label}.ones`, 'Rescaling', { scale: 0, offset: 1 }, [add(`${n.label}.pads`, 'ZeroPadding2D', { padding: nodePads, ...format }, [x.layer])]);
  const rest = counted === 'input' ? allPads : [[0, extraH], [0, extraW]];
  const fraction = add(`${n.label}.fraction`, 'AveragePooling2D', pool, [add(`${n.label}.uncounted`, 'ZeroPadding2D', { padding: rest, ...format }, [ones])]);
  return add(n.label, 'Multiply', {}, [mean, add(`${n.label}.inverse`, 'Power', { exponent: -1 }, [fraction])]);
}

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
