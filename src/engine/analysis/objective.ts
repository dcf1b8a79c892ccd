import * as tf from '@tensorflow/tfjs-core';
import type { Dataset } from '../data/dataset';
import { batchTargets, correctCount, perSampleLoss, summedLoss, type BatchTargets, type LossKind } from '../model/loss';
import type { NetworkFunction } from '../model/network';
import { throwIfAborted } from '../../protocol/errors';
import type { ExecutorFactory, ObjectiveExecutor } from '../exec/objectiveExecutor';
import { dimensionOf, tensorProductOperator, type HessianOperator } from './hessianOperator';
import type { ParameterVector } from './vectors';

/**
 * Most directions an executor multiplies in one run. Blocks are cut into powers of two up to this,
 * so that only a few product graphs are ever built (each costs more to build the more directions it
 * holds), while a block of 4 already takes about half the time per direction of one alone.
 */
export const executorBlock = 4;

interface Batch {
  readonly inputs: tf.Tensor;
  readonly targets: BatchTargets;
  readonly count: number;
}

/**
 * The training objective L(θ) = mean over the data set of the per-sample loss, with its gradient and
 * exact Hessian-vector products (double backprop). The data set is cut into batches to bound
 * memory; every quantity is the exact mean over all samples. With an executor (ONNX Runtime), the
 * loss, gradient and Hessian-vector products run there instead; outputs, accuracy and per-sample
 * derivatives stay in tfjs.
 */
export class Objective {
  /** The checkpoint's trainable weights θ₀. */
  readonly theta: ParameterVector;
  private readonly batches: Batch[] = [];
  private hvpCounter = 0;
  private readonly executor: ObjectiveExecutor | undefined;
  private readonly values = new WeakMap<tf.Tensor, Float32Array>();

  constructor(
    readonly network: NetworkFunction,
    readonly dataset: Dataset,
    readonly loss: LossKind,
    batchSize = 1024,
    executorFactory?: ExecutorFactory,
  ) {
    this.theta = network.initialParameters();
    const perSample = dataset.inputs.length / dataset.count;
    const outputUnits = network.outputUnits;
    for (let start = 0; start < dataset.count; start += batchSize) {
      const count = Math.min(batchSize, dataset.count - start);
      const inputs = tf.tensor(dataset.inputs.subarray(start * perSample, (start + count) * perSample), [count, ...network.inputShape], 'float32');
      this.batches.push({ inputs, count, targets: batchTargets(dataset.targets, start, count, outputUnits, loss) });
    }
    if (executorFactory) {
      const executorBatches = this.batches.map((b, i) => ({
        inputs: dataset.inputs.subarray(i * batchSize * perSample, (i * batchSize + b.count) * perSample),
        targets: b.targets.matrix.dataSync() as Float32Array,
        count: b.count,
      }));
      this.executor = executorFactory(network, loss, executorBatches, dataset.count);
    }
  }

  /**
   * Values of the weights as the executor takes them, read once per tensor: the executor reuses what
   * it computed at the same weight arrays (θ₀, or a perturbed θ that many products are asked at).
   * θ₀'s are the checkpoint's own arrays (no copy of a large model's weights).
   */
  private weightValues(params: readonly tf.Tensor[]): Float32Array[] {
    const stored = params === this.theta ? this.network.storedParameterValues() : undefined;
    return params.map((t, i) => {
      let values = this.values.get(t);
      if (!values) this.values.set(t, (values = stored ? stored[i] : (t.dataSync() as Float32Array)));
      return values;
    });
  }

  private tensorsOf(values: readonly Float32Array[]): ParameterVector {
    return values.map((v, i) => tf.tensor(v, [...this.network.parameters[i].shape], 'float32'));
  }

  get parameters() {
    return this.network.parameters;
  }

  /** Hessian-vector products computed so far. */
  get hvpCount(): number {
    return this.hvpCounter;
  }

  /** The network's output for a batch, as the loss takes it (logits for ce and bce). */
  private lossInput(params: readonly tf.Tensor[], batch: Batch): tf.Tensor {
    return this.network.forward(params, batch.inputs, { logits: this.loss !== 'mse' });
  }

  /** This batch's share of the mean loss. */
  private lossShare(output: tf.Tensor, batch: Batch): tf.Scalar {
    return tf.div(summedLoss(this.loss, output, batch.targets.matrix), this.dataset.count);
  }

  private batchLoss(params: readonly tf.Tensor[], batch: Batch): tf.Scalar {
    return this.lossShare(this.lossInput(params, batch), batch);
  }

