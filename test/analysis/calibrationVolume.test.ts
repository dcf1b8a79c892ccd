/**
 * Volume ε-flatness against its exact value. A linear model under the squared error has the exactly
 * quadratic loss L(θ) + gᵀδ + ½δᵀHδ, so the ε-flat region is the ellipsoid ½(δ + H⁻¹g)ᵀH(δ + H⁻¹g) ≤ c,
 * c = ε + ½gᵀH⁻¹g, of volume V_n(1)·(2c)^{n/2}/√det H. Over many seeds the reported standard error
 * of the log-volume must cover that value as often as it claims.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { Objective } from '../../src/engine/analysis/objective';
import { logMeanPowerStderr, logUnitBallVolume, volumeFlatness } from '../../src/engine/analysis/volume';
import { SeededRandom } from '../../src/engine/numeric/random';
import { mlpHessian, mlpPass, mlpProblem, mlpTheta } from '../reference/mlpHessian';
import { jacobiEigen } from '../reference/symmetricEigen';
import { TinyModelBuilder, randomInputs, randomValueTargets } from '../reference/tinyModels';
import { zSummary } from './calibrationSupport';

const SEEDS = 40;

function quadraticModel(inputs: number, outputs: number) {
  const count = 40;
  const builder = new TinyModelBuilder([inputs], 3);
  builder.dense(inputs, outputs, 'linear', { useBias: true });
  const tiny = builder.build();
  const x = randomInputs([inputs], count, 4);
  const targets = randomValueTargets(count, outputs, 5);
  const problem = mlpProblem(tiny, x, count, targets, 'mse');
  const theta = mlpTheta(tiny);
  const n = problem.parameterCount;
  const { gradient } = mlpPass(problem, theta);
  const { values, vectors } = jacobiEigen(mlpHessian(problem, theta), n);
  let gHinvG = 0;
  let logDet = 0;
  for (let j = 0; j < n; j++) {
    let g = 0;
    for (let i = 0; i < n; i++) g += vectors[i * n + j] * gradient[i];
    gHinvG += (g * g) / values[j];
    logDet += Math.log(values[j]);
  }
  const network = new NetworkFunction({ path: '<quadratic>', format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } });
  const objective = new Objective(network, { source: 'seeded', count, sampleShape: [inputs], inputs: x, targets }, 'mse');
  const exactLogVolume = (epsilon: number) => logUnitBallVolume(n) + (n / 2) * Math.log(2 * (epsilon + gHinvG / 2)) - logDet / 2;
  return { n, objective, exactLogVolume, dispose: () => (objective.dispose(), network.dispose()) };
}

// The default 10 directions, and 30; 3 and 4 parameters (rⁿ is more heavy-tailed the larger n).
for (const [inputs, directions] of [[2, 10], [3, 10], [2, 30]]) {
  test(`calibration over ${SEEDS} seeds: log-volume ± its standard error covers the exact ellipsoid, ${inputs + 1} parameters, ${directions} directions`, async (t) => {
    await initBackend();
    const model = quadraticModel(inputs, 1);
    try {
      const epsilon = 0.1;
      const exact = model.exactLogVolume(epsilon);
      const z: number[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const v = await volumeFlatness(model.objective, { epsilon, directions, cap: 1000, bisections: 12, random: new SeededRandom(seed) });
        assert.equal(v.escapedFraction, 0);
        assert.ok(v.logVolumeStderr !== undefined && v.logVolumeStderr > 0);
        z.push((v.logVolume - exact) / v.logVolumeStderr);
      }
      const s = zSummary(z);
      t.diagnostic(`n=${model.n}: exact log-volume ${exact.toFixed(4)}; ${s.text}`);
      assert.ok(Math.abs(s.mean) <= 0.5, s.text);
      assert.ok(s.within2 >= 0.85, s.text);
    } finally {
      model.dispose();
    }
  });
}

test('log-volume standard error: the normal model of n·log r, none for equal radii or one direction, large when n is', () => {
  assert.equal(logMeanPowerStderr([0.5, 0.5, 0.5, 0.5], 7), 0);
  assert.equal(logMeanPowerStderr([0.3], 5), undefined);
  const radii = [0.3, 0.7, 1.1, 0.9, 0.4];
  const x = radii.map((r) => 3 * Math.log(r));
  const mean = x.reduce((a, b) => a + b) / x.length;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
  assert.ok(Math.abs(logMeanPowerStderr(radii, 3)! - Math.sqrt(variance / 5 + variance ** 2 / 8)) < 1e-12);
  // Radii 1% apart in 3,000 dimensions: rⁿ spans a factor e³⁰, so the mean over 10 directions says little.
  const spread = Array.from({ length: 10 }, (_, i) => 1 + 0.01 * (i - 4.5) / 3);
  assert.ok(logMeanPowerStderr(spread, 3000)! > 10, `${logMeanPowerStderr(spread, 3000)}`);
});
