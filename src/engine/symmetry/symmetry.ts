import { canonicalActivation, homogeneousActivations } from '../model/activations';
import { passThroughLayers } from '../model/layers';
import { shuffledChannelSources, shuffleGroups, sliceRange } from '../model/channelLayers';
import { weightAt, type Checkpoint, type LayerNode, type WeightTensor } from '../model/spec';
import type { Granularity } from '../../protocol/requests';

/**
 * The positive rescalings that leave a network's function unchanged (Dinh et al. 2017, §4, and the
 * per-unit version of the same argument).
 *
 * Every activation tensor gets a log-scale per channel (its last axis): h' = e^{s} ⊙ h. The inputs
 * have s = 0. Each weighted layer (Dense, Conv2D, DepthwiseConv2D, and BatchNormalization's γ/β)
 * chooses the log-scale of its output — one free variable per layer ("layer" granularity) or per
 * output unit/channel ("unit" granularity) — and its weights absorb the difference: a kernel entry
 * from input channel i to output channel j is multiplied by e^{s_out,j − s_in,i}, a bias by
 * e^{s_out,j}. Non-negatively homogeneous activations (ReLU, leaky ReLU, PReLU, linear), pooling,
 * Flatten, Dropout and padding pass scales through; Concatenate concatenates them. Where the
 * function would change, the scale is pinned to 0: a non-homogeneous activation (tanh, sigmoid,
 * elu, relu6, …) and the model output (softmax sees unchanged logits). Add needs equal scales on
 * its inputs. ChannelShuffle and ChannelSlice move channels, so each channel keeps its own scale. BatchNormalization in inference absorbs its input's scale by rescaling its moving
 * statistics (μ' = e^{s}μ, σ'² = e^{2s}(σ² + ε) − ε) — exact, and the BN layer is not folded.
 * LayerNormalization pins its input's scale (it normalizes it away) and starts a new one with γ/β.
 *
 * Each pinned or equated scale is a linear equation in the variables: the function-preserving
 * rescalings are the solutions of A u = 0.
 */

/** A sparse linear form Σ coef·u[variable] over the scale variables. */
export type LinearForm = readonly (readonly [variable: number, coefficient: number])[];

export interface ScaleVariable {
  readonly layer: string;
  /** Output channel, or -1 for a whole layer. */
  readonly unit: number;
}

/** How each entry of a weight tensor scales: log-factor = column[j] + row[i] (+ the forms are over u). */
export interface WeightScaling {
  readonly name: string;
  readonly layer: string;
  readonly role: string;
  readonly shape: readonly number[];
  /**
   * Log-factor of entry e as a function of its coordinates. For kernels the entry's input channel i
   * (second-to-last axis for HWIO/[in,out], channel axis for depthwise) and output channel j.
   */
  readonly kind: 'kernel' | 'depthwise' | 'vector' | 'batchnorm-mean' | 'batchnorm-variance';
  /** Per output channel j: the form added to every entry of that channel. */
  readonly columns: readonly LinearForm[];
  /** Per input channel i (kernels only): the form subtracted. */
  readonly rows?: readonly LinearForm[];
  /** BatchNormalization epsilon, for the variance update. */
  readonly epsilon?: number;
}

export interface Barrier {
  readonly layer: string;
  readonly reason: string;
}

export interface ScaleStructure {
  readonly granularity: Granularity;
  readonly variables: readonly ScaleVariable[];
  /** Every weight whose values change under some scaling (trainable or not). */
  readonly weights: readonly WeightScaling[];
  /** Rows of A u = 0. */
  readonly constraints: readonly LinearForm[];
  /** For each constraint, the index in `barriers` of the layer that imposes it. */
  readonly constraintBarriers: readonly number[];
  /** Non-homogeneous parts that pinned a non-zero scale, with the reason. */
  readonly barriers: readonly Barrier[];
  /** Number of free directions (the dimension of the null space of A). */
  readonly freedom: number;
  /** An orthonormal basis of the free directions, as dense vectors over the variables. */
  readonly basis: readonly (readonly number[])[];
}

