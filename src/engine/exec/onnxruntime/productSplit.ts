/**
 * The Hessian-vector product graph cut in two at fixed weights: a state graph, run once per weight
 * point and batch, computes everything that does not depend on the directions (activations, ReLU
 * masks, max-pool indices, the backward pass's deltas), and a product graph takes those values as
 * inputs and runs only the R-passes. The same nodes as the whole graph, so the same numbers.
 */
import type { LossKind } from '../../model/loss';
import type { NetworkFunction } from '../../model/network';
import { encodeModel, type GraphNode, type GraphPort } from './onnxModel';
import { directionName, liveNodes, recordObjective } from './objectiveGraph';

export interface ProductSplit {
  /** Inputs: data and weights; outputs: the shared values. */
  readonly state: { readonly model: Uint8Array; readonly outputs: readonly GraphPort[] };
  /** Inputs: data, weights, directions and the shared values; outputs: the products. */
  readonly product: { readonly model: Uint8Array; readonly outputNames: readonly string[] };
  /** Bytes of the shared values of one batch. */
  readonly stateBytes: number;
}

type Dependence = 'constant' | 'weights' | 'directions';

const bytesPerElement = { float: 4, int64: 8, bool: 1 } as const;

/** `tensor`: products restricted to one weight tensor's block (see GraphOutputs). */
export function splitProductGraphs(network: NetworkFunction, loss: LossKind, batchSize: number, datasetCount: number, directions: number, tensor?: number): ProductSplit {
  const recorded = recordObjective(network, loss, batchSize, datasetCount, { kind: 'hvp', directions, tensor });
  const outputNames = recorded.outputs.map((o) => o.name);
  const seeded = network.parameters.map((_, i) => i).filter((i) => tensor === undefined || i === tensor);
  const directionInputs = new Set(Array.from({ length: directions }, (_, d) => seeded.map((i) => directionName(d, i))).flat());
  const dependence = new Map<string, Dependence>();
  for (const input of recorded.inputs) dependence.set(input.name, directionInputs.has(input.name) ? 'directions' : 'weights');
  const live = liveNodes(recorded.nodes, outputNames);
  const kindOf = (node: GraphNode): Dependence => {
    const inputs = node.inputs.filter((name) => name !== '').map((name) => dependence.get(name) ?? 'constant');
    return inputs.includes('directions') ? 'directions' : inputs.includes('weights') ? 'weights' : 'constant';
  };
  for (const node of live) {
    const kind = kindOf(node);
    for (const output of node.outputs) dependence.set(output, kind);
  }
  // Constant nodes (zeros, shapes) are cheap and go into whichever graph reads them.
  const productNodes = liveNodes(live.filter((n) => kindOf(n) !== 'weights'), outputNames);
  const produced = new Set(productNodes.flatMap((n) => n.outputs));
  const graphInputs = new Set(recorded.inputs.map((i) => i.name));
  const shared = [...new Set(productNodes.flatMap((n) => n.inputs))].filter((name) => !produced.has(name) && !graphInputs.has(name) && dependence.get(name) === 'weights');
  const sharedPorts = shared.map((name) => {
    const port = recorded.tape.ports.get(name);
    if (!port) throw new Error(`no type recorded for ${name}`);
    return port;
  });
  const stateNodes = liveNodes(live.filter((n) => kindOf(n) !== 'directions'), shared);
  const initializers = (nodes: readonly GraphNode[]) => {
    const used = new Set(nodes.flatMap((n) => n.inputs));
    return recorded.tape.initializers.filter((i) => used.has(i.name));
  };
  const dataAndWeights = recorded.inputs.filter((i) => !directionInputs.has(i.name));
  return {
    state: { model: encodeModel({ nodes: stateNodes, initializers: initializers(stateNodes), inputs: dataAndWeights, outputs: sharedPorts }, 'objective_hvp_state'), outputs: sharedPorts },
    product: {
      model: encodeModel({ nodes: productNodes, initializers: initializers(productNodes), inputs: [...recorded.inputs, ...sharedPorts], outputs: recorded.outputs }, 'objective_hvp_product'),
      outputNames,
    },
    stateBytes: sharedPorts.reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1) * bytesPerElement[p.type], 0),
  };
}
