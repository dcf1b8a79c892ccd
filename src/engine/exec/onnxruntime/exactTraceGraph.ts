/**
 * The Hessian trace in closed form for piecewise-linear networks.
 *
 * Write the loss as L(θ) = (1/N) Σₙ ℓₙ(zₙ(θ)) with zₙ the network's outputs. Then
 *   ∂²L/∂θᵢ² = (1/N) Σₙ [ Jₙᵢᵀ (∂²ℓₙ/∂z²) Jₙᵢ + Σ_c (∂ℓₙ/∂z_c) ∂²z_{n,c}/∂θᵢ² ].
 * When every output is piecewise linear in each single weight θᵢ (ReLU, max pooling, affine layers,
 * sums and products of values that depend on disjoint weight tensors), ∂²z/∂θᵢ² = 0 almost
 * everywhere, so the Hessian's diagonal equals the Gauss–Newton matrix's and
 *   Tr H = (1/N) Σₙ Σ_c ‖∇_θ ⟨f_{n,c}, zₙ⟩‖², with Fₙ Fₙᵀ = ∂²ℓₙ/∂z² (src/engine/model/outputHessian.ts),
 * a sum of per-sample, per-column squared gradient norms: one backward pass per output column and
 * no randomness. Each weight tensor enters the network through one affine primitive (MatMul, Conv,
 * or a broadcast Add/Mul), where per-sample gradient norms have a closed form.
 *
 * The graph takes the data, the weights and the columns fₙ,c/√N as `seeds` [C, batch, C], and
 * outputs each weight tensor's Tr H_kk (its diagonal block's trace) for the batch.
 */
import type { NetworkFunction } from '../../model/network';
import { sizeOf } from '../../model/spec';
import { encodeModel } from './onnxModel';
import { forward, inputName, liveNodes, parameterName } from './objectiveGraph';
import { parameterLayouts } from './parameterLayout';
import { Tape, type ConvolutionAttributes, type Value } from './tape';

export const seedsName = 'seeds';
export const blockTraceName = (i: number) => `block_trace_${i}`;

/** Beyond this many output units the C backward passes would cost more than the estimators' products. */
export const maxOutputUnitsForExactTrace = 64;

/** Value-preserving reshapes of a weight on its way to the primitive that uses it. */
const layoutOps = new Set(['Reshape', 'Transpose']);
/** Linear in every input, or piecewise linear (ReLU, pooling, gathers at fixed indices). */
const piecewiseLinearOps = new Set(['Reshape', 'Transpose', 'ReduceSum', 'Expand', 'Neg', 'Slice', 'Pad', 'Gather', 'Concat', 'Add', 'Sub', 'ScatterElements', 'Relu', 'MaxPool']);
/** Linear in each input separately: piecewise linear in one weight when their inputs depend on disjoint weights. */
const bilinearOps = new Set(['Mul', 'MatMul', 'Conv', 'ConvTranspose']);

type Primitive = ReturnType<Tape['primitivesSince']>[number];

/** Where weight tensor i enters the network: the primitive, which input is the weight, and the other input. */
interface Entry {
  readonly primitive: Primitive;
  /** The weight as the primitive takes it (after any layout change). */
  readonly weight: Value;
  readonly other: Value;
}

export type ExactTraceGraph = { readonly model: Uint8Array; readonly outputNames: readonly string[]; readonly classes: number } | { readonly unavailable: string };

export function buildExactTraceGraph(network: NetworkFunction, logits: boolean, batchSize: number): ExactTraceGraph {
  const t = new Tape();
  const x = t.input(inputName, [batchSize, ...network.inputShape], false);
  const layouts = parameterLayouts(network);
  const parameters = network.parameters.map((_, i) => t.input(parameterName(i), layouts[i].graphShape, true));
  const output = forward(t, network, x, parameters, layouts, logits);
  const units = sizeOf(output.shape) / batchSize;
  if (units > maxOutputUnitsForExactTrace) return { unavailable: `the network has ${units} outputs per sample (more than ${maxOutputUnitsForExactTrace})` };
  const z = t.reshape(output, [batchSize, units]);
  const primitives = t.primitivesSince(0);
  const reason = notPiecewiseLinear(primitives, parameters, network);
  if (reason) return { unavailable: reason };
  const entries: Entry[] = [];
  for (const [i, p] of parameters.entries()) {
    const entry = entryOf(primitives, p, batchSize);
    if (typeof entry === 'string') return { unavailable: `weight ${network.parameters[i].name} ${entry}` };
    entries.push(entry);
  }
  const seeds = t.input(seedsName, [units, batchSize, units], false);
  const sums: (Value | undefined)[] = parameters.map(() => undefined);
  const rowSquares = new Map<string, Value>();
  for (let c = 0; c < units; c++) {
    const seed = t.reshape(t.slice(seeds, [c, 0, 0], [1, batchSize, units]), [batchSize, units]);
    const pseudo = t.reshape(t.reduceSum(t.mul(seed, z), [0, 1]), []);
    const deltas = t.gradients(pseudo, entries.map((e) => e.primitive.output));
    entries.forEach((entry, i) => {
      const norms = perSampleSquaredNorms(t, entry, deltas[i], rowSquares);
      sums[i] = sums[i] ? t.add(sums[i]!, norms) : norms;
    });
  }
  const outputs = sums.map((s, i) => ({ name: blockTraceName(i), value: t.reshape(s!, [1]) }));
  const nodes = [...t.nodes, ...outputs.map((o) => ({ op: 'Identity', inputs: [o.value.name], outputs: [o.name] }))];
  const outputNames = outputs.map((o) => o.name);
  const live = liveNodes(nodes, outputNames);
  const used = new Set(live.flatMap((n) => n.inputs));
  const model = encodeModel({
    nodes: live,
    initializers: t.initializers.filter((i) => used.has(i.name)),
    inputs: [
      { name: inputName, shape: x.shape, type: 'float' },
      ...parameters.map((p) => ({ name: p.name, shape: p.shape, type: 'float' as const })),
      { name: seedsName, shape: seeds.shape, type: 'float' },
    ],
    outputs: outputs.map((o) => ({ name: o.name, shape: [1], type: 'float' as const })),
  }, 'exact_block_traces');
  return { model, outputNames, classes: units };
}

