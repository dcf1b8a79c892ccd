/**
 * The objective's loss, gradient and Hessian-vector products run by ONNX Runtime: one session per
 * (batch size, quantity), built on first use and kept; the batches' inputs and targets are made
 * once and fed by reference. Products run as a state graph, once per weight point and batch, and a
 * product graph that reuses its outputs (src/engine/exec/onnxruntime/productSplit.ts), on the CPU
 * while those outputs for all batches fit `sharedStateBudget`; else as one graph per batch.
 */
import type { LossKind } from '../../model/loss';
import type { ExecutorBatch, ExecutorGradient, ObjectiveExecutor } from '../objectiveExecutor';
import { throwIfAborted } from '../../../protocol/errors';
import type { NetworkFunction } from '../../model/network';
import { buildObjectiveGraph, directionName, gradientName, inputName, lossName, outputsName, parameterName, productName, restrictedProductName, targetsName, type GraphOutputs } from './objectiveGraph';
import { fromGraphLayout, parameterLayouts, toGraphLayout, type ParameterLayout } from './parameterLayout';
import { GraphSession, defaultThreads, type Device, type RuntimeOptions, type RuntimeTensor } from './runtime';
import { splitProductGraphs, type ProductGraph } from './productSplit';
import { buildExactTraceGraph, seedsName, type ExactTraceGraph } from './exactTraceGraph';
import { outputHessianFactors } from '../../model/outputHessian';
import { onnxProjections } from './projections';

/** Bytes the products' shared values of all batches may hold (activations, masks, deltas). */
export const sharedStateBudget = 1024 * 1024 * 1024;

interface SplitSessions {
  readonly namespace: string;
  readonly state: GraphSession;
  readonly stateOutputs: readonly string[];
  /** Product graphs by group (`k1`, `k2`, `k4`: full products of that many directions; `tensor i`: restricted), sessions built on first use. */
  readonly graphs: ReadonlyMap<string, ProductGraph>;
  readonly sessions: Map<string, GraphSession>;
}

/** Directions per run that the main recording serves (the objective's blocks are powers of two up to 4). */
const sharedRecordingDirections = [1, 2, 4];
/** Up to this many weight tensors the main recording also holds each tensor's restricted products. */
export const maxTensorsForRestrictedProducts = 40;

/**
 * The state graphs' outputs at one weight point, per namespace and batch, by name. Graphs recorded
 * alike up to their R-passes (the full products for any number of directions, or one tensor's
 * restricted products) name their shared values alike and share a namespace.
 */
interface SharedState {
  readonly params: readonly Float32Array[];
  readonly perNamespace: Map<string, Record<string, RuntimeTensor>[]>;
}

export interface BuiltGraph {
  readonly samples: number;
  readonly outputs: GraphOutputs;
  /** Products as a state graph and a product graph that reuses the state's outputs at the same weights. */
  readonly reusesState?: boolean;
}

type Feed = Record<string, { data: Float32Array; shape: readonly number[] }>;

export class OnnxObjectiveExecutor implements ObjectiveExecutor {
  readonly device: Device;
  readonly threads: number;
  private readonly sessions = new Map<string, GraphSession>();
  private readonly built: BuiltGraph[] = [];
  private readonly layouts: readonly ParameterLayout[];
  /** Weights in the graph's layout, by the caller's array (they repeat across products). */
  private readonly inGraphLayout = new WeakMap<Float32Array, Float32Array>();
  /** Directions in the graph's layout, by tensor and slot in the block (see `directionValues`). */
  private readonly directionScratch = new Map<string, Float32Array>();
  /** Per batch size and number of directions: the split sessions, or null where the whole graph runs. */
  private readonly splits = new Map<string, SplitSessions | null>();
  private shared: SharedState | undefined;
  /** Bytes of shared values each namespace may hold (all batches), within `stateBudget` together. */
  private readonly committed = new Map<string, number>();
  private nativeProjections: ReturnType<typeof onnxProjections> | undefined;
  /** Per batch size: the exact trace's graph and session, or why there is none. */
  private readonly exactTraces = new Map<number, { graph: ExactTraceGraph; session?: GraphSession }>();

