/**
 * TEST REFERENCE — not part of the engine. An independent float64 computation of the exact loss,
 * gradient, Hessian and Hessian-vector products of a ModelSpec network, used to check the tfjs
 * engine (float32, double backprop). It shares no code with src/engine/model (only the spec types).
 *
 * Method: hyper-dual numbers. Evaluating the loss at θ + ε1·e_i + ε2·e_j gives ∂²L/∂θ_i∂θ_j exactly in
 * the ε1ε2 part and ∂L/∂θ_i in the ε1 part. Only the seeded parameters are hyper-dual; everything
 * else is plain float64, and only entries with j ≥ i are computed. Cost: n(n+1)/2 forward passes for
 * the Hessian, n for a Hessian-vector product — meant for models with at most a few hundred
 * parameters.
 *
 * θ is the trainable weights concatenated in the order of the `weights` array, each row-major.
 * Piecewise-linear pieces (ReLU, max pooling) take the branch of the real part, so results are exact
 * away from kinks and ties; tests choose seeds and inputs that avoid them.
 */
import type { Targets } from '../../src/engine/model/loss';
import type { ModelSpec, WeightTensor } from '../../src/engine/model/spec';
import { HyperDual, epsilon12Part, epsilon1Part, realPart } from './hyperDual';
import type { Num } from './hyperDual';
import { meanLoss } from './losses';
import type { LossKind } from './losses';
import { evaluateNetwork } from './network';
import type { LayerWeightSource } from './network';
import { ReferenceModelError, elementCount } from './referenceTensor';
import type { ReferenceTensor } from './referenceTensor';

export type { LossKind } from './losses';

export interface ReferenceResult {
  readonly loss: number;
  readonly gradient: Float64Array;
  /** n×n, row-major. */
  readonly hessian: Float64Array;
  readonly parameterCount: number;
  /** The model's final outputs (after the output activation), count × outputWidth. */
  readonly outputs: Float64Array;
}

export interface ReferenceGradient {
  readonly loss: number;
  readonly gradient: Float64Array;
}

/** The trainable weights concatenated in `weights` order, as float64: the θ of every function here. */
export function trainableParameters(weights: readonly WeightTensor[]): Float64Array {
  const parts = weights.filter((w) => w.trainable).map((w) => w.values);
  const theta = new Float64Array(parts.reduce((total, p) => total + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    theta.set(p, offset);
    offset += p.length;
  }
  return theta;
}

export function exactHessian(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
  targets: Targets,
  loss: LossKind,
): ReferenceResult {
  const problem = new ReferenceProblem(model, weights, inputs, count, targets, loss);
  const n = problem.parameterCount;
  const gradient = new Float64Array(n);
  const hessian = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    const diagonal = problem.lossWithSeeds(new Map([[i, { e1: 1, e2: 1 }]]));
    gradient[i] = epsilon1Part(diagonal);
    hessian[i * n + i] = epsilon12Part(diagonal);
    for (let j = i + 1; j < n; j++) {
      const entry = epsilon12Part(problem.lossWithSeeds(new Map([[i, { e1: 1, e2: 0 }], [j, { e1: 0, e2: 1 }]])));
      hessian[i * n + j] = entry;
      hessian[j * n + i] = entry;
    }
  }
  return {
    loss: realPart(problem.lossWithSeeds(new Map())),
    gradient,
    hessian,
    parameterCount: n,
    outputs: referenceOutputs(model, weights, inputs, count),
  };
}

/** The model's final outputs (after the output activation) in float64, count × outputWidth. */
export function referenceOutputs(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
): Float64Array {
  const source = new SeededWeights(weights, trainableParameters(weights), new Map());
  const network = evaluateNetwork(model, source, inputTensor(model, inputs, count));
  return Float64Array.from(network.output.data, realPart);
}

/** The loss at θ = `parameters` (default: the stored trainable weights), in float64. */
export function referenceLoss(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
  targets: Targets,
  loss: LossKind,
  parameters?: Float64Array,
): number {
  const problem = new ReferenceProblem(model, weights, inputs, count, targets, loss, parameters);
  return realPart(problem.lossWithSeeds(new Map()));
}

/** Loss and exact gradient at θ = `parameters` (default: the stored trainable weights); n passes. */
export function exactGradient(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
  targets: Targets,
  loss: LossKind,
  parameters?: Float64Array,
): ReferenceGradient {
  const problem = new ReferenceProblem(model, weights, inputs, count, targets, loss, parameters);
  const gradient = new Float64Array(problem.parameterCount);
  for (let i = 0; i < gradient.length; i++) gradient[i] = epsilon1Part(problem.lossWithSeeds(new Map([[i, { e1: 1, e2: 0 }]])));
  return { loss: realPart(problem.lossWithSeeds(new Map())), gradient };
}

/**
 * H·v, one pass per output entry j with ε1 along v and ε2 along e_j: the ε1ε2 part is vᵀH e_j.
 * n passes instead of n(n+1)/2, so it reaches medium-sized models.
 */
