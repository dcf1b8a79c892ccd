/**
 * One ONNX graph for the objective of a batch: the batch's share of the mean loss, its gradient
 * (reverse mode) and, for k directions, the exact Hessian-vector products (forward mode through
 * the forward and backward passes: one forward, one backward, k R-passes).
 */
import type { LossKind } from '../../model/loss';
import type { NetworkFunction } from '../../model/network';
import { sizeOf, type ModelSpec, type WeightTensor } from '../../model/spec';
import { ModelProblem } from '../../../protocol/errors';
import { channelsFirstLayers, layerRules, toChannelsFirst, toChannelsLast } from './layerRules';
import { encodeModel, type GraphNode, type GraphPort } from './onnxModel';
import { filterLayout, parameterLayouts, toGraphLayout, type ParameterLayout } from './parameterLayout';
import { Tape, type Value } from './tape';

const inverse = (perm: readonly number[]) => perm.map((_, i) => perm.indexOf(i));

/**
 * What a graph computes. Products with `tensor` take directions that are zero outside that weight
 * tensor and give only that tensor's part of the product, (H v)_k = H_kk v_k: the R-pass then skips
 * every layer before the tensor and every other tensor's output.
 */
export type GraphOutputs =
  | { readonly kind: 'loss' }
  | { readonly kind: 'gradient' }
  | {
      readonly kind: 'hvp';
      readonly directions: number;
      readonly tensor?: number;
      /** Also every tensor's restricted product of direction 0's part in it (`restrictedProductName`), on the same tape. */
      readonly restricted?: boolean;
    };

export interface ObjectiveGraph {
  readonly model: Uint8Array;
  readonly outputNames: readonly string[];
  /** Nodes in the emitted graph, after removing those no output needs. */
  readonly nodeCount: number;
}

export const inputName = 'x';
export const targetsName = 'targets';
export const parameterName = (i: number) => `theta_${i}`;
export const directionName = (direction: number, i: number) => `v${direction}_${i}`;
export const lossName = 'loss';
/** The network's outputs as the loss takes them (logits for ce and bce), [N, units]: the gradient graph gives them for accuracy. */
export const outputsName = 'outputs';
export const gradientName = (i: number) => `grad_${i}`;
export const productName = (direction: number, i: number) => `hv${direction}_${i}`;
/** H_ii v_i for direction 0's part v_i in tensor i alone. */
export const restrictedProductName = (i: number) => `rhv_${i}`;

/** The per-sample loss, summed over the batch: z [N, units] are logits for ce and bce, outputs for mse. */
function summedLoss(t: Tape, loss: LossKind, z: Value, targets: Value): Value {
  const units = z.shape[1];
  let perElement: Value;
  if (loss === 'ce') {
    const shifted = t.sub(z, t.detachedMax(z, 1));
    const logSumExp = t.log(t.reduceSum(t.exp(shifted), [1]));
    perElement = t.mul(targets, t.sub(logSumExp, shifted));
  } else if (loss === 'bce') {
    const absolute = t.add(t.relu(z), t.relu(t.neg(z)));
    const softplus = t.add(t.relu(z), t.log(t.add(t.scalar(1), t.exp(t.neg(absolute)))));
    perElement = t.scale(t.sub(softplus, t.mul(targets, z)), 1 / units);
  } else {
    const residual = t.sub(z, targets);
    perElement = t.scale(t.mul(residual, residual), 1 / units);
  }
  return t.reshape(t.reduceSum(perElement, [0, 1]), []);
}

/** Why the ONNX Runtime engine cannot run this model (a layer it has no rule for), or undefined. */
export function unsupportedByOnnxRuntime(model: ModelSpec): string | undefined {
  const rules = layerRules(() => undefined);
  const missing = [...new Set(model.layers.filter((l) => !rules[l.className]).map((l) => l.className))];
  return missing.length === 0 ? undefined : `the ONNX Runtime engine has no rule for ${missing.join(', ')}`;
}

