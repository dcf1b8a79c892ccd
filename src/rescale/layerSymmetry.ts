import { canonicalActivation, homogeneousActivations } from '../model/activations';
import { passThroughLayers } from '../model/layers';
import type { Checkpoint, LayerNode } from '../model/spec';

/**
 * Which per-layer rescalings leave a network's function unchanged (Dinh et al. 2017, §4).
 *
 * Give each weighted layer k a log-scale u_k: its kernel is multiplied by e^{u_k}. Through a
 * non-negatively homogeneous network the pre-activations then carry a log-scale s(node) that is a
 * linear form in u; the bias of layer k must carry the same factor as its output, e^{s(k)}. Where
 * the function must not change (a non-homogeneous activation, BatchNormalization, the model's
 * output) s must be 0, and an Add needs equal scales on its inputs: linear constraints A u = 0.
 * The scalings that keep the function are exactly the solutions of A u = 0.
 */
export interface LayerScaleStructure {
  /** Weighted layers, in the order of the variables u. */
  readonly layers: readonly string[];
  /** For each trainable weight name whose scale depends on u: coefficients c with log-scale = c·u. */
  readonly weightLogScale: ReadonlyMap<string, readonly number[]>;
  /** Rows a of A u = 0. */
  readonly constraints: readonly (readonly number[])[];
  /** Where and why the scale had to be pinned (non-homogeneous parts of the network). */
  readonly barriers: readonly { readonly layer: string; readonly reason: string }[];
}

const weightedLayers = new Set(['Dense', 'Conv2D', 'DepthwiseConv2D']);
const scalePreservingLayers = new Set([
  ...passThroughLayers, 'Flatten', 'Reshape', 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D',
  'GlobalMaxPooling2D', 'ZeroPadding2D', 'UpSampling2D', 'PReLU', 'LeakyReLU',
]);

function activationIsHomogeneous(node: LayerNode): boolean {
  return homogeneousActivations.has(canonicalActivation(node.config.activation));
}

function reluLayerIsHomogeneous(node: LayerNode): boolean {
  const maxValue = node.config.max_value;
  return (maxValue === undefined || maxValue === null) && !node.config.threshold;
}

export function layerScaleStructure(checkpoint: Checkpoint): LayerScaleStructure {
  const { model, weights } = checkpoint;
  const layers = model.layers.filter((l) => weightedLayers.has(l.className)).map((l) => l.name);
  const k = layers.length;
  const zero = () => new Array<number>(k).fill(0);
  const isZero = (v: readonly number[]) => v.every((x) => x === 0);
  const scaleOf = new Map<string, number[]>();
  const constraints: number[][] = [];
  const barriers: { layer: string; reason: string }[] = [];
  const weightLogScale = new Map<string, number[]>();
  const pin = (s: number[], layer: string, reason: string): number[] => {
    if (!isZero(s)) {
      constraints.push(s);
      barriers.push({ layer, reason });
    }
    return zero();
  };
  const weightName = (layer: string, role: string) => weights.find((w) => w.layer === layer && w.role === role && w.trainable)?.name;

  for (const node of model.layers) {
    const inputs = node.inbound.map((name) => scaleOf.get(name) ?? zero());
    let s: number[];
    if (node.inbound.length === 0) {
      s = zero();
    } else if (weightedLayers.has(node.className)) {
      const index = layers.indexOf(node.name);
      s = [...inputs[0]];
      s[index] += 1;
      const kernel = weightName(node.name, node.className === 'DepthwiseConv2D' ? 'depthwise_kernel' : 'kernel');
      if (kernel) weightLogScale.set(kernel, zero().map((_, i) => (i === index ? 1 : 0)));
      const bias = weightName(node.name, 'bias');
      if (bias) weightLogScale.set(bias, [...s]);
      if (!activationIsHomogeneous(node)) s = pin(s, node.name, `activation '${String(node.config.activation)}' is not homogeneous`);
    } else if (node.className === 'Add' || node.className === 'Concatenate') {
      for (let i = 1; i < inputs.length; i++) {
        const difference = inputs[i].map((v, j) => v - inputs[0][j]);
        if (!isZero(difference)) {
          constraints.push(difference);
          barriers.push({ layer: node.name, reason: `${node.className} needs equal scales on its inputs` });
        }
      }
      s = [...inputs[0]];
    } else if (node.className === 'Activation') {
      s = activationIsHomogeneous(node) ? [...inputs[0]] : pin([...inputs[0]], node.name, `activation '${String(node.config.activation)}' is not homogeneous`);
    } else if (node.className === 'ReLU') {
      s = reluLayerIsHomogeneous(node) ? [...inputs[0]] : pin([...inputs[0]], node.name, 'a capped ReLU (max_value) is not homogeneous');
    } else if (scalePreservingLayers.has(node.className)) {
      s = [...inputs[0]];
    } else {
      s = pin([...inputs[0]], node.name, `${node.className} is not scale-equivariant`);
    }
    scaleOf.set(node.name, s);
  }
  for (const output of model.outputs) pin(scaleOf.get(output) ?? zero(), output, 'the model output must not change');
  return { layers, weightLogScale, constraints, barriers };
}

/** An orthonormal basis (columns, as rows of the result) of the null space of A: the free directions of u. */
export function nullSpaceBasis(constraints: readonly (readonly number[])[], dimension: number): number[][] {
  // Gram-Schmidt of the constraint rows, then of the unit vectors against them.
  const rowBasis: number[][] = [];
  const orthogonalize = (v: number[], basis: number[][]) => {
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        const c = v.reduce((s, x, i) => s + x * b[i], 0);
        for (let i = 0; i < v.length; i++) v[i] -= c * b[i];
      }
    }
    const n = Math.hypot(...v);
    return n > 1e-9 ? v.map((x) => x / n) : undefined;
  };
  for (const row of constraints) {
    const v = orthogonalize([...row], rowBasis);
    if (v) rowBasis.push(v);
  }
  const free: number[][] = [];
  for (let i = 0; i < dimension && rowBasis.length + free.length < dimension; i++) {
    const e = new Array<number>(dimension).fill(0);
    e[i] = 1;
    const v = orthogonalize(e, [...rowBasis, ...free]);
    if (v) free.push(v);
  }
  return free;
}
