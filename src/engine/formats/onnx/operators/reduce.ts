/**
 * ReduceMean, ReduceSum and ReduceMax of a feature map over height and width (global pooling; a sum
 * is the mean times H·W) or over its channels, kept as one channel (a ChannelReduce layer). The axes
 * come as an attribute, or as a constant input (ReduceSum from opset 13, the others from opset 18).
 */
import type { NodeMapping, OperatorHandler } from '../mapping';

function reducedAxes(n: NodeMapping): number[] {
  const given = n.node.inputs[1];
  let axes: readonly number[];
  if (given) {
    const known = n.graph.intOf(given);
    if (known === undefined || known.values.some((a) => typeof a !== 'number')) return n.fail(`its axes (input 1, '${given}') must be a constant`);
    axes = known.values as number[];
  } else axes = n.attr.ints('axes', []);
  return axes.map((a) => (a < 0 ? a + 4 : a)).sort((a, b) => a - b);
}

type Reduction = 'mean' | 'sum' | 'max';

const reduction = (kind: Reduction): OperatorHandler => (n) => {
  const x = n.needImage(n.valueOf(0));
  const axes = reducedAxes(n);
  const keepDims = n.attr.int('keepdims', 1) === 1;
  if (axes.length === 1 && axes[0] === 1) {
    if (!keepDims) n.fail('a reduction over the channels with keepdims = 0 is not supported (keepdims = 1 only)');
    const layer = n.graph.addLayer(n.label, 'ChannelReduce', { reduction: kind }, [x.layer]);
    return n.output({ kind: 'image', layer: layer.name, c: 1, h: x.h, w: x.w, nonNegative: x.nonNegative });
  }
  if (axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) n.fail(`a reduction over axes [${axes}] is not supported (height and width [2, 3], or the channels [1])`);
  const pool = kind === 'max' ? 'GlobalMaxPooling2D' : 'GlobalAveragePooling2D';
  let layer = n.graph.addLayer(kind === 'sum' ? `${n.label}.mean` : n.label, pool, { data_format: 'channels_last' }, [x.layer]);
  if (kind === 'sum') layer = n.graph.addLayer(n.label, 'Rescaling', { scale: x.h * x.w, offset: 0 }, [layer.name]);
  if (keepDims) n.output({ kind: 'image', layer: layer.name, c: x.c, h: 1, w: 1, squeezed: true, nonNegative: x.nonNegative });
  else n.output({ kind: 'features', layer: layer.name, size: x.c, nonNegative: x.nonNegative });
};

export const reduceOperators: Record<string, OperatorHandler> = {
  ReduceMean: reduction('mean'),
  ReduceSum: reduction('sum'),
  ReduceMax: reduction('max'),
};
