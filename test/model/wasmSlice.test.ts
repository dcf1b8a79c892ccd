/**
 * The wasm Slice kernel that src/engine/model/wasmSlice.ts puts in place of the stock one must give exactly
 * what the cpu backend gives and what a plain JS slice gives: random shapes of rank 1–6, random
 * begin/size (including size −1, whole axes, empty slices and empty axes), float32, int32 and bool.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../src/engine/model/backend';
import { seededUniform } from '../reference/tinyModels';

type Values = Float32Array | Int32Array | Uint8Array;

/** Row-major slice of `data` with `shape`, in plain JS (size −1 means "to the end"). */
function sliceReference(data: ArrayLike<number>, shape: readonly number[], begin: readonly number[], size: readonly number[]): number[] {
  const rank = shape.length;
  const resolved = size.map((s, i) => (s === -1 ? shape[i] - begin[i] : s));
  const strides = new Array<number>(rank);
  for (let j = rank - 1, s = 1; j >= 0; j--) {
    strides[j] = s;
    s *= shape[j];
  }
  const out: number[] = [];
  const count = resolved.reduce((a, b) => a * b, 1);
  const index = new Array<number>(rank).fill(0);
  for (let k = 0; k < count; k++) {
    let offset = 0;
    for (let j = 0; j < rank; j++) offset += (begin[j] + index[j]) * strides[j];
    out.push(data[offset]);
    for (let j = rank - 1; j >= 0; j--) {
      if (++index[j] < resolved[j]) break;
      index[j] = 0;
    }
  }
  return out;
}

interface SliceCase {
  readonly shape: number[];
  readonly begin: number[];
  readonly size: number[];
  readonly dtype: 'float32' | 'int32' | 'bool';
}

function randomCase(uniform: () => number): SliceCase {
  const rank = 1 + Math.floor(uniform() * 6);
  const pick = (n: number) => Math.floor(uniform() * n);
  const shape: number[] = [];
  const begin: number[] = [];
  const size: number[] = [];
  for (let j = 0; j < rank; j++) {
    // Mostly small axes; one in 25 is an empty axis.
    const d = uniform() < 0.04 ? 0 : 1 + pick(rank > 4 ? 4 : 7);
    shape.push(d);
    const mode = uniform();
    if (mode < 0.25) {
      begin.push(0);
      size.push(d); // the whole axis
    } else if (mode < 0.4) {
      const b = pick(d + 1);
      begin.push(b);
      size.push(-1); // to the end
    } else if (mode < 0.47) {
      const b = pick(d + 1);
      begin.push(b);
      size.push(0); // an empty slice
    } else {
      const b = pick(d + 1);
      begin.push(b);
      size.push(pick(d - b + 1));
    }
  }
  const r = uniform();
  return { shape, begin, size, dtype: r < 0.6 ? 'float32' : r < 0.85 ? 'int32' : 'bool' };
}

function valuesFor(c: SliceCase, uniform: () => number): Values {
  const n = c.shape.reduce((a, b) => a * b, 1);
  if (c.dtype === 'float32') return Float32Array.from({ length: n }, () => uniform() * 200 - 100);
  if (c.dtype === 'int32') return Int32Array.from({ length: n }, () => Math.floor(uniform() * 2 ** 32) | 0);
  return Uint8Array.from({ length: n }, () => (uniform() < 0.5 ? 1 : 0));
}

function sliceOn(values: Values, c: SliceCase): { shape: number[]; data: number[] } {
  return tf.tidy(() => {
    const x = tf.tensor(values, c.shape, c.dtype);
    const y = tf.slice(x, c.begin, c.size);
    return { shape: y.shape, data: Array.from(y.dataSync() as ArrayLike<number>) };
  });
}

const CASES = 400;

