/**
 * Test reference only: activation functions over `Num`s, written from their definitions.
 * Piecewise functions pick their branch by the real part, so they are exact away from the kinks.
 */
import { SumAccumulator, add, applyScalarFunction, div, erf, exp, greaterThan, log, mul, realPart, sigmoid, softplus, sqrt, sub, tanh } from './hyperDual';
import type { Num } from './hyperDual';
import { ReferenceModelError, elementCount, mapElements, resolveAxis } from './referenceTensor';
import type { ReferenceTensor } from './referenceTensor';

export type ActivationName =
  | 'linear'
  | 'relu'
  | 'relu6'
  | 'elu'
  | 'selu'
  | 'tanh'
  | 'sigmoid'
  | 'softplus'
  | 'softmax'
  | 'log_softmax'
  | 'leaky_relu'
  | 'gelu'
  | 'gelu_tanh'
  | 'erf'
  | 'exp'
  | 'log'
  | 'sqrt';

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;
/** Keras 3's `activations.leaky_relu` default; the LeakyReLU *layer* defaults to 0.3 instead. */
const LEAKY_RELU_ACTIVATION_SLOPE = 0.2;

/**
 * Reads an activation as spelled in a Keras (snake_case) or TF.js (camelCase) config; a missing
 * activation is linear.
 */
export function parseActivation(raw: unknown, layer: string): ActivationName {
  if (raw === undefined || raw === null) return 'linear';
  if (typeof raw !== 'string') {
    throw new ReferenceModelError(layer, `expected the activation to be a string, found ${JSON.stringify(raw)}`);
  }
  switch (raw.toLowerCase().replace(/_/g, '')) {
    case 'linear':
      return 'linear';
    case 'relu':
      return 'relu';
    case 'relu6':
      return 'relu6';
    case 'elu':
      return 'elu';
    case 'selu':
      return 'selu';
    case 'tanh':
      return 'tanh';
    case 'sigmoid':
      return 'sigmoid';
    case 'softplus':
      return 'softplus';
    case 'softmax':
      return 'softmax';
    case 'logsoftmax':
      return 'log_softmax';
    case 'leakyrelu':
      return 'leaky_relu';
    case 'gelu':
      return 'gelu';
    case 'gelutanh':
      return 'gelu_tanh';
    case 'erf':
      return 'erf';
    case 'exp':
      return 'exp';
    case 'log':
      return 'log';
    case 'sqrt':
      return 'sqrt';
    default:
      throw new ReferenceModelError(layer, `unsupported activation '${raw}'`);
  }
}

export function relu(x: Num): Num {
  return greaterThan(x, 0) ? x : 0;
}

export function relu6(x: Num): Num {
  const a = realPart(x);
  if (a <= 0) return 0;
  if (a >= 6) return 6;
  return x;
}

export function elu(x: Num, alpha: number): Num {
  return greaterThan(x, 0) ? x : mul(alpha, sub(exp(x), 1));
}

export function leakyRelu(x: Num, negativeSlope: Num): Num {
  return greaterThan(x, 0) ? x : mul(negativeSlope, x);
}

/** Keras's ReLU layer: max_value above max_value, x from threshold on, negative_slope·(x − threshold) below. */
export function thresholdedRelu(x: Num, maxValue: number | null, negativeSlope: number, threshold: number): Num {
  const a = realPart(x);
  if (maxValue !== null && a >= maxValue) return maxValue;
  if (a >= threshold) return x;
  return mul(negativeSlope, sub(x, threshold));
}

/** x^p for a constant p: value p·x^(p−1) and p(p−1)·x^(p−2) as its derivatives. */
export function power(x: Num, exponent: number): Num {
  const a = realPart(x);
  return applyScalarFunction(x, a ** exponent, exponent * a ** (exponent - 1), exponent * (exponent - 1) * a ** (exponent - 2));
}

function applyElementwiseActivation(x: Num, activation: Exclude<ActivationName, 'softmax' | 'log_softmax'>): Num {
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return relu(x);
    case 'relu6':
      return relu6(x);
    case 'elu':
      return elu(x, 1);
    case 'selu':
      return mul(SELU_SCALE, elu(x, SELU_ALPHA));
    case 'tanh':
      return tanh(x);
    case 'sigmoid':
      return sigmoid(x);
    case 'softplus':
      return softplus(x);
    case 'leaky_relu':
      return leakyRelu(x, LEAKY_RELU_ACTIVATION_SLOPE);
    case 'gelu':
      return mul(mul(0.5, x), add(1, erf(mul(x, Math.SQRT1_2))));
    case 'gelu_tanh':
      return mul(mul(0.5, x), add(1, tanh(mul(Math.sqrt(2 / Math.PI), add(x, mul(0.044715, mul(x, mul(x, x))))))));
    case 'erf':
      return erf(x);
    case 'exp':
      return exp(x);
    case 'log':
      return log(x);
    case 'sqrt':
      return sqrt(x);
  }
}

export function applyActivation(tensor: ReferenceTensor, activation: ActivationName, layer: string): ReferenceTensor {
  if (activation === 'softmax') return softmaxOverAxis(tensor, -1, layer);
  if (activation === 'log_softmax') return logSoftmaxOverLastAxis(tensor);
  return mapElements(tensor, (x) => applyElementwiseActivation(x, activation));
}

/** softmax(z)_k = exp(z_k − m) / Σ exp(z − m), with m the largest real part (a constant shift). */
export function softmaxOverAxis(tensor: ReferenceTensor, axis: number, layer: string): ReferenceTensor {
  const resolved = resolveAxis(axis, tensor.shape.length, layer);
  const axisSize = tensor.shape[resolved];
  const inner = elementCount(tensor.shape.slice(resolved + 1));
  const outer = elementCount(tensor.shape.slice(0, resolved));
  const data: Num[] = new Array<Num>(tensor.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const indexOf = (k: number): number => (o * axisSize + k) * inner + i;
      let shift = -Infinity;
      for (let k = 0; k < axisSize; k++) shift = Math.max(shift, realPart(tensor.data[indexOf(k)]));
      const exponentials: Num[] = [];
      const total = new SumAccumulator();
      for (let k = 0; k < axisSize; k++) {
        const e = exp(sub(tensor.data[indexOf(k)], shift));
        exponentials.push(e);
        total.add(e);
      }
      const sum = total.result();
      for (let k = 0; k < axisSize; k++) data[indexOf(k)] = div(exponentials[k], sum);
    }
  }
  return { shape: tensor.shape, data };
}

/** log Σ_k exp(z_k), shifted by the largest real part for stability. */
export function logSumExp(values: readonly Num[]): Num {
  let shift = -Infinity;
  for (const v of values) shift = Math.max(shift, realPart(v));
  const total = new SumAccumulator();
  for (const v of values) total.add(exp(sub(v, shift)));
  return add(shift, log(total.result()));
}

/** log softmax(z)_k = z_k − log Σ exp(z), over the last axis. */
function logSoftmaxOverLastAxis(tensor: ReferenceTensor): ReferenceTensor {
  const size = tensor.shape[tensor.shape.length - 1];
  const data: Num[] = [];
  for (let start = 0; start < tensor.data.length; start += size) {
    const row = tensor.data.slice(start, start + size);
    const total = logSumExp(row);
    for (const z of row) data.push(sub(z, total));
  }
  return { shape: tensor.shape, data };
}