export function exactHessianVectorProduct(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
  targets: Targets,
  loss: LossKind,
  vector: Float64Array,
  parameters?: Float64Array,
): Float64Array {
  const problem = new ReferenceProblem(model, weights, inputs, count, targets, loss, parameters);
  const n = problem.parameterCount;
  if (vector.length !== n) throw new RangeError(`exactHessianVectorProduct: expected a vector of ${n} entries, found ${vector.length}`);
  const product = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const seeds = new Map<number, DualSeed>();
    for (let k = 0; k < n; k++) {
      if (vector[k] !== 0 || k === j) seeds.set(k, { e1: vector[k], e2: k === j ? 1 : 0 });
    }
    product[j] = epsilon12Part(problem.lossWithSeeds(seeds));
  }
  return product;
}

/**
 * One Hessian entry ∂²L/∂θ_i∂θ_j with ε1 on θ_i and ε2 on θ_j, in that order — lets tests check
 * symmetry without it being built in.
 */
export function exactHessianEntry(
  model: ModelSpec,
  weights: readonly WeightTensor[],
  inputs: Float32Array | Float64Array,
  count: number,
  targets: Targets,
  loss: LossKind,
  i: number,
  j: number,
): number {
  const problem = new ReferenceProblem(model, weights, inputs, count, targets, loss);
  const seeds = i === j ? new Map([[i, { e1: 1, e2: 1 }]]) : new Map([[i, { e1: 1, e2: 0 }], [j, { e1: 0, e2: 1 }]]);
  return epsilon12Part(problem.lossWithSeeds(seeds));
}

/** Infinitesimal directions added to one parameter: θ_k + e1·ε1 + e2·ε2. */
interface DualSeed {
  readonly e1: number;
  readonly e2: number;
}

class ReferenceProblem {
  readonly parameterCount: number;
  private readonly input: ReferenceTensor;
  private readonly theta: Float64Array;

  constructor(
    private readonly model: ModelSpec,
    private readonly weights: readonly WeightTensor[],
    inputs: Float32Array | Float64Array,
    private readonly count: number,
    private readonly targets: Targets,
    private readonly loss: LossKind,
    parameters?: Float64Array,
  ) {
    this.input = inputTensor(model, inputs, count);
    this.theta = trainableParameters(weights);
    if (parameters !== undefined) {
      if (parameters.length !== this.theta.length) {
        throw new RangeError(`expected ${this.theta.length} parameters, found ${parameters.length}`);
      }
      this.theta = parameters;
    }
    this.parameterCount = this.theta.length;
  }

  lossWithSeeds(seeds: ReadonlyMap<number, DualSeed>): Num {
    const source = new SeededWeights(this.weights, this.theta, seeds);
    const network = evaluateNetwork(this.model, source, this.input);
    return meanLoss(network, this.count, this.targets, this.loss, this.model.outputs[0]);
  }
}

/** Weights as `Num` tensors: trainable ones from θ, with the seeded entries made hyper-dual. */
class SeededWeights implements LayerWeightSource {
  private readonly byLayerAndRole = new Map<string, ReferenceTensor>();

  constructor(weights: readonly WeightTensor[], theta: Float64Array, seeds: ReadonlyMap<number, DualSeed>) {
    let offset = 0;
    for (const w of weights) {
      const size = elementCount(w.shape);
      if (w.values.length !== size) {
        throw new ReferenceModelError(w.layer, `weight '${w.name}' has shape [${w.shape.join(', ')}] but ${w.values.length} values`);
      }
      let data: Num[];
      if (w.trainable) {
        data = Array.from(theta.subarray(offset, offset + size));
        for (const [index, seed] of seeds) {
          if (index >= offset && index < offset + size) data[index - offset] = new HyperDual(theta[index], seed.e1, seed.e2, 0);
        }
        offset += size;
      } else {
        data = Array.from(w.values);
      }
      this.byLayerAndRole.set(keyOf(w.layer, w.role), { shape: w.shape, data });
    }
  }

  find(layer: string, role: string): ReferenceTensor | null {
    return this.byLayerAndRole.get(keyOf(layer, role)) ?? null;
  }
}

function keyOf(layer: string, role: string): string {
  return `${layer}\u0000${role}`;
}

function inputTensor(model: ModelSpec, inputs: Float32Array | Float64Array, count: number): ReferenceTensor {
  if (model.inputs.length !== 1) {
    throw new ReferenceModelError('(model)', `only single-input models are supported, found ${model.inputs.length} inputs`);
  }
  const sampleShape = model.inputs[0].shape;
  const expected = count * elementCount(sampleShape);
  if (inputs.length !== expected) {
    const expectation = `${count}×[${sampleShape.join(', ')}] = ${expected} input values`;
    throw new ReferenceModelError(model.inputs[0].name, `expected ${expectation}, found ${inputs.length}`);
  }
  return { shape: [count, ...sampleShape], data: Array.from(inputs) };
}
