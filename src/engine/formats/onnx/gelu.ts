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
import { dataFlow, fusedNodeName, otherInput, withFusedChains, type ReadNumbers } from './chainFusion';
import type { AttributeValue, OnnxGraph, OnnxNode } from './proto';

/** Constants as torch writes them in float32. */
const near = (value: number | undefined, expected: number) => value !== undefined && Math.abs(value - expected) <= 1e-6 * Math.abs(expected);

export function fuseGelus(graph: OnnxGraph, readNumbers: ReadNumbers): OnnxGraph {
  if (!graph.nodes.some((n) => n.opType === 'Erf' || n.opType === 'Tanh')) return graph;
  const { producer, readers, isGraphOutput, scalar, onlyConsumer } = dataFlow(graph, readNumbers);
  /** The node of the op type computing `value`, when nothing else reads the value. */
  const producedBy = (value: string, opType: string): OnnxNode | undefined => {
    const node = producer(value);
    return node?.opType === opType && readers(value).length === 1 && !isGraphOutput(value) ? node : undefined;
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
    const attributes = new Map<string, AttributeValue>([['approximate', { kind: 'string', value: approximate }]]);
    const fused: OnnxNode = { name: fusedNodeName(chain, 'Gelu'), opType: 'Gelu', domain: '', inputs: [x], outputs: [last.outputs[0]], attributes };
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
  return withFusedChains(graph, replaced);
}
