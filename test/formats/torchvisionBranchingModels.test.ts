/**
 * torchvision classifiers whose branches meet in a Concat, exported to ONNX by torch.onnx as a user
 * would (num_classes = 10, eval mode, 32×32 inputs; test/fixtures/torchvision_export.py):
 * DenseNet-121 (every layer's output concatenated onto its block's input), GoogLeNet (Inception
 * branches, MaxPool with ceil_mode; exported with aux_logits = False) and ShuffleNetV2 ×0.5 (channel
 * shuffle as Reshape–Transpose–Reshape, chunk as Slice). Each loads with PyTorch's loss to 1e-4
 * relative. ShuffleNetV2 at opset 13 and 17; DenseNet-121 and GoogLeNet, which torch exports with the
 * same operators at either opset, at one each, to keep the exports few. ShuffleNetV2 has 0.35M parameters: its top Hessian eigenvalue by the engine's Lanczos
 * equals PyTorch's float64 power iteration by double backprop to 1% (BatchNormalization folded into
 * the convolutions before export, as the exporter does, so both differentiate the same parameters).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hessianTopEigenvalues } from '../../src/engine/analysis/eigenvalues';
import { disposeVector } from '../../src/engine/analysis/vectors';
import { initBackend } from '../../src/engine/model/backend';
import { SeededRandom } from '../../src/engine/numeric/random';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { assertLossEqualsTorch, exportTorchvision, torchvisionObjective, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { densenet121: [17], googlenet: [13], shufflenet_v2_x0_5: [13, 17] };
const eigenModel = 'shufflenet_v2_x0_5';

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-branching');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (!missing) references = exportTorchvision(root, models, [eigenModel]);
});

for (const [name, opsets] of Object.entries(models)) {
  for (const opset of opsets) {
    test(`torchvision ${name} (opset ${opset}) loads and its loss equals PyTorch's`, { skip: missing }, async () => {
      await assertLossEqualsTorch(root, name, opset, references[name]);
    });
  }
}

test(`torchvision ${eigenModel}: the top Hessian eigenvalue equals PyTorch's float64 power iteration to 1%`, { skip: missing }, async (t) => {
  const { objective, network } = await torchvisionObjective(root, eigenModel, 17, references[eigenModel]);
  try {
    const result = await hessianTopEigenvalues((v) => objective.hessianVectorProduct(v), objective.parameters, { count: 1, maxSteps: 40, tolerance: 1e-4, random: new SeededRandom(3) });
    disposeVector(result.topVector);
    const expected = references[eigenModel].topEigenvalue!;
    t.diagnostic(`${eigenModel}: engine λ_max ${result.values[0]} (${result.lanczosSteps} Lanczos steps), PyTorch ${expected}`);
    assert.ok(Math.abs(result.values[0] - expected) <= 0.01 * Math.abs(expected), `engine ${result.values[0]}, PyTorch ${expected}`);
  } finally {
    objective.dispose();
    network.dispose();
  }
});
