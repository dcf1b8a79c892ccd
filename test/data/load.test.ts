import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync } from 'fflate';
import { loadDataset } from '../../src/engine/data/load';
import { fixtureFolder, gzip, idxBytes, npyBytes, problemMatching } from './fixtures';

const X = npyBytes('<f4', [3, 2], [1, 2, 3, 4, 5, 6]);

function npz(x: Uint8Array, y: Uint8Array): Uint8Array {
  return zipSync({ 'x.npy': x, 'y.npy': y });
}

test('load: content beats the name (gzip without .gz, npz named .bin, IDX with any name, JSON named .data)', async () => {
  const folder = await fixtureFolder();
  const gzipped = await folder.write('data.csv', gzip('1,2,0\n3,4,1\n'));
  assert.equal((await loadDataset(gzipped)).count, 2);
  const npzAsBin = await folder.write('arrays.bin', gzip(npz(X, npyBytes('<i8', [3], [0, 1, 0]))));
  assert.equal((await loadDataset(npzAsBin)).count, 3);
  const idx = await folder.write('images.raw', idxBytes(0x08, [1, 2], [0, 255]));
  await folder.write('labels.raw', idxBytes(0x08, [1], [4]));
  assert.deepEqual(Array.from((await loadDataset(idx)).inputs), [0, 1]);
  const json = await folder.write('set.data', '  {"x": [[1]], "y": [0]}');
  assert.equal((await loadDataset(json)).count, 1);
});

test('load: a .npy name with other content reports the wrong magic', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('x.npy', 'this is text');
  await assert.rejects(loadDataset(file), problemMatching(file, 'not a NumPy .npy file'));
});

test('load: unknown formats and missing files are FileProblems', async () => {
  const folder = await fixtureFolder();
  const unknown = await folder.write('model.weights', Uint8Array.from([1, 2, 3, 4]));
  await assert.rejects(loadDataset(unknown), problemMatching(unknown, 'unrecognized data format'));
  const missing = `${folder.dir}/nothing.csv`;
  await assert.rejects(loadDataset(missing), problemMatching(missing, 'file not found'));
});

test('load: label interpretation', async (t) => {
  const folder = await fixtureFolder();
  const load = async (name: string, y: Uint8Array) => loadDataset(await folder.write(name, npz(X, y)));

  await t.test('integral floats are classes', async () => {
    assert.deepEqual((await load('a.npz', npyBytes('<f8', [3], [2, 0, 1]))).targets, { kind: 'classes', classes: Int32Array.from([2, 0, 1]) });
  });
  await t.test('an [n, 1] column of integers is classes', async () => {
    assert.deepEqual((await load('b.npz', npyBytes('|u1', [3, 1], [1, 0, 1]))).targets, { kind: 'classes', classes: Int32Array.from([1, 0, 1]) });
  });
  await t.test('bool labels are classes 0/1', async () => {
    assert.deepEqual((await load('c.npz', npyBytes('|b1', [3], [1, 0, 0]))).targets, { kind: 'classes', classes: Int32Array.from([1, 0, 0]) });
  });
  await t.test('a 2-D integer matrix that is not one-hot is values (multi-label)', async () => {
    assert.deepEqual((await load('d.npz', npyBytes('<i4', [3, 2], [1, 1, 0, 1, 0, 0]))).targets, {
      kind: 'values',
      width: 2,
      values: Float32Array.from([1, 1, 0, 1, 0, 0]),
    });
  });
  await t.test('negative integer-dtype labels are an error naming the sample', async () => {
    const file = `${folder.dir}/e.npz`;
    await assert.rejects(load('e.npz', npyBytes('<i2', [3], [0, -2, 1])), problemMatching(file, 'sample 1', 'class label -2'));
  });
  await t.test('NaN labels are an error naming the sample', async () => {
    const file = `${folder.dir}/f.npz`;
    await assert.rejects(load('f.npz', npyBytes('<f4', [3], [0, 1, NaN])), problemMatching(file, 'label of sample 2 is NaN'));
  });
});

test('load: inputs of any dtype become float32; NaN and Inf name the sample', async () => {
  const folder = await fixtureFolder();
  const y = npyBytes('<i8', [2], [0, 1]);
  const ints = await folder.write('ints.npz', npz(npyBytes('<i8', [2, 2], [-3, 4, 5, 6]), y));
  assert.deepEqual((await loadDataset(ints)).inputs, Float32Array.from([-3, 4, 5, 6]));
  const nan = await folder.write('nan.npz', npz(npyBytes('<f8', [2, 2], [1, 2, 3, NaN]), y));
  await assert.rejects(loadDataset(nan), problemMatching(nan, 'sample 1', 'NaN'));
  const inf = await folder.write('inf.npz', npz(npyBytes('<f4', [2, 2], [Infinity, 2, 3, 4]), y));
  await assert.rejects(loadDataset(inf), problemMatching(inf, 'sample 0', 'Infinity'));
});

test('load: empty arrays and scalar inputs are errors', async () => {
  const folder = await fixtureFolder();
  const empty = await folder.write('empty.npz', npz(npyBytes('<f4', [0, 4], []), npyBytes('<i8', [0], [])));
  await assert.rejects(loadDataset(empty), problemMatching(empty, 'empty', '0 samples'));
  const scalar = await folder.write('scalar.npz', npz(npyBytes('<f4', [], [1]), npyBytes('<i8', [1], [0])));
  await assert.rejects(loadDataset(scalar), problemMatching(scalar, 'scalar'));
});
