/** Fully connected layers: Gemm, and MatMul whose bias a later Add supplies. */
import type { OperatorHandler } from '../mapping';

const gemm: OperatorHandler = (n) => {
  const x = n.needFeatures(n.valueOf(0));
  if (n.attr.int('transA', 0) !== 0) n.fail('transA = 1 is not supported');
  for (const key of ['alpha', 'beta']) if (n.attr.float(key, 1) !== 1) n.fail(`${key} = ${n.attr.float(key, 1)} is not supported (1 only)`);
  const transB = n.attr.int('transB', 0) === 1;
  const b = n.constantInput(1, 'weight B');
  if (b.dims.length !== 2) n.fail(`weight '${b.name}' has dims [${b.dims}], expected rank 2`);
  const [inUnits, units] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
  if (inUnits !== x.size) n.fail(`weight '${b.name}' expects ${inUnits} input features, the node receives ${x.size}`);
  const bias = n.node.inputs[2] ? n.constantInput(2, 'bias C') : undefined;
  if (bias && bias.dims.reduce((a, d) => a * d, 1) !== units) n.fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${units}] (broadcast biases are not supported)`);
  const layer = n.graph.addLayer(n.label, 'Dense', { units, activation: 'linear', use_bias: bias !== undefined }, [x.layer]);
  n.addWeight(layer, 'kernel', b, { kind: 'dense', transB, chw: x.chw }, [inUnits, units]);
  if (bias) n.addWeight(layer, 'bias', bias, { kind: 'same' }, [units]);
  n.output({ kind: 'features', layer: layer.name, size: units });
};

/** MatMul by a weight [in, units]: a Dense layer, on [N, F] features or on the last axis of a channels-last or token tensor. */
const matMul: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  const x = given.kind === 'tensor' ? given : n.needFeatures(given);
  const inUnits = x.kind === 'tensor' ? x.dims[x.dims.length - 1] : x.size;
  const b = n.constantInput(1, 'weight B');
  if (b.dims.length !== 2 || b.dims[0] !== inUnits) n.fail(`weight '${b.name}' has dims [${b.dims}], expected [${inUnits}, units]`);
  const layer = n.graph.addLayer(n.label, 'Dense', { units: b.dims[1], activation: 'linear', use_bias: false }, [x.layer]);
  n.addWeight(layer, 'kernel', b, { kind: 'dense', transB: false, chw: x.kind === 'features' ? x.chw : undefined }, [b.dims[0], b.dims[1]]);
  n.output(x.kind === 'tensor' ? { kind: 'tensor', layer: layer.name, dims: [...x.dims.slice(0, -1), b.dims[1]] } : { kind: 'features', layer: layer.name, size: b.dims[1] });
  if (n.graph.consumers.get(n.node.outputs[0]) === 1) n.graph.biasless.set(n.node.outputs[0], layer);
};

export const denseOperators: Record<string, OperatorHandler> = { Gemm: gemm, MatMul: matMul };
