/**
 * Trains the bundled example, examples/digits-mlp: a ReLU MLP 64-32-16-10 on the 1,797 8×8 digits
 * of examples/digits-mlp/digits.csv.gz (pixel counts 0..16, label last), full-batch Adam on the
 * engine's own gradient, fixed seed. Writes model.json + model.weights.bin next to the data
 * (refusing to overwrite: delete them first to retrain). `npm run train-example`.
 */
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Objective } from '../src/engine/analysis/objective';
import { loadDataset } from '../src/engine/data/load';
import { tfjsLayersFormat } from '../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import type { TfjsLayersSource } from '../src/engine/formats/tfjsLayers/modelJson';
import { initBackend } from '../src/engine/model/backend';
import { NetworkFunction } from '../src/engine/model/network';
import { digitsModelJson, initialDigitsMlp } from './exampleModel';

const folder = path.join(__dirname, '..', 'examples', 'digits-mlp');
const steps = 300;
const learningRate = 0.003;

async function main(): Promise<void> {
  await initBackend();
  const data = await loadDataset(path.join(folder, 'digits.csv.gz'));
  const initial = initialDigitsMlp(2017);
  const { layers, weights } = initial;
  let { checkpoint } = initial;

  const network = new NetworkFunction(checkpoint);
  const objective = new Objective(network, data, 'ce');
  const theta = objective.theta.map((t) => tf.variable(t.clone()));
  const m: tf.Tensor[] = theta.map((t) => tf.zerosLike(t));
  const v: tf.Tensor[] = theta.map((t) => tf.zerosLike(t));
  for (let step = 1; step <= steps; step++) {
    const { loss, gradient } = objective.gradient(theta);
    tf.tidy(() => {
      gradient.forEach((g, i) => {
        const mi = tf.add(tf.mul(m[i], 0.9), tf.mul(g, 0.1));
        const vi = tf.add(tf.mul(v[i], 0.999), tf.mul(tf.square(g), 0.001));
        const update = tf.div(tf.div(mi, 1 - 0.9 ** step), tf.add(tf.sqrt(tf.div(vi, 1 - 0.999 ** step)), 1e-8));
        theta[i].assign(tf.sub(theta[i], tf.mul(update, learningRate)));
        m[i].dispose();
        v[i].dispose();
        m[i] = tf.keep(mi);
        v[i] = tf.keep(vi);
      });
    });
    tf.dispose(gradient);
    if (step % 100 === 0) process.stderr.write(`step ${step}: loss ${loss.toFixed(5)}\n`);
  }
  const trained = theta.map((t) => t.dataSync() as Float32Array);
  const finalWeights = weights.map((w, i) => ({ ...w, values: Float32Array.from(trained[i]) }));
  const tfjsLayersSource: TfjsLayersSource = { kind: 'tfjs-layers', modelJson: digitsModelJson(layers, { className: 'Adam', learningRate }, 'flatness-lens scripts/trainExample.ts') };
  checkpoint = { ...checkpoint, weights: finalWeights, source: tfjsLayersSource };
  const { loss, accuracy } = objective.evaluate(theta);
  process.stderr.write(`final: loss ${loss.toFixed(5)}, training accuracy ${((accuracy ?? 0) * 100).toFixed(2)}%\n`);
  const files = await tfjsLayersFormat.write(checkpoint, path.join(folder, 'model.json'), { weights: finalWeights });
  process.stderr.write(`wrote ${files.join(', ')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
