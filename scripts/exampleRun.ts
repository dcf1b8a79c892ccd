/**
 * A short training run of the bundled example network (scripts/exampleModel.ts) for the training-run
 * panel and `flatness trajectory`: full-batch gradient descent with a large learning rate (η = 0.3) on
 * the first 500 digits of examples/digits-mlp/digits.csv.gz, a checkpoint every few steps
 * (example-run/step_NNNN/model.json, η in its training config), the other 1,297 digits as the
 * held-out set, pixels scaled to 0..1. Under full-batch GD the top Hessian eigenvalue rises until it reaches 2/η and hovers
 * there (the edge of stability, Cohen et al. 2021). `npm run example-run` trains, then runs the
 * trajectory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { Objective } from '../src/engine/analysis/objective';
import { loadDataset } from '../src/engine/data/load';
import { tfjsLayersFormat } from '../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import type { TfjsLayersSource } from '../src/engine/formats/tfjsLayers/modelJson';
import { initBackend } from '../src/engine/model/backend';
import { NetworkFunction } from '../src/engine/model/network';
import { digitsModelJson, initialDigitsMlp } from './exampleModel';

const repository = path.join(__dirname, '..');
const source = path.join(repository, 'examples', 'digits-mlp', 'digits.csv.gz');
const trainSamples = 500;
export const exampleRunLearningRate = 0.3;
/** Marks a folder this script made, so a rerun may replace it and nothing else. */
const marker = '.flatness-example-run';

export interface ExampleRunOptions {
  readonly steps: number;
  readonly checkpointEvery: number;
}

export const exampleRunDefaults: ExampleRunOptions = { steps: 240, checkpointEvery: 20 };

export async function writeExampleRun(folder: string, { steps, checkpointEvery }: ExampleRunOptions = exampleRunDefaults, log: (line: string) => void = () => undefined): Promise<void> {
  if (fs.existsSync(folder)) {
    if (!fs.existsSync(path.join(folder, marker))) throw new Error(`${folder} exists and was not made by this script; remove it or choose another folder`);
    fs.rmSync(folder, { recursive: true });
  }
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, marker), 'written by scripts/exampleRun.ts; rerunning it replaces this folder\n');
  // Pixels scaled from counts 0..16 to 0..1, labels kept: a small start λ₁ that training raises.
  const rows = gunzipSync(fs.readFileSync(source))
    .toString('utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const cells = line.split(',');
      return [...cells.slice(0, -1).map((c) => String(Number(c) / 16)), cells[cells.length - 1]].join(',');
    });
  fs.writeFileSync(path.join(folder, 'train.csv'), rows.slice(0, trainSamples).join('\n') + '\n');
  fs.writeFileSync(path.join(folder, 'test.csv'), rows.slice(trainSamples).join('\n') + '\n');

  await initBackend();
  const data = await loadDataset(path.join(folder, 'train.csv'));
  const { checkpoint, layers, weights } = initialDigitsMlp(2017);
  const network = new NetworkFunction(checkpoint);
  const objective = new Objective(network, data, 'ce');
  const theta = objective.theta.map((t) => tf.variable(t.clone()));
  const save = async (step: number) => {
    const values = theta.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    const stepWeights = weights.map((w, i) => ({ ...w, values: values[i] }));
    const modelJson = digitsModelJson(layers, { className: 'SGD', learningRate: exampleRunLearningRate }, 'flatness-lens scripts/exampleRun.ts');
    const file = path.join(folder, `step_${String(step).padStart(4, '0')}`, 'model.json');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const source: TfjsLayersSource = { kind: 'tfjs-layers', modelJson };
    await tfjsLayersFormat.write({ ...checkpoint, weights: stepWeights, source }, file, { weights: stepWeights });
  };
  try {
    for (let step = 0; step <= steps; step++) {
      if (step % checkpointEvery === 0) await save(step);
      if (step === steps) break;
      const { loss, gradient } = objective.gradient(theta);
      tf.tidy(() => gradient.forEach((g, i) => theta[i].assign(tf.sub(theta[i], tf.mul(g, exampleRunLearningRate)))));
      tf.dispose(gradient);
      if (step % checkpointEvery === 0) log(`step ${step}: training loss ${loss.toFixed(4)}`);
    }
  } finally {
    tf.dispose(theta);
    network.dispose();
  }
}

if (require.main === module) {
  const folder = path.resolve(process.argv[2] ?? path.join(repository, 'example-run'));
  writeExampleRun(folder, exampleRunDefaults, (line) => process.stderr.write(`${line}\n`)).then(
    () => process.stderr.write(`wrote ${exampleRunDefaults.steps / exampleRunDefaults.checkpointEvery + 1} checkpoints (η = ${exampleRunLearningRate}) to ${path.relative(process.cwd(), folder) || '.'}\n`),
    (error: unknown) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
