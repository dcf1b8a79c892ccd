import * as tf from '@tensorflow/tfjs-core';
import { countDetail, type StageProgress } from './progress';
import { throwIfAborted } from '../../protocol/errors';
import type { Objective } from './objective';
import type { SeededRandom } from '../numeric/random';
import { addScaled, disposeVector, dot, norm, randomNormalVector, scale, type ParameterVector } from './vectors';

/**
 * A linear map M from a search space onto parameter space: the perturbation is δ = M y with ‖y‖ ≤ r.
 * Full space: M = I. Random subspace: M = A with orthonormal columns. Adaptive: M = diag(|θ| + η).
 */
interface PerturbationMap {
  /** y ↦ M y */
  apply(y: ParameterVector | number[]): ParameterVector;
  /** g ↦ Mᵀ g */
  adjoint(g: ParameterVector): ParameterVector | number[];
  /** A random point of the search space (not normalized). */
  random(random: SeededRandom): ParameterVector | number[];
}

type SearchPoint = ParameterVector | number[];

function pointNorm(y: SearchPoint): number {
  return isCoordinates(y) ? Math.hypot(...y) : norm(y);
}

function isCoordinates(y: SearchPoint): y is number[] {
  return typeof y[0] === 'number';
}

function pointScale(y: SearchPoint, s: number): SearchPoint {
  return isCoordinates(y) ? y.map((v) => v * s) : scale(y, s);
}

function pointAddScaled(a: SearchPoint, b: SearchPoint, s: number): SearchPoint {
  return isCoordinates(a) ? a.map((v, i) => v + s * (b as number[])[i]) : addScaled(a, b as ParameterVector, s);
}

function release(y: SearchPoint | undefined): void {
  if (y && !isCoordinates(y)) disposeVector(y);
}

