/**
 * GELU as exporters write it before opset 20, where ONNX has no such operator. torch.onnx exports
 * nn.GELU() and nn.GELU(approximate='tanh') as
 *
 *   exact:  Div(x, √2) → Erf → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5)
 *   tanh:   Mul(x, x) → Mul(x, ·) → Mul(0.044715, ·) → Add(x, ·) → Mul(√(2/π), ·) → Tanh
 *           → Add(1, ·) → Mul(x, ·) → Mul(0.5, ·)
 *
 * (either operand order; Mul by 1/√2 for the Div, Pow(x, 3) for the cube). `fuseGelus` finds those
 * chains by data flow and puts one opset-20 `Gelu` node (attribute approximate 'none' or 'tanh') in
 * their place, so the mapping sees one activation. Only chains whose intermediate values nothing
 * else reads are fused; an Erf left alone is mapped as an operator of its own.
 */
import type { AttributeValue, OnnxGraph, OnnxNode, OnnxTensor } from './proto';

type ReadNumbers = (tensor: OnnxTensor) => number[];

/** Constants as torch writes them in float32. */
const near = (value: number | undefined, expected: number) => value !== undefined && Math.abs(value - expected) <= 1e-6 * Math.abs(expected);

export function fuseGelus(graph: OnnxGraph, readNumbers: ReadNumbers): OnnxGraph {
  if (!graph.nodes.some((n) => n.opType === 'Erf' || n.opType === 'Tanh')) return graph;
  const producer = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) producer.set(output, node);
    for (const input of node.inputs) if (input !== '') consumers.set(input, [...(consumers.get(input) ?? []), node]);
  }
  const graphOutputs = new Set(graph.outputs.map((o) => o.name));
  const initializers = new Map(graph.initializers.map((t) => [t.name, t]));
  const scalar = (name: string): number | undefined => {
    const node = producer.get(name);
    const attribute = node?.opType === 'Constant' ? node.attributes.get('value') : undefined;
    const tensor = initializers.get(name) ?? (attribute?.kind === 'tensor' ? attribute.value : undefined);
    if (!tensor || tensor.dims.reduce((a, b) => a * b, 1) !== 1) return undefined;
    const values = readNumbers(tensor);
    return values.length === 1 ? values[0] : undefined;
  };
  /** The single node reading `value`, of one of the op types, when the value is not a graph output. */
  const onlyConsumer = (value: string, ...opTypes: string[]): OnnxNode | undefined => {
    const readers = consumers.get(value) ?? [];
    return readers.length === 1 && opTypes.includes(readers[0].opType) && !graphOutputs.has(value) ? readers[0] : undefined;
  };
  /** The node of the op type computing `value`, when nothing else reads the value. */
  const producedBy = (value: string, opType: string): OnnxNode | undefined => {
    const node = producer.get(value);
    return node?.opType === opType && (consumers.get(value) ?? []).length === 1 && !graphOutputs.has(value) ? node : undefined;
  };
  /** The other input of a binary node, given one of them. */
  const otherInput = (node: OnnxNode, known: string): string | undefined => {
    if (node.inputs.length !== 2) return undefined;
    if (node.inputs[0] === known) return node.inputs[1];
    if (node.inputs[1] === known) return node.inputs[0];
    return undefined;
  };
  /** `Mul(value, c)` or `Mul(c, value)` reading `value`, with c a scalar near `expected`. */
  const scaledBy = (value: string, expected: number): OnnxNode | undefined => {
    const mul = onlyConsumer(value, 'Mul');
    const other = mul && otherInput(mul, value);
    return other !== undefined && near(scalar(other), expected) ? mul : undefined;
  };
  /** The tail shared by both forms: `inner` → Add(·, 1) → Mul(x, ·) → Mul(·, 0.5), the nodes and the last. */
  const tail = (x: string, inner: OnnxNode): OnnxNode[] | undefined => {
    const addOne = onlyConsumer(inner.outputs[0], 'Add');
    const one = addOne && otherInput(addOne, inner.outputs[0]);
    if (!addOne || one === undefined || !near(scalar(one), 1)) return undefined;
    const timesX = onlyConsumer(addOne.outputs[0], 'Mul');
    if (!timesX || otherInput(timesX, addOne.outputs[0]) !== x) return undefined;
    const half = scaledBy(timesX.outputs[0], 0.5);
    return half && [addOne, timesX, half];
  };

  const replaced = new Map<OnnxNode, OnnxNode | null>();
  const fuse = (chain: OnnxNode[], x: string, approximate: 'none' | 'tanh') => {
    const last = chain[chain.length - 1];
    const prefix = commonPrefix(chain.map((n) => n.name));
    const attributes = new Map<string, AttributeValue>([['approximate', { kind: 'string', value: approximate }]]);
    const fused: OnnxNode = { name: `${prefix || `${chain[0].name}/`}Gelu`, opType: 'Gelu', domain: '', inputs: [x], outputs: [last.outputs[0]], attributes };
    for (const node of chain) replaced.set(node, null);
    replaced.set(last, fused);
  };
  for (const node of graph.nodes) {
    if (replaced.has(node)) continue;
    if (node.opType === 'Erf') {
      const scaling = producedBy(node.inputs[0], 'Div') ?? producedBy(node.inputs[0], 'Mul');
      if (!scaling || scaling.inputs.length !== 2) continue;
      const [x, by] = scaling.opType === 'Div' ? [scaling.inputs[0], scaling.inputs[1]] : scalar(scaling.inputs[0]) !== undefined ? [scaling.inputs[1], scaling.inputs[0]] : [scaling.inputs[0], scaling.inputs[1]];
      if (!near(scalar(by), scaling.opType === 'Div' ? Math.SQRT2 : Math.SQRT1_2)) continue;
      const rest = tail(x, node);
      if (rest) fuse([scaling, node, ...rest], x, 'none');
    } else if (node.opType === 'Tanh') {
      const outer = producedBy(node.inputs[0], 'Mul');
      const sumName = outer && [outer.inputs[0], outer.inputs[1]].find((i) => scalar(i) === undefined);
      if (!outer || sumName === undefined || !near(scalar(otherInput(outer, sumName) ?? ''), Math.sqrt(2 / Math.PI))) continue;
      const sum = producedBy(sumName, 'Add');
      if (!sum || sum.inputs.length !== 2) continue;
      for (const x of sum.inputs) {
        const cubicTerm = producedBy(otherInput(sum, x) ?? '', 'Mul');
        const cubeName = cubicTerm && [cubicTerm.inputs[0], cubicTerm.inputs[1]].find((i) => scalar(i) === undefined);
        if (!cubicTerm || cubeName === undefined || !near(scalar(otherInput(cubicTerm, cubeName) ?? ''), 0.044715)) continue;
        const cube = cubeOf(x, cubeName);
        if (!cube) continue;
        const rest = tail(x, node);
        if (rest) fuse([...cube, cubicTerm, sum, outer, node, ...rest], x, 'tanh');
        break;
      }
    }
  }
  /** The nodes computing x³ into `name`: Pow(x, 3), or Mul(x, Mul(x, x)) in either order. */
  function cubeOf(x: string, name: string): OnnxNode[] | undefined {
    const pow = producedBy(name, 'Pow');
    if (pow) return pow.inputs[0] === x && near(scalar(pow.inputs[1]), 3) ? [pow] : undefined;
    const mul = producedBy(name, 'Mul');
    const squareName = mul && otherInput(mul, x);
    const square = squareName === undefined ? undefined : producedBy(squareName, 'Mul');
    return mul && square && square.inputs[0] === x && square.inputs[1] === x ? [square, mul] : undefined;
  }
  if (replaced.size === 0) return graph;
  const nodes = graph.nodes.flatMap((node) => {
    const replacement = replaced.get(node);
    return replacement === undefined ? [node] : replacement === null ? [] : [replacement];
  });
  return { ...graph, nodes };
}

/** `/block/mlp/1/` from `/block/mlp/1/Div`, `/block/mlp/1/Erf`, ...: up to the last shared `/`. */
function commonPrefix(names: readonly string[]): string {
  if (names.some((n) => n === '')) return '';
  let prefix = names[0];
  for (const name of names) while (!name.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}