/** Why some output is not piecewise linear in some single weight, or undefined. */
function notPiecewiseLinear(primitives: readonly Primitive[], parameters: readonly Value[], network: NetworkFunction): string | undefined {
  const dependence = new Map<string, Set<number>>(parameters.map((p, i) => [p.name, new Set([i])]));
  for (const p of primitives) {
    const sets = p.inputs.map((v) => dependence.get(v.name) ?? new Set<number>());
    const union = new Set(sets.flatMap((s) => [...s]));
    dependence.set(p.output.name, union);
    if (union.size === 0 || piecewiseLinearOps.has(p.op)) continue;
    if (bilinearOps.has(p.op)) {
      const shared = [...sets[0]].find((i) => sets.slice(1).some((s) => s.has(i)));
      if (shared === undefined) continue;
      return `multiplies two values that both depend on weight ${network.parameters[shared].name} (${p.op}), so the Hessian's diagonal is not the Gauss–Newton matrix's`;
    }
    return `passes weights through ${p.op}, which is not piecewise linear`;
  }
  return undefined;
}

/** The one affine primitive that takes weight `p` (through layout changes), or why there is none. */
function entryOf(primitives: readonly Primitive[], p: Value, batchSize: number): Entry | string {
  const aliases = new Set([p.name]);
  const users: { primitive: Primitive; index: number }[] = [];
  for (const primitive of primitives) {
    const index = primitive.inputs.findIndex((v) => aliases.has(v.name));
    if (index < 0) continue;
    if (layoutOps.has(primitive.op)) aliases.add(primitive.output.name);
    else users.push({ primitive, index });
  }
  if (users.length !== 1) return users.length === 0 ? 'is not used' : 'is used by more than one operation';
  const { primitive, index } = users[0];
  const other = primitive.inputs[1 - index];
  if (primitive.inputs.length !== 2 || other.shape[0] !== batchSize || primitive.output.shape.length < 2) return `enters through ${primitive.op} other than applied to a batch of samples`;
  const weight = primitive.inputs[index];
  switch (primitive.op) {
    case 'MatMul':
      return index === 1 && other.shape.length === 2 && weight.shape.length === 2 ? { primitive, weight, other } : 'enters through a matrix product other than samples × weights';
    case 'Conv':
      return index === 1 ? { primitive, weight, other } : 'is the data of a convolution';
    case 'Add':
    case 'Sub':
    case 'Mul': {
      const aligned = primitive.output.shape.length - weight.shape.length;
      const broadcast = other.shape.length === primitive.output.shape.length && other.shape.every((d, i) => d === primitive.output.shape[i]);
      return broadcast && (aligned > 0 || weight.shape[0] === 1) ? { primitive, weight, other } : 'varies along the batch axis';
    }
    default:
      return `enters through ${primitive.op}`;
  }
}

/** Σₙ ‖∂/∂θ of Σₙ ⟨δₙ, primitive output⟩ for sample n‖², δ the adjoint of the entry's output. */
function perSampleSquaredNorms(t: Tape, entry: Entry, delta: Value, rowSquares: Map<string, Value>): Value {
  const { primitive, weight, other } = entry;
  const everything = (v: Value) => t.reduceSum(v, v.shape.map((_, i) => i));
  const rowsOf = (v: Value) => t.reduceSum(t.mul(v, v), v.shape.map((_, i) => i).slice(1));
  switch (primitive.op) {
    case 'MatMul': {
      // Sample n's gradient is the outer product uₙ δₙᵀ: ‖uₙ‖²‖δₙ‖².
      let inputRows = rowSquares.get(other.name);
      if (!inputRows) rowSquares.set(other.name, (inputRows = rowsOf(other)));
      return everything(t.mul(inputRows, rowsOf(delta)));
    }
    case 'Conv': {
      // Each sample a group of its own: the filter gradient of the grouped convolution is per sample.
      const attributes = primitive.attributes!;
      const [n, channels, h, w] = other.shape;
      const [filters, perGroup, kh, kw] = weight.shape;
      const group = attributes.group as number;
      const attrs: ConvolutionAttributes = {
        strides: attributes.strides as [number, number],
        dilations: attributes.dilations as [number, number],
        pads: attributes.pads as [number, number, number, number],
        group: n * group,
      };
      const samples = t.reshape(other, [1, n * channels, h, w]);
      const adjoint = t.reshape(delta, [1, n * filters, delta.shape[2], delta.shape[3]]);
      const perSample = t.convFilterGradient(samples, adjoint, attrs, [n * filters, perGroup, kh, kw]);
      return everything(t.mul(perSample, perSample));
    }
    default: {
      // A broadcast weight: sample n's gradient sums δₙ (times the other factor for Mul) over the broadcast axes.
      const product = primitive.op === 'Mul' ? t.mul(delta, other) : delta;
      const aligned = product.shape.length - weight.shape.length;
      const axes = product.shape.map((_, i) => i).filter((i) => i > 0 && (i < aligned || weight.shape[i - aligned] === 1));
      const perSample = t.reduceSum(product, axes);
      return everything(t.mul(perSample, perSample));
    }
  }
}
