import { throwIfAborted } from '../../protocol/errors';
import { tridiagonalEigen } from './tridiagonal';
import { dot, norm, norm64, scaled, subtractProjections } from './flatVectors';
import type { HessianOperator } from './hessianOperator';
import type { ProjectionRunner } from '../exec/matrixProducts';

/** Basis rows per contiguous block: a native Gram-Schmidt pass takes a block by reference. */
const rowsPerBlock = 8;

/** Orthonormal vectors kept in contiguous blocks of `rowsPerBlock` rows, each row a view. */
class BlockedBasis {
  readonly rows: Float32Array[] = [];
  private readonly blocks: Float32Array[] = [];

  constructor(private readonly dimension: number, private readonly capacity: number) {}

  push(values: Float32Array | Float64Array, scale: number): void {
    const index = this.rows.length;
    if (index % rowsPerBlock === 0) this.blocks.push(new Float32Array(Math.min(rowsPerBlock, this.capacity - index) * this.dimension));
    const block = this.blocks[this.blocks.length - 1];
    const start = (index % rowsPerBlock) * this.dimension;
    const row = block.subarray(start, start + this.dimension);
    for (let e = 0; e < this.dimension; e++) row[e] = values[e] * scale;
    this.rows.push(row);
  }

  /** r ← r − Q(Qᵀr), natively block by block (each block's pass after the previous one's). */
  subtractNatively(r: Float64Array, runner: ProjectionRunner): void {
    this.blocks.forEach((block, b) => runner.subtract([r], block, Math.min(rowsPerBlock, this.rows.length - b * rowsPerBlock)));
  }
}

export type { HessianVectorProduct } from './hessianOperator';

/** A Hessian-vector product came back infinite or NaN: the curvature overflows float32 here. */
export class NonFiniteCurvature extends Error {
  constructor() {
    super('the Hessian-vector product is not finite: the curvature at this point overflows float32');
    this.name = 'NonFiniteCurvature';
  }
}

export interface LanczosRun {
  readonly alpha: number[];
  readonly beta: number[];
  /** The orthonormal Lanczos basis (flat vectors), kept only when asked for. */
  readonly basis?: Float32Array[];
  /**
   * With the basis: the unit residual direction q_{m+1} (H Q = Q T + β_m q_{m+1} e_mᵀ, β_m the last
   * entry of `beta`), or undefined when the Krylov space became invariant.
   */
  readonly residual?: Float32Array;
  readonly steps: number;
}

export interface LanczosOptions {
  readonly steps: number;
  readonly keepBasis: boolean;
  readonly signal?: AbortSignal;
  /** Called after each step with the step number, the diagonal so far and the off-diagonal including the new residual norm. */
  readonly onStep?: (step: number, alpha: readonly number[], beta: readonly number[]) => boolean | void;
}

/** One Lanczos recurrence: `next` is the vector to multiply by H, `advance` takes its product. */
class LanczosRecurrence {
  readonly alpha: number[] = [];
  readonly beta: number[] = [];
  private readonly stored: BlockedBasis;
  residual: Float32Array | undefined;
  done = false;
  private readonly work: Float64Array;
  /** Where the products of this run's vectors may be written: each is read only by the next `advance`. */
  readonly productMemory: Float32Array;

  constructor(start: Float32Array, private readonly options: Omit<LanczosOptions, 'signal'>, private readonly projections?: ProjectionRunner) {
    this.stored = new BlockedBasis(start.length, Math.max(1, options.steps));
    this.stored.push(start, 1 / norm(start));
    this.work = new Float64Array(start.length);
    this.productMemory = new Float32Array(start.length);
  }

  get basis(): readonly Float32Array[] {
    return this.stored.rows;
  }

  private reorthogonalize(r: Float64Array): void {
    if (this.projections && r.length >= this.projections.minimumDimension) this.stored.subtractNatively(r, this.projections);
    else subtractProjections([r], this.basis);
  }

  get next(): Float32Array {
    return this.basis[this.alpha.length];
  }

