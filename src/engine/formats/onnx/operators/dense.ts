/** Fully connected layers: Gemm, and MatMul whose bias a later Add supplies. */
import type { OperatorHandler } from '../mapping';
import { asTensor, lastAxisLast, normalized } from '../tensorLayout';
import { productOfTwo } from './attention';

/**
 * Gemm: alpha·A·B + beta·C with A the data and B, C weights, as a Dense layer on A's last axis. With
 * alpha or beta other than 1 it is beta·((alpha/beta)·A·B + C): Rescaling layers before and after
 * keep B and C the stored parameters (beta = 0 drops C).
 */
const gemm: OperatorHandler = (n) => {
  const given = n.valueOf(0);
  if (n.attr.int('transA', 0) !== 0) n.fail('transA = 1 is not supported (A would hold the batch on its second axis)');
  const x = given.kind === 'tensor' ? lastAxisLast(n, given) : n.needFeatures(given);
  const inputUnits = x.kind === 'tensor' ? x.engine[x.engine.length - 1] : x.size;
  const [alpha, beta] = [n.attr.float('alpha', 1), n.attr.float('beta', 1)];
  const transB = n.attr.int('transB', 0) === 1;
  const b = n.constantInput(1, 'weight B');
  if (b.dims.length !== 2) n.fail(`weight '${b.name}' has dims [${b.dims}], expected rank 2`);
  const [inUnits, units] = transB ? [b.dims[1], b.dims[0]] : [b.dims[0], b.dims[1]];
  if (inUnits !== inputUnits) n.fail(`weight '${b.name}' expects ${inUnits} input features, the node receives ${inputUnits}`);
  const bias = n.node.inputs[2] && beta !== 0 ? n.constantInput(2, 'bias C') : undefined;
  if (bias && (bias.dims.reduce((a, d) => a * d, 1) !== units || bias.dims[bias.dims.length - 1] !== units)) n.fail(`bias '${bias.name}' has dims [${bias.dims}], expected [${units}] (broadcast biases are not supported)`);
  const [inputScale, outputScale] = bias ? [alpha / beta, beta] : [1, alpha];
  const rescaled = (inbound: string, scale: number, base: string) => (scale === 1 ? inbound : n.graph.addLayer(base, 'Rescaling', { scale, offset: 0 }, [inbound]).name);
  const inbound = rescaled(x.layer, inputScale, `${n.label}.alpha`);
  const layer = n.graph.addLayer(outputScale === 1 ? n.label : `${n.label}.dense`, 'Dense', { units, activation: 'linear', use_bias: bias !== undefined }, [inbound]);
  n.addWeight(layer, 'kernel', b, { kind: 'dense', transB, chw: x.kind === 'features' ? x.chw : undefined }, [inUnits, units]);
  if (bias) n.addWeight(layer, 'bias', bias, { kind: 'same' }, [units]);
  const output = rescaled(layer.name, outputScale, n.label);
  n.output(x.kind === 'tensor' ? normalized({ ...x, layer: output, engine: [...x.engine.slice(0, -1), units], nonNegative: false }) : { kind: 'features', layer: output, size: units });
};

/** MatMul by a weight [in, units]: a Dense layer, on [N, F] features or on the last axis of a channels-last or token tensor. */
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