/** Log-scales of one tensor's channels, with the channel of each flattened feature when flattened. */
interface EdgeScale {
  readonly channels: readonly LinearForm[];
  /** For a flattened tensor: feature f has the scale of channels[channelOf[f]]. */
  readonly channelOf?: Int32Array;
}

const scalePassingLayers = new Set([
  ...passThroughLayers, 'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'ZeroPadding2D', 'EdgePadding2D', 'UpSampling2D', 'PReLU', 'LeakyReLU',
]);

const zeroForm: LinearForm = [];

function addForms(a: LinearForm, b: LinearForm, sign = 1): LinearForm {
  const sum = new Map<number, number>(a.map(([v, c]) => [v, c]));
  for (const [v, c] of b) sum.set(v, (sum.get(v) ?? 0) + sign * c);
  return [...sum].filter(([, c]) => Math.abs(c) > 1e-15).sort((x, y) => x[0] - y[0]);
}

function isZeroForm(form: LinearForm): boolean {
  return form.length === 0;
}

function formsEqual(a: LinearForm, b: LinearForm): boolean {
  return isZeroForm(addForms(a, b, -1));
}

/** Scale of input feature i of a layer reading this edge. */
function featureForm(edge: EdgeScale, feature: number): LinearForm {
  return edge.channels[edge.channelOf ? edge.channelOf[feature] : feature];
}

function featureCount(edge: EdgeScale): number {
  return edge.channelOf ? edge.channelOf.length : edge.channels.length;
}

export class SymmetryAnalysis {
  private readonly variables: ScaleVariable[] = [];
  private readonly weights: WeightScaling[] = [];
  private readonly constraints: LinearForm[] = [];
  private readonly constraintBarriers: number[] = [];
  private readonly barriers: Barrier[] = [];
  private readonly edges = new Map<string, EdgeScale>();

  constructor(private readonly checkpoint: Checkpoint, private readonly granularity: Granularity) {}

  run(): ScaleStructure {
    const { model } = this.checkpoint;
    for (const node of model.layers) this.edges.set(node.name, this.visit(node));
    for (const output of model.outputs) this.pin(this.edges.get(output)!, output, 'the model output must not change');
    this.tieSharedWeights();
    const basis = nullSpaceBasis(this.constraints, this.variables.length);
    return {
      granularity: this.granularity,
      variables: this.variables,
      weights: this.weights,
      constraints: this.constraints,
      constraintBarriers: this.constraintBarriers,
      barriers: this.barriers,
      freedom: basis.length,
      basis,
    };
  }

  private weight(layer: string, role: string): WeightTensor | undefined {
    return weightAt(this.checkpoint.weights, layer, role);
  }

  /**
   * A tensor read by several layers holds one set of values, so every use must scale it alike:
   * equal column and row forms (the kernel's output and input channel scales), and one entry left.
   */
  private tieSharedWeights(): void {
    const firstUse = new Map<string, WeightScaling>();
    const kept: WeightScaling[] = [];
    for (const scaling of this.weights) {
      const first = firstUse.get(scaling.name);
      if (!first) {
        firstUse.set(scaling.name, scaling);
        kept.push(scaling);
        continue;
      }
      const differences = [
        ...scaling.columns.map((form, j) => addForms(form, first.columns[j] ?? zeroForm, -1)),
        ...(scaling.rows ?? []).map((form, i) => addForms(form, first.rows?.[i] ?? zeroForm, -1)),
      ].filter((form) => !isZeroForm(form));
      for (const form of differences) {
        this.constraints.push(form);
        this.constraintBarriers.push(this.barriers.length);
      }
      if (differences.length > 0) this.barriers.push({ layer: scaling.layer, reason: `it shares '${scaling.name}' with '${first.layer}', so both must scale it alike` });
    }
    this.weights.splice(0, this.weights.length, ...kept);
  }

