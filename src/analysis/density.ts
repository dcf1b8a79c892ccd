import type { ParameterInfo } from '../model/network';
import { countDetail, type StageProgress } from './progress';
import { lanczos, ritzPairs, type HessianVectorProduct } from './lanczos';
import type { SeededRandom } from '../numeric/random';
import { disposeVector, randomNormalVector } from './vectors';

export interface SpectralDensity {
  /** Ritz values of every run (Gauss quadrature nodes), ascending. */
  readonly nodes: number[];
  /** Quadrature weights, summing to 1: the spectral measure (1/n) Σ δ(λ − λ_i) ≈ Σ w_j δ(λ − node_j). */
  readonly weights: number[];
  readonly runs: number;
  readonly steps: number;
}

export interface DensityOptions {
  readonly runs: number;
  readonly steps: number;
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

/**
 * Stochastic Lanczos quadrature (Lin, Saad & Yang 2016; Ghorbani, Krishnan & Xiao 2019): for each
 * of `runs` random unit vectors v, m Lanczos steps give T = S Θ Sᵀ, and vᵀ f(H) v ≈ Σ_j S_0j² f(θ_j).
 * Averaged over v this estimates the eigenvalue density. Each run costs `steps` products.
 */
export async function spectralDensity(hvp: HessianVectorProduct, parameters: readonly ParameterInfo[], options: DensityOptions): Promise<SpectralDensity> {
  const dimension = parameters.reduce((n, p) => n + p.size, 0);
  const steps = Math.min(options.steps, dimension);
  const points: { node: number; weight: number }[] = [];
  for (let r = 0; r < options.runs; r++) {
    const start = randomNormalVector(parameters, options.random.fork(`density:${r}`));
    const run = await lanczos(hvp, start, {
      steps,
      keepBasis: false,
      signal: options.signal,
      onStep: (step) => options.onProgress?.((r + step / steps) / options.runs, `${countDetail('run', r + 1, options.runs)}, ${countDetail('Lanczos step', step, steps)}`),
    }).finally(() => disposeVector(start));
    for (const pair of ritzPairs(run)) points.push({ node: pair.value, weight: pair.coefficients[0] ** 2 / options.runs });
  }
  points.sort((a, b) => a.node - b.node);
  return { nodes: points.map((p) => p.node), weights: points.map((p) => p.weight), runs: options.runs, steps };
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
