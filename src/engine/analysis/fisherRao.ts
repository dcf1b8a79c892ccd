import type { Objective } from './objective';

/**
 * The empirical Fisher–Rao norm (Liang, Poggio, Rakhlin & Stokes 2019):
 * ‖θ‖²_fr = (1/N) Σ_i ⟨θ, ∇_θ ℓ(f_θ(x_i), y_i)⟩², with the data set's labels. For a bias-free
 * rectifier network of depth L, ⟨θ, ∇_θ f⟩ = L·f, so the norm is unchanged by α-scaling.
 * Reported as ‖θ‖_fr (the square root).
 */
export function fisherRaoNorm(objective: Objective): number {
  const derivatives = objective.perSampleDirectionalDerivatives(objective.theta);
  const meanSquare = derivatives.reduce((s, d) => s + d * d, 0) / derivatives.length;
  return Math.sqrt(meanSquare);
}