  private pin(edge: EdgeScale, layer: string, reason: string): EdgeScale {
    let pinned = false;
    const seen = new Set<LinearForm>();
    for (const form of edge.channels) {
      if (seen.has(form) || isZeroForm(form)) continue;
      seen.add(form);
      this.constraints.push(form);
      this.constraintBarriers.push(this.barriers.length);
      pinned = true;
    }
    if (pinned) this.barriers.push({ layer, reason });
    return { channels: edge.channels.map(() => zeroForm) };
  }

  /** New output-scale variables for a layer with `units` output channels. */
  private outputForms(layer: string, units: number): LinearForm[] {
    if (this.granularity === 'layer') {
      const form: LinearForm = [[this.variables.length, 1]];
      this.variables.push({ layer, unit: -1 });
      return new Array<LinearForm>(units).fill(form);
    }
    return Array.from({ length: units }, (_, unit) => {
      this.variables.push({ layer, unit });
      return [[this.variables.length - 1, 1]] as LinearForm;
    });
  }

  private visit(node: LayerNode): EdgeScale {
    const inputs = node.inbound.map((name) => this.edges.get(name)!);
    if (inputs.length === 0) {
      const shape = this.checkpoint.model.inputs.find((i) => i.name === node.name)?.shape ?? [1];
      return { channels: new Array<LinearForm>(shape[shape.length - 1] ?? 1).fill(zeroForm) };
    }
    const input = inputs[0];
    switch (node.className) {
      case 'Dense':
      case 'Conv2D':
      case 'DepthwiseConv2D':
        return this.weighted(node, input);
      case 'BatchNormalization':
        return this.batchNormalization(node, input);
      case 'LayerNormalization':
        return this.layerNormalization(node, input);
      case 'Add':
        return this.add(node, inputs);
      case 'Multiply':
        // A product of two scaled values scales by both factors; no factor survives unless both are pinned.
        for (const edge of inputs.slice(1)) this.pin(edge, node.name, 'Multiply of two computed values is not homogeneous in each input separately');
        return this.pin(input, node.name, 'Multiply of two computed values is not homogeneous in each input separately');
      case 'BatchMatMul':
        for (const edge of inputs.slice(1)) this.pin(edge, node.name, 'BatchMatMul of two computed values (attention) is not homogeneous in each input separately');
        return this.pin(input, node.name, 'BatchMatMul of two computed values (attention) is not homogeneous in each input separately');
      case 'Concatenate':
        return { channels: inputs.flatMap((e) => (e.channelOf ? [...e.channelOf].map((c) => e.channels[c]) : e.channels)) };
      case 'ChannelShuffle':
      case 'ChannelSlice':
        return this.channelMove(node, input);
      case 'Flatten':
        return this.flatten(node, input);
      case 'Reshape':
        return this.reshape(node, input);
      case 'Activation':
        return this.activation(node, input, node.config.activation);
      case 'ReLU': {
        const cap = node.config.max_value;
        if (cap === undefined || cap === null) return input;
        const name = cap === 6 ? 'ReLU6 (ReLU with max_value 6)' : `ReLU with max_value ${String(cap)}`;
        return this.pin(input, node.name, `${name} clips at a fixed value, so it is not positively homogeneous: min(max(αx, 0), ${String(cap)}) ≠ α·min(max(x, 0), ${String(cap)})`);
      }
      case 'ChannelReduce':
        return this.pinnedOutput(node, input, 'ChannelReduce combines channels that may carry different scales; rescaling through it is not supported');
      case 'ChannelPad':
        return this.pinnedOutput(node, input, 'ChannelPad is linear, but rescaling through added channels is not supported');
      case 'Conv2DTranspose':
        return this.pinnedOutput(node, input, 'Conv2DTranspose is linear, but rescaling through a transposed convolution is not supported');
      case 'Rescaling':
        // x·s is linear; an offset is not.
        if (node.config.offset === 0 || node.config.offset === undefined) return input;
        return this.pin(input, node.name, 'Rescaling with an offset is not homogeneous');
      default:
        if (scalePassingLayers.has(node.className)) return input;
        return this.pin(input, node.name, `${node.className} is not homogeneous`);
    }
  }

