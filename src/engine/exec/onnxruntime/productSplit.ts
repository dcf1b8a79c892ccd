/**
 * The Hessian-vector product graphs cut in two at fixed weights: a state graph, run once per weight
 * point and batch, computes everything that does not depend on the directions (activations, ReLU
 * masks, max-pool indices, the backward pass's deltas), and product graphs take those values as
 * inputs and run only the R-passes. One recording can serve several product graphs (k directions,
 * or one weight tensor's restricted products): they then share one state graph. The same nodes as
 * the whole graph, so the same numbers.
 */
import type { LossKind } from '../../model/loss';
import type { NetworkFunction } from '../../model/network';
import { encodeModel, type GraphNode, type GraphPort } from './onnxModel';
import { directionName, liveNodes, recordObjective, type GraphOutputs } from './objectiveGraph';

export interface ProductGraph {
  readonly model: Uint8Array;
  /** The graph inputs it declares (data, weights, directions and shared values it reads), to feed no others. */
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface ProductSplit {
  /** Inputs: data and weights; outputs: the shared values every product graph reads. */
  readonly state: { readonly model: Uint8Array; readonly outputs: readonly GraphPort[] };
  /** One product graph per requested group of outputs, by the group's name. */
  readonly products: ReadonlyMap<string, ProductGraph>;
  /** Bytes of the shared values of one batch. */
  readonly stateBytes: number;
}

type Dependence = 'constant' | 'weights' | 'directions';

const bytesPerElement = { float: 4, int64: 8, bool: 1 } as const;

export function splitProductGraphs(
  network: NetworkFunction,
  loss: LossKind,
  batchSize: number,
  datasetCount: number,
  recording: Extract<GraphOutputs, { kind: 'hvp' }>,
  groups: readonly { readonly name: string; readonly outputs: readonly string[] }[],
): ProductSplit {
  const recorded = recordObjective(network, loss, batchSize, datasetCount, recording);
  const wanted = groups.flatMap((g) => g.outputs);
  const directionInputs = new Set(Array.from({ length: recording.directions }, (_, d) => network.parameters.map((_, i) => directionName(d, i))).flat());
  const dependence = new Map<string, Dependence>();
  for (const input of recorded.inputs) dependence.set(input.name, directionInputs.has(input.name) ? 'directions' : 'weights');
  const live = liveNodes(recorded.nodes, wanted);
  const kindOf = (node: GraphNode): Dependence => {
    const inputs = node.inputs.filter((name) => name !== '').map((name) => dependence.get(name) ?? 'constant');
    return inputs.includes('directions') ? 'directions' : inputs.includes('weights') ? 'weights' : 'constant';
  };
  for (const node of live) {
    const kind = kindOf(node);
    for (const output of node.outputs) dependence.set(output, kind);
  }
  // Constant nodes (zeros, shapes) are cheap and go into whichever graph reads them.
  const notState = live.filter((n) => kindOf(n) !== 'weights');
  const graphInputs = new Map(recorded.inputs.map((i) => [i.name, i]));
  const portOf = (name: string) => {
    const port = recorded.tape.ports.get(name);
    if (!port) throw new Error(`no type recorded for ${name}`);
    return port;
  };
  const initializers = (nodes: readonly GraphNode[]) => {
    const used = new Set(nodes.flatMap((n) => n.inputs));
    return recorded.tape.initializers.filter((i) => used.has(i.name));
  };
  const shared = new Set<string>();
  const perGroup = groups.map((group) => {
    const nodes = liveNodes(notState, group.outputs);
    const produced = new Set(nodes.flatMap((n) => n.outputs));
    const reads = [...new Set(nodes.flatMap((n) => n.inputs))].filter((name) => name !== '' && !produced.has(name));
    const fromState = reads.filter((name) => !graphInputs.has(name) && dependence.get(name) === 'weights');
    for (const name of fromState) shared.add(name);
    return { group, nodes, inputs: [...reads.filter((name) => graphInputs.has(name)).map((name) => graphInputs.get(name)!), ...fromState.map(portOf)] };
  });
  const sharedPorts = [...shared].map(portOf);
  const stateNodes = liveNodes(live.filter((n) => kindOf(n) !== 'directions'), [...shared]);
  const outputPorts = new Map(recorded.outputs.map((o) => [o.name, o]));
  const products = new Map(perGroup.map(({ group, nodes, inputs }) => [group.name, {
    model: encodeModel({ nodes, initializers: initializers(nodes), inputs, outputs: group.outputs.map((name) => outputPorts.get(name)!) }, `objective_hvp_${group.name.replace(/\W/g, '_')}`),
    inputNames: inputs.map((i) => i.name),
    outputNames: group.outputs,
  }]));
  const dataAndWeights = recorded.inputs.filter((i) => !directionInputs.has(i.name));
  return {
    state: { model: encodeModel({ nodes: stateNodes, initializers: initializers(stateNodes), inputs: dataAndWeights, outputs: sharedPorts }, 'objective_hvp_state'), outputs: sharedPorts },
    products,
    stateBytes: sharedPorts.reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1) * bytesPerElement[p.type], 0),
  };
}