  /** L(θ) at the given parameters (θ₀ by default). */
  value(params: readonly tf.Tensor[] = this.theta): number {
    if (this.executor) return this.executor.value(this.weightValues(params));
    let total = 0;
    for (const batch of this.batches) total += tf.tidy(() => this.batchLoss(params, batch).dataSync()[0]);
    return total;
  }

  /** Loss and, where targets are classes, accuracy at θ₀. */
  evaluate(params: readonly tf.Tensor[] = this.theta): { loss: number; accuracy: number | undefined } {
    let loss = 0;
    let correct: number | undefined = 0;
    for (const batch of this.batches) {
      tf.tidy(() => {
        const output = this.lossInput(params, batch);
        loss += this.lossShare(output, batch).dataSync()[0];
        const n = correctCount(this.loss, output, batch.targets);
        correct = n === undefined || correct === undefined ? undefined : correct + n;
      });
    }
    return { loss, accuracy: correct === undefined ? undefined : correct / this.dataset.count };
  }

  /**
   * Loss, accuracy and ∇L at θ₀, as `evaluate` and `gradient` give them, one batch at a time with a
   * pause after each, so that progress reports and a cancel get through on a large data set.
   */
  async evaluateWithGradient(onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<{ loss: number; accuracy: number | undefined; gradient: ParameterVector }> {
    let loss = 0;
    let correct: number | undefined = 0;
    let sum: ParameterVector | undefined;
    if (this.executor) {
      // The executor's one pass gives loss, gradient and outputs: no tfjs forward or backward of a large model.
      const result = await this.executor.gradientInTurns(this.weightValues(this.theta), onBatch, signal);
      this.batches.forEach((batch, index) => {
        const n = tf.tidy(() => correctCount(this.loss, tf.tensor(result.outputs[index], [batch.count, result.outputs[index].length / batch.count]), batch.targets));
        correct = n === undefined || correct === undefined ? undefined : correct + n;
      });
      return { loss: result.loss, accuracy: correct === undefined ? undefined : correct / this.dataset.count, gradient: this.tensorsOf(result.gradient) };
    }
    try {
      for (const [index, batch] of this.batches.entries()) {
        throwIfAborted(signal);
        tf.tidy(() => {
          const output = this.lossInput(this.theta, batch);
          loss += this.lossShare(output, batch).dataSync()[0];
          const n = correctCount(this.loss, output, batch.targets);
          correct = n === undefined || correct === undefined ? undefined : correct + n;
        });
        const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => this.batchLoss(ps, batch))(this.theta as tf.Tensor[]);
        value.dispose();
        sum = accumulate(sum, grads);
        onBatch?.(index + 1, this.batches.length);
        await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      if (sum) tf.dispose(sum);
      throw error;
    }
    return { loss, accuracy: correct === undefined ? undefined : correct / this.dataset.count, gradient: sum! };
  }

  /** ∇L at the given parameters, and L. */
  gradient(params: readonly tf.Tensor[] = this.theta): { loss: number; gradient: ParameterVector } {
    if (this.executor) {
      const result = this.executor.gradient(this.weightValues(params));
      return { loss: result.loss, gradient: this.tensorsOf(result.gradient) };
    }
    let loss = 0;
    let sum: ParameterVector | undefined;
    for (const batch of this.batches) {
      const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) => this.batchLoss(ps, batch))(params as tf.Tensor[]);
      loss += value.dataSync()[0];
      value.dispose();
      sum = accumulate(sum, grads);
    }
    return { loss, gradient: sum! };
  }

  /** H v with H = ∇²L(θ₀), exact to float32 rounding. */
  hessianVectorProduct(v: ParameterVector, params: readonly tf.Tensor[] = this.theta): ParameterVector {
    if (this.executor) return this.hessianVectorProducts([v], params)[0];
    this.hvpCounter++;
    let sum: ParameterVector | undefined;
    for (const batch of this.batches) {
      const product = tf.tidy(() => {
        const gradientDotV = (...ps: tf.Tensor[]) => {
          const grads = tf.grads((...qs: tf.Tensor[]) => this.batchLoss(qs, batch))(ps);
          return tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, v[i])))) as tf.Scalar;
        };
        return tf.grads(gradientDotV)(params as tf.Tensor[]);
      });
      sum = accumulate(sum, product);
    }
    return sum!;
  }

  /**
   * H vⱼ for a block of directions. With an executor, one run per batch computes the forward and
   * backward pass once and one R-pass per direction.
   */
  hessianVectorProducts(directions: readonly ParameterVector[], params: readonly tf.Tensor[] = this.theta): ParameterVector[] {
    if (!this.executor) return directions.map((v) => this.hessianVectorProduct(v, params));
    this.hvpCounter += directions.length;
    const products = this.executor.hessianVectorProducts(directions.map((v) => v.map((t) => t.dataSync() as Float32Array)), this.weightValues(params));
    return products.map((p) => this.tensorsOf(p));
  }

  /** Why the Hessian trace at θ₀ cannot be computed exactly here (src/engine/exec/onnxruntime/exactTraceGraph.ts), or undefined. */
  exactTraceUnavailable(): string | undefined {
    if (!this.executor?.exactTraceUnavailable) return 'only the ONNX Runtime engine computes it';
    return this.executor.exactTraceUnavailable();
  }

  /** Each weight tensor's Tr H_kk at θ₀, exact; only where exactTraceUnavailable() is undefined. */
  exactBlockTraces(onBatch?: (done: number, total: number) => void, signal?: AbortSignal): Promise<number[]> {
    if (!this.executor?.exactBlockTraces) throw new Error('no executor computes the exact trace');
    return this.executor.exactBlockTraces(this.weightValues(this.theta), onBatch, signal);
  }

  /**
   * H = ∇²L(θ₀) on flat vectors. With an executor the directions go to it as views of the flat
   * arrays, in blocks, with no tensors in between; else each is a tfjs product.
   */
  hessianOperator(): HessianOperator {
    const parameters = this.parameters;
    const executor = this.executor;
    if (!executor) return tensorProductOperator((v) => this.hessianVectorProduct(v), parameters);
    const projections = executor.projections;
    const dimension = dimensionOf(parameters);
    const weights = this.weightValues(this.theta);
    return {
      parameters,
      dimension,
      products: (directions, into) => {
        const views = (flat: Float32Array) => parameters.map((p) => flat.subarray(p.offset, p.offset + p.size));
        const out: Float32Array[] = [];
        for (let start = 0; start < directions.length; ) {
          const size = Math.min(executorBlock, 2 ** Math.floor(Math.log2(directions.length - start)));
          const block = directions.slice(start, start + size);
          this.hvpCounter += size;
          // Each product lands in its flat array directly, tensor by tensor.
          const flats = block.map((_, j) => into?.[start + j] ?? new Float32Array(dimension));
          executor.hessianVectorProducts(block.map(views), weights, flats.map(views));
          out.push(...flats);
          start += size;
        }
        return out;
      },
      ...(projections ? { projections } : {}),
      ...(executor.restrictedHessianVectorProducts
        ? {
            restrictedProducts: (tensor: number, directions: readonly Float32Array[]) => {
              this.hvpCounter += directions.length;
              return executor.restrictedHessianVectorProducts!(tensor, directions, weights);
            },
          }
        : {}),
    };
  }

  /**
   * ⟨v, ∇ℓ_i(θ₀)⟩ for every sample i: the directional derivative of each sample's loss, computed as
   * a Jacobian-vector product by differentiating a vector-Jacobian product with respect to its
   * cotangent u (the "double-vjp" trick), so no per-sample gradients are materialized.
   */
  perSampleDirectionalDerivatives(v: ParameterVector): Float32Array {
    const out = new Float32Array(this.dataset.count);
    let offset = 0;
    for (const batch of this.batches) {
      const values = tf.tidy(() => {
        const cotangent = tf.ones([batch.count]);
        const vjpDotV = (u: tf.Tensor) => {
          const grads = tf.grads((...ps: tf.Tensor[]) => {
            return tf.sum(tf.mul(u, perSampleLoss(this.loss, this.lossInput(ps, batch), batch.targets.matrix)));
          })(this.theta);
          return tf.addN(grads.map((g, i) => tf.sum(tf.mul(g, v[i])))) as tf.Scalar;
        };
        return tf.grad(vjpDotV)(cotangent).dataSync() as Float32Array;
      });
      out.set(values, offset);
      offset += batch.count;
    }
    return out;
  }

  /** Network outputs at θ for every sample, row-major: after the output activation, or the logits before it. */
  outputs(params: readonly tf.Tensor[] = this.theta, logits = false): Float32Array {
    const parts = this.batches.map((b) => tf.tidy(() => this.network.forward(params, b.inputs, { logits }).dataSync() as Float32Array));
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  dispose(): void {
    this.executor?.dispose();
    tf.dispose(this.theta);
    for (const b of this.batches) {
      b.inputs.dispose();
      b.targets.matrix.dispose();
    }
    this.batches.length = 0;
  }
}

function accumulate(sum: ParameterVector | undefined, add: ParameterVector): ParameterVector {
  if (!sum) return add;
  const next = sum.map((s, i) => tf.add(s, add[i]));
  tf.dispose(sum);
  tf.dispose(add);
  return next;
}