  /** Pins the input and gives the layer's output channels, as many as its static shape says, no scale. */
  private pinnedOutput(node: LayerNode, input: EdgeScale, reason: string): EdgeScale {
    const pinned = this.pin(input, node.name, reason);
    const shape = this.shapeOf(node.name);
    return shape ? { channels: new Array<LinearForm>(shape[shape.length - 1]).fill(zeroForm) } : pinned;
  }

  private activation(node: LayerNode, edge: EdgeScale, activation: unknown): EdgeScale {
    const name = canonicalActivation(activation);
    if (homogeneousActivations.has(name)) return edge;
    return this.pin(edge, node.name, `activation '${String(activation)}' is not homogeneous`);
  }

  private weighted(node: LayerNode, input: EdgeScale): EdgeScale {
    const depthwise = node.className === 'DepthwiseConv2D';
    const kernel = this.weight(node.name, depthwise ? 'depthwise_kernel' : 'kernel');
    if (!kernel) return this.pin(input, node.name, `${node.className} has no kernel`);
    const shape = kernel.shape;
    const outputs = depthwise ? shape[2] * shape[3] : shape[shape.length - 1];
    const forms = this.outputForms(node.name, outputs);
    if (depthwise) {
      this.weights.push({
        name: kernel.name, layer: node.name, role: kernel.role, shape, kind: 'depthwise',
        columns: forms,
        rows: Array.from({ length: shape[2] }, (_, c) => featureForm(input, c)),
      });
    } else {
      const inFeatures = shape[shape.length - 2];
      const groups = Number(node.config.groups ?? 1);
      if (groups > 1) {
        // Input channel i of filter f is channel ⌊f / (filters/groups)⌋·(C/groups) + i: no per-row form describes that, so the input keeps its scale.
        this.pin(input, node.name, `a grouped convolution (${groups} groups) passes no input scale through`);
        this.weights.push({ name: kernel.name, layer: node.name, role: kernel.role, shape, kind: 'kernel', columns: forms, rows: new Array<LinearForm>(inFeatures).fill(zeroForm) });
        const bias = node.config.use_bias === false ? undefined : this.weight(node.name, 'bias');
        if (bias) this.weights.push({ name: bias.name, layer: node.name, role: 'bias', shape: bias.shape, kind: 'vector', columns: forms });
        return this.activation(node, { channels: forms }, node.config.activation);
      }
      if (featureCount(input) !== inFeatures) {
        return this.pin(input, node.name, `its kernel expects ${inFeatures} input features, the scale analysis found ${featureCount(input)}`);
      }
      this.weights.push({
        name: kernel.name, layer: node.name, role: kernel.role, shape, kind: 'kernel',
        columns: forms,
        rows: Array.from({ length: inFeatures }, (_, i) => featureForm(input, i)),
      });
    }
    const bias = node.config.use_bias === false ? undefined : this.weight(node.name, 'bias');
    if (bias) this.weights.push({ name: bias.name, layer: node.name, role: 'bias', shape: bias.shape, kind: 'vector', columns: forms });
    return this.activation(node, { channels: forms }, node.config.activation);
  }

  private batchNormalization(node: LayerNode, input: EdgeScale): EdgeScale {
    const channels = input.channels;
    const mean = this.weight(node.name, 'moving_mean');
    const variance = this.weight(node.name, 'moving_variance');
    if (input.channelOf || !mean || !variance) return this.pin(input, node.name, 'BatchNormalization over flattened features is not rescaled');
    const epsilon = typeof node.config.epsilon === 'number' ? node.config.epsilon : 0.001;
    this.weights.push({ name: mean.name, layer: node.name, role: mean.role, shape: mean.shape, kind: 'batchnorm-mean', columns: channels });
    this.weights.push({ name: variance.name, layer: node.name, role: variance.role, shape: variance.shape, kind: 'batchnorm-variance', columns: channels, epsilon });
    const gamma = node.config.scale === false ? undefined : this.weight(node.name, 'gamma');
    const beta = node.config.center === false ? undefined : this.weight(node.name, 'beta');
    if (!gamma) {
      // Without γ the output scale cannot move; β alone would shift, not scale.
      return { channels: channels.map(() => zeroForm) };
    }
    const forms = this.outputForms(node.name, channels.length);
    this.weights.push({ name: gamma.name, layer: node.name, role: 'gamma', shape: gamma.shape, kind: 'vector', columns: forms });
    if (beta) this.weights.push({ name: beta.name, layer: node.name, role: 'beta', shape: beta.shape, kind: 'vector', columns: forms });
    return { channels: forms };
  }

