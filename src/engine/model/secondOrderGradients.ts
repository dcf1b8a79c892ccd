import * as tf from '@tensorflow/tfjs-core';
import { registerConvolutionGradients } from './convolutionGradients';

/**
 * Gradients that keep second derivatives exact.
 *
 * tfjs's own gradients for Exp, Sigmoid, Tanh and Softmax reuse the op's saved *output*; the saved
 * copy is not connected to the input on the tape, so differentiating the gradient again silently
 * drops terms. These versions save the *input* and recompute the output inside the gradient, so
 * the tape sees the whole dependency. BatchMatMul is re-registered because the stock gradient uses
 * transposed matmuls, which the wasm backend runs ~30x slower than explicit transposes.
 *
 * Conv2D's gradients are convolutions themselves (convolutionGradients.ts); pooling and the
 * piecewise-linear activations are built from ops whose gradients are already exact (spatial.ts,
 * activations.ts).
 */
export function registerSecondOrderGradients(): void {
  registerConvolutionGradients();
  // The stock Relu gradient casts step(x) (already float32) to float32: a copy on every pass.
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, tf.step(saved[0])) }),
  });
  tf.registerGradient({
    kernelName: tf.Exp,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({ x: () => tf.mul(dy as tf.Tensor, tf.exp(saved[0])) }),
  });
  tf.registerGradient({
    kernelName: tf.Sigmoid,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => {
        const y = tf.sigmoid(saved[0]);
        return tf.mul(dy as tf.Tensor, tf.mul(y, tf.sub(1, y)));
      },
    }),
  });
  tf.registerGradient({
    kernelName: tf.Tanh,
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => tf.mul(dy as tf.Tensor, tf.sub(1, tf.square(tf.tanh(saved[0])))),
    }),
  });
  tf.registerGradient({
    kernelName: tf.Softmax,
    inputsToSave: ['logits'],
    gradFunc: (dy, saved, attrs) => ({
      logits: () => {
        const dim = (attrs as unknown as tf.SoftmaxAttrs).dim;
        const y = tf.softmax(saved[0], dim);
        const dyTimesY = tf.mul(dy as tf.Tensor, y);
        return tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, dim, true), y));
      },
    }),
  });
  tf.registerGradient({
    kernelName: tf.BatchMatMul,
    inputsToSave: ['a', 'b'],
    gradFunc: (dy, saved, attrs) => {
      const [a, b] = saved;
      const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
      if (transposeA || transposeB) {
        throw new Error('BatchMatMul gradient: transposed operands are not used by the engine');
      }
      const g = dy as tf.Tensor;
      return {
        a: () => tf.matMul(g, swapLastAxes(b)),
        b: () => tf.matMul(swapLastAxes(a), g),
      };
    },
  });
}

function swapLastAxes(t: tf.Tensor): tf.Tensor {
  const perm = t.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
  return tf.transpose(t, perm);
}
