/** Fully connected layers: Gemm, and MatMul whose bias a later Add supplies. */
import type { OperatorHandler } from '../mapping';
import { asTensor, lastAxisLast, normalized } from '../tensorLayout';
import { productOfTwo } from './attention';

const gemm: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  if (given.kind === 'tensor') return gemmOnTensor(n, lastAxisLast(n, given));
  const x = n.needFeatures(given);
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
/** Gemm on a 2-D ONNX value that the engine holds with more axes (tokens with the batch merged in): a Dense on its last axis. */
function gemmOnTensor(n: Parameters<OperatorHandler>[0], x: import('../mapping').TensorValue): void {
  if (n.attr.int('transA', 0) !== 0) n.fail('transA = 1 is not supported');
  for (const key of ['alpha', 'beta']) if (n.attr.float(key, 1) !== 1) n.fail(`${key} = ${n.attr.float(key, 1)} is not supported (1 only)`);
  const transB = n.attr.int('transB', 0) === 1;
  const b = n.constantInput(1, 'weight B');
  const [inUnits, units] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
  if (b.dims.length !== 2 || inUnits !== x.engine[x.engine.length - 1]) n.fail(`weight '${b.name}' has dims [${b.dims}], expected ${x.engine[x.engine.length - 1]} input features`);
  const bias = n.node.inputs[2] ? n.constantInput(2, 'bias C') : undefined;
  if (bias && bias.dims.reduce((a, d) => a * d, 1) !== units) n.fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${units}]`);
  const layer = n.graph.addLayer(n.label, 'Dense', { units, activation: 'linear', use_bias: bias !== undefined }, [x.layer]);
  n.addWeight(layer, 'kernel', b, { kind: 'dense', transB }, [inUnits, units]);
  if (bias) n.addWeight(layer, 'bias', bias, { kind: 'same' }, [units]);
  n.output(normalized({ ...x, layer: layer.name, engine: [...x.engine.slice(0, -1), units], nonNegative: false }));
}

const matMul: OperatorHandler = (n) => {
  if (!n.graph.initializers.has(n.node.inputs[1])) return productOfTwo(n);
  const given = n.valueOf(0);
  const x = given.kind === 'features' ? given : lastAxisLast(n, asTensor(given));
  const inUnits = x.kind === 'tensor' ? x.engine[x.engine.length - 1] : x.size;
  const b = n.constantInput(1, 'weight B');
  if (b.dims.length !== 2 || b.dims[0] !== inUnits) n.fail(`weight '${b.name}' has dims [${b.dims}], expected [${inUnits}, units]`);
  const layer = n.graph.addLayer(n.label, 'Dense', { units: b.dims[1], activation: 'linear', use_bias: false }, [x.layer]);
  n.addWeight(layer, 'kernel', b, { kind: 'dense', transB: false, chw: x.kind === 'features' ? x.chw : undefined }, [b.dims[0], b.dims[1]]);
  n.output(x.kind === 'tensor' ? normalized({ ...x, layer: layer.name, engine: [...x.engine.slice(0, -1), b.dims[1]], nonNegative: false }) : { kind: 'features', layer: layer.name, size: b.dims[1] });
  if (n.graph.consumers.get(n.node.outputs[0]) === 1) n.graph.biasless.set(n.node.outputs[0], layer);
};

export const denseOperators: Record<string, OperatorHandler> = { Gemm: gemm, MatMul: matMul };
