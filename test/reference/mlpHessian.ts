/**
 * TEST REFERENCE — not part of the engine. Exact float64 Hessian-vector products of a Dense MLP
 * (hidden activations relu or linear, a linear or softmax output layer; mean ce or mse loss) by
 * Pearlmutter's R-operator: a forward pass, a directional forward pass, a backward pass and its
 * directional derivative. n products give the dense Hessian of a model with a thousand parameters in
 * about a second, where the hyper-dual reference (exactHessian.ts) needs n(n+1)/2 full passes.
 * Checked against the hyper-dual reference in test/analysis/metrics.test.ts.
 *
 * θ is ordered as the checkpoint's trainable weights: per layer its kernel [in, out] (row-major),
 * then its bias when present. ReLU takes the branch of the real value (exact away from kinks).
 */
import type { Targets } from '../../src/engine/model/loss';
import type { TinyCheckpoint } from './tinyModels';

export interface MlpLayer {
  readonly inputs: number;
  readonly units: number;
  readonly activation: 'relu' | 'linear';
  readonly hasBias: boolean;
  /** Offsets into θ. */
  readonly kernelOffset: number;
  readonly biasOffset: number;
}

export interface MlpProblem {
  readonly layers: readonly MlpLayer[];
  readonly parameterCount: number;
  readonly inputs: Float64Array;
  readonly count: number;
  /** Row-major [count, outputUnits]: one-hot for ce, values for mse. */
  readonly targets: Float64Array;
  readonly loss: 'ce' | 'mse';
}

/** Reads a Sequential Dense checkpoint (InputLayer, Dense…, optional Dropout) into an MlpProblem. */
export function mlpProblem(checkpoint: TinyCheckpoint, inputs: Float32Array | Float64Array, count: number, targets: Targets, loss: 'ce' | 'mse'): MlpProblem {
  const layers: MlpLayer[] = [];
  let offset = 0;
  const dense = checkpoint.model.layers.filter((l) => l.className === 'Dense');
  dense.forEach((node, i) => {
    const kernel = checkpoint.weights.find((w) => w.layer === node.name && w.role === 'kernel')!;
    const bias = checkpoint.weights.find((w) => w.layer === node.name && w.role === 'bias');
    const [inUnits, units] = kernel.shape;
    const activation = String(node.config.activation ?? 'linear');
    const last = i === dense.length - 1;
    if (!last && activation !== 'relu' && activation !== 'linear') throw new Error(`mlpProblem: hidden activation '${activation}'`);
    if (last && !(activation === 'linear' || (activation === 'softmax' && loss === 'ce'))) throw new Error(`mlpProblem: output activation '${activation}' with ${loss}`);
    layers.push({ inputs: inUnits, units, activation: last ? 'linear' : (activation as 'relu' | 'linear'), hasBias: !!bias, kernelOffset: offset, biasOffset: offset + inUnits * units });
    offset += inUnits * units + (bias ? units : 0);
  });
  const units = layers[layers.length - 1].units;
  const t = new Float64Array(count * units);
  if (targets.kind === 'classes') targets.classes.forEach((c, i) => (t[i * units + c] = 1));
  else t.set(targets.values.subarray(0, count * units));
  return { layers, parameterCount: offset, inputs: Float64Array.from(inputs), count, targets: t, loss };
}

export function mlpTheta(checkpoint: TinyCheckpoint): Float64Array {
  const parts = checkpoint.weights.filter((w) => w.trainable).map((w) => w.values);
  const theta = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    theta.set(p, o);
    o += p.length;
  }
  return theta;
}

interface Pass {
  loss: number;
  gradient: Float64Array;
  /** H·v when a direction was given. */
  product?: Float64Array;
  /** Per-sample logits [count, units]. */
  logits: Float64Array;
}

