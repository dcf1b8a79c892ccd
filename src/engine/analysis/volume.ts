import { throwIfAborted } from '../../protocol/errors';
import { countDetail, type StageProgress } from './progress';
import type { VolumeFlatnessEntry } from '../../protocol/report';
import type { Objective } from './objective';
import type { SeededRandom } from '../numeric/random';
import { addScaled, disposeVector, randomNormalVector, unitVector, type ParameterVector } from './vectors';

export interface VolumeFlatnessOptions {
  readonly epsilon: number;
  readonly directions: number;
  /** Largest radius searched along a direction; a direction still inside the band there is "unbounded up to the cap". */
  readonly cap: number;
  readonly bisections: number;
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly onProgress?: StageProgress;
}

export interface VolumeFlatness extends VolumeFlatnessEntry {
  readonly lossEvaluations: number;
}

/**
 * Volume ε-flatness (Hochreiter & Schmidhuber 1997; Dinh et al. 2017, Definition 1): the volume of
 * the largest connected region around θ where L stays within ε of L(θ), probed along random unit
 * directions: each radius is located by doubling from cap·2⁻²⁰ until the loss exceeds L + ε, then by
 * bisection. Dinh et al.'s Theorem 2 shows this volume is infinite for rectifier networks, which is
 * why the escaped fraction is reported.
 */
export async function volumeFlatness(objective: Objective, options: VolumeFlatnessOptions): Promise<VolumeFlatness> {
  const base = objective.value();
  const threshold = base + options.epsilon;
  const n = objective.parameters.reduce((s, p) => s + p.size, 0);
  const radii: number[] = [];
  let evaluations = 0;
  let escaped = 0;
  /** The radius along a unit direction where the loss first exceeds the threshold; undefined if never up to the cap. */
  const radiusAlong = (direction: ParameterVector): number | undefined => {
    const lossAt = (r: number) => {
      throwIfAborted(options.signal);
      const point = addScaled(objective.theta, direction, r);
      evaluations++;
      const value = objective.value(point);
      disposeVector(point);
      return value;
    };
    let inside = 0;
    let outside = options.cap * Math.pow(2, -20);
    while (outside <= options.cap && !(lossAt(outside) > threshold)) {
      inside = outside;
      outside *= 2;
    }
    if (outside > options.cap) {
      if (!(lossAt(options.cap) > threshold)) return undefined;
      outside = options.cap;
    }
    for (let b = 0; b < options.bisections; b++) {
      const mid = (inside + outside) / 2;
      if (lossAt(mid) > threshold) outside = mid;
      else inside = mid;
    }
    return (inside + outside) / 2;
  };
  for (let d = 0; d < options.directions; d++) {
    const raw = randomNormalVector(objective.parameters, options.random.fork(`volume:${d}`));
    const direction = unitVector(raw);
    disposeVector(raw);
    try {
      const radius = radiusAlong(direction);
      if (radius === undefined) escaped++;
      radii.push(radius ?? options.cap);
    } finally {
      disposeVector(direction);
    }
    options.onProgress?.((d + 1) / options.directions, countDetail('direction', d + 1, options.directions));
    await new Promise((resolve) => setImmediate(resolve));
  }
  const sorted = [...radii].sort((a, b) => a - b);
  return {
    epsilon: options.epsilon,
    directions: options.directions,
    cap: options.cap,
    radii,
    radiusMin: sorted[0],
    radiusMedian: sorted[Math.floor(sorted.length / 2)],
    radiusMax: sorted[sorted.length - 1],
    escapedFraction: escaped / options.directions,
    logVolume: logUnitBallVolume(n) + logMeanPower(radii, n),
    logVolumeStderr: logMeanPowerStderr(radii, n),
    lossEvaluations: evaluations,
  };
}

/**
 * The standard error of log mean(rᵢⁿ) over random directions. rⁿ is heavy-tailed (the longest radii
 * rule it, and a sample of directions usually misses the longest), so the sample standard error of
 * the mean of rⁿ understates the error most when the sample missed the tail. Instead the spread is
 * taken from a normal model of xᵢ = n·log rᵢ (a sum of many small terms in high dimension, so close to
 * normal there): log E[eˣ] = μ + s²/2, whose estimate from k directions has variance s²/k + s⁴/(2(k−1)).
 * This counts the long radii the sample did not see; with n in the thousands it is large, and says so.
 * None with one direction.
 */
export function logMeanPowerStderr(radii: readonly number[], n: number): number | undefined {
  const k = radii.length;
  if (k < 2) return undefined;
  const x = radii.map((r) => n * Math.log(r));
  const mean = x.reduce((s, v) => s + v, 0) / k;
  const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / (k - 1);
  return Math.sqrt(variance / k + (variance * variance) / (2 * (k - 1)));
}

/** log of the volume of the unit n-ball: (n/2) log π − log Γ(n/2 + 1). */
export function logUnitBallVolume(n: number): number {
  return (n / 2) * Math.log(Math.PI) - logGamma(n / 2 + 1);
}

/** log mean(rᵢⁿ), computed in log space: n is the parameter count, so rⁿ overflows. */
export function logMeanPower(radii: readonly number[], n: number): number {
  const logs = radii.map((r) => n * Math.log(r));
  const top = Math.max(...logs);
  return top + Math.log(logs.reduce((s, l) => s + Math.exp(l - top), 0) / logs.length);
}

/** Lanczos approximation of log Γ(x), x > 0. */
export function logGamma(x: number): number {
  const g = 7;
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = c[0];
  const t = z + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}
