/** Nodes that move values without computing: Constant, Identity, Dropout, Flatten, and Reshape to [N, -1] (channels.ts maps Reshape). */
import { BATCH } from '../constantFolding';
import type { OnnxTensor } from '../proto';
import { valueSize, type OperatorHandler } from '../mapping';
import { asTensor, materialized, normalized, onnxDims, reshapedTo, resolvedTarget } from '../tensorLayout';

const constant: OperatorHandler = (n) => {
  const value = n.node.attributes.get('value');
  if (value?.kind !== 'tensor') n.fail("only the 'value' tensor form is supported");
  n.graph.constants.set(n.node.outputs[0], (value as { value: OnnxTensor }).value);
};

/** Flatten (axis 1) and Reshape to [N, -1]: both flatten each sample. */
export const flatten: OperatorHandler = (n) => {
  const x = n.valueOf(0);
  if (n.node.opType === 'Flatten') {
    const axis = n.attr.int('axis', 1);
    if (axis !== 1) n.fail(`axis ${axis} is not supported (1 only)`);
  } else {
    const shape = n.graph.intOf(n.node.inputs[1]);
    if (!shape) n.fail('its shape must be a constant, or computed from shapes and constants');
    const target = shape!.values;
    const size = valueSize(x);
    const batch = target[0];
    const flat = target.length === 2 && (batch === BATCH || batch === 0 || batch === -1 || (typeof batch === 'number' && batch > 0)) && (target[1] === -1 || target[1] === size) && !(batch === -1 && target[1] === -1);
    if (!flat) return n.output(normalized(reshapedTo(n, asTensor(x), resolvedTarget(n, onnxDims(asTensor(x)), target))));
  }
  if (x.kind === 'features') return n.output(x);
  // ONNX and the engine hold such a tensor in one layout, so both flatten it in one order.
  if (x.kind === 'tensor') return n.output({ kind: 'features', layer: n.graph.addLayer(n.label, 'Flatten', {}, [materialized(n, x).layer]).name, size: valueSize(x), nonNegative: x.nonNegative });
  if (x.squeezed) return n.output({ kind: 'features', layer: x.layer, size: x.c, nonNegative: x.nonNegative });
  const layer = n.graph.addLayer(n.label, 'Flatten', {}, [x.layer]);
  const needsOrder = x.c > 1 && x.h * x.w > 1;
  n.output({ kind: 'features', layer: layer.name, size: x.c * x.h * x.w, chw: needsOrder ? [x.c, x.h, x.w] : undefined, nonNegative: x.nonNegative });
};

export const shapeOperators: Record<string, OperatorHandler> = {
  Constant: constant,
  Identity: (n) => n.output(n.valueOf(0)),
  Dropout: (n) => n.output(n.valueOf(0)),
  Flatten: flatten,
};
