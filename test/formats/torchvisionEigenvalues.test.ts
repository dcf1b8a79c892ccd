/**
 * The top Hessian eigenvalue of torchvision's small classifiers (at most 5M parameters; num_classes =
 * 10, eval mode so Dropout is off, 32×32 inputs, a seeded batch of 8), exported to ONNX at opset 17
 * by test/fixtures/torchvision_export.py: the engine's Lanczos on ONNX Runtime equals PyTorch's to 1%
 * relative, and on tfjs too for two of them. PyTorch's reference is independent of the engine:
 * scipy's eigsh (ARPACK) on double-backprop Hessian-vector products of the model in float64, with
 * its own relative residual ‖Hv − λv‖/|λ| checked here.
 *
 * torch.onnx folds each BatchNormalization into the convolution before it, so the file's parameters
 * are the folded convolutions' weights and biases, not PyTorch's convolution and BatchNormalization
 * parameters: a different function of different parameters, with a different Hessian. The export
 * therefore folds BatchNormalization on the PyTorch side first (and refuses a model where some cannot
 * be folded), and each check starts by matching the engine's parameters to PyTorch's one for one,
 * by name and shape. RegNet-X-400MF has 5.08M parameters: RegNet-Y-400MF (squeeze-and-excitation)
 * stands for the RegNets here.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { hessianTopEigenvalues } from '../../src/engine/analysis/eigenvalues';
import { disposeVector } from '../../src/engine/analysis/vectors';
import { onnxExecutorFactory } from '../../src/engine/exec/onnxruntime/executorFactory';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { initBackend } from '../../src/engine/model/backend';
import { SeededRandom } from '../../src/engine/numeric/random';
import { missingPythonModules } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';
import { assertParametersMatchTorch, exportTorchvision, torchvisionObjective, type TorchReference } from '../fixtures/torchvisionModels';

const models = ['squeezenet1_1', 'shufflenet_v2_x0_5', 'mnasnet0_5', 'mobilenet_v3_small', 'mobilenet_v2', 'regnet_y_400mf', 'efficientnet_b0'];
/** A cross-check of the tfjs engine on the smallest two: its Hessian-vector products of the larger ones take seconds each. */
const onTfjsToo = new Set(['squeezenet1_1', 'shufflenet_v2_x0_5']);
const SAMPLES = 8;

const missing = missingPythonModules(['torch', 'torchvision', 'onnx', 'scipy']);
const { root } = caseFolders('torchvision-eigenvalues');
let references: Record<string, TorchReference> = {};

before(async () => {
  await initBackend();
  if (!missing) references = exportTorchvision(root, Object.fromEntries(models.map((name) => [name, [17]])), models, SAMPLES);
});

const engines = (name: string) => [...(onnxRuntimeAvailable() ? ['onnxruntime' as const] : []), ...(onTfjsToo.has(name) || !onnxRuntimeAvailable() ? ['tfjs' as const] : [])];

for (const name of models) {
  for (const engine of engines(name)) {
    test(`torchvision ${name}: the top Hessian eigenvalue on ${engine} equals PyTorch's float64 eigsh to 1%`, { skip: missing }, async (t) => {
      const reference = references[name];
      assert.ok(reference.eigenResidual! <= 1e-5, `${name}: PyTorch's eigenvalue ${reference.topEigenvalue} has not converged (relative residual ${reference.eigenResidual})`);
      const started = Date.now();
      const { objective, network } = await torchvisionObjective(root, name, 17, reference, engine === 'onnxruntime' ? onnxExecutorFactory({ threads: 1 }) : undefined);
      try {
        assertParametersMatchTorch(network, name, reference);
        const loss = objective.value();
        assert.ok(Math.abs(loss - reference.loss) <= 1e-4 * reference.loss, `${name}: loss ${loss}, PyTorch ${reference.loss}`);
        const result = await hessianTopEigenvalues((v) => objective.hessianVectorProduct(v), objective.parameters, { count: 1, maxSteps: 40, tolerance: 1e-4, random: new SeededRandom(3) });
        disposeVector(result.topVector);
        const [value] = result.values;
        const expected = reference.topEigenvalue!;
        const deviation = Math.abs(value - expected) / Math.abs(expected);
        t.diagnostic(
          `${name} (${network.parameterCount} parameters) on ${engine}: engine λ₁ ${value} (${result.lanczosSteps} Lanczos steps, residual ${result.relativeResiduals[0].toExponential(1)}), ` +
            `PyTorch ${expected} (${reference.hessianProducts} products, residual ${reference.eigenResidual!.toExponential(1)}), relative deviation ${deviation.toExponential(2)}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
        );
        assert.ok(deviation <= 0.01, `${name} on ${engine}: engine λ₁ ${value}, PyTorch ${expected}`);
      } finally {
        objective.dispose();
        network.dispose();
      }
    });
  }
}
