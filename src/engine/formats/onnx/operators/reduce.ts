/**
 * ReduceSum and ReduceMax over height and width of a feature map: global pooling (a sum is the mean
 * times H·W). The axes come as an attribute, or as a constant input (ReduceSum from opset 13, the
 * others from opset 18).
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

const spatialReduction = (pool: string, sum: boolean): OperatorHandler => (n) => {
  const x = n.needImage(n.valueOf(0));
  const axes = reducedAxes(n);
  if (axes.length !== 2 || axes[0] !== 2 || axes[1] !== 3) n.fail(`a reduction over axes [${axes}] is not supported (height and width, [2, 3], only)`);
  let layer = n.graph.addLayer(sum ? `${n.label}.mean` : n.label, pool, { data_format: 'channels_last' }, [x.layer]);
  if (sum) layer = n.graph.addLayer(n.label, 'Rescaling', { scale: x.h * x.w, offset: 0 }, [layer.name]);
  if (n.attr.int('keepdims', 1) === 1) n.output({ kind: 'image', layer: layer.name, c: x.c, h: 1, w: 1, squeezed: true, nonNegative: x.nonNegative });
  else n.output({ kind: 'features', layer: layer.name, size: x.c, nonNegative: x.nonNegative });
};

export const reduceOperators: Record<string, OperatorHandler> = {
  ReduceSum: spatialReduction('GlobalAveragePooling2D', true),
  ReduceMax: spatialReduction('GlobalMaxPooling2D', false),
};