  advance(product: Float32Array): void {
    const j = this.alpha.length;
    const q = this.basis[j];
    const a = dot(product, q);
    this.alpha.push(a);
    const r = this.work;
    // One pass: r = Hq − αq − β q_previous, and ‖r‖² with it.
    let squares = 0;
    if (j > 0) {
      const previous = this.basis[j - 1];
      const b0 = this.beta[j - 1];
      for (let e = 0; e < r.length; e++) {
        const x = product[e] - a * q[e] - b0 * previous[e];
        r[e] = x;
        squares += x * x;
      }
    } else {
      for (let e = 0; e < r.length; e++) {
        const x = product[e] - a * q[e];
        r[e] = x;
        squares += x * x;
      }
    }
    // Classical Gram-Schmidt against every basis vector in float64, a second pass when the first
    // took out much of r: then r had drifted into the basis and the first pass's rounding, relative
    // to what is left, may be large ("twice is enough", the criterion of Daniel, Gragg, Kaufman and
    // Stewart 1976). Otherwise one float64 pass leaves r orthogonal to the float32 basis as far as
    // storing it in float32 keeps anyway.
    const local = Math.sqrt(squares);
    this.reorthogonalize(r);
    let b = norm64(r);
    if (b < local * Math.SQRT1_2) {
      this.reorthogonalize(r);
      b = norm64(r);
    }
    if (!Number.isFinite(a) || !Number.isFinite(b)) throw new NonFiniteCurvature();
    this.beta.push(b);
    const steps = this.alpha.length;
    const stop = this.options.onStep?.(steps, this.alpha, this.beta) === true;
    const invariant = b < 1e-10 * Math.max(1, Math.abs(a));
    if (stop || steps === this.options.steps || invariant) {
      if (this.options.keepBasis && !invariant) this.residual = scaled(r, 1 / b);
      this.done = true;
      return;
    }
    this.stored.push(r, 1 / b);
  }

  result(): LanczosRun {
    const steps = this.alpha.length;
    // basis has one vector per step; beta has one entry per step (the last is the residual norm).
    if (!this.options.keepBasis) return { alpha: this.alpha, beta: this.beta, steps };
    return { alpha: this.alpha, beta: this.beta, basis: this.basis.slice(0, steps), residual: this.residual, steps };
  }
}

/**
 * Lanczos tridiagonalization of H from a start vector (normalized here), with full
 * reorthogonalization against every previous basis vector (float32 loses orthogonality within tens
 * of steps otherwise, which shows up as ghost copies of the top eigenvalue). Vectors are flat
 * float32 arrays; the recurrence's sums are float64. `onStep` may return
 * true to stop early.
 */
export async function lanczos(operator: HessianOperator, start: Float32Array, options: LanczosOptions): Promise<LanczosRun> {
  const [run] = await lanczosInLockstep((vectors, _runs, into) => operator.products(vectors, into), [{ start, ...options }], options.signal, operator.projections);
  return run;
}

/**
 * Several independent Lanczos runs advanced together: each step multiplies the current vectors of
 * every unfinished run as one block. `multiply` gets those vectors, the indices of their runs (a
 * run's vectors may live in a space of its own, such as one weight tensor's) and one array per
 * vector that it may write the products into (each run's own, the same at every step). With
 * `projections` the Gram-Schmidt passes run natively, in float32.
 */
export async function lanczosInLockstep(
  multiply: (vectors: readonly Float32Array[], runs: readonly number[], into: readonly Float32Array[]) => Float32Array[],
  runs: readonly (Omit<LanczosOptions, 'signal'> & { readonly start: Float32Array })[],
  signal?: AbortSignal,
  projections?: ProjectionRunner,
): Promise<LanczosRun[]> {
  const recurrences = runs.map((run) => new LanczosRecurrence(run.start, run, projections));
  for (;;) {
    const active = recurrences.flatMap((r, i) => (r.done || runs[i].steps <= 0 ? [] : [i]));
    if (active.length === 0) break;
    throwIfAborted(signal);
    const products = multiply(active.map((i) => recurrences[i].next), active, active.map((i) => recurrences[i].productMemory));
    active.forEach((i, k) => recurrences[i].advance(products[k]));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return recurrences.map((r) => r.result());
}

export interface RitzPair {
  readonly value: number;
  /** |β_m · s_m|: the residual norm ‖H y − θ y‖ of the Ritz pair in exact arithmetic. */
  readonly residualEstimate: number;
  /** Coefficients of the Ritz vector in the Lanczos basis. */
  readonly coefficients: number[];
}

/** Ritz values of a Lanczos run in descending order, with their residual estimates. */
export function ritzPairs(run: LanczosRun): RitzPair[] {
  const m = run.alpha.length;
  const { values, vectors } = tridiagonalEigen(run.alpha, run.beta.slice(0, m - 1));
  const lastBeta = run.beta[m - 1] ?? 0;
  return values
    .map((value, j) => ({
      value,
      residualEstimate: Math.abs(lastBeta * vectors[m - 1][j]),
      coefficients: vectors.map((row) => row[j]),
    }))
    .reverse();
}
