/**
 * The contract between the weight statistics (src/engine/analysis/tensorStatistics.ts) and an
 * executor that multiplies a large stored kernel by vectors faster than plain JavaScript.
 */

/** g = AᵀA v (when cols ≤ rows) or A Aᵀ v, for one row-major rows×cols matrix A; float32 accuracy. */
export interface GramProduct {
  product(v: Float64Array): Float64Array;
  dispose(): void;
}

/** A Gram product for this matrix, or undefined where the executor does not take it (then JavaScript does). */
export type GramProductFactory = (a: Float32Array, rows: number, cols: number) => GramProduct | undefined;

/**
 * One classical Gram-Schmidt pass run natively: v ← v − Qᵀ(Q v) for each vector v, Q the first
 * `rows` rows of `basis` (row-major, float32, contiguous). Float32 accuracy.
 */
export interface ProjectionRunner {
  /** Below this dimension a JavaScript pass is as fast as a native run's overhead: callers keep to theirs. */
  readonly minimumDimension: number;
  subtract(vectors: readonly Float64Array[], basis: Float32Array, rows: number): void;
}
