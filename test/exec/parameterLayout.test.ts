/**
 * Convolution kernels enter the ONNX Runtime graphs as ONNX filters, transposed in JavaScript: the
 * transpose against the index formula, and the way back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterLayout, fromGraphLayout, permuteAxes, toGraphLayout } from '../../src/engine/exec/onnxruntime/parameterLayout';

const shape = [3, 2, 37, 45];
const x = Float32Array.from({ length: 3 * 2 * 37 * 45 }, (_, i) => Math.sin(i) * 100);

test('permuteAxes moves every value where the index formula says', () => {
  for (const perm of [[3, 2, 0, 1], [2, 3, 1, 0], [2, 3, 0, 1], [1, 0, 2, 3], [0, 2, 1, 3], [0, 1, 3, 2], [2, 0, 1, 3], [1, 2, 3, 0], [3, 1, 2, 0], [1, 3, 0, 2], [0, 1, 2, 3]]) {
    const y = permuteAxes(x, shape, perm);
    const out = perm.map((p) => shape[p]);
    const index = [0, 0, 0, 0];
    for (let o = 0; o < y.length; o++) {
      let rest = o;
      for (let k = 3; k >= 0; k--) {
        index[k] = rest % out[k];
        rest = Math.floor(rest / out[k]);
      }
      const source = [0, 0, 0, 0];
      perm.forEach((p, k) => (source[p] = index[k]));
      const at = ((source[0] * shape[1] + source[1]) * shape[2] + source[2]) * shape[3] + source[3];
      if (y[o] !== x[at]) assert.fail(`perm [${perm}]: value ${o} is ${y[o]}, expected ${x[at]}`);
    }
  }
});

test('a Conv2D kernel (HWIO) becomes the filter [O, I, kh, kw], a depthwise one [C·m, 1, kh, kw], and each comes back unchanged', () => {
  const conv = filterLayout('Conv2D', 'kernel', shape)!;
  assert.deepEqual(conv.graphShape, [45, 37, 3, 2]);
  const depthwise = filterLayout('DepthwiseConv2D', 'depthwise_kernel', shape)!;
  assert.deepEqual(depthwise.graphShape, [37 * 45, 1, 3, 2]);
  assert.equal(filterLayout('Dense', 'kernel', shape), undefined);
  for (const layout of [conv, depthwise]) {
    const inGraph = toGraphLayout(layout, shape, x);
    assert.deepEqual(Array.from(fromGraphLayout(layout, shape, Float64Array.from(inGraph))), Array.from(x));
  }
  // The filter's value for output o, input i, tap (h, w) is the kernel's [h, w, i, o].
  const filters = toGraphLayout(conv, shape, x);
  assert.equal(filters[((7 * 37 + 5) * 3 + 2) * 2 + 1], x[((2 * 2 + 1) * 37 + 5) * 45 + 7]);
});

test('both ways write into the array handed in, with the values of a new one', () => {
  const conv = filterLayout('Conv2D', 'kernel', shape)!;
  const into = new Float32Array(x.length).fill(Number.NaN);
  const laid = toGraphLayout(conv, shape, x, into);
  assert.equal(laid, into);
  assert.deepEqual(Array.from(laid), Array.from(toGraphLayout(conv, shape, x)));
  const back = new Float32Array(x.length).fill(Number.NaN);
  assert.equal(fromGraphLayout(conv, shape, laid, back), back);
  assert.deepEqual(Array.from(back), Array.from(x));
  const plain = new Float32Array(x.length);
  assert.equal(fromGraphLayout({ graphShape: shape }, shape, Float64Array.from(x), plain), plain);
  assert.deepEqual(Array.from(plain), Array.from(x));
});