  /**
   * LayerNormalization divides by its input's own spread, so a scale on its input does not reach its
   * output: the α-transform across it is not the e^{s}-per-channel one used here (and with ε > 0 the
   * output is not exactly invariant either, so the input scale is pinned). Its output, n·γ + β, scales
   * exactly with γ and β, which start new scales as BatchNormalization's do.
   */
  private layerNormalization(node: LayerNode, input: EdgeScale): EdgeScale {
    this.pin(input, node.name, 'LayerNormalization normalizes its input by the input\'s own mean and spread: a scaling of its input does not carry to its output (nor cancels exactly, with ε > 0)');
    const width = featureCount(input);
    const gamma = node.config.scale === false ? undefined : this.weight(node.name, 'gamma');
    const beta = node.config.center === false ? undefined : this.weight(node.name, 'beta');
    if (!gamma) return { channels: new Array<LinearForm>(width).fill(zeroForm) };
    const forms = this.outputForms(node.name, width);
    this.weights.push({ name: gamma.name, layer: node.name, role: 'gamma', shape: gamma.shape, kind: 'vector', columns: forms });
    if (beta) this.weights.push({ name: beta.name, layer: node.name, role: 'beta', shape: beta.shape, kind: 'vector', columns: forms });
    return { channels: forms };
  }

  private add(node: LayerNode, inputs: EdgeScale[]): EdgeScale {
    const first = inputs[0];
    let mismatch = false;
    for (const other of inputs.slice(1)) {
      first.channels.forEach((form, c) => {
        const difference = addForms(form, other.channels[c] ?? zeroForm, -1);
        if (!isZeroForm(difference)) {
          this.constraints.push(difference);
          mismatch = true;
        }
      });
    }
    if (mismatch) this.barriers.push({ layer: node.name, reason: 'Add needs the same scale on every input' });
    return first;
  }

  /** A channel permutation or range is linear: output channel j carries the scale of the input channel it copies. */
  private channelMove(node: LayerNode, input: EdgeScale): EdgeScale {
    if (input.channelOf) return this.pin(input, node.name, `${node.className} of flattened features is not rescaled`);
    const channels = input.channels;
    if (node.className === 'ChannelShuffle') return { channels: Array.from(shuffledChannelSources(channels.length, shuffleGroups(node, channels.length)), (source) => channels[source]) };
    const { begin, size } = sliceRange(node, channels.length);
    return { channels: channels.slice(begin, begin + size) };
  }

  private flatten(node: LayerNode, input: EdgeScale): EdgeScale {
    const shape = this.shapeOf(node.inbound[0]);
    if (!shape) return this.pin(input, node.name, 'the input shape of Flatten is unknown');
    const size = shape.reduce((a, b) => a * b, 1);
    const channels = shape[shape.length - 1];
    const channelOf = new Int32Array(size);
    for (let f = 0; f < size; f++) channelOf[f] = input.channelOf ? input.channelOf[f] : f % channels;
    return { channels: input.channels, channelOf };
  }

  private reshape(node: LayerNode, input: EdgeScale): EdgeScale {
    const target = node.config.target_shape as number[] | undefined;
    const inShape = this.shapeOf(node.inbound[0]);
    if (target && inShape && target[target.length - 1] === inShape[inShape.length - 1] && !input.channelOf) return input;
    const forms = input.channels;
    if (forms.every((f) => formsEqual(f, forms[0]))) {
      const size = inShape ? inShape.reduce((a, b) => a * b, 1) : 0;
      const last = target?.[target.length - 1];
      if (last && last > 0) return { channels: new Array<LinearForm>(last).fill(forms[0]) };
      return { channels: new Array<LinearForm>(size).fill(forms[0]) };
    }
    return this.pin(input, node.name, 'Reshape mixes channels with different scales');
  }

