/**
 * The bundled example's network, examples/digits-mlp: a ReLU MLP 64-32-16-10 with a softmax head,
 * initialized from a fixed seed, and the model.json its trained weights are written with. Shared by
 * scripts/trainExample.ts and scripts/exampleRun.ts.
 */
import { SeededRandom } from '../src/engine/numeric/random';
import type { Checkpoint, LayerNode, WeightTensor } from '../src/engine/model/spec';

export const digitsMlpSizes = [64, 32, 16, 10];

/** The untrained network: He-normal kernels (the first scaled down for inputs up to 16), zero biases. */
export function initialDigitsMlp(seed: number): { checkpoint: Checkpoint; layers: LayerNode[]; weights: WeightTensor[] } {
  const sizes = digitsMlpSizes;
  const random = new SeededRandom(seed);
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
  return { checkpoint: { path: '', format: 'tfjs-layers', model, weights, notes: [], source: { kind: 'none' } }, layers, weights };
}

/** The TF.js Layers model.json (weights manifest filled in by the writer), naming the optimizer and its learning rate. */
export function digitsModelJson(layers: LayerNode[], optimizer: { className: string; learningRate: number }, generatedBy: string): Record<string, unknown> {
  return {
    format: 'layers-model',
    generatedBy,
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'digits_mlp', layers: layers.slice(1).map((l, i) => ({ class_name: l.className, config: i === 0 ? { ...l.config, batch_input_shape: [null, 64] } : l.config })) },
      keras_version: 'tfjs-layers 4.22.0',
      backend: 'tensor_flow.js',
    },
    trainingConfig: { loss: 'categorical_crossentropy', metrics: ['accuracy'], optimizer_config: { class_name: optimizer.className, config: { learning_rate: optimizer.learningRate } } },
    weightsManifest: [],
  };
}
