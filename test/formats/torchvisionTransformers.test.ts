/**
 * torchvision's ConvNeXt-tiny and ViT-B/16 exported to ONNX by torch.onnx as a user would
 * (num_classes = 10, eval mode, 32×32 inputs; test/fixtures/torchvision_transformers_export.py):
 * each loads, and its mean cross-entropy on a seeded batch equals PyTorch's to 1e-4 relative.
 * ConvNeXt: depthwise 7×7 convolutions, Transpose to channels-last and back, LayerNorm over the last
 * axis (decomposed at opset 13), MatMul on 4-D tensors, GELU, the per-channel layer scale.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { initBackend } from '../../src/engine/model/backend';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { TORCHVISION_SAMPLES, torchvisionObjective, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { convnext_tiny: [13, 17] };
const options: Record<string, Record<string, unknown>> = {};

const missing = missingPythonModules(['torch', 'torchvision', 'onnx']);
const { root } = caseFolders('torchvision-transformers');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (missing) return;
  const script = join(__dirname, '..', 'fixtures', 'torchvision_transformers_export.py');
  const program = `import runpy, sys; sys.argv = ['torchvision_transformers_export.py']; runpy.run_path(${JSON.stringify(script)}, run_name='__main__')`;
  references = runPythonJson(program, { dir: root, models, options, samples: TORCHVISION_SAMPLES, seed: 0 });
});

for (const [name, opsets] of Object.entries(models)) {
  for (const opset of opsets) {
    test(`torchvision ${name} (opset ${opset}) loads and its loss equals PyTorch's`, { skip: missing }, async () => {
      const { objective, network } = await torchvisionObjective(root, name, opset, references[name]);
      try {
        const loss = objective.value();
        const expected = references[name].loss;
        if (process.env.ZOO_VERBOSE) console.log(`${name} opset ${opset}: loss ${loss}, PyTorch ${expected}`);
        assert.ok(Math.abs(loss - expected) <= 1e-4 * expected, `${name} opset ${opset}: loss ${loss}, PyTorch ${expected}`);
        assert.ok(Math.abs(expected - Math.log(10)) > 1e-3, `${name}: PyTorch's loss ${expected} is that of constant logits; the check would be weak`);
        // Rescaling: GELU and LayerNorm admit no factor, and say so naming the layer.
        const barriers = analyzeSymmetry(network.checkpoint, 'layer').barriers;
        assert.ok(barriers.some((b) => /Gelu$/.test(b.layer) && /activation 'gelu' is not homogeneous/.test(b.reason)), `${name}: no GELU barrier among ${barriers.length}`);
      } finally {
        objective.dispose();
        network.dispose();
      }
    });
  }
}
