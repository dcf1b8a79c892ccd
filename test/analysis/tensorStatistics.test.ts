import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultSpectralNormOptions, describeTensor, describeTensors, describeTensorsInTurn } from '../../src/engine/analysis/tensorStatistics';
import type { GramProductFactory } from '../../src/engine/exec/matrixProducts';
import { onnxGramProducts, smallestMatrixForOnnxRuntime } from '../../src/engine/exec/onnxruntime/gramProducts';
import { onnxRuntimeAvailable } from '../../src/engine/exec/onnxruntime/runtime';
import { SeededRandom } from '../../src/engine/numeric/random';
import { Cancelled } from '../../src/protocol/errors';
import { jacobiEigen } from '../reference/symmetricEigen';

/** σ₁ from the exact eigenvalues of the Gram matrix AᵀA (float64 Jacobi, independent of Lanczos). */
function exactSpectralNorm(a: Float32Array, rows: number, cols: number): number {
  const gram = new Float64Array(cols * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) for (let k = 0; k < cols; k++) gram[j * cols + k] += a[i * cols + j] * a[i * cols + k];
  const values = jacobiEigen(gram, cols).values;
  return Math.sqrt(values[cols - 1]);
}

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  return new SeededRandom(seed).normals(rows * cols);
}

test('spectral norm and stable rank match an exact eigen-decomposition of AᵀA', () => {
  for (const [rows, cols, seed] of [[20, 12, 1], [7, 30, 2], [64, 10, 3]] as const) {
    const values = randomMatrix(rows, cols, seed);
    const stats = describeTensor({ name: 'w', shape: [rows, cols], values }, 'first');
    const exact = rows >= cols ? exactSpectralNorm(values, rows, cols) : exactSpectralNorm(transpose(values, rows, cols), cols, rows);
    assert.ok(stats.matrix, 'a rank-2 tensor has a matrix view');
    assert.ok(stats.matrix.converged);
    assert.ok(Math.abs(stats.matrix.spectralNorm - exact) <= 1e-7 * exact, `${rows}x${cols}: ${stats.matrix.spectralNorm} vs exact ${exact}`);
    const frobeniusSquared = values.reduce((s, x) => s + x * x, 0);
    assert.ok(Math.abs(stats.l2Norm - Math.sqrt(frobeniusSquared)) <= 1e-9 * stats.l2Norm);
    assert.ok(Math.abs(stats.matrix.stableRank - frobeniusSquared / exact ** 2) <= 1e-6 * stats.matrix.stableRank);
    assert.ok(stats.matrix.stableRank >= 1 && stats.matrix.stableRank <= Math.min(rows, cols));
  }
});

test('a matrix with known singular values: diag(5, 3, 1) embedded by permutations', () => {
  const values = new Float32Array(4 * 3);
  values[0 * 3 + 2] = 3;
  values[2 * 3 + 0] = -5;
  values[3 * 3 + 1] = 1;
  const stats = describeTensor({ name: 'w', shape: [4, 3], values }, 'first');
  assert.ok(Math.abs(stats.matrix!.spectralNorm - 5) < 1e-9);
  assert.ok(Math.abs(stats.matrix!.stableRank - 35 / 25) < 1e-9);
  assert.equal(stats.maxAbs, 5);
  assert.ok(Math.abs(stats.mean - -1 / 12) < 1e-12);
});

test('a convolution kernel gives the same numbers in PyTorch (OIHW) and Keras (HWIO) layouts', () => {
  const [o, i, kh, kw] = [6, 3, 3, 2];
  const oihw = randomMatrix(o, i * kh * kw, 7);
  const hwio = new Float32Array(oihw.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) hwio[((y * kw + x) * i + b) * o + a] = oihw[((a * i + b) * kh + y) * kw + x];
  const torch = describeTensor({ name: 'conv.weight', shape: [o, i, kh, kw], values: oihw }, 'first');
  const keras = describeTensor({ name: 'conv/kernel', shape: [kh, kw, i, o], values: hwio }, 'last');
  assert.deepEqual([torch.matrix!.rows, torch.matrix!.cols], [6, 18]);
  assert.deepEqual([keras.matrix!.rows, keras.matrix!.cols], [6, 18]);
  assert.ok(Math.abs(torch.matrix!.spectralNorm - keras.matrix!.spectralNorm) <= 1e-9 * torch.matrix!.spectralNorm);
  assert.ok(Math.abs(torch.matrix!.spectralNorm - exactSpectralNorm(oihw, o, i * kh * kw)) <= 1e-7 * torch.matrix!.spectralNorm);
});

