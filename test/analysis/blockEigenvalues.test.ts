import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/model/backend';
import { blockTopEigenvalues } from '../../src/engine/analysis/blockEigenvalues';
import { SeededRandom } from '../../src/engine/numeric/random';
import { symmetricEigenvalues } from '../reference/symmetricEigen';
import { buildMlp, exactReluMlp } from './calibrationSupport';

const SIZES = [6, 10, 8, 3];

/** Top eigenvalue of the exact diagonal block [offset, offset + size) of a row-major n×n Hessian. */
function exactBlockTop(hessian: Float64Array, n: number, offset: number, size: number): number {
  const block = new Float64Array(size * size);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) block[i * size + j] = hessian[(offset + i) * n + offset + j];
  const values = symmetricEigenvalues(block, size);
  return values[size - 1];
}

test('per-tensor top eigenvalues match the exact Hessian blocks; α-scaling one layer scales its block eigenvalue by 1/α² (and the next by α²)', async (t) => {
  await initBackend();
  const original = buildMlp(SIZES, 4);
  const alpha = 3;
  // ReLU is positively homogeneous: kernel 2 and bias 2 × α, kernel 3 / α keep the function.
  const scaled = {
    model: original.model,
    weights: original.weights.map((w) => {
      const factor = w.layer === 'dense_2' ? alpha : w.layer === 'dense_3' && w.role === 'kernel' ? 1 / alpha : 1;
      return { ...w, values: w.values.map((v) => v * factor) };
    }),
  };
  const before = exactReluMlp(SIZES, 24, 4, original);
  const after = exactReluMlp(SIZES, 24, 4, scaled);
  try {
    const tensors = tf.memory().numTensors;
    const options = { maxSteps: 200, tolerance: 1e-7 };
    const a = await blockTopEigenvalues(before.hvp, before.parameters, { ...options, random: new SeededRandom(5) });
    const b = await blockTopEigenvalues(after.hvp, after.parameters, { ...options, random: new SeededRandom(5) });
    assert.equal(tf.memory().numTensors, tensors, 'no tensors leak');
    a.forEach((entry, k) => {
      const p = before.parameters[k];
      const exact = exactBlockTop(before.hessian, before.n, p.offset, p.size);
      t.diagnostic(`${entry.name}: ${entry.value} (exact ${exact}, ${entry.steps} steps); scaled ${b[k].value}`);
      assert.ok(Math.abs(entry.value - exact) <= 1e-4 * Math.abs(exact) + 1e-7, `${entry.name}: ${entry.value} vs exact ${exact}`);
      const w = original.weights[k];
      const factor = w.layer === 'dense_2' ? alpha : w.layer === 'dense_3' && w.role === 'kernel' ? 1 / alpha : 1;
      const predicted = entry.value / factor ** 2;
      assert.ok(Math.abs(b[k].value - predicted) <= 1e-4 * Math.abs(predicted) + 1e-7, `${entry.name}: scaled ${b[k].value} vs λ/c² = ${predicted}`);
    });
  } finally {
    before.dispose();
    after.dispose();
  }
});
