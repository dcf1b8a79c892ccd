/**
 * Trains the bundled example, examples/digits-mlp: a ReLU MLP 64-32-16-10 on the 1,797 8×8 digits
 * of examples/digits-mlp/digits.csv.gz (pixel counts 0..16, label last), full-batch Adam on the
 * engine's own gradient, fixed seed. Writes model.json + model.weights.bin next to the data
 * (refusing to overwrite: delete them first to retrain). `npm run train-example`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Objective } from '../src/analysis/objective';
import { SeededRandom } from '../src/numeric/random';
import { loadDataset } from '../src/data/load';
import { tfjsLayersFormat } from '../src/formats/tfjsLayers/tfjsLayersFormat';
import type { TfjsLayersSource } from '../src/formats/tfjsLayers/modelJson';
import { initBackend } from '../src/model/backend';
import { NetworkFunction } from '../src/model/network';
import type { Checkpoint, LayerNode, WeightTensor } from '../src/model/spec';

const folder = path.join(__dirname, '..', 'examples', 'digits-mlp');
const sizes = [64, 32, 16, 10];
const steps = 300;
const learningRate = 0.003;

async function main(): Promise<void> {
  await initBackend();
  const data = await loadDataset(path.join(folder, 'digits.csv.gz'));
  const random = new SeededRandom(2017);
  const layers: LayerNode[] = [{ name: 'input', className: 'InputLayer', config: { batch_input_shape: [null, 64], dtype: 'float32', name: 'input' }, inbound: [] }];
  const weights: WeightTensor[] = [];
  for (let i = 1; i < sizes.length; i++) {
    const name = `dense_${i}`;
    const last = i === sizes.length - 1;
    layers.push({ name, className: 'Dense', config: { name, units: sizes[i], activation: last ? 'softmax' : 'relu', use_bias: true, trainable: true, dtype: 'float32' }, inbound: [layers[i - 1].name] });
    // inputs are pixel counts up to 16: scale the first layer's init down accordingly
    const std = Math.sqrt(2 / sizes[i - 1]) / (i === 1 ? 8 : 1);
    weights.push({ name: `${name}/kernel`, layer: name, role: 'kernel', shape: [sizes[i - 1], sizes[i]], values: random.normals(sizes[i - 1] * sizes[i]).map((v) => v * std), trainable: true });
    weights.push({ name: `${name}/bias`, layer: name, role: 'bias', shape: [sizes[i]], values: new Float32Array(sizes[i]), trainable: true });
  }
  const model = { inputs: [{ name: 'input', shape: [64] }], layers, outputs: [layers[layers.length - 1].name], trainingLoss: 'categorical_crossentropy' };
  let checkpoint: Checkpoint = { path: '', format: 'tfjs-layers', model, weights, notes: [], source: { kind: 'none' } };

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
  const tfjsLayersSource: TfjsLayersSource = { kind: 'tfjs-layers', modelJson: modelJson(layers) };
  checkpoint = { ...checkpoint, weights: finalWeights, source: tfjsLayersSource };
  const { loss, accuracy } = objective.evaluate(theta);
  process.stderr.write(`final: loss ${loss.toFixed(5)}, training accuracy ${((accuracy ?? 0) * 100).toFixed(2)}%\n`);
  const files = await tfjsLayersFormat.write(checkpoint, path.join(folder, 'model.json'), { weights: finalWeights });
  process.stderr.write(`wrote ${files.join(', ')}\n`);
}

function modelJson(layers: LayerNode[]): Record<string, unknown> {
  return {
    format: 'layers-model',
    generatedBy: 'flatness-lens scripts/trainExample.ts',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'digits_mlp', layers: layers.slice(1).map((l, i) => ({ class_name: l.className, config: i === 0 ? { ...l.config, batch_input_shape: [null, 64] } : l.config })) },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    trainingConfig: { loss: 'categorical_crossentropy', metrics: ['accuracy'], optimizer_config: { class_name: 'Adam', config: { learning_rate: learningRate } } },
    weightsManifest: [],
  };
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