export function forward(t: Tape, network: NetworkFunction, x: Value, parameters: readonly Value[], layouts: readonly ParameterLayout[], logits: boolean): Value {
  const { checkpoint } = network;
  const model = checkpoint.model;
  const outputName = model.outputs[0];
  // A tensor several layers read stays one graph input (its gradient sums over the uses).
  const uses = (w: WeightTensor) => [{ layer: w.layer, role: w.role }, ...(w.alsoUsedBy ?? [])].map((u) => `${u.layer}\u0000${u.role}`);
  const indexOf = new Map(network.parameters.map((p, i) => [p.name, i]));
  const trainable = new Map(checkpoint.weights.filter((w) => w.trainable).flatMap((w) => uses(w).map((key) => [key, indexOf.get(w.name)!] as const)));
  const constantWeights = new Map(checkpoint.weights.filter((w) => !w.trainable).flatMap((w) => uses(w).map((key) => [key, w] as const)));
  const constants = new Map<string, Value>();
  const constantValue = (layer: string, role: string) => constantWeights.get(`${layer}\u0000${role}`)?.values;
  const weight = (layer: string, role: string): Value | undefined => {
    const key = `${layer}\u0000${role}`;
    const i = trainable.get(key);
    if (i !== undefined) return layouts[i].permutation ? t.reshape(t.transpose(parameters[i], inverse(layouts[i].permutation!)), network.parameters[i].shape) : parameters[i];
    const w = constantWeights.get(key);
    if (!w) return undefined;
    let c = constants.get(w.name);
    if (!c) constants.set(w.name, (c = t.constant(w.values, w.shape)));
    return c;
  };
  /** A convolution's kernel as ONNX's filter: a graph input already in that layout, else laid out here. */
  const filter = (layer: string, className: string, role: string): Value | undefined => {
    const key = `${layer}\u0000${role}`;
    const i = trainable.get(key);
    if (i !== undefined && layouts[i].permutation) return parameters[i];
    const stored = weight(layer, role);
    const layout = stored && filterLayout(className, role, stored.shape);
    if (!stored || !layout) return stored;
    const w = constantWeights.get(key);
    if (w) return t.constant(toGraphLayout(layout, w.shape, w.values), layout.graphShape);
    return t.reshape(t.transpose(stored, layout.permutation!), layout.graphShape);
  };
  const rules = layerRules(constantValue);
  // Each layer's output with whether it is an NCHW feature map; each layout change is emitted once per value.
  const outputs = new Map<string, { value: Value; channelsFirst: boolean }>();
  const converted = new Map<string, Value>();
  const inLayout = (output: { value: Value; channelsFirst: boolean }, channelsFirst: boolean): Value => {
    const { value } = output;
    if (value.shape.length !== 4 || output.channelsFirst === channelsFirst) return value;
    const key = `${value.name}\u0000${channelsFirst}`;
    let v = converted.get(key);
    if (!v) converted.set(key, (v = t.transpose(value, channelsFirst ? toChannelsFirst : toChannelsLast)));
    return v;
  };
  for (const node of model.layers) {
    const rule = rules[node.className];
    if (!rule) throw new ModelProblem(node.name, `layer type '${node.className}' is not supported by the ONNX Runtime engine (use --backend wasm)`);
    const inbound = node.inbound.length === 0 ? [{ value: x, channelsFirst: false }] : node.inbound.map((name) => outputs.get(name)!);
    const layout = channelsFirstLayers[node.className];
    const channelsFirst = layout === 'spatial' || (layout === 'either' && inbound.some((i) => i.channelsFirst && i.value.shape.length === 4));
    const inputs = inbound.map((i) => inLayout(i, channelsFirst));
    const withoutActivation = logits && node.name === outputName && network.outputHead !== 'none';
    const value = rule({ tape: t, node, inputs, weight: (role) => weight(node.name, role), filter: (role) => filter(node.name, node.className, role), withoutActivation, channelsFirst });
    outputs.set(node.name, { value, channelsFirst: channelsFirst && value.shape.length === 4 });
  }
  return inLayout(outputs.get(outputName)!, false);
}

/** Keeps only the nodes some output depends on. */
export function liveNodes(nodes: readonly GraphNode[], outputs: readonly string[]): GraphNode[] {
  const needed = new Set(outputs);
  const kept: GraphNode[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    if (!nodes[i].outputs.some((o) => needed.has(o))) continue;
    kept.push(nodes[i]);
    for (const input of nodes[i].inputs) needed.add(input);
  }
  return kept.reverse();
}

