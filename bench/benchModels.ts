import { SeededRandom } from '../src/engine/numeric/random';
import type { Checkpoint, LayerNode, WeightTensor } from '../src/engine/model/spec';

/** The benchmark's networks, with He-initialized weights from a fixed seed. */
export interface BenchModel {
  readonly name: string;
  readonly checkpoint: Checkpoint;
  readonly batch: number;
}

function build(name: string, inputShape: number[], layers: { node: Omit<LayerNode, 'inbound'>; weights?: [string, number[], number][] }[]): Checkpoint {
  const random = new SeededRandom(7);
  const nodes: LayerNode[] = [{ name: 'input', className: 'InputLayer', config: {}, inbound: [] }];
  const weights: WeightTensor[] = [];
  for (const l of layers) {
    nodes.push({ ...l.node, inbound: [nodes[nodes.length - 1].name] });
    for (const [role, shape, fanIn] of l.weights ?? []) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = role === 'bias' ? new Float32Array(size) : random.normals(size).map((v) => v * Math.sqrt(2 / fanIn));
      weights.push({ name: `${l.node.name}/${role}`, layer: l.node.name, role, shape, values, trainable: true });
    }
  }
  return { path: `<bench:${name}>`, format: 'in-memory', notes: [], source: { kind: 'none' }, model: { inputs: [{ name: 'input', shape: inputShape }], layers: nodes, outputs: [nodes[nodes.length - 1].name] }, weights };
}

const dense = (name: string, inputs: number, units: number, activation: string) => ({
  node: { name, className: 'Dense', config: { units, activation } },
  weights: [['kernel', [inputs, units], inputs], ['bias', [units], inputs]] as [string, number[], number][],
});

const conv = (name: string, inputs: number, filters: number) => ({
  node: { name, className: 'Conv2D', config: { filters, kernel_size: [3, 3], padding: 'same', activation: 'relu' } },
  weights: [['kernel', [3, 3, inputs, filters], 9 * inputs], ['bias', [filters], 9 * inputs]] as [string, number[], number][],
});

const pool = (name: string) => ({ node: { name, className: 'MaxPooling2D', config: { pool_size: [2, 2] } } });

const smallConv = (name: string, filters: number) => ({
  node: { name, className: 'Conv2D', config: { filters, kernel_size: [3, 3], padding: 'same', activation: 'relu' } },
  weights: [['kernel', [3, 3, 1, filters], 9], ['bias', [filters], 9]] as [string, number[], number][],
});

export const benchModels: BenchModel[] = [
  {
    name: 'mlp-784-512-256-10',
    batch: 1024,
    checkpoint: build('mlp', [784], [dense('dense_1', 784, 512, 'relu'), dense('dense_2', 512, 256, 'relu'), dense('dense_3', 256, 10, 'softmax')]),
  },
  {
    name: 'cnn-28x28-conv16-pool-conv32-pool-dense10',
    batch: 256,
    checkpoint: build('cnn', [28, 28, 1], [conv('conv_1', 1, 16), pool('pool_1'), conv('conv_2', 16, 32), pool('pool_2'), { node: { name: 'flatten', className: 'Flatten', config: {} } }, dense('dense', 7 * 7 * 32, 10, 'softmax')]),
  },
  // The shapes of the reference script's small kinds (digits, 8×8): small enough for an exact Hessian.
  {
    name: 'mlp-relu-64-32-16-10',
    batch: 512,
    checkpoint: build('mlp-relu', [64], [dense('dense_1', 64, 32, 'relu'), dense('dense_2', 32, 16, 'relu'), dense('dense_3', 16, 10, 'softmax')]),
  },
  {
    name: 'cnn-relu-8x8-conv6-pool-dense10',
    batch: 512,
    checkpoint: build('cnn-small', [8, 8, 1], [smallConv('conv', 6), pool('pool'), { node: { name: 'flatten', className: 'Flatten', config: {} } }, dense('dense', 4 * 4 * 6, 10, 'softmax')]),
  },
  {
    name: 'mlp-tanh-64-32-16-10',
    batch: 512,
    checkpoint: build('mlp-tanh', [64], [dense('dense_1', 64, 32, 'tanh'), dense('dense_2', 32, 16, 'tanh'), dense('dense_3', 16, 10, 'softmax')]),
  },
];