test('the replaced wasm Slice kernel equals a plain JS slice and the cpu backend, rank 1–6', async () => {
  const info = await initBackend();
  assert.equal(info.name, 'wasm', `tests expect the wasm backend (${info.note})`);
  // The kernel under test is the one that copies inside the wasm heap, not tfjs's stock kernel.
  assert.match(tf.getKernel(tf.Slice, 'wasm')!.kernelFunc.toString(), /copyWithin/, 'the fast Slice kernel is registered');
  const uniform = seededUniform(2024);
  const cases = Array.from({ length: CASES }, () => randomCase(uniform));
  const inputs = cases.map((c) => valuesFor(c, uniform));
  assert.ok(cases.some((c) => c.size.includes(0)) && cases.some((c) => c.shape.includes(0)), 'empty slices and empty axes are covered');
  assert.ok(new Set(cases.map((c) => c.shape.length)).size === 6, 'every rank 1–6 is covered');

  const before = tf.memory().numTensors;
  const onWasm = cases.map((c, i) => sliceOn(inputs[i], c));
  assert.equal(tf.memory().numTensors, before, 'no tensors leaked');
  await tf.setBackend('cpu');
  let onCpu: { shape: number[]; data: number[] }[];
  try {
    onCpu = cases.map((c, i) => sliceOn(inputs[i], c));
  } finally {
    await tf.setBackend('wasm');
  }
  assert.equal(tf.getBackend(), 'wasm');
  cases.forEach((c, i) => {
    const label = `${c.dtype} shape [${c.shape}] begin [${c.begin}] size [${c.size}]`;
    const expectedShape = c.size.map((s, j) => (s === -1 ? c.shape[j] - c.begin[j] : s));
    const expected = sliceReference(inputs[i], c.shape, c.begin, c.size);
    assert.deepEqual(onWasm[i].shape, expectedShape, `${label}: shape`);
    assert.deepEqual(onCpu[i].shape, expectedShape, `${label}: cpu shape`);
    assert.deepEqual(onWasm[i].data, expected, `${label}: wasm vs JS`);
    assert.deepEqual(onWasm[i].data, onCpu[i].data, `${label}: wasm vs cpu`);
  });
});

test('wasm Slice: hand-picked edge cases (scalar begin, inner partial axis after full axes, last element)', async () => {
  await initBackend();
  const values = Float32Array.from({ length: 2 * 3 * 4 * 5 }, (_, i) => i);
  const shape = [2, 3, 4, 5];
  const cases: [number[], number[]][] = [
    [[0, 0, 0, 0], [-1, -1, -1, -1]],
    [[1, 2, 3, 4], [1, 1, 1, 1]],
    [[0, 1, 0, 0], [2, 1, 4, 5]], // a partial axis followed by full axes: one contiguous run per outer index
    [[0, 0, 0, 2], [2, 3, 4, 3]], // only the innermost axis partial
    [[1, 0, 0, 0], [1, 3, 4, 5]], // the second half, contiguous
    [[0, 0, 1, 0], [2, 3, 2, -1]],
  ];
  for (const [begin, size] of cases) {
    const actual = tf.tidy(() => Array.from(tf.slice(tf.tensor(values, shape), begin, size).dataSync()));
    assert.deepEqual(actual, sliceReference(values, shape, begin, size), `begin [${begin}] size [${size}]`);
  }
  const vector = tf.tensor1d([5, 6, 7, 8, 9]);
  assert.deepEqual(Array.from(tf.slice(vector, 2, 2).dataSync()), [7, 8], 'number begin and size on rank 1');
  assert.deepEqual(Array.from(tf.slice(vector, [3]).dataSync()), [8, 9], 'size omitted');
  vector.dispose();
});

test('wasm Slice: correct when the output allocation grows the wasm heap', async () => {
  await initBackend();
  // 24 MB in and 12 MB out: the kernel must read the heap view after allocating the output.
  const n = 6 * 1024 * 1024;
  const values = Float32Array.from({ length: n }, (_, i) => (i % 1000003) * 0.5);
  const result = tf.tidy(() => {
    const x = tf.tensor2d(values, [2, n / 2]);
    const keep = [tf.slice(x, [1, 0], [1, -1]), tf.slice(x, [0, 7], [2, 1000])];
    return keep.map((t) => t.dataSync() as Float32Array);
  });
  assert.deepEqual(Array.from(result[0].subarray(0, 5)), Array.from(values.subarray(n / 2, n / 2 + 5)));
  assert.deepEqual(Array.from(result[0].subarray(result[0].length - 3)), Array.from(values.subarray(n - 3)));
  assert.ok(result[0].every((v, i) => v === values[n / 2 + i]), 'the whole second row');
  assert.deepEqual(Array.from(result[1]), sliceReference(values, [2, n / 2], [0, 7], [2, 1000]));
});