  /** Per-sample shape of a layer's output, from the model's static shapes. */
  private shapeOf(layer: string): number[] | undefined {
    return staticShapes(this.checkpoint).get(layer);
  }
}

const shapeCache = new WeakMap<Checkpoint, Map<string, number[]>>();

/** Per-sample output shapes of every layer, computed without tensors. */
export function staticShapes(checkpoint: Checkpoint): Map<string, number[]> {
  const cached = shapeCache.get(checkpoint);
  if (cached) return cached;
  const shapes = new Map<string, number[]>();
  const weightShape = (layer: string, role: string) => weightAt(checkpoint.weights, layer, role)?.shape;
  for (const node of checkpoint.model.layers) {
    const inputs = node.inbound.map((n) => shapes.get(n));
    const x = inputs[0];
    const c = node.config as Record<string, unknown>;
    let out: number[] | undefined;
    if (node.inbound.length === 0) out = [...(checkpoint.model.inputs.find((i) => i.name === node.name)?.shape ?? [])];
    else if (!x) out = undefined;
    else if (node.className === 'Dense') out = [...x.slice(0, -1), (weightShape(node.name, 'kernel') ?? [0, 0])[1]];
    else if (node.className === 'Conv2D' || node.className === 'DepthwiseConv2D' || node.className.endsWith('Pooling2D') && !node.className.startsWith('Global')) {
      const pair = (v: unknown, d: number): [number, number] => (Array.isArray(v) ? [v[0], v[1]] : typeof v === 'number' ? [v, v] : [d, d]);
      const pooling = node.className.endsWith('Pooling2D');
      const kernelShape = pooling ? undefined : weightShape(node.name, node.className === 'Conv2D' ? 'kernel' : 'depthwise_kernel');
      const k = pooling ? pair(c.pool_size, 2) : [kernelShape?.[0] ?? 1, kernelShape?.[1] ?? 1];
      const s = pair(c.strides, pooling ? k[0] : 1);
      const d = pair(c.dilation_rate, 1);
      const same = String(c.padding ?? 'valid').toLowerCase() === 'same';
      const size = (n: number, i: number) => (same ? Math.ceil(n / s[i]) : Math.floor((n - ((k[i] - 1) * d[i] + 1)) / s[i]) + 1);
      const channels = node.className === 'Conv2D' ? kernelShape?.[3] : node.className === 'DepthwiseConv2D' ? (kernelShape?.[2] ?? 0) * (kernelShape?.[3] ?? 0) : x[2];
      out = [size(x[0], 0), size(x[1], 1), channels ?? 0];
    } else if (node.className.startsWith('Global')) out = [x[x.length - 1]];
    else if (node.className === 'Flatten') out = [x.reduce((a, b) => a * b, 1)];
    else if (node.className === 'Reshape') {
      const target = (c.target_shape as number[]) ?? [];
      const total = x.reduce((a, b) => a * b, 1);
      const known = target.filter((t) => t > 0).reduce((a, b) => a * b, 1);
      out = target.map((t) => (t > 0 ? t : total / known));
    } else if (node.className === 'Concatenate') {
      out = [...x.slice(0, -1), inputs.reduce((s, t) => s + (t?.[t.length - 1] ?? 0), 0)];
    } else if (node.className === 'UpSampling2D') {
      const size = Array.isArray(c.size) ? (c.size as number[]) : [2, 2];
      out = [x[0] * size[0], x[1] * size[1], x[2]];
    } else if (node.className === 'ZeroPadding2D' || node.className === 'EdgePadding2D') {
      const p = c.padding;
      const rows = typeof p === 'number' ? [p, p] : Array.isArray(p) && Array.isArray(p[0]) ? (p[0] as number[]) : Array.isArray(p) ? [p[0] as number, p[0] as number] : [1, 1];
      const cols = typeof p === 'number' ? [p, p] : Array.isArray(p) && Array.isArray(p[1]) ? (p[1] as number[]) : Array.isArray(p) ? [p[1] as number, p[1] as number] : [1, 1];
      out = [x[0] + rows[0] + rows[1], x[1] + cols[0] + cols[1], x[2]];
    } else if (node.className === 'Conv2DTranspose') {
      const k = weightShape(node.name, 'kernel') ?? [1, 1, 0];
      const s = Array.isArray(c.strides) ? (c.strides as number[]) : [1, 1];
      const p = Array.isArray(c.pads) ? (c.pads as number[]) : [0, 0, 0, 0];
      const extra = Array.isArray(c.output_padding) ? (c.output_padding as number[]) : [0, 0];
      out = [(x[0] - 1) * s[0] - p[0] - p[2] + k[0] + extra[0], (x[1] - 1) * s[1] - p[1] - p[3] + k[1] + extra[1], k[2]];
    } else if (node.className === 'ChannelReduce') {
      out = [...x.slice(0, -1), 1];
    } else if (node.className === 'ChannelPad') {
      const p = c.padding as number[];
      out = [...x.slice(0, -1), x[x.length - 1] + p[0] + p[1]];
    } else if (node.className === 'ChannelSlice') {
      out = [...x.slice(0, -1), Number(c.size)];
    } else if (node.className === 'Multiply') {
      out = x.map((d, i) => Math.max(d, ...inputs.map((t) => t?.[i] ?? 0)));
    } else out = [...x];
    if (out) shapes.set(node.name, out);
  }
  shapeCache.set(checkpoint, shapes);
  return shapes;
}

