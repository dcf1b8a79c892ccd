import type { LossKind } from './loss';

/**
 * Columns of a factor Fₙ of each sample's loss Hessian in the network's outputs, ∂²ℓₙ/∂z² = Fₙ Fₙᵀ,
 * scaled by 1/√N (N: samples in the data set, the mean loss's divisor), laid out [C, count, C]:
 * entry (c, n, j) is (Fₙ)_{j,c}/√N. The per-sample losses are those of src/engine/model/loss.ts:
 *  - ce (softmax p of logits z, targets summing to s): s(diag p − p pᵀ), and with Fₙ = √s (diag √p − p √pᵀ)
 *    column c is √(s p_c)(e_c − p);
 *  - bce (per-unit logistic loss over C units, mean over units): diag(σ(1 − σ))/C;
 *  - mse (mean squared error over C units): 2I/C.
 */
export function outputHessianFactors(loss: LossKind, outputs: Float32Array, targets: Float32Array, count: number, units: number, datasetCount: number): Float32Array {
  const factors = new Float32Array(units * count * units);
  const scale = 1 / Math.sqrt(datasetCount);
  const at = (c: number, n: number, j: number) => (c * count + n) * units + j;
  const p = new Float64Array(units);
  for (let n = 0; n < count; n++) {
    const row = n * units;
    if (loss === 'ce') {
      let max = -Infinity;
      let mass = 0;
      for (let j = 0; j < units; j++) {
        max = Math.max(max, outputs[row + j]);
        mass += targets[row + j];
      }
      let sum = 0;
      for (let j = 0; j < units; j++) sum += (p[j] = Math.exp(outputs[row + j] - max));
      for (let j = 0; j < units; j++) p[j] /= sum;
      for (let c = 0; c < units; c++) {
        const weight = Math.sqrt(Math.max(0, mass) * p[c]) * scale;
        for (let j = 0; j < units; j++) factors[at(c, n, j)] = weight * ((j === c ? 1 : 0) - p[j]);
      }
    } else {
      for (let c = 0; c < units; c++) {
        const curvature = loss === 'bce' ? logisticCurvature(outputs[row + c]) / units : 2 / units;
        factors[at(c, n, c)] = Math.sqrt(curvature) * scale;
      }
    }
  }
  return factors;
}

/** σ(z)(1 − σ(z)), computed without overflow. */
function logisticCurvature(z: number): number {
  const e = Math.exp(-Math.abs(z));
  return e / ((1 + e) * (1 + e));
}
