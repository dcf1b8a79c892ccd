import * as assert from 'node:assert/strict';
import { seededUniform } from './tinyModels';

/** ‖actual − expected‖ / ‖expected‖. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'lengths differ');
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < actual.length; i++) {
    diff += (actual[i] - expected[i]) ** 2;
    ref += expected[i] ** 2;
  }
  return Math.sqrt(diff) / Math.max(Math.sqrt(ref), 1e-300);
}

/** Standard normal values from a seed (Box–Muller over the seeded uniform stream). */
export function seededNormals(n: number, seed: number): Float32Array {
  const u = seededUniform(seed);
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u()));
}
