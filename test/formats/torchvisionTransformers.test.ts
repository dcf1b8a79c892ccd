/**
 * torchvision's ConvNeXt-tiny and ViT-B/16 exported to ONNX by torch.onnx as a user would
 * (num_classes = 10, eval mode, 32×32 inputs; test/fixtures/torchvision_transformers_export.py):
 * each loads, and its mean cross-entropy on a seeded batch equals PyTorch's to 1e-4 relative.
 * ConvNeXt: depthwise 7×7 convolutions, Transpose to channels-last and back, LayerNorm over the last
 * axis (decomposed at opset 13), MatMul on 4-D tensors, GELU, the per-channel layer scale.
 * ViT: patches reshaped to tokens, the class token expanded over the batch and concatenated, the
 * positional embedding added, torch's sequence-first multi-head attention (batch merged with the
 * heads, batched MatMul of two computed values, softmax over keys, 1/√d), the class token gathered.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Objective } from '../../src/engine/analysis/objective';
import { initBackend } from '../../src/engine/model/backend';
import { analyzeSymmetry } from '../../src/engine/symmetry/symmetry';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { TORCHVISION_SAMPLES, torchvisionObjective, type TorchReference } from '../fixtures/torchvisionModels';

const models: Record<string, number[]> = { convnext_tiny: [13, 17], VisionTransformer: [13, 17], vit_b_16: [17] };
/** Both opsets on a two-layer, two-head ViT (torchvision's VisionTransformer class, which vit_b_16 builds); ViT-B/16 itself (86M parameters) once. */
const options: Record<string, Record<string, unknown>> = {
  VisionTransformer: { image_size: 32, patch_size: 8, num_layers: 2, num_heads: 2, hidden_dim: 16, mlp_dim: 32 },
  vit_b_16: { image_size: 32 },
};

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
        if (name === 'VisionTransformer') {
          // Shapes that merge the batch with the heads stay symbolic: batches of 3 and 1 give the same mean.
          const uneven = new Objective(network, { source: 'uneven batches', count: TORCHVISION_SAMPLES, sampleShape: [32, 32, 3], inputs: Float32Array.from(references[name].inputs), targets: { kind: 'classes', classes: Int32Array.from(references[name].labels) } }, 'ce', 3);
          assert.ok(Math.abs(uneven.value() - loss) <= 1e-6 * loss, `${name}: batches of 3 and 1 give ${uneven.value()}, one batch ${loss}`);
          uneven.dispose();
        }
        const barriers = analyzeSymmetry(network.checkpoint, 'layer').barriers;
        assert.ok(barriers.some((b) => /Gelu$/.test(b.layer) && /activation 'gelu' is not homogeneous/.test(b.reason)), `${name}: no GELU barrier among ${barriers.length}`);
      } finally {
        objective.dispose();
        network.dispose();
      }
    });
  }
}