export function analyzeSymmetry(checkpoint: Checkpoint, granularity: Granularity): ScaleStructure {
  return new SymmetryAnalysis(checkpoint, granularity).run();
}

/** An orthonormal basis of {u : A u = 0} (Gram–Schmidt, twice). */
export function nullSpaceBasis(constraints: readonly LinearForm[], dimension: number): number[][] {
  const rows: number[][] = [];
  const orthogonalize = (v: number[], basis: number[][]): number[] | undefined => {
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) {
        let c = 0;
        for (let i = 0; i < v.length; i++) c += v[i] * b[i];
        if (c !== 0) for (let i = 0; i < v.length; i++) v[i] -= c * b[i];
      }
    }
    const n = Math.hypot(...v);
    return n > 1e-9 ? v.map((x) => x / n) : undefined;
  };
  for (const form of constraints) {
    const dense = new Array<number>(dimension).fill(0);
    for (const [v, c] of form) dense[v] += c;
    const r = orthogonalize(dense, rows);
    if (r) rows.push(r);
  }
  const free: number[][] = [];
  for (let i = 0; i < dimension && rows.length + free.length < dimension; i++) {
    const e = new Array<number>(dimension).fill(0);
    e[i] = 1;
    const v = orthogonalize(e, [...rows, ...free]);
    if (v) free.push(v);
  }
  return free;
}

export function evaluateForm(form: LinearForm, u: readonly number[]): number {
  let s = 0;
  for (const [v, c] of form) s += c * u[v];
  return s;
}

/** Variables that some free direction moves. */
export function freeVariables(structure: ScaleStructure): Set<number> {
  const free = new Set<number>();
  for (const b of structure.basis) b.forEach((x, i) => Math.abs(x) > 1e-9 && free.add(i));
  return free;
}

/** "3 rescalable layers, 48 rescalable units, 47 free scales": layers whose weights some free scaling changes. */
export function describeStructure(structure: ScaleStructure): string {
  const free = freeVariables(structure);
  const touches = (forms: readonly LinearForm[] | undefined) => forms?.some((f) => f.some(([v]) => free.has(v))) ?? false;
  const layers = new Set(structure.weights.filter((w) => touches(w.columns) || touches(w.rows)).map((w) => w.layer));
  const freedom = `${structure.freedom} free scale${structure.freedom === 1 ? '' : 's'}`;
  return structure.granularity === 'unit'
    ? `${layers.size} rescalable layers, ${free.size} rescalable units, ${freedom}`
    : `${layers.size} rescalable layers, ${freedom}`;
}
