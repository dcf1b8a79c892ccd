/** One weight tensor's term of the trace along the α-orbit (from `invariant.minTraceOverLayerScaling.path`). */
export interface OrbitTerm {
  readonly weight: string;
  readonly trace: number;
  readonly logFactor: number;
}

export interface OrbitCurves {
  readonly positions: number[];
  /** terms[k][i]: tensor k's trace at positions[i]. */
  readonly terms: number[][];
  readonly total: number[];
}

/**
 * Each tensor's Hessian-block trace along the straight path in log-scale space from the network
 * (t = 0) to the trace-minimizing rescaling (t = 1): trace·e^{−2t·logFactor}. Every point is the same
 * function with different parameters (Dinh et al. 2017), so the total is a trace the same network can have.
 */
export function orbitCurves(path: readonly OrbitTerm[], from = -1, to = 2, points = 121): OrbitCurves {
  const positions = Array.from({ length: points }, (_, i) => from + ((to - from) * i) / (points - 1));
  const terms = path.map((term) => positions.map((t) => term.trace * Math.exp(-2 * t * term.logFactor)));
  const total = positions.map((_, i) => terms.reduce((sum, curve) => sum + curve[i]!, 0));
  return { positions, terms, total };
}
