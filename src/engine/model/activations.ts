import * as tf from '@tensorflow/tfjs-core';
import { ModelProblem } from '../../protocol/errors';

/**
 * Activations built so that tfjs's double backprop gives exact second derivatives: piecewise-linear
 * ones from `relu` (whose gradient mask has a zero derivative, which is the truth almost everywhere),
 * smooth ones from Exp/Sigmoid/Tanh/Softmax, whose gradients secondOrderGradients.ts makes exact.
 * tfjs's own leakyRelu, prelu, relu6 and elu kernels have gradients that cannot be differentiated.
 */
export type ActivationFn = (x: tf.Tensor) => tf.Tensor;

/** Names as Keras and tfjs spell them (snake_case and camelCase) mapped to one spelling. */
export function canonicalActivation(name: unknown): string {
  if (name === undefined || name === null) return 'linear';
  if (typeof name === 'object' && 'class_name' in (name as object)) {
    return canonicalActivation((name as { class_name: unknown }).class_name);
  }
  const text = String(name).toLowerCase().replace(/_/g, '');
  const aliases: Record<string, string> = { leakyrelu: 'leakyrelu', swish: 'silu', hardsigmoid: 'hardsigmoid' };
  return aliases[text] ?? text;
}

export const negativePart = (x: tf.Tensor): tf.Tensor => tf.relu(tf.neg(x));

export function leakyRelu(x: tf.Tensor, slope: number | tf.Tensor): tf.Tensor {
  return tf.sub(tf.relu(x), tf.mul(slope, negativePart(x)));
}

export function elu(x: tf.Tensor, alpha: number): tf.Tensor {
  const expOfNegativePart = tf.sub(tf.exp(tf.neg(negativePart(x))), 1);
  return tf.add(tf.relu(x), tf.mul(alpha, expOfNegativePart));
}

/** relu capped at `maxValue`: relu(x) − relu(x − max). */
export function cappedRelu(x: tf.Tensor, maxValue: number): tf.Tensor {
  return tf.sub(tf.relu(x), tf.relu(tf.sub(x, maxValue)));
}

function softplus(x: tf.Tensor): tf.Tensor {
  const absolute = tf.add(tf.relu(x), negativePart(x));
  return tf.add(tf.relu(x), tf.log(tf.add(1, tf.exp(tf.neg(absolute)))));
}

/**
 * GELU x·Φ(x) = ½x(1 + erf(x/√2)), as torch's nn.GELU() (Hendrycks & Gimpel 2016). tfjs's Erf
 * gradient saves the input and is built from square, exp and mul, so it differentiates exactly again.
 */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** GELU's tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as nn.GELU(approximate='tanh'). */
export function geluTanh(x: tf.Tensor): tf.Tensor {
  const cubic = tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x))));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.tanh(tf.mul(cubic, Math.sqrt(2 / Math.PI)))));
}

/** x^p for a constant p; tfjs's Pow gradient saves its inputs, so it differentiates exactly again. */
export function power(x: tf.Tensor, exponent: number): tf.Tensor {
  return tf.pow(x, tf.scalar(exponent));
}

/**
 * log softmax over the last axis, x − m − log Σ exp(x − m), with the row maximum m a constant the
 * tape does not see: m cancels exactly, so the derivatives are those of x − log Σ exp(x).
 */
export function logSoftmax(x: tf.Tensor): tf.Tensor {
  const max = tf.max(x, -1, true);
  const shift = tf.tensor(max.dataSync(), max.shape, 'float32');
  const shifted = tf.sub(x, shift);
  return tf.sub(shifted, tf.log(tf.sum(tf.exp(shifted), -1, true)));
}

const seluAlpha = 1.6732632423543772;
const seluScale = 1.0507009873554805;

const activations: Record<string, ActivationFn> = {
  linear: (x) => x,
  relu: (x) => tf.relu(x),
  relu6: (x) => cappedRelu(x, 6),
  leakyrelu: (x) => leakyRelu(x, 0.2),
  elu: (x) => elu(x, 1),
  selu: (x) => tf.mul(seluScale, elu(x, seluAlpha)),
  tanh: (x) => tf.tanh(x),
  sigmoid: (x) => tf.sigmoid(x),
  softmax: (x) => tf.softmax(x, -1),
  logsoftmax: logSoftmax,
  softplus,
  silu: (x) => tf.mul(x, tf.sigmoid(x)),
  gelu,
  gelutanh: geluTanh,
  erf: (x) => tf.erf(x),
  exp: (x) => tf.exp(x),
  log: (x) => tf.log(x),
  sqrt: (x) => tf.sqrt(x),
};

/** Activations whose output is a non-negatively homogeneous function of the input (Dinh et al. §4). */
export const homogeneousActivations = new Set(['linear', 'relu', 'leakyrelu']);

export function activationFunction(name: unknown, layer: string): ActivationFn {
  const key = canonicalActivation(name);
  const fn = activations[key];
  if (!fn) throw new ModelProblem(layer, `activation '${String(name)}' is not supported (supported: ${Object.keys(activations).join(', ')})`);
  return fn;
}
