import * as tf from '@tensorflow/tfjs-core';
import { hessianTopEigenvalues } from '../analysis/eigenvalues';
import type { HessianVectorProduct } from '../analysis/lanczos';
import type { SeededRandom } from '../numeric/random';
import { disposeVector, type ParameterVector } from '../analysis/vectors';
import type { ParameterInfo } from '../model/network';
import { entryLogFactors } from './applyScaling';
import type { ScaleStructure } from '../symmetry/symmetry';

/** e^{ℓ(u)} for every trainable entry: the diagonal of D in θ' = Dθ. */
function scaleFactors(structure: ScaleStructure, parameters: readonly ParameterInfo[], u: readonly number[]): ParameterVector {
  const scalings = new Map(structure.weights.map((w) => [w.name, w]));
  return parameters.map((p) => {
    const scaling = scalings.get(p.name);
    if (!scaling) return tf.ones([...p.shape]);
    return tf.tensor(Float32Array.from(entryLogFactors(scaling, u), Math.exp), [...p.shape]);
  });
}

/** H' v = D⁻¹ H D⁻¹ v: the Hessian of the rescaled network, from products with the original's. */
export function rescaledHvp(hvp: HessianVectorProduct, factors: ParameterVector): HessianVectorProduct {
  return (v) => {
    const inner = tf.tidy(() => v.map((t, i) => tf.div(t, factors[i])));
    const product = hvp(inner);
    disposeVector(inner);
    const out = tf.tidy(() => product.map((t, i) => tf.div(t, factors[i])));
    disposeVector(product);
    return out;
  };
}

export interface LambdaMaxOptions {
  readonly random: SeededRandom;
  readonly signal?: AbortSignal;
  readonly maxSteps: number;
}

/** λ_max of the network rescaled by u, and its gradient in u (Danskin: ∂λ/∂u = −2λ Σ_i y_i² ∂ℓ_i/∂u). */
export async function lambdaMaxAt(
  hvp: HessianVectorProduct,
  structure: ScaleStructure,
  parameters: readonly ParameterInfo[],
  u: readonly number[],
  options: LambdaMaxOptions,
): Promise<{ value: number; gradient: number[] }> {
  const factors = scaleFactors(structure, parameters, u);
  try {
    const top = await hessianTopEigenvalues(rescaledHvp(hvp, factors), parameters, { count: 1, maxSteps: options.maxSteps, tolerance: 1e-4, random: options.random, signal: options.signal });
    const value = top.values[0];
    const gradient = new Array<number>(structure.variables.length).fill(0);
    const scalings = new Map(structure.weights.map((w) => [w.name, w]));
    parameters.forEach((p, k) => {
      const scaling = scalings.get(p.name);
      if (!scaling) return;
      const squared = tf.tidy(() => tf.square(top.topVector[k]).dataSync() as Float32Array);
      // ℓ_e = column(j) − row(i): accumulate y_e² onto each form's variables
      const shape = scaling.shape;
      for (let e = 0; e < squared.length; e++) {
        const weight = -2 * value * squared[e];
        if (weight === 0) continue;
        let column: number;
        let row: number | undefined;
        if (scaling.kind === 'kernel') {
          const outs = shape[shape.length - 1];
          column = e % outs;
          row = Math.floor(e / outs) % shape[shape.length - 2];
        } else if (scaling.kind === 'depthwise') {
          const multiplier = shape[3];
          const c = Math.floor(e / multiplier) % shape[2];
          column = c * multiplier + (e % multiplier);
          row = c;
        } else column = e % scaling.columns.length;
        for (const [v, c] of scaling.columns[column]) gradient[v] += weight * c;
        if (row !== undefined) for (const [v, c] of scaling.rows![row]) gradient[v] -= weight * c;
      }
    });
    disposeVector(top.topVector);
    return { value, gradient };
  } finally {
    disposeVector(factors);
  }
}

const project = (basis: readonly (readonly number[])[], g: readonly number[]) => basis.map((b) => b.reduce((s, x, i) => s + x * g[i], 0));
const expand = (basis: readonly (readonly number[])[], w: readonly number[], n: number) => {
  const u = new Array<number>(n).fill(0);
  basis.forEach((b, j) => b.forEach((x, i) => (u[i] += x * w[j])));
  return u;
};

/**
 * Minimizes λ_max(D⁻¹HD⁻¹) over the function-preserving scalings by gradient descent in log-scale
 * space with backtracking (λ_max is not convex in u; this finds a local minimum from the identity).
 */
export async function minimizeLambdaMax(
  hvp: HessianVectorProduct,
  structure: ScaleStructure,
  parameters: readonly ParameterInfo[],
  options: LambdaMaxOptions & { readonly iterations: number; readonly onProgress?: (fraction: number) => void },
): Promise<{ u: number[]; value: number; initial: number }> {
  const n = structure.variables.length;
  let u = new Array<number>(n).fill(0);
  let current = await lambdaMaxAt(hvp, structure, parameters, u, options);
  const initial = current.value;
  let step = 0.5;
  for (let it = 0; it < options.iterations; it++) {
    const g = project(structure.basis, current.gradient);
    const norm = Math.hypot(...g);
    if (norm < 1e-9 * Math.max(current.value, 1e-30)) break;
    let accepted = false;
    while (step > 1e-4) {
      const delta = expand(structure.basis, g.map((v) => (-step * v) / norm), n);
      const candidate = u.map((x, i) => x + delta[i]);
      const next = await lambdaMaxAt(hvp, structure, parameters, candidate, options);
      if (next.value < current.value) {
        u = candidate;
        current = next;
        step *= 1.5;
        accepted = true;
        break;
      }
      step /= 2;
    }
    options.onProgress?.((it + 1) / options.iterations);
    if (!accepted) break;
  }
  return { u, value: current.value, initial };
}

/** A scaling along the steepest ascent of λ_max with λ_max ≥ factor × the original (Dinh et al., Theorem 4). */
export async function growLambdaMax(
  hvp: HessianVectorProduct,
  structure: ScaleStructure,
  parameters: readonly ParameterInfo[],
  factor: number,
  options: LambdaMaxOptions,
): Promise<{ u: number[]; value: number; initial: number } | undefined> {
  const n = structure.variables.length;
  const start = await lambdaMaxAt(hvp, structure, parameters, new Array<number>(n).fill(0), options);
  let direction = project(structure.basis, start.gradient);
  if (Math.hypot(...direction) < 1e-12) direction = structure.basis.map((_, j) => (j === 0 ? 1 : 0));
  const norm = Math.hypot(...direction);
  const at = async (t: number) => {
    const u = expand(structure.basis, direction.map((x) => (x * t) / norm), n);
    return { u, value: (await lambdaMaxAt(hvp, structure, parameters, u, options)).value };
  };
  let hi = 0.5;
  let best = await at(hi);
  while (best.value < factor * start.value) {
    hi *= 2;
    if (hi > 64) return undefined;
    best = await at(hi);
  }
  let lo = hi / 2;
  for (let i = 0; i < 8; i++) {
    const mid = (lo + hi) / 2;
    const m = await at(mid);
    if (m.value >= factor * start.value) {
      hi = mid;
      best = m;
    } else lo = mid;
  }
  return { ...best, initial: start.value };
}
