/**
 * Gram-Schmidt passes on ONNX Runtime (src/engine/exec/onnxruntime/projections.ts) equal the float64
 * JavaScript pass, for any number of basis rows in one session; and a Lanczos run that
 * reorthogonalizes natively gives the same tridiagonal as one that does it in JavaScript.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { onnxProjections } from '../../src/engine/exec/onnxruntime/projections';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { subtractProjections } from '../../src/engine/analysis/flatVectors';
import { lanczos } from '../../src/engine/analysis/lanczos';
import type { HessianOperator } from '../../src/engine/analysis/hessianOperator';
import { seededNormals } from '../reference/vectorChecks';

const available = onnxRuntimeAvailable();
const n = 70_000;

/** Rows of an orthonormal basis (float64 Gram-Schmidt, stored in float32), contiguous. */
function orthonormalRows(count: number, seed: number): Float32Array {
  const rows = new Float32Array(count * n);
  const kept: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const v = Float64Array.from(seededNormals(n, seed + i));
    subtractProjections([v], kept);
    subtractProjections([v], kept);
    const length = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const row = rows.subarray(i * n, (i + 1) * n);
    for (let e = 0; e < n; e++) row[e] = v[e] / length;
    kept.push(row);
  }
  return rows;
}

test('a native Gram-Schmidt pass equals the float64 JavaScript one, for 1 to 8 rows in one session', { skip: !available }, () => {
  const runner = onnxProjections({ threads: 1 });
  try {
    const basis = orthonormalRows(8, 40);
    for (const rows of [1, 3, 8]) {
      const native = [Float64Array.from(seededNormals(n, 7)), Float64Array.from(seededNormals(n, 8))];
      const reference = native.map((v) => Float64Array.from(v));
      runner.subtract(native, basis, rows);
      subtractProjections(reference, Array.from({ length: rows }, (_, i) => basis.subarray(i * n, (i + 1) * n)));
      native.forEach((v, k) => {
        let difference = 0;
        let size = 0;
        for (let e = 0; e < n; e++) {
          difference = Math.max(difference, Math.abs(v[e] - reference[k][e]));
          size = Math.max(size, Math.abs(reference[k][e]));
        }
        assert.ok(difference <= 1e-5 * size, `${rows} rows, vector ${k}: max difference ${difference} of ${size}`);
      });
    }
  } finally {
    runner.dispose();
  }
});

test('Lanczos with native reorthogonalization gives the float64 one\'s tridiagonal', { skip: !available }, async () => {
  // A diagonal operator with a known spectrum: a few outliers above a bulk.
  const diagonal = Float32Array.from({ length: n }, (_, i) => (i < 5 ? 100 - 10 * i : Math.sin(i) * 2));
  const operatorWith = (projections?: HessianOperator['projections']): HessianOperator => ({
    parameters: [],
    dimension: n,
    products: (directions) => directions.map((v) => v.map((x, i) => x * diagonal[i])),
    ...(projections ? { projections } : {}),
  });
  const runner = onnxProjections({ threads: 1 });
  try {
    const start = seededNormals(n, 3);
    let passes = 0;
    const counted = { minimumDimension: runner.minimumDimension, subtract: (...args: Parameters<typeof runner.subtract>) => (passes++, runner.subtract(...args)) };
    const native = await lanczos(operatorWith(counted), start, { steps: 20, keepBasis: false });
    assert.ok(passes >= 19, `the native runner made ${passes} passes`);
    const plain = await lanczos(operatorWith(), start, { steps: 20, keepBasis: false });
    assert.equal(native.steps, 20);
    native.alpha.forEach((a, i) => assert.ok(Math.abs(a - plain.alpha[i]) <= 1e-4 * 100, `α${i}: ${a} vs ${plain.alpha[i]}`));
    native.beta.forEach((b, i) => assert.ok(Math.abs(b - plain.beta[i]) <= 1e-4 * 100, `β${i}: ${b} vs ${plain.beta[i]}`));
  } finally {
    runner.dispose();
  }
});
