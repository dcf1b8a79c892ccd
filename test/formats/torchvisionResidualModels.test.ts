/**
 * torchvision's deep residual classifiers exported to ONNX by torch.onnx as a user would (num_classes = 10,
 * eval mode, 32×32 inputs; test/fixtures/torchvision_export.py): ResNet-50 (bottleneck blocks),
 * ResNeXt-50 32×4d (grouped convolutions) and Wide-ResNet-50-2 each load, and the mean cross-entropy
 * on a seeded batch equals PyTorch's to 1e-4 relative. Loss only: these have 23–67M parameters
 * (94–267 MB files). One opset each, 13 and 17 both covered: torch exports all three with the same
 * operators (Conv, Relu, MaxPool, Add, GlobalAveragePool, Flatten, Gemm) and attributes at either
 * opset, and each export and load of these sizes costs seconds of test time.
 */
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/model/backend';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { assertLossEqualsTorch, exportTorchvision, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { resnet50: [13], resnext50_32x4d: [17], wide_resnet50_2: [17] };

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-residual');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (!missing) references = exportTorchvision(root, models);
});

for (const [name, opsets] of Object.entries(models)) {
  for (const opset of opsets) {
    test(`torchvision ${name} (opset ${opset}) loads and its loss equals PyTorch's`, { skip: missing }, async () => {
      await assertLossEqualsTorch(root, name, opset, references[name]);
    });
  }
}
