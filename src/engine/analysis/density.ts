import type { ParameterInfo } from '../model/network';
import { countDetail, type StageProgress } from './progress';
import { lanczosInLockstep, ritzPairs } from './lanczos';
import type { SeededRandom } from '../numeric/random';
import { hessianOperator, type HessianInput } from './hessianOperator';

export interface SpectralDensity {
  /** Ritz values of every run (Gauss quadrature nodes), ascending. */
  readonly nodes: number[];
  /** Quadrature weights, summing to 1: the spectral measure (1/n) Σ δ(λ − λ_i) ≈ Σ w_j δ(λ − node_j). */
  readonly weights: number[];
  readonly runs: number;
  readonly steps: number;
  /** Runs taken from an earlier Lanczos run (the eigenvalues') instead of new products. */
  readonly reusedRuns: number;
  /** Lanczos steps of each run, reused runs first. */
  readonly stepsPerRun: number[];
}

/** A finished Lanczos run from a seeded Gaussian start, independent of the density's own starts. */
export interface ReusableRun {
  readonly alpha: readonly number[];
  readonly beta: readonly number[];
}

export interface DensityOptions {
  readonly runs: number;
  readonly steps: number;
  /** Lanczos runs already made from random Gaussian starts: each is one of `runs`, at no cost. */
  readonly reuse?: readonly ReusableRun[];
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

/**
 * Stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019): for each
 * of `runs` random unit vectors v, m Lanczos steps give T = S Θ Sᵀ, and vᵀ f(H) v ≈ Σ_j S_0j² f(θ_j).
 * Averaged over v this estimates the eigenvalue density. Each run costs `steps` products, except
 * the runs in `reuse`: the eigenvalues' Lanczos run starts from a Gaussian vector too, so its
 * tridiagonal is one more quadrature at no cost (a shorter run has fewer nodes, still exact for
 * polynomials up to degree 2m − 1). The new runs advance together, one block of products per step.
 */
export async function spectralDensity(hessian: HessianInput, parameters: readonly ParameterInfo[], options: DensityOptions): Promise<SpectralDensity> {
  const operator = hessianOperator(hessian, parameters);
  const dimension = operator.dimension;
  const steps = Math.min(options.steps, dimension);
  const points: { node: number; weight: number }[] = [];
  const reused = (options.reuse ?? []).slice(0, options.runs);
  const stepsPerRun: number[] = [];
  for (const run of reused) {
    const m = run.alpha.length;
    for (const pair of ritzPairs({ alpha: [...run.alpha], beta: [...run.beta], steps: m })) points.push({ node: pair.value, weight: pair.coefficients[0] ** 2 / options.runs });
    stepsPerRun.push(m);
  }
  const fresh = Array.from({ length: Math.max(0, options.runs - reused.length) }, (_, i) => reused.length + i);
  const done = fresh.map(() => 0);
  const runs = await lanczosInLockstep(
    (vectors, _runs, into) => operator.products(vectors, into),
    fresh.map((r, i) => ({
      start: options.random.fork(`density:${r}`).normals(dimension),
      steps,
      keepBasis: false,
      onStep: (step: number) => {
        done[i] = step;
        const runsNow = fresh.length === 1 ? countDetail('run', fresh[0] + 1, options.runs) : `${fresh.length} runs together`;
        // Reused runs cost nothing: the bar follows the new runs' steps.
        options.onProgress?.(done.reduce((a, b) => a + b, 0) / (steps * fresh.length), `${runsNow}, ${countDetail('Lanczos step', step, steps)}`);
      },
    })),
    options.signal,
    operator.projections,
  );
  for (const run of runs) {
    for (const pair of ritzPairs(run)) points.push({ node: pair.value, weight: pair.coefficients[0] ** 2 / options.runs });
    stepsPerRun.push(run.steps);
  }
  points.sort((a, b) => a.node - b.node);
  return { nodes: points.map((p) => p.node), weights: points.map((p) => p.weight), runs: options.runs, steps, reusedRuns: reused.length, stepsPerRun };
}

/** The density smoothed with a Gaussian of width sigma on a grid, for plotting. */
export function smoothedDensity(density: SpectralDensity, gridSize: number, sigma?: number): { grid: number[]; density: number[] } {
  const lo = density.nodes[0];
  const hi = density.nodes[density.nodes.length - 1];
  const span = Math.max(hi - lo, 1e-12);
  const width = sigma ?? span / 100;
  const grid = Array.from({ length: gridSize }, (_, i) => lo - 3 * width + ((span + 6 * width) * i) / (gridSize - 1));
  const norm = 1 / (width * Math.sqrt(2 * Math.PI));
  const values = grid.map((x) => density.nodes.reduce((s, node, j) => s + density.weights[j] * norm * Math.exp(-((x - node) ** 2) / (2 * width * width)), 0));
  return { grid, density: values };
}