/** The objective's quantities recorded on a tape, before they are cut into graphs. */
export interface ObjectiveTape {
  readonly tape: Tape;
  /** Data, weights, then directions (for products). */
  readonly inputs: readonly GraphPort[];
  readonly outputs: readonly GraphPort[];
  /** Every node, the outputs' Identity nodes included. */
  readonly nodes: readonly GraphNode[];
}

export function recordObjective(network: NetworkFunction, loss: LossKind, batchSize: number, datasetCount: number, outputs: GraphOutputs): ObjectiveTape {
  const t = new Tape();
  const x = t.input(inputName, [batchSize, ...network.inputShape], false);
  const units = network.outputUnits;
  const targets = t.input(targetsName, [batchSize, units], false);
  const layouts = parameterLayouts(network);
  const parameters = network.parameters.map((_, i) => t.input(parameterName(i), layouts[i].graphShape, true));
  const output = forward(t, network, x, parameters, layouts, loss !== 'mse');
  const z = t.reshape(output, [batchSize, sizeOf(output.shape) / batchSize]);
  const share = t.scale(summedLoss(t, loss, z, targets), 1 / datasetCount);
  const graphOutputs: { name: string; value: Value }[] = [{ name: lossName, value: share }];
  const graphInputs: GraphPort[] = [
    { name: inputName, shape: x.shape, type: 'float' },
    { name: targetsName, shape: targets.shape, type: 'float' },
    ...parameters.map((p) => ({ name: p.name, shape: p.shape, type: 'float' as const })),
  ];
  if (outputs.kind !== 'loss') {
    const gradients = t.gradients(share, parameters);
    if (outputs.kind === 'gradient') {
      gradients.forEach((g, i) => graphOutputs.push({ name: gradientName(i), value: g }));
      graphOutputs.push({ name: outputsName, value: z });
    }
    else {
      graphOutputs.length = 0;
      const seeded = parameters.map((_, i) => i).filter((i) => outputs.tensor === undefined || i === outputs.tensor);
      // Every R-pass runs over the forward and backward pass only, not over another direction's R-pass.
      const backwardEnd = t.primitiveCount;
      for (let d = 0; d < outputs.directions; d++) {
        const seeds = new Map(seeded.map((i) => [parameters[i].name, t.input(directionName(d, i), parameters[i].shape, true)]));
        for (const [, v] of seeds) graphInputs.push({ name: v.name, shape: v.shape, type: 'float' });
        const products = t.tangents(seeds, seeded.map((i) => gradients[i]), backwardEnd);
        seeded.forEach((i, k) => graphOutputs.push({ name: productName(d, i), value: products[k] }));
      }
      // After the full products, so that a recording with fewer directions names its values alike.
      if (outputs.restricted) {
        parameters.forEach((p, i) => {
          const [product] = t.tangents(new Map([[p.name, { name: directionName(0, i), shape: p.shape, variable: true }]]), [gradients[i]], backwardEnd);
          graphOutputs.push({ name: restrictedProductName(i), value: product });
        });
      }
    }
  }
  // Graph outputs get their own names through Identity nodes (an output may also be an input or a constant).
  const nodes: GraphNode[] = [...t.nodes, ...graphOutputs.map((o) => ({ op: 'Identity', inputs: [o.value.name], outputs: [o.name] }))];
  return { tape: t, inputs: graphInputs, outputs: graphOutputs.map((o) => ({ name: o.name, shape: o.value.shape, type: 'float' as const })), nodes };
}

export function buildObjectiveGraph(network: NetworkFunction, loss: LossKind, batchSize: number, datasetCount: number, outputs: GraphOutputs): ObjectiveGraph {
  const recorded = recordObjective(network, loss, batchSize, datasetCount, outputs);
  const outputNames = recorded.outputs.map((o) => o.name);
  const live = liveNodes(recorded.nodes, outputNames);
  const used = new Set(live.flatMap((n) => n.inputs));
  const model = encodeModel({ nodes: live, initializers: recorded.tape.initializers.filter((i) => used.has(i.name)), inputs: recorded.inputs, outputs: recorded.outputs }, `objective_${outputs.kind}`);
  return { model, outputNames, nodeCount: live.length };
}
