import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/model/backend';
import { hessianTopEigenvalues } from '../../src/engine/analysis/eigenvalues';
import { spectralDensity } from '../../src/engine/analysis/density';
import { disposeVector } from '../../src/engine/analysis/vectors';
import { SeededRandom } from '../../src/engine/numeric/random';
import { exactReluMlp, zSummary } from './calibrationSupport';

test('spectral density reuses the eigenvalues\' Lanczos run: one run fewer in products, the same measure, first moment calibrated over 30 seeds', async (t) => {
  await initBackend();
  const model = exactReluMlp([6, 10, 3], 24, 21);
  try {
    const exactMean = model.trace / model.n;
    const exactSecond = Array.from(model.eigenvalues).reduce((s, l) => s + l * l, 0) / model.n;
    const z: number[] = [];
    for (let seed = 1; seed <= 30; seed++) {
      const random = new SeededRandom(seed);
      const eigen = await hessianTopEigenvalues(model.hvp, model.parameters, { count: 3, maxSteps: 20, tolerance: 1e-3, random: random.fork('eigenvalues') });
      disposeVector(eigen.topVector);
      const before = model.hvpCount();
      const density = await spectralDensity(model.hvp, model.parameters, { runs: 4, steps: 12, reuse: [eigen.tridiagonal], random: random.fork('density') });
      assert.equal(model.hvpCount() - before, 3 * 12, 'three new runs of 12 steps');
      assert.equal(density.reusedRuns, 1);
      assert.deepEqual(density.stepsPerRun, [eigen.lanczosSteps, 12, 12, 12]);
      const weightSum = density.weights.reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(weightSum - 1) < 1e-9, `weights sum to ${weightSum}`);
      // Each run's quadrature gives vᵀHv of its unit Gaussian start: E = Tr H / n, Var ≤ 2·E[λ²]/n per run (Gaussian start, large n).
      const firstMoment = density.nodes.reduce((s, x, j) => s + x * density.weights[j], 0);
      const stderr = Math.sqrt((2 * (exactSecond - exactMean ** 2)) / (model.n + 2) / 4);
      z.push((firstMoment - exactMean) / stderr);
    }
    const s = zSummary(z);
    t.diagnostic(`first moment: ${s.text}`);
    assert.ok(Math.abs(s.mean) <= 0.5, s.text);
    assert.ok(s.within2 >= 0.85, s.text);
  } finally {
    model.dispose();
  }
});
