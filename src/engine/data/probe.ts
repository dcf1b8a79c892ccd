import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '../numeric/random';
import { LimitExceeded } from '../../protocol/errors';
import { limits } from '../../protocol/limits';
import type { LossKind } from '../model/loss';
import type { NetworkFunction } from '../model/network';
import type { Dataset } from './dataset';

/**
 * The data-free mode: `count` inputs drawn from N(0, 1) in the model's input shape, labelled with
 * the model's own predictions (argmax for ce, output > 0.5 for bce, the outputs themselves for mse).
 * It measures the curvature of the function around its own predictions, not generalization; the
 * report marks it as data-free.
 */
export function probeDataset(network: NetworkFunction, loss: LossKind, count: number, seed: number): Dataset {
  const perSample = network.inputShape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(count) || count < 1 || count > limits.probeSamples.value) {
    throw new LimitExceeded('probe samples', `${count} asked for; expected 1 to ${limits.probeSamples.value} (the limit on ${limits.probeSamples.what})`);
  }
  if (count * perSample > limits.probeElements.value) {
    throw new LimitExceeded('probe samples', `${count} probes of ${perSample} input values each are ${count * perSample} values, over the limit of ${limits.probeElements.value} (${limits.probeElements.what}); ask for fewer`);
  }
  const inputs = new SeededRandom(seed).fork('probe').normals(count * perSample);
  const outputs = tf.tidy(() => {
    const params = network.initialParameters();
    const out = network.forward(params, tf.tensor(inputs, [count, ...network.inputShape]));
    return { values: out.dataSync() as Float32Array, width: out.size / count };
  });
  const source = `data-free: ${count} Gaussian probe inputs labelled with the model's own predictions`;
  const base = { source, count, sampleShape: network.inputShape, inputs };
  if (loss === 'mse') return { ...base, targets: { kind: 'values', width: outputs.width, values: outputs.values } };
  const classes = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const row = outputs.values.subarray(i * outputs.width, (i + 1) * outputs.width);
    classes[i] = outputs.width === 1 ? (row[0] > 0.5 ? 1 : 0) : row.indexOf(Math.max(...row));
  }
  return { ...base, targets: { kind: 'classes', classes } };
}
