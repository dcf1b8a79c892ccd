/**
 * LayerNormalization as exporters write it before opset 17, where ONNX has no such operator.
 * torch.onnx exports nn.LayerNorm(F) over the last axis as
 *
 *   m = ReduceMean(x, axes=[-1])    d = Sub(x, m)       p = Pow(d, 2)     v = ReduceMean(p, axes=[-1])
 *   s = Sqrt(Add(v, ε))             n = Div(d, s)       [Mul(n, γ)]       [Add(·, β)]
 *
 * `fuseLayerNormalizations` finds that chain by data flow and puts one `LayerNormalization` node
 * (opset-17 form: inputs X, Scale, B; attributes axis, epsilon) in its place, so the mapping sees
 * the operator once. Only chains whose intermediate values nothing else reads are fused.
 */
import { ModelProblem } from '../../../protocol/errors';
import { dataFlow, fusedNodeName, otherInput, withFusedChains, type ReadNumbers } from './chainFusion';
import type { AttributeValue, OnnxGraph, OnnxNode } from './proto';

export function fuseLayerNormalizations(graph: OnnxGraph, file: string, readNumbers: ReadNumbers): OnnxGraph {
  if (!graph.nodes.some((n) => n.opType === 'ReduceMean')) return graph;
  const { producer, readers, isGraphOutput, isInitializer, constantTensor, scalar, onlyConsumer } = dataFlow(graph, readNumbers);
  /** An initializer, or one passed on by Identity (torch's exporter writes tied tensors so). */
  const isWeight = (name: string): boolean => {
    const node = producer(name);
    return isInitializer(name) || (node?.opType === 'Identity' && isWeight(node.inputs[0]));
  };
  const meanAxes = (node: OnnxNode): number[] | undefined => {
    const keepdims = node.attributes.get('keepdims');
    if (keepdims?.kind === 'int' && keepdims.value !== 1) return undefined;
    const attribute = node.attributes.get('axes');
    if (attribute?.kind === 'ints') return attribute.value;
    const axesInput = node.inputs[1] ? constantTensor(node.inputs[1]) : undefined;
    return axesInput ? readNumbers(axesInput) : undefined;
  };

  const replaced = new Map<OnnxNode, OnnxNode | null>();
  for (const mean of graph.nodes) {
    if (mean.opType !== 'ReduceMean' || replaced.has(mean)) continue;
    const x = mean.inputs[0];
    const axes = meanAxes(mean);
    if (!axes || axes.length !== 1) continue;
    const sub = onlyConsumer(mean.outputs[0], 'Sub');
    if (!sub || sub.inputs[0] !== x || sub.inputs[1] !== mean.outputs[0]) continue;
    const d = sub.outputs[0];
    const dReaders = readers(d);
    const pow = dReaders.find((n) => n.opType === 'Pow' && n.inputs[0] === d);
    const div = dReaders.find((n) => n.opType === 'Div' && n.inputs[0] === d);
    if (!pow || !div || dReaders.length !== 2 || isGraphOutput(d) || scalar(pow.inputs[1]) !== 2) continue;
    const variance = onlyConsumer(pow.outputs[0], 'ReduceMean');
    const varianceAxes = variance && meanAxes(variance);
    if (!variance || !varianceAxes || varianceAxes.length !== 1 || varianceAxes[0] !== axes[0]) continue;
    const addEpsilon = onlyConsumer(variance.outputs[0], 'Add');
    const epsilonName = addEpsilon && otherInput(addEpsilon, variance.outputs[0]);
    const epsilon = epsilonName === undefined ? undefined : scalar(epsilonName);
    if (!addEpsilon || epsilon === undefined) continue;
    const sqrt = onlyConsumer(addEpsilon.outputs[0], 'Sqrt');
    if (!sqrt || onlyConsumer(sqrt.outputs[0], 'Div') !== div || div.inputs[1] !== sqrt.outputs[0]) continue;
    if (!(epsilon >= 0) || !Number.isFinite(epsilon)) {
      throw new ModelProblem(addEpsilon.name || 'Add', `in ${file}: a layer normalization adds ε = ${epsilon}; expected a finite ε ≥ 0`);
    }
    const chain = [mean, sub, pow, variance, addEpsilon, sqrt, div];
    let last = div;
    let scale = '';
    let bias = '';
    const mul = onlyConsumer(div.outputs[0], 'Mul');
    const gamma = mul && otherInput(mul, div.outputs[0]);
    if (mul && gamma !== undefined && isWeight(gamma)) {
      chain.push(mul);
      last = mul;
      scale = gamma;
      const add = onlyConsumer(mul.outputs[0], 'Add');
      const beta = add && otherInput(add, mul.outputs[0]);
      if (add && beta !== undefined && isWeight(beta)) {
        chain.push(add);
        last = add;
        bias = beta;
      }
    }
    const attributes = new Map<string, AttributeValue>([
      ['axis', { kind: 'int', value: axes[0] }],
      ['epsilon', { kind: 'float', value: epsilon }],
    ]);
    const fused: OnnxNode = {
      name: fusedNodeName(chain, 'LayerNormalization'),
      opType: 'LayerNormalization',
      domain: '',
      inputs: [x, scale, bias],
      outputs: [last.outputs[0]],
      attributes,
    };
    for (const node of chain) replaced.set(node, null);
    replaced.set(last, fused);
  }
  return withFusedChains(graph, replaced);
}
