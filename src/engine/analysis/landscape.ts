import * as tf from '@tensorflow/tfjs-core';
import { throwIfAborted } from '../../protocol/errors';
import type { Objective } from './objective';
import type { SeededRandom } from '../numeric/random';
import { disposeVector, type ParameterVector } from './vectors';

export interface LossSlice {
  readonly direction: string;
  /** Step along the direction (units of the direction's length). */
  readonly steps: number[];
  readonly loss: number[];
  /** L + ½λt² for the eigenvector slice: the quadratic model the Hessian predicts. */
  readonly quadratic?: number[];
}

export interface LossSurface {
  readonly direction: string;
  readonly steps: number[];
  /** loss[i][j] at θ + steps[i]·d₁ + steps[j]·d₂ */
  readonly loss: number[][];
}

/**
 * A random direction normalized filter by filter (Li et al. 2018, "Visualizing the Loss Landscape
 * of Neural Nets"): each output unit's slice of a kernel gets the norm of the same slice of θ, and
 * biases and normalization parameters get zero. Scaling a layer by α scales its direction by α, so
 * plots along such directions are comparable across α-scaled copies of a network.
 */
export function filterNormalizedDirection(objective: Objective, random: SeededRandom): ParameterVector {
  return objective.parameters.map((p, i) => tf.tidy(() => {
    if (!p.role.includes('kernel') || p.shape.length < 2) return tf.zeros([...p.shape]);
    const d = tf.tensor(random.normals(p.size), [...p.shape]);
    const axes = p.shape.slice(0, -1).map((_, a) => a);
    const thetaNorms = tf.sqrt(tf.sum(tf.square(objective.theta[i]), axes, true));
    const directionNorms = tf.sqrt(tf.sum(tf.square(d), axes, true));
    return tf.mul(d, tf.div(thetaNorms, tf.add(directionNorms, 1e-12)));
  }));
}

function lossAlong(objective: Objective, directions: readonly ParameterVector[], coefficients: readonly number[], signal?: AbortSignal): number {
  throwIfAborted(signal);
  const point = tf.tidy(() => objective.theta.map((t, i) => {
    let p = t;
    directions.forEach((d, k) => (p = tf.add(p, tf.mul(d[i], coefficients[k]))));
    return p;
  }));
  const value = objective.value(point);
  disposeVector(point);
  return value;
}

export function linspace(from: number, to: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + ((to - from) * i) / (count - 1));
}

export async function lossSlice(objective: Objective, direction: ParameterVector, label: string, radius: number, points: number, signal?: AbortSignal, onProgress?: (fraction: number) => void): Promise<LossSlice> {
  const steps = linspace(-radius, radius, points);
  const loss: number[] = [];
  for (const t of steps) {
    loss.push(lossAlong(objective, [direction], [t], signal));
    onProgress?.(loss.length / points);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { direction: label, steps, loss };
}

export async function lossSurface(
  objective: Objective,
  first: ParameterVector,
  second: ParameterVector,
  radius: number,
  points: number,
  signal?: AbortSignal,
  onProgress?: (fraction: number) => void,
): Promise<LossSurface> {
  const steps = linspace(-radius, radius, points);
  const loss: number[][] = [];
  for (const [i, a] of steps.entries()) {
    loss.push(steps.map((b) => lossAlong(objective, [first, second], [a, b], signal)));
    onProgress?.((i + 1) / points);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { direction: 'two filter-normalized random directions', steps, loss };
}
