/**
 * torchvision's most common classifiers exported to ONNX by torch.onnx as a user would
 * (num_classes = 10, eval mode, 32×32 inputs, opset 13 and 17; test/fixtures/torchvision_export.py):
 * each loads, and its mean cross-entropy on a seeded batch equals PyTorch's to 1e-4 relative, on
 * the tfjs engine and on ONNX Runtime (which has a rule for every layer of each).
 * MobileNetV3 exports HardSigmoid · x at opset 13 and HardSwish at 17.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Objective } from '../../src/engine/analysis/objective';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { unsupportedByOnnxRuntime } from '../../src/engine/exec/onnxruntime/objectiveGraph';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { initBackend } from '../../src/engine/model/backend';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { exportTorchvision, torchvisionObjective, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { resnet18: [13, 17], mobilenet_v2: [13, 17], mobilenet_v3_small: [13, 17] };

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-zoo');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (!missing) references = exportTorchvision(root, models);
});

for (const [name, opsets] of Object.entries(models)) {
  for (const opset of opsets) {
    test(`torchvision ${name} (opset ${opset}) loads and its loss equals PyTorch's, on tfjs and on ONNX Runtime`, { skip: missing }, async () => {
      const { objective, network } = await torchvisionObjective(root, name, opset, references[name]);
      const onOnnxRuntime = onnxRuntimeAvailable() ? new Objective(network, objective.dataset, 'ce', objective.dataset.count, onnxExecutorFactory({ threads: 1 })) : undefined;
      try {
        const expected = references[name].loss;
        assert.ok(Math.abs(expected - Math.log(10)) > 1e-3, `${name}: PyTorch's loss ${expected} is that of constant logits; the check would be weak`);
        const loss = objective.value();
        assert.ok(Math.abs(loss - expected) <= 1e-4 * expected, `${name} opset ${opset}: loss ${loss}, PyTorch ${expected}`);
        assert.equal(unsupportedByOnnxRuntime(network.checkpoint.model), undefined);
        if (onOnnxRuntime) {
          const onnxLoss = onOnnxRuntime.value();
          assert.ok(Math.abs(onnxLoss - expected) <= 1e-4 * expected, `${name} opset ${opset} on ONNX Runtime: loss ${onnxLoss}, PyTorch ${expected}`);
        }
      } finally {
        onOnnxRuntime?.dispose();
        objective.dispose();
        network.dispose();
      }
    });
  }
}
