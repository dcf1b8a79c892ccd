/** A smoothed spectral density on a grid, from stochastic Lanczos quadrature (Ghorbani et al. 2019). */
export interface SmoothedDensity {
  readonly grid: number[];
  readonly density: number[];
  /** Kernel width σ. */
  readonly width: number;
}

/**
 * φ(λ) = Σ_i w_i · N(λ; node_i, σ²) / Σ_i w_i on `points` grid points spanning the nodes ± 4σ, where
 * σ = (λmax − λmin)/100 (or 1e-3·max(1, |λ|) when every node is the same). Integrates to 1.
 */
export function smoothedDensity(nodes: readonly number[], weights: readonly number[], points = 400): SmoothedDensity {
  if (nodes.length === 0 || nodes.length !== weights.length) return { grid: [], density: [], width: 0 };
  const lo = Math.min(...nodes);
  const hi = Math.max(...nodes);
  const width = hi > lo ? (hi - lo) / 100 : 1e-3 * Math.max(1, Math.abs(lo));
  const total = weights.reduce((sum, w) => sum + w, 0) || 1;
  const start = lo - 4 * width;
  const step = (hi - lo + 8 * width) / (points - 1);
  const norm = 1 / (total * width * Math.sqrt(2 * Math.PI));
  const grid: number[] = [];
  const density: number[] = [];
  for (let k = 0; k < points; k++) {
    const x = start + k * step;
    let sum = 0;
    for (let i = 0; i < nodes.length; i++) {
      const z = (x - nodes[i]!) / width;
      sum += weights[i]! * Math.exp(-0.5 * z * z);
    }
    grid.push(x);
    density.push(sum * norm);
  }
  return { grid, density, width };
}

/** How far below the peak each scale shows the density: six decades on a log axis, one pixel in a thousand on a linear one. */
const VISIBLE_BELOW_PEAK = { log: 1e-6, linear: 1e-3 };

/**
 * The smoothed density as line points, clipped to what the plot shows: below `floor` a point is a
 * gap, not a line lying along the x axis. On a log axis the Gaussian tails go to 1e-300; on a
 * linear one everything a thousandth below the peak is under a pixel, so the curve away from the
 * bulk would run along the floor, hiding the axis and the nodes there.
 */
export function visibleDensity(grid: readonly number[], density: readonly number[], logScale: boolean): { points: { x: number; y: number | null }[]; floor: number } {
  const peak = Math.max(...density, Number.MIN_VALUE);
  const floor = peak * (logScale ? VISIBLE_BELOW_PEAK.log : VISIBLE_BELOW_PEAK.linear);
  return { points: grid.map((x, k) => ({ x, y: density[k]! >= floor ? density[k]! : null })), floor };
}
