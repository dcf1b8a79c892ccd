/**
 * torchvision classifiers whose branches meet in a Concat, exported to ONNX by torch.onnx as a user
 * would (num_classes = 10, eval mode, 32×32 inputs; test/fixtures/torchvision_export.py):
 * DenseNet-121 (every layer's output concatenated onto its block's input), GoogLeNet (Inception
 * branches, MaxPool with ceil_mode; exported with aux_logits = False) and ShuffleNetV2 ×0.5 (channel
 * shuffle as Reshape–Transpose–Reshape, chunk as Slice). Each loads with PyTorch's loss to 1e-4
 * relative. ShuffleNetV2 at opset 13 and 17; DenseNet-121 and GoogLeNet, which torch exports with the
 * same operators at either opset, at one each, to keep the exports few. ShuffleNetV2's top Hessian
 * eigenvalue is checked in test/formats/torchvisionEigenvalues.test.ts.
 */
import { before, test } from 'node:test';
import { initBackend } from '../../src/engine/model/backend';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { assertLossEqualsTorch, exportTorchvision, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { densenet121: [17], googlenet: [13], shufflenet_v2_x0_5: [13, 17] };

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-branching');
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
