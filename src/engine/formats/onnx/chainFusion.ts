/**
 * What the fusions that put one operator in place of an exporter's chain of operators share
 * (layerNormalization.ts, gelu.ts): data-flow lookups over the graph, and the rewrite itself.
 */
import type { OnnxGraph, OnnxNode, OnnxTensor } from './proto';

export type ReadNumbers = (tensor: OnnxTensor) => number[];

export interface DataFlow {
  /** The node computing `value`, if any. */
  readonly producer: (value: string) => OnnxNode | undefined;
  /** Every node reading `value`. */
  readonly readers: (value: string) => readonly OnnxNode[];
  readonly isGraphOutput: (value: string) => boolean;
  readonly isInitializer: (name: string) => boolean;
  /** An initializer, or the value of a Constant node. */
  readonly constantTensor: (name: string) => OnnxTensor | undefined;
  /** A constant holding one number. */
  readonly scalar: (name: string) => number | undefined;
  /** The single node reading `value`, of one of the op types, when the value is not a graph output. */
  readonly onlyConsumer: (value: string, ...opTypes: string[]) => OnnxNode | undefined;
}

export function dataFlow(graph: OnnxGraph, readNumbers: ReadNumbers): DataFlow {
  const producers = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) producers.set(output, node);
    for (const input of node.inputs) if (input !== '') consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const readers = (value: string) => consumers.get(value) ?? [];
  const constantTensor = (name: string): OnnxTensor | undefined => {
    const stored = initializers.get(name);
    if (stored) return stored;
    const node = producers.get(name);
    const value = node?.opType === 'Constant' ? node.attributes.get('value') : undefined;
    return value?.kind === 'tensor' ? value.value : undefined;
  };
  return {
    producer: (value) => producers.get(value),
    readers,
    isGraphOutput: (value) => graphOutputs.has(value),
    isInitializer: (name) => initializers.has(name),
    constantTensor,
    scalar: (name) => {
      const tensor = constantTensor(name);
      if (!tensor || tensor.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
      const values = readNumbers(tensor);
      return values.length === 1 ? values[0] : undefined;
    },
    onlyConsumer: (value, ...opTypes) => {
      const found = readers(value);
      return found.length === 1 && opTypes.includes(found[0].opType) && !graphOutputs.has(value) ? found[0] : undefined;
    },
  };
}

/** The other input of a binary node, given one of them. */
export function otherInput(node: OnnxNode, known: string): string | undefined {
  if (node.inputs.length !== 2) return undefined;
  if (node.inputs[0] === known) return node.inputs[1];
  if (node.inputs[1] === known) return node.inputs[0];
  return undefined;
}

/**
 * Puts one fused node in place of each chain: `replaced` maps a chain's last node to the fused node
 * and every other node of it to null.
 */
export function withFusedChains(graph: OnnxGraph, replaced: ReadonlyMap<OnnxNode, OnnxNode | null>): OnnxGraph {
  if (replaced.size === 0) return graph;
  const nodes = graph.nodes.flatMap((node) => {
    const replacement = replaced.get(node);
    return replacement === undefined ? [node] : replacement === null ? [] : [replacement];
  });
  return { ...graph, nodes };
}

/** The name for a fused node: `/layernorm1/` from `/layernorm1/ReduceMean`, `/layernorm1/Sub`, ... (up to the last shared `/`), then `opType`. */
export function fusedNodeName(chain: readonly OnnxNode[], opType: string): string {
  const names = chain.map((n) => n.name);
  let prefix = '';
  if (!names.some((n) => n === '')) {
    prefix = names[0];
    for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
    prefix = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  }
  return `${prefix || `${chain[0].name}/`}${opType}`;
}