  constructor(
    private readonly network: NetworkFunction,
    private readonly loss: LossKind,
    private readonly batches: readonly ExecutorBatch[],
    private readonly datasetCount: number,
    options: RuntimeOptions = {},
    private readonly stateBudget = sharedStateBudget,
  ) {
    this.device = options.device ?? 'cpu';
    this.threads = options.threads && options.threads > 0 ? options.threads : defaultThreads();
    this.layouts = parameterLayouts(network);
  }

  get projections(): ReturnType<typeof onnxProjections> | undefined {
    // On CUDA the basis would cross to the device for every pass.
    if (this.device !== 'cpu') return undefined;
    return (this.nativeProjections ??= onnxProjections({ threads: this.threads, device: this.device }));
  }

  private graphValues(values: Float32Array, i: number): Float32Array {
    if (!this.layouts[i].permutation) return values;
    let laid = this.inGraphLayout.get(values);
    if (!laid) this.inGraphLayout.set(values, (laid = toGraphLayout(this.layouts[i], this.network.parameters[i].shape, values)));
    return laid;
  }

  /** A sum over batches (graph layout) in the caller's layout, in float32 (into `into` when given). */
  private stored(sum: Float64Array | Float32Array, i: number, into?: Float32Array): Float32Array {
    return fromGraphLayout(this.layouts[i], this.network.parameters[i].shape, sum, into);
  }

  private session(count: number, outputs: GraphOutputs): GraphSession {
    const key = `${count}:${outputs.kind}:${outputs.kind === 'hvp' ? `${outputs.directions}:${outputs.tensor ?? 'all'}` : 0}`;
    let session = this.sessions.get(key);
    if (!session) {
      const graph = buildObjectiveGraph(this.network, this.loss, count, this.datasetCount, outputs);
      session = new GraphSession(graph.model, { threads: this.threads, device: this.device });
      this.sessions.set(key, session);
      if (outputs.kind !== 'hvp') this.built.push({ samples: count, outputs });
    }
    return session;
  }

  /**
   * Every graph built so far, once each: activations are sized by a batch's samples (so bounded by
   * the batch size), and products reuse their session.
   */
  get builtGraphs(): readonly BuiltGraph[] {
    return this.built;
  }

  private feed(batch: ExecutorBatch, params: readonly Float32Array[]): Feed {
    const feed: Feed = {
      [inputName]: { data: batch.inputs, shape: [batch.count, ...this.network.inputShape] },
      [targetsName]: { data: batch.targets, shape: [batch.count, batch.targets.length / batch.count] },
    };
    this.network.parameters.forEach((_, i) => (feed[parameterName(i)] = { data: this.graphValues(params[i], i), shape: this.layouts[i].graphShape }));
    return feed;
  }

  value(params: readonly Float32Array[]): number {
    let total = 0;
    for (const batch of this.batches) total += this.session(batch.count, { kind: 'loss' }).run(this.feed(batch, params), [lossName])[lossName][0];
    return total;
  }

  gradient(params: readonly Float32Array[]): ExecutorGradient {
    const sum = this.gradientSum();
    for (const batch of this.batches) sum.add(batch, params);
    return sum.result();
  }

