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
import { buildObjectiveGraph, directionName, gradientName, inputName, lossName, outputsName, parameterName, productName, targetsName, type GraphOutputs } from './objectiveGraph';
import { fromGraphLayout, parameterLayouts, toGraphLayout, type ParameterLayout } from './parameterLayout';
import { GraphSession, defaultThreads, type Device, type RuntimeOptions, type RuntimeTensor } from './runtime';
import { splitProductGraphs } from './productSplit';
import { buildExactTraceGraph, seedsName, type ExactTraceGraph } from './exactTraceGraph';
import { outputHessianFactors } from '../../model/outputHessian';

/** Bytes the products' shared values of all batches may hold (activations, masks, deltas). */
export const sharedStateBudget = 1024 * 1024 * 1024;

interface SplitSessions {
  readonly state: GraphSession;
  readonly stateOutputs: readonly string[];
  readonly product: GraphSession;
}

/** The state graph's outputs at one weight point, per batch, by name. */
interface SharedState {
  readonly params: readonly Float32Array[];
  readonly perBatch: Record<string, RuntimeTensor>[];
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
  /** Weights and directions in the graph's layout, by the caller's array (weights repeat across products). */
  private readonly inGraphLayout = new WeakMap<Float32Array, Float32Array>();
  /** Per batch size and number of directions: the split sessions, or null where the whole graph runs. */
  private readonly splits = new Map<string, SplitSessions | null>();
  private shared: SharedState | undefined;
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

  private graphValues(values: Float32Array, i: number): Float32Array {
    if (!this.layouts[i].permutation) return values;
    let laid = this.inGraphLayout.get(values);
    if (!laid) this.inGraphLayout.set(values, (laid = toGraphLayout(this.layouts[i], this.network.parameters[i].shape, values)));
    return laid;
  }

  /** A sum over batches (graph layout) in the caller's layout, in float32. */
  private stored(sum: Float64Array | Float32Array, i: number): Float32Array {
    return fromGraphLayout(this.layouts[i], this.network.parameters[i].shape, sum);
  }

  private session(count: number, outputs: GraphOutputs): GraphSession {
    const key = `${count}:${outputs.kind}:${outputs.kind === 'hvp' ? outputs.directions : 0}`;
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

  private split(count: number, directions: number): SplitSessions | undefined {
    const key = `${count}:${directions}`;
    let split = this.splits.get(key);
    if (split === undefined) {
      // On CUDA the shared values would cross to the host and back for every product: the whole graph runs there.
      const graphs = this.device === 'cpu' ? splitProductGraphs(this.network, this.loss, count, this.datasetCount, directions) : undefined;
      const fits = graphs !== undefined && graphs.state.outputs.length > 0 && graphs.stateBytes * this.batches.length <= this.stateBudget;
      const options = { threads: this.threads, device: this.device };
      split = fits ? { state: new GraphSession(graphs.state.model, options), stateOutputs: graphs.state.outputs.map((o) => o.name), product: new GraphSession(graphs.product.model, options) } : null;
      this.splits.set(key, split);
      this.built.push({ samples: count, outputs: { kind: 'hvp', directions }, reusesState: split !== null });
    }
    return split ?? undefined;
  }

  /** The state graph's outputs for batch `index` at `params`, computed once per weight point. */
  private sharedValues(split: SplitSessions, index: number, params: readonly Float32Array[], feeds: () => Record<string, RuntimeTensor>): Record<string, RuntimeTensor> {
    if (!this.shared || this.shared.params.length !== params.length || this.shared.params.some((p, i) => p !== params[i])) this.shared = { params: [...params], perBatch: [] };
    const values = (this.shared.perBatch[index] ??= {});
    if (split.stateOutputs.some((name) => !(name in values))) Object.assign(values, split.state.runTensors(feeds(), split.stateOutputs));
    return values;
  }

  private tensorFeeds(session: GraphSession, feed: Feed): Record<string, RuntimeTensor> {
    const tensors: Record<string, RuntimeTensor> = {};
    for (const [name, t] of Object.entries(feed)) tensors[name] = session.tensor(t.data, t.shape);
    return tensors;
  }

  /** H vⱼ for each direction vⱼ (one array per weight tensor), in one run per batch. */
  hessianVectorProducts(directions: readonly (readonly Float32Array[])[], params: readonly Float32Array[]): Float32Array[][] {
    const k = directions.length;
    const sums = directions.map(() => this.network.parameters.map((p) => new Float64Array(this.batches.length === 1 ? 0 : p.size)));
    for (const [index, batch] of this.batches.entries()) {
      const feed = this.feed(batch, params);
      const split = this.split(batch.count, k);
      const dataAndWeights = { ...feed };
      const names: string[] = [];
      directions.forEach((v, d) =>
        this.network.parameters.forEach((_, i) => {
          feed[directionName(d, i)] = { data: this.graphValues(v[i], i), shape: this.layouts[i].graphShape };
          names.push(productName(d, i));
        }),
      );
      let out: Record<string, Float32Array>;
      if (split) {
        const feeds = { ...this.tensorFeeds(split.product, feed), ...this.sharedValues(split, index, params, () => this.tensorFeeds(split.state, dataAndWeights)) };
        const results = split.product.runTensors(feeds, names);
        out = Object.fromEntries(names.map((name) => [name, results[name].data as Float32Array]));
      } else out = this.session(batch.count, { kind: 'hvp', directions: k }).run(feed, names);
      // One batch: its products are the sums (no float64 accumulation pass over millions of values).
      if (this.batches.length === 1) return directions.map((_, d) => this.network.parameters.map((_, i) => this.stored(out[productName(d, i)], i)));
      directions.forEach((_, d) => this.network.parameters.forEach((_, i) => addInto(sums[d][i], out[productName(d, i)])));
    }
    return sums.map((perTensor) => perTensor.map((s, i) => this.stored(s, i)));
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
    for (const t of this.exactTraces.values()) t.session?.dispose();
    this.exactTraces.clear();
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
    for (const split of this.splits.values()) {
      split?.state.dispose();
      split?.product.dispose();
    }
    this.splits.clear();
    this.shared = undefined;
  }
}

function addInto(sum: Float64Array, add: Float32Array): void {
  for (let i = 0; i < sum.length; i++) sum[i] += add[i];
}
