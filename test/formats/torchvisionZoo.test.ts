/**
 * torchvision's classifiers exported to ONNX by torch.onnx as a user would (num_classes = 10, eval
 * mode, 32×32 inputs, opset 13 and/or 17; test/fixtures/torchvision_export.py): each loads, and its
 * mean cross-entropy on a seeded batch equals PyTorch's to 1e-4 relative. For a small model
 * without BatchNormalization (which the exporter folds away, changing the parameters), the top
 * Hessian eigenvalue by the engine's Lanczos equals PyTorch's float64 power iteration to 1%.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readOnnx } from '../../src/formats/onnx';
import { initBackend } from '../../src/model/backend';
import { NetworkFunction } from '../../src/model/network';
import { Objective } from '../../src/analysis/objective';
import { hessianTopEigenvalues } from '../../src/analysis/eigenvalues';
import { disposeVector } from '../../src/analysis/vectors';
import { SeededRandom } from '../../src/numeric/random';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';

/** Each model with the opsets it is exported at: the two most common at both, the rest at 17. */
const models: Record<string, number[]> = {
  resnet18: [13, 17],
  mobilenet_v2: [13, 17],
  squeezenet1_1: [17],
  mnasnet0_5: [17],
  mobilenet_v3_small: [13, 17],
  efficientnet_b0: [17],
  regnet_x_400mf: [17],
};
const eigenModel = 'squeezenet1_1';
const SAMPLES = 4;

interface TorchReference {
  readonly inputs: number[];
  readonly labels: number[];
  readonly logits: number[];
  readonly loss: number;
  readonly topEigenvalue?: number;
}

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-zoo');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (missing) return;
  const program = `import runpy, sys; sys.argv = ['torchvision_export.py']; runpy.run_path(${JSON.stringify(join(__dirname, '..', 'fixtures', 'torchvision_export.py'))}, run_name='__main__')`;
  references = runPythonJson(program, { dir: root, models, samples: SAMPLES, seed: 0, eigen: [eigenModel] });
});

async function objectiveFor(name: string, opset: number): Promise<{ objective: Objective; network: NetworkFunction }> {
  const reference = references[name];
  const checkpoint = await readOnnx(join(root, `${name}-opset${opset}.onnx`));
  const network = new NetworkFunction(checkpoint);
  const dataset = { source: `${name} batch`, count: SAMPLES, sampleShape: [32, 32, 3], inputs: Float32Array.from(reference.inputs), targets: { kind: 'classes' as const, classes: Int32Array.from(reference.labels) } };
  return { objective: new Objective(network, dataset, 'ce'), network };
}

for (const [name, opsets] of Object.entries(models)) {
  for (const opset of opsets) {
    test(`torchvision ${name} (opset ${opset}) loads and its loss equals PyTorch's`, { skip: missing }, async () => {
      const { objective, network } = await objectiveFor(name, opset);
      try {
        const loss = objective.value();
        const expected = references[name].loss;
        assert.ok(Math.abs(loss - expected) <= 1e-4 * expected, `${name} opset ${opset}: loss ${loss}, PyTorch ${expected}`);
        assert.ok(Math.abs(expected - Math.log(10)) > 1e-3, `${name}: PyTorch's loss ${expected} is that of constant logits; the check would be weak`);
      } finally {
        objective.dispose();
        network.dispose();
      }
    });
  }
}

test(`torchvision ${eigenModel}: the top Hessian eigenvalue equals PyTorch's float64 power iteration to 1%`, { skip: missing }, async () => {
  const { objective, network } = await objectiveFor(eigenModel, 17);
  try {
    const result = await hessianTopEigenvalues((v) => objective.hessianVectorProduct(v), objective.parameters, { count: 1, maxSteps: 40, tolerance: 1e-4, random: new SeededRandom(3) });
    disposeVector(result.topVector);
    const expected = references[eigenModel].topEigenvalue!;
    assert.ok(Math.abs(result.values[0] - expected) <= 0.01 * Math.abs(expected), `engine ${result.values[0]}, PyTorch ${expected}`);
  } finally {
    objective.dispose();
    network.dispose();
  }
});
