/**
 * ε-sharpness against its exact value. A linear model under the squared error is exactly quadratic,
 * L(θ + δ) = L(θ) + gᵀδ + ½δᵀHδ, so the maximum over the ball ‖δ‖ ≤ ε is a trust-region problem
 * solved in float64 from H's eigendecomposition (the secular equation). The report claims the value
 * is a lower bound (the best of the restarts of a local search) and lists what each restart reached;
 * over many seeds, those claims must hold against the exact maximum.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import { Objective } from '../../src/engine/analysis/objective';
import { epsilonSharpness } from '../../src/engine/analysis/sharpness';
import { SeededRandom } from '../../src/engine/numeric/random';
import { mlpHessian, mlpPass, mlpProblem, mlpTheta } from '../reference/mlpHessian';
import { jacobiEigen } from '../reference/symmetricEigen';
import { TinyModelBuilder, randomInputs, randomValueTargets } from '../reference/tinyModels';

const SEEDS = 30;

/** max over ‖δ‖ ≤ ε of gᵀδ + ½δᵀHδ for symmetric H (row-major), by bisection on the secular equation ‖(μI − H)⁻¹g‖ = ε, μ > λ_max. */
function ballMaximum(gradient: Float64Array, hessian: Float64Array, n: number, epsilon: number): number {
  const { values, vectors } = jacobiEigen(hessian, n);
  const g = new Float64Array(n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) g[j] += vectors[i * n + j] * gradient[i];
  // The hard case (g orthogonal to the top eigenvector) would need a separate branch: rule it out.
  assert.ok(Math.abs(g[n - 1]) > 1e-3 * Math.hypot(...g), 'the gradient has a component along the top eigenvector');
  const top = values[n - 1];
  const stepNorm = (mu: number) => Math.hypot(...g.map((v, j) => v / (mu - values[j])));
  let low = top;
  let high = top + Math.hypot(...g) / epsilon;
  for (let k = 0; k < 200; k++) {
    const mid = (low + high) / 2;
    if (stepNorm(mid) > epsilon) low = mid;
    else high = mid;
  }
  const mu = (low + high) / 2;
  return g.reduce((s, v, j) => {
    const d = v / (mu - values[j]);
    return s + v * d + 0.5 * values[j] * d * d;
  }, 0);
}

function quadraticModel() {
  const [inputs, outputs, count] = [6, 3, 40];
  const builder = new TinyModelBuilder([inputs], 3);
  builder.dense(inputs, outputs, 'linear', { useBias: true });
  const tiny = builder.build();
  const x = randomInputs([inputs], count, 4);
  const targets = randomValueTargets(count, outputs, 5);
  const problem = mlpProblem(tiny, x, count, targets, 'mse');
  const theta = mlpTheta(tiny);
  const { loss, gradient } = mlpPass(problem, theta);
  const hessian = mlpHessian(problem, theta);
  const network = new NetworkFunction({ path: '<quadratic>', format: 'test', model: tiny.model, weights: tiny.weights, notes: [], source: { kind: 'none' } });
  const objective = new Objective(network, { source: 'seeded', count, sampleShape: [inputs], inputs: x, targets }, 'mse');
  /** The exact ε-sharpness (max L(θ + δ) − L(θ))/(1 + L(θ)). */
  const exact = (epsilon: number) => ballMaximum(gradient, hessian, problem.parameterCount, epsilon) / (1 + loss);
  return { objective, exact, dispose: () => (objective.dispose(), network.dispose()) };
}

test(`ε-sharpness over ${SEEDS} seeds on an exactly quadratic loss: a lower bound, each restart listed, the best of them`, async (t) => {
  await initBackend();
  const model = quadraticModel();
  try {
    const tensors = tf.memory().numTensors;
    for (const epsilon of [0.05, 0.5, 2]) {
      const exact = model.exact(epsilon);
      // float32 losses: the rise L(θ + δ) − L(θ) carries rounding of about 1e-7·L.
      const slack = 1e-5 * (1 + exact);
      const shortfalls: number[] = [];
      const randomStarts: number[] = [];
      let covered = 0;
      for (let seed = 1; seed <= SEEDS; seed++) {
        const result = await epsilonSharpness(model.objective, { radius: epsilon, iterations: 10, restarts: 3, random: new SeededRandom(seed) });
        assert.equal(result.restartValues.length, 3);
        assert.equal(result.value, Math.max(...result.restartValues), 'the value is the best restart');
        for (const v of result.restartValues) assert.ok(v <= exact + slack, `ε=${epsilon}, seed ${seed}: a restart reached ${v} above the exact maximum ${exact}`);
        shortfalls.push((exact - result.value) / exact);
        randomStarts.push(result.restartValues[1]);
        // A wide range across restarts is the report's warning that the search has not settled; it is
        // not a confidence interval: a short search can fall further below the maximum than its restarts spread.
        if (exact - result.value <= Math.max(...result.restartValues) - Math.min(...result.restartValues) + slack) covered++;
      }
      const worst = Math.max(...shortfalls);
      const distinct = new Set(randomStarts.map((v) => v.toPrecision(6))).size;
      t.diagnostic(`ε=${epsilon}: exact ${exact.toPrecision(6)}; worst shortfall ${(100 * worst).toFixed(2)}%; shortfall within the restarts' range in ${covered}/${SEEDS}; ${distinct} distinct random-start values`);
      assert.ok(covered >= 0.85 * SEEDS, `shortfall within the restarts' range in ${covered}/${SEEDS}`);
      assert.ok(distinct >= SEEDS - 2, 'random restarts differ from seed to seed');
      // Short searches on a curved ball fall short: a few percent at the largest radius, nothing at the smallest.
      assert.ok(worst <= (epsilon < 0.1 ? 1e-4 : 0.05), `worst shortfall ${worst}`);
    }
    assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
  } finally {
    model.dispose();
  }
});

test('ε-sharpness converges to the exact maximum with enough ascent steps', async () => {
  await initBackend();
  const model = quadraticModel();
  try {
    for (const epsilon of [0.5, 2, 5]) {
      const exact = model.exact(epsilon);
      const result = await epsilonSharpness(model.objective, { radius: epsilon, iterations: 40, restarts: 2, random: new SeededRandom(9) });
      assert.ok(Math.abs(result.value - exact) <= 1e-4 * exact, `ε=${epsilon}: ${result.value} vs exact ${exact}`);
    }
  } finally {
    model.dispose();
  }
});
