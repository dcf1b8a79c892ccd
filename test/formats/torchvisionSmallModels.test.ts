/**
 * More of torchvision's classifiers (squeeze-and-excitation, SiLU, grouped convolutions, MaxPool with
 * ceil_mode, initializers shared between nodes), exported to ONNX at opset 17 as a user would
 * (test/fixtures/torchvision_export.py): each loads with PyTorch's loss to 1e-4 relative, on the
 * tfjs engine and on ONNX Runtime. Their top Hessian eigenvalues are checked in
 * test/formats/torchvisionEigenvalues.test.ts.
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

const models: Record<string, number[]> = { squeezenet1_1: [17], mnasnet0_5: [17], efficientnet_b0: [17], regnet_x_400mf: [17] };

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-small');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (!missing) references = exportTorchvision(root, models);
});

for (const name of Object.keys(models)) {
  test(`torchvision ${name} (opset 17) loads and its loss equals PyTorch's, on tfjs and on ONNX Runtime`, { skip: missing }, async () => {
    const { objective, network } = await torchvisionObjective(root, name, 17, references[name]);
    const onOnnxRuntime = onnxRuntimeAvailable() ? new Objective(network, objective.dataset, 'ce', objective.dataset.count, onnxExecutorFactory({ threads: 1 })) : undefined;
    try {
      const loss = objective.value();
      const expected = references[name].loss;
      assert.ok(Math.abs(loss - expected) <= 1e-4 * expected, `${name}: loss ${loss}, PyTorch ${expected}`);
      assert.ok(Math.abs(expected - Math.log(10)) > 1e-3, `${name}: PyTorch's loss ${expected} is that of constant logits; the check would be weak`);
      assert.equal(unsupportedByOnnxRuntime(network.checkpoint.model), undefined);
      if (onOnnxRuntime) {
        const onnxLoss = onOnnxRuntime.value();
        assert.ok(Math.abs(onnxLoss - expected) <= 1e-4 * expected, `${name} on ONNX Runtime: loss ${onnxLoss}, PyTorch ${expected}`);
      }
    } finally {
      onOnnxRuntime?.dispose();
      objective.dispose();
      network.dispose();
    }
  });
}