test('rescaling a kernel by α scales its norms by α and keeps its stable rank (Dinh et al.)', () => {
  const values = randomMatrix(16, 9, 11);
  const alpha = 7.5;
  const [before, after] = describeTensors(
    [
      { name: 'w', shape: [16, 9], values },
      { name: 'w', shape: [16, 9], values: values.map((v) => v * alpha) },
    ],
    'last',
  );
  assert.ok(Math.abs(after.matrix!.spectralNorm / before.matrix!.spectralNorm - alpha) < 1e-6);
  assert.ok(Math.abs(after.l2Norm / before.l2Norm - alpha) < 1e-6);
  assert.ok(Math.abs(after.matrix!.stableRank - before.matrix!.stableRank) < 1e-6 * before.matrix!.stableRank);
});

test('vectors have no matrix view; non-finite values are counted and leave the matrix out', () => {
  const bias = describeTensor({ name: 'b', shape: [3], values: new Float32Array([1, -2, 2]) }, 'first');
  assert.equal(bias.matrix, undefined);
  assert.equal(bias.l2Norm, 3);
  const broken = describeTensor({ name: 'w', shape: [2, 2], values: new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY, 4]) }, 'first');
  assert.equal(broken.nonFinite, 2);
  assert.equal(broken.matrix, undefined);
  assert.equal(broken.maxAbs, 4);
  const zero = describeTensor({ name: 'z', shape: [3, 3], values: new Float32Array(9) }, 'first');
  assert.equal(zero.matrix!.spectralNorm, 0);
  assert.equal(zero.matrix!.stableRank, 0);
});

function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

test('on large kernels the description lets the event loop run between Lanczos steps, gives the same numbers, and stops on a cancel', async () => {
  const tensors = [
    { name: 'big', shape: [1200, 900], values: randomMatrix(1200, 900, 21) },
    { name: 'small', shape: [30, 20], values: randomMatrix(30, 20, 22) },
  ];
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 5);
  const fractions: number[] = [];
  try {
    const inTurn = await describeTensorsInTurn(tensors, 'first', { onProgress: (fraction) => fractions.push(fraction) });
    const atOnce = describeTensors(tensors, 'first');
    assert.deepEqual(inTurn, atOnce);
    assert.ok(fractions.every((f, i) => i === 0 || f >= fractions[i - 1]), 'progress never goes back');
    assert.ok(fractions.includes((1200 * 900) / (1200 * 900 + 600)) && fractions[fractions.length - 1] === 1, `progress by values described: ${fractions.join(', ')}`);
    const started = performance.now();
    await describeTensorsInTurn(tensors, 'first');
    const seconds = (performance.now() - started) / 1000;
    // Only a description that takes several slices of 50 ms can show that the loop turned.
    if (seconds > 0.3) assert.ok(ticks >= 2, `a timer ran ${ticks} times in ${seconds.toFixed(2)} s of description`);
  } finally {
    clearInterval(ticker);
  }
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 1);
  await assert.rejects(describeTensorsInTurn(tensors, 'first', { signal: controller.signal }), (error) => error instanceof Cancelled);
});

test('a large kernel\'s spectral norm on ONNX Runtime (float32 Gram products) equals the float64 JavaScript one to 1e-6, in both orientations', { skip: !onnxRuntimeAvailable() }, () => {
  for (const [rows, cols, seed] of [[1500, 800, 31], [700, 1600, 32]] as const) {
    const values = randomMatrix(rows, cols, seed);
    assert.ok(values.length >= smallestMatrixForOnnxRuntime, 'large enough to take the ONNX Runtime path');
    let built = 0;
    const factory = onnxGramProducts({ threads: 1 });
    const counting: GramProductFactory = (a, r, c) => {
      const product = factory(a, r, c);
      if (product) built++;
      return product;
    };
    const onOnnxRuntime = describeTensor({ name: 'w', shape: [rows, cols], values }, 'first', { ...defaultSpectralNormOptions, products: counting });
    const inJavaScript = describeTensor({ name: 'w', shape: [rows, cols], values }, 'first');
    assert.equal(built, 1);
    assert.ok(onOnnxRuntime.matrix?.converged && inJavaScript.matrix?.converged);
    const [a, b] = [onOnnxRuntime.matrix.spectralNorm, inJavaScript.matrix.spectralNorm];
    assert.ok(Math.abs(a - b) <= 1e-6 * b, `${rows}x${cols}: ${a} on ONNX Runtime vs ${b}`);
  }
});
