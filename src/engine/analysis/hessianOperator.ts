import type { ParameterInfo } from '../model/network';
import { disposeVector, fromFlat, toFlat, type ParameterVector } from './vectors';
import type { ProjectionRunner } from '../exec/matrixProducts';

/** H v for one direction held as tensors, one per weight tensor. */
export type HessianVectorProduct = (v: ParameterVector) => ParameterVector;

/**
 * H applied to flat vectors: one Float32Array of all parameters in ParameterInfo order (each
 * tensor at its `offset`). The Krylov estimators work on these with plain loops, and ask for
 * several products at once where they have several directions ready: an executor runs such a
 * block with one forward and backward pass.
 */
export interface HessianOperator {
  readonly parameters: readonly ParameterInfo[];
  readonly dimension: number;
  /**
   * H vⱼ for each direction: new arrays, or `into[j]` (of the operator's dimension) when given. A
   * caller that multiplies many times can hand the same arrays back each time: on large networks
   * fresh memory for every product costs more than the arithmetic that fills it.
   */
  products(directions: readonly Float32Array[], into?: readonly Float32Array[]): Float32Array[];
  /** H_kk vⱼ for directions of weight tensor k alone (each of its size), where an executor runs them cheaper than full products. */
  restrictedProducts?(tensor: number, directions: readonly Float32Array[]): Float32Array[];
  /** Runs the estimators' Gram-Schmidt passes natively, where the executor offers it. */
  readonly projections?: ProjectionRunner;
}

/** What the estimators take: an operator, or a product on tensors (converted at the boundary). */
export type HessianInput = HessianOperator | HessianVectorProduct;

export function dimensionOf(parameters: readonly ParameterInfo[]): number {
  return parameters.reduce((n, p) => n + p.size, 0);
}

/** An operator from a product on tensors: each direction becomes tensors and its product a flat array. */
export function tensorProductOperator(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[]): HessianOperator {
  return {
    parameters,
    dimension: dimensionOf(parameters),
    products: (directions, into) =>
      directions.map((v, j) => {
        const vector = fromFlat(v, parameters);
        try {
          const product = hvp(vector);
          const flat = toFlat(product);
          disposeVector(product);
          if (!into) return flat;
          into[j].set(flat);
          return into[j];
        } finally {
          disposeVector(vector);
        }
      }),
  };
}

export function hessianOperator(input: HessianInput, parameters: readonly ParameterInfo[]): HessianOperator {
  return typeof input === 'function' ? tensorProductOperator(input, parameters) : input;
}