export interface AscentOptions {
  readonly radius: number;
  readonly iterations: number;
  readonly restarts: number;
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

export interface AscentResult {
  /** The largest loss found on the ball, and the loss at its centre. */
  readonly maxLoss: number;
  readonly baseLoss: number;
  /** The largest loss each restart found (restart 0 from the gradient, the others from random points); maxLoss is their maximum. */
  readonly restartMaxLosses: number[];
  readonly gradientEvaluations: number;
}

/** A sharpness value with the value each restart reached alone, by the same formula. */
export interface SharpnessResult extends AscentResult {
  readonly value: number;
  readonly restartValues: number[];
}

function sharpnessOf(result: AscentResult, of: (maxLoss: number) => number): SharpnessResult {
  return { ...result, value: of(result.maxLoss), restartValues: result.restartMaxLosses.map(of) };
}

const relativeRise = (result: AscentResult) => (maxLoss: number) => (maxLoss - result.baseLoss) / (1 + result.baseLoss);

/**
 * Projected gradient ascent of L(θ + M y) over ‖y‖ ≤ r with normalized steps of r/2, halved at every
 * restart's later iterations; restart 0 starts along the gradient (the first-order maximizer), the
 * others at random points of the sphere. A lower bound on the true maximum, as every such search is.
 */
async function maximizeOnBall(objective: Objective, map: PerturbationMap, options: AscentOptions): Promise<AscentResult> {
  const baseLoss = objective.value();
  const restartMaxLosses: number[] = [];
  let evaluations = 0;
  const total = options.restarts * options.iterations;
  for (let restart = 0; restart < options.restarts; restart++) {
    let y: SearchPoint;
    if (restart === 0) {
      const { gradient } = objective.gradient();
      y = map.adjoint(gradient);
      disposeVector(gradient);
      evaluations++;
    } else {
      y = map.random(options.random.fork(`restart:${restart}`));
    }
    const start = pointScale(y, options.radius / Math.max(pointNorm(y), 1e-30));
    release(y);
    y = start;
    let maxLoss = baseLoss;
    for (let it = 0; it < options.iterations; it++) {
      if (options.signal?.aborted) {
        release(y);
        throwIfAborted(options.signal);
      }
      const delta = map.apply(y);
      const point = addScaled(objective.theta, delta, 1);
      const { loss, gradient } = objective.gradient(point);
      evaluations++;
      maxLoss = Math.max(maxLoss, loss);
      const direction = map.adjoint(gradient);
      const directionNorm = pointNorm(direction);
      const step = (options.radius / 2) * Math.pow(0.5, Math.floor((it * 3) / options.iterations));
      let next = directionNorm > 0 ? pointAddScaled(y, direction, step / directionNorm) : y;
      const nextNorm = pointNorm(next);
      if (nextNorm > options.radius) {
        const projected = pointScale(next, options.radius / nextNorm);
        release(next);
        next = projected;
      }
      [delta, point, gradient].forEach(disposeVector);
      release(direction);
      if (next !== y) release(y);
      y = next;
      options.onProgress?.((restart * options.iterations + it + 1) / total, `${countDetail('restart', restart + 1, options.restarts)}, ${countDetail('ascent step', it + 1, options.iterations)}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // the final iterate's loss has not been measured yet
    const delta = map.apply(y);
    const point = addScaled(objective.theta, delta, 1);
    maxLoss = Math.max(maxLoss, objective.value(point));
    [delta, point].forEach(disposeVector);
    release(y);
    restartMaxLosses.push(maxLoss);
  }
  return { maxLoss: Math.max(baseLoss, ...restartMaxLosses), baseLoss, restartMaxLosses, gradientEvaluations: evaluations };
}

const identityMap = (objective: Objective): PerturbationMap => ({
  apply: (y) => scale(y as ParameterVector, 1),
  adjoint: (g) => scale(g, 1),
  random: (random) => randomNormalVector(objective.parameters, random),
});

/** ε-sharpness (Keskar et al. 2017, in the Euclidean form of Dinh et al. 2017, §5): max over ‖θ'−θ‖ ≤ ε of (L(θ') − L(θ))/(1 + L(θ)). */
export async function epsilonSharpness(objective: Objective, options: AscentOptions): Promise<SharpnessResult> {
  const result = await maximizeOnBall(objective, identityMap(objective), options);
  return sharpnessOf(result, relativeRise(result));
}

/** The same, with the perturbation restricted to a random p-dimensional subspace (orthonormalized Gaussian directions). */
export async function subspaceSharpness(objective: Objective, dimension: number, options: AscentOptions): Promise<SharpnessResult> {
  const columns: ParameterVector[] = [];
  const random = options.random.fork('subspace');
  for (let j = 0; j < dimension; j++) {
    let v = randomNormalVector(objective.parameters, random);
    for (const c of columns) {
      const next = addScaled(v, c, -dot(v, c));
      disposeVector(v);
      v = next;
    }
    const unit = scale(v, 1 / norm(v));
    disposeVector(v);
    columns.push(unit);
  }
  const map: PerturbationMap = {
    apply: (y) => tf.tidy(() => columns[0].map((_, i) => tf.addN(columns.map((c, j) => tf.mul(c[i], (y as number[])[j]))))),
    adjoint: (g) => columns.map((c) => dot(c, g)),
    random: (r) => Array.from({ length: dimension }, () => r.normal()),
  };
  try {
    const result = await maximizeOnBall(objective, map, options);
    return sharpnessOf(result, relativeRise(result));
  } finally {
    columns.forEach(disposeVector);
  }
}

/**
 * Adaptive sharpness (Kwon et al. 2021, ASAM): max over ‖T⁻¹δ‖ ≤ ρ of L(θ + δ) − L(θ) with
 * T = diag(|θ| + η). Scaling a weight tensor by α scales its T by α too, so the value does not
 * change under the α-scale transformation (exactly when η = 0).
 */
export async function adaptiveSharpness(objective: Objective, eta: number, options: AscentOptions): Promise<SharpnessResult> {
  const weights = tf.tidy(() => objective.theta.map((t) => tf.add(tf.abs(t), eta)));
  const map: PerturbationMap = {
    apply: (y) => tf.tidy(() => (y as ParameterVector).map((t, i) => tf.mul(t, weights[i]))),
    adjoint: (g) => tf.tidy(() => g.map((t, i) => tf.mul(t, weights[i]))),
    random: (r) => randomNormalVector(objective.parameters, r),
  };
  try {
    const result = await maximizeOnBall(objective, map, options);
    return sharpnessOf(result, (maxLoss) => maxLoss - result.baseLoss);
  } finally {
    disposeVector(weights);
  }
}