  async gradientInTurns(params: readonly Float32Array[], onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<ExecutorGradient> {
    const sum = this.gradientSum();
    for (const [index, batch] of this.batches.entries()) {
      throwIfAborted(signal);
      sum.add(batch, params);
      onBatch?.(index + 1, this.batches.length);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return sum.result();
  }

  /** Loss, gradient and outputs summed over the batches added. */
  private gradientSum(): { add(batch: ExecutorBatch, params: readonly Float32Array[]): void; result(): ExecutorGradient } {
    let loss = 0;
    const sum = this.network.parameters.map((p) => new Float64Array(p.size));
    const names = this.network.parameters.map((_, i) => gradientName(i));
    const outputs: Float32Array[] = [];
    return {
      add: (batch, params) => {
        const out = this.session(batch.count, { kind: 'gradient' }).run(this.feed(batch, params), [lossName, outputsName, ...names]);
        loss += out[lossName][0];
        outputs.push(out[outputsName]);
        names.forEach((name, i) => addInto(sum[i], out[name]));
      },
      result: () => ({ loss, gradient: sum.map((s, i) => this.stored(s, i)), outputs }),
    };
  }

  /** The full products' group name for k directions, or a tensor's restricted products'. */
  private groupName(directions: number, tensor?: number): string {
    return tensor === undefined ? `k${directions}` : `tensor ${tensor}`;
  }

  /** Every tensor's product output of directions 0 … k − 1, direction-major. */
  private fullProductNames(directions: number): string[] {
    return Array.from({ length: directions }, (_, d) => this.network.parameters.map((_, i) => productName(d, i))).flat();
  }

  /**
   * The split that serves a group: the main recording (1, 2 and 4 directions and every tensor's
   * restricted products, one state graph for all) where it holds the group, else one of its own.
   */
  private split(count: number, directions: number, tensor?: number): { split: SplitSessions; graph: ProductGraph } | undefined {
    const group = this.groupName(directions, tensor);
    const tensors = this.network.parameters.length;
    const inMain = tensor === undefined ? sharedRecordingDirections.includes(directions) : tensors <= maxTensorsForRestrictedProducts;
    const namespace = inMain ? 'all' : group;
    const key = `${count}:${namespace}`;
    let split = this.splits.get(key);
    if (split === undefined) {
      const restricted = inMain && tensors <= maxTensorsForRestrictedProducts;
      const recording = inMain ? { kind: 'hvp' as const, directions: Math.max(...sharedRecordingDirections), restricted } : { kind: 'hvp' as const, directions, tensor };
      const groups = inMain
        ? [
            ...sharedRecordingDirections.map((k) => ({ name: this.groupName(k), outputs: this.fullProductNames(k) })),
            ...(restricted ? this.network.parameters.map((_, i) => ({ name: this.groupName(1, i), outputs: [restrictedProductName(i)] })) : []),
          ]
        : [{ name: group, outputs: tensor === undefined ? this.fullProductNames(directions) : [productName(0, tensor)] }];
      // On CUDA the shared values would cross to the host and back for every product: the whole graph runs there.
      const graphs = this.device === 'cpu' ? splitProductGraphs(this.network, this.loss, count, this.datasetCount, recording, groups) : undefined;
      const bytes = graphs ? graphs.stateBytes * this.batches.length : Infinity;
      const others = [...this.committed].reduce((sum, [name, b]) => sum + (name === namespace ? 0 : b), 0);
      const fits = graphs !== undefined && graphs.state.outputs.length > 0 && others + Math.max(bytes, this.committed.get(namespace) ?? 0) <= this.stateBudget;
      split = fits ? { namespace, state: new GraphSession(graphs.state.model, { threads: this.threads, device: this.device }), stateOutputs: graphs.state.outputs.map((o) => o.name), graphs: graphs.products, sessions: new Map() } : null;
      if (fits) this.committed.set(namespace, Math.max(bytes, this.committed.get(namespace) ?? 0));
      this.splits.set(key, split);
    }
    if (!split) {
      if (!this.built.some((b) => b.samples === count && b.outputs.kind === 'hvp' && b.outputs.directions === directions && b.outputs.tensor === tensor)) {
        this.built.push({ samples: count, outputs: { kind: 'hvp', directions, ...(tensor === undefined ? {} : { tensor }) }, reusesState: false });
      }
      return undefined;
    }
    const graph = split.graphs.get(group)!;
    if (!split.sessions.has(group)) {
      split.sessions.set(group, new GraphSession(graph.model, { threads: this.threads, device: this.device }));
      this.built.push({ samples: count, outputs: { kind: 'hvp', directions, ...(tensor === undefined ? {} : { tensor }) }, reusesState: true });
    }
    return { split, graph };
  }

  /** The state graph's outputs for batch `index` at `params`, computed once per weight point. */
  private sharedValues(split: SplitSessions, index: number, params: readonly Float32Array[], feeds: () => Record<string, RuntimeTensor>): Record<string, RuntimeTensor> {
    if (!this.shared || this.shared.params.length !== params.length || this.shared.params.some((p, i) => p !== params[i])) this.shared = { params: [...params], perNamespace: new Map() };
    let perBatch = this.shared.perNamespace.get(split.namespace);
    if (!perBatch) this.shared.perNamespace.set(split.namespace, (perBatch = []));
    const values = (perBatch[index] ??= {});
    if (split.stateOutputs.some((name) => !(name in values))) Object.assign(values, split.state.runTensors(feeds(), split.stateOutputs));
    return values;
  }

  private tensorFeeds(session: GraphSession, feed: Feed): Record<string, RuntimeTensor> {
    const tensors: Record<string, RuntimeTensor> = {};
    for (const [name, t] of Object.entries(feed)) tensors[name] = session.tensor(t.data, t.shape);
    return tensors;
  }

  /**
   * H vⱼ for each direction vⱼ (one array per weight tensor), in one run per batch; into `into[j]`
   * (one array per tensor) when given, which spares allocating and touching fresh memory per product.
   */
  hessianVectorProducts(directions: readonly (readonly Float32Array[])[], params: readonly Float32Array[], into?: readonly (readonly Float32Array[])[]): Float32Array[][] {
    const tensors = this.network.parameters.map((_, i) => i);
    return this.products(directions, tensors, params, undefined, into);
  }

  /** H_kk vⱼ for directions vⱼ of weight tensor k alone (zero elsewhere): the products' part in tensor k. */
  restrictedHessianVectorProducts(tensor: number, directions: readonly Float32Array[], params: readonly Float32Array[]): Float32Array[] {
    // One direction per run: the restricted graphs take one.
    return directions.map((v) => this.products([[v]], [tensor], params, tensor)[0][0]);
  }

  /**
   * Direction `slot` of weight tensor i in the graph's layout: permuted into memory kept for that
   * slot (a direction is used for one run, so the same memory serves every product), or as given.
   */
  private directionValues(values: Float32Array, i: number, slot: number): Float32Array {
    const layout = this.layouts[i];
    if (!layout.permutation) return values;
    const key = `${i}:${slot}`;
    let scratch = this.directionScratch.get(key);
    if (!scratch) this.directionScratch.set(key, (scratch = new Float32Array(values.length)));
    return toGraphLayout(layout, this.network.parameters[i].shape, values, scratch);
  }

  /** Products of directions given on `tensors` (one array each), summed over batches, on those tensors. */
  private products(directions: readonly (readonly Float32Array[])[], tensors: readonly number[], params: readonly Float32Array[], restrictedTo?: number, into?: readonly (readonly Float32Array[])[]): Float32Array[][] {
    const k = directions.length;
    const single = this.batches.length === 1;
    const sums = directions.map(() => tensors.map((i) => new Float64Array(single ? 0 : this.network.parameters[i].size)));
    const directionFeed: Feed = {};
    const names: string[] = [];
    directions.forEach((v, d) =>
      tensors.forEach((i, t) => {
        directionFeed[directionName(d, i)] = { data: this.directionValues(v[t], i, d), shape: this.layouts[i].graphShape };
        names.push(productName(d, i));
      }),
    );
    const result = (values: (d: number, t: number) => Float32Array | Float64Array) =>
      directions.map((_, d) => tensors.map((i, t) => this.stored(values(d, t), i, into?.[d][t])));
    for (const [index, batch] of this.batches.entries()) {
      const dataAndWeights = this.feed(batch, params);
      const feed = { ...dataAndWeights, ...directionFeed };
      const split = this.split(batch.count, k, restrictedTo);
      let out: Record<string, Float32Array>;
      if (split) {
        const session = split.split.sessions.get(this.groupName(k, restrictedTo))!;
        const shared = this.sharedValues(split.split, index, params, () => this.tensorFeeds(split.split.state, dataAndWeights));
        // Each product graph declares only the inputs it reads: feed those.
        const feeds: Record<string, RuntimeTensor> = {};
        for (const name of split.graph.inputNames) feeds[name] = shared[name] ?? session.tensor(feed[name].data, feed[name].shape);
        const results = session.runTensors(feeds, split.graph.outputNames);
        // The graph's outputs in the order of `names` (restricted products carry their own names).
        out = Object.fromEntries(names.map((name, n) => [name, results[split.graph.outputNames[n]].data as Float32Array]));
      } else out = this.session(batch.count, { kind: 'hvp', directions: k, ...(restrictedTo === undefined ? {} : { tensor: restrictedTo }) }).run(feed, names);
      // One batch: its products are the sums (no float64 accumulation pass over millions of values).
      if (single) return result((d, t) => out[productName(d, tensors[t])]);
      directions.forEach((_, d) => tensors.forEach((i, t) => addInto(sums[d][t], out[productName(d, i)])));
    }
    return result((d, t) => sums[d][t]);
  }

  private exactTrace(count: number): { graph: ExactTraceGraph; session?: GraphSession } {
    let built = this.exactTraces.get(count);
    if (!built) {
      const graph = buildExactTraceGraph(this.network, this.loss !== 'mse', count);
      built = { graph, session: 'model' in graph ? new GraphSession(graph.model, { threads: this.threads, device: this.device }) : undefined };
      this.exactTraces.set(count, built);
    }
    return built;
  }

  exactTraceUnavailable(): string | undefined {
    for (const count of new Set(this.batches.map((b) => b.count))) {
      const { graph } = this.exactTrace(count);
      if ('unavailable' in graph) return graph.unavailable;
    }
    return undefined;
  }

  async exactBlockTraces(params: readonly Float32Array[], onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<number[]> {
    const sums = this.network.parameters.map(() => 0);
    for (const [index, batch] of this.batches.entries()) {
      throwIfAborted(signal);
      const { graph, session } = this.exactTrace(batch.count);
      if ('unavailable' in graph || !session) throw new Error(`no exact trace: ${'unavailable' in graph ? graph.unavailable : 'no session'}`);
      const feed = this.feed(batch, params);
      const outputs = this.session(batch.count, { kind: 'gradient' }).run(feed, [outputsName])[outputsName];
      const units = outputs.length / batch.count;
      delete feed[targetsName];
      feed[seedsName] = { data: outputHessianFactors(this.loss, outputs, batch.targets, batch.count, units, this.datasetCount), shape: [units, batch.count, units] };
      const out = session.run(feed, graph.outputNames);
      graph.outputNames.forEach((name, i) => (sums[i] += out[name][0]));
      onBatch?.(index + 1, this.batches.length);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return sums;
  }

  dispose(): void {
    this.nativeProjections?.dispose();
    this.nativeProjections = undefined;
    for (const t of this.exactTraces.values()) t.session?.dispose();
    this.exactTraces.clear();
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    for (const split of this.splits.values()) {
      split?.state.dispose();
      for (const session of split?.sessions.values() ?? []) session.dispose();
    }
    this.splits.clear();
    this.committed.clear();
    this.directionScratch.clear();
    this.shared = undefined;
  }
}

function addInto(sum: Float64Array, add: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] += add[i];
}
