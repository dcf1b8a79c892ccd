import * as tf from '@tensorflow/tfjs-core';
import type { ParameterInfo } from '../model/network';
import type { SeededRandom } from '../numeric/random';

/**
 * A vector in parameter space, held as one tensor per trainable weight (same shapes as θ).
 * Every function returns new tensors; callers own and dispose them.
 */
export type ParameterVector = tf.Tensor[];

export function dot(a: ParameterVector, b: ParameterVector): number {
  return tf.tidy(() => tf.addN(a.map((t, i) => tf.sum(tf.mul(t, b[i])))).dataSync()[0]);
}

export function norm(a: ParameterVector): number {
  return Math.sqrt(dot(a, a));
}

export function scale(a: ParameterVector, s: number): ParameterVector {
  return tf.tidy(() => a.map((t) => tf.mul(t, s)));
}

/** a + s·b */
export function addScaled(a: ParameterVector, b: ParameterVector, s: number): ParameterVector {
  return tf.tidy(() => a.map((t, i) => tf.add(t, tf.mul(b[i], s))));
}

export function elementwise(a: ParameterVector, b: ParameterVector, op: (x: tf.Tensor, y: tf.Tensor) => tf.Tensor): ParameterVector {
  return tf.tidy(() => a.map((t, i) => op(t, b[i])));
}

export function disposeVector(a: ParameterVector | undefined): void {
  if (a) tf.dispose(a);
}

export function fromFlat(flat: Float32Array, parameters: readonly ParameterInfo[]): ParameterVector {
  return parameters.map((p) => tf.tensor(flat.subarray(p.offset, p.offset + p.size), [...p.shape], 'float32'));
}

export function toFlat(a: ParameterVector): Float32Array {
  const total = a.reduce((n, t) => n + t.size, 0);
  const out = new Float32Array(total);
  let offset = 0;
  for (const t of a) {
    out.set(t.dataSync() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}

export function randomNormalVector(parameters: readonly ParameterInfo[], random: SeededRandom): ParameterVector {
  const total = parameters.reduce((n, p) => n + p.size, 0);
  return fromFlat(random.normals(total), parameters);
}

export function rademacherVector(parameters: readonly ParameterInfo[], random: SeededRandom): ParameterVector {
  const total = parameters.reduce((n, p) => n + p.size, 0);
  return fromFlat(random.rademachers(total), parameters);
}

export function unitVector(a: ParameterVector): ParameterVector {
  return scale(a, 1 / norm(a));
}
