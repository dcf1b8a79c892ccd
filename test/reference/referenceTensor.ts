/**
 * Test reference only: a dense row-major array of `Num`s with its shape (batch dimension first),
 * and the error the reference throws for models it cannot evaluate.
 */
import type { Num } from './hyperDual';

export interface ReferenceTensor {
  readonly shape: readonly number[];
  readonly data: readonly Num[];
}

export class ReferenceModelError extends Error {
  constructor(layer: string, problem: string) {
    super(`exact-Hessian reference, layer '${layer}': ${problem}`);
    this.name = 'ReferenceModelError';
  }
}

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const d of shape) count *= d;
  return count;
}

export function mapElements(tensor: ReferenceTensor, f: (x: Num) => Num): ReferenceTensor {
  return { shape: tensor.shape, data: tensor.data.map(f) };
}

/** Resolves a Keras axis (negative counts from the end; 0 is the batch axis) against a rank. */
export function resolveAxis(axis: number, rank: number, layer: string): number {
  const resolved = axis < 0 ? rank + axis : axis;
  if (!Number.isInteger(resolved) || resolved < 1 || resolved >= rank) {
    throw new ReferenceModelError(layer, `axis ${axis} is not a non-batch axis of a rank-${rank} tensor`);
  }
  return resolved;
}

export function requireShape(actual: readonly number[], expected: readonly number[], what: string, layer: string): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new ReferenceModelError(layer, `expected ${what} of shape [${expected.join(', ')}], found [${actual.join(', ')}]`);
  }
}