/** Mean loss, gradient and (with `direction`) H·direction at θ, all exact in float64. */
export function mlpPass(problem: MlpProblem, theta: Float64Array, direction?: Float64Array): Pass {
  const { layers, count } = problem;
  const gradient = new Float64Array(problem.parameterCount);
  const product = direction ? new Float64Array(problem.parameterCount) : undefined;
  const outUnits = layers[layers.length - 1].units;
  const logits = new Float64Array(count * outUnits);
  const inputWidth = layers[0].inputs;
  let loss = 0;
  for (let s = 0; s < count; s++) {
    // forward and directional forward
    const a: Float64Array[] = [problem.inputs.subarray(s * inputWidth, (s + 1) * inputWidth)];
    const ra: Float64Array[] = [new Float64Array(inputWidth)];
    const masks: Uint8Array[] = [];
    for (const layer of layers) {
      const x = a[a.length - 1];
      const rx = ra[ra.length - 1];
      const z = new Float64Array(layer.units);
      const rz = new Float64Array(layer.units);
      for (let o = 0; o < layer.units; o++) {
        let sum = layer.hasBias ? theta[layer.biasOffset + o] : 0;
        let rsum = layer.hasBias && direction ? direction[layer.biasOffset + o] : 0;
        for (let i = 0; i < layer.inputs; i++) {
          const k = layer.kernelOffset + i * layer.units + o;
          sum += x[i] * theta[k];
          if (direction) rsum += rx[i] * theta[k] + x[i] * direction[k];
        }
        z[o] = sum;
        rz[o] = rsum;
      }
      const mask = new Uint8Array(layer.units).fill(1);
      if (layer.activation === 'relu') {
        for (let o = 0; o < layer.units; o++) {
          if (!(z[o] > 0)) {
            mask[o] = 0;
            z[o] = 0;
            rz[o] = 0;
          }
        }
      }
      masks.push(mask);
      a.push(z);
      ra.push(rz);
    }
    const z = a[a.length - 1];
    const rz = ra[ra.length - 1];
    logits.set(z, s * outUnits);
    const t = problem.targets.subarray(s * outUnits, (s + 1) * outUnits);
    // dℓ/dz and its directional derivative
    let delta = new Float64Array(outUnits);
    let rdelta = new Float64Array(outUnits);
    if (problem.loss === 'ce') {
      const m = Math.max(...z);
      const e = Float64Array.from(z, (v) => Math.exp(v - m));
      const total = e.reduce((p, q) => p + q, 0);
      const p = Float64Array.from(e, (v) => v / total);
      const lse = m + Math.log(total);
      let tz = 0;
      let tSum = 0;
      for (let k = 0; k < outUnits; k++) {
        tz += t[k] * z[k];
        tSum += t[k];
      }
      loss += tSum * lse - tz;
      let prz = 0;
      for (let k = 0; k < outUnits; k++) prz += p[k] * rz[k];
      for (let k = 0; k < outUnits; k++) {
        delta[k] = tSum * p[k] - t[k];
        rdelta[k] = tSum * p[k] * (rz[k] - prz);
      }
    } else {
      for (let k = 0; k < outUnits; k++) {
        loss += (z[k] - t[k]) ** 2 / outUnits;
        delta[k] = (2 * (z[k] - t[k])) / outUnits;
        rdelta[k] = (2 * rz[k]) / outUnits;
      }
    }
    // backward and its directional derivative
    for (let l = layers.length - 1; l >= 0; l--) {
      const layer = layers[l];
      const x = a[l];
      const rx = ra[l];
      for (let i = 0; i < layer.inputs; i++) {
        for (let o = 0; o < layer.units; o++) {
          const k = layer.kernelOffset + i * layer.units + o;
          gradient[k] += x[i] * delta[o];
          if (product) product[k] += rx[i] * delta[o] + x[i] * rdelta[o];
        }
      }
      if (layer.hasBias) {
        for (let o = 0; o < layer.units; o++) {
          gradient[layer.biasOffset + o] += delta[o];
          if (product) product[layer.biasOffset + o] += rdelta[o];
        }
      }
      if (l === 0) break;
      const previousMask = masks[l - 1];
      const next = new Float64Array(layer.inputs);
      const rnext = new Float64Array(layer.inputs);
      for (let i = 0; i < layer.inputs; i++) {
        if (!previousMask[i]) continue;
        let sum = 0;
        let rsum = 0;
        for (let o = 0; o < layer.units; o++) {
          const k = layer.kernelOffset + i * layer.units + o;
          sum += delta[o] * theta[k];
          if (direction) rsum += rdelta[o] * theta[k] + delta[o] * direction[k];
        }
        next[i] = sum;
        rnext[i] = rsum;
      }
      delta = next;
      rdelta = rnext;
    }
  }
  const scale = 1 / count;
  gradient.forEach((_, i) => (gradient[i] *= scale));
  product?.forEach((_, i) => (product[i] *= scale));
  return { loss: loss * scale, gradient, product, logits };
}

/** The dense Hessian, n×n row-major, from n exact products with unit vectors (symmetrized). */
export function mlpHessian(problem: MlpProblem, theta: Float64Array): Float64Array {
  const n = problem.parameterCount;
  const h = new Float64Array(n * n);
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const column = mlpPass(problem, theta, e).product!;
    for (let i = 0; i < n; i++) h[i * n + j] = column[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const m = (h[i * n + j] + h[j * n + i]) / 2;
      h[i * n + j] = m;
      h[j * n + i] = m;
    }
  }
  return h;
}

/** Smallest |pre-activation| of any ReLU unit over all samples: the distance to the nearest kink. */
export function mlpKinkMargin(problem: MlpProblem, theta: Float64Array): number {
  let margin = Infinity;
  const inputWidth = problem.layers[0].inputs;
  for (let s = 0; s < problem.count; s++) {
    let x: Float64Array = problem.inputs.subarray(s * inputWidth, (s + 1) * inputWidth);
    for (const layer of problem.layers) {
      const z = new Float64Array(layer.units);
      for (let o = 0; o < layer.units; o++) {
        let sum = layer.hasBias ? theta[layer.biasOffset + o] : 0;
        for (let i = 0; i < layer.inputs; i++) sum += x[i] * theta[layer.kernelOffset + i * layer.units + o];
        z[o] = layer.activation === 'relu' ? Math.max(sum, 0) : sum;
        if (layer.activation === 'relu') margin = Math.min(margin, Math.abs(sum));
      }
      x = z;
    }
  }
  return margin;
}
