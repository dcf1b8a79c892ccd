import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/engine/data/load';
import { parseNpy } from '../../src/engine/data/npy';
import { fixtureFolder, gzip, npyBytes, problemMatching, asNumbers } from './fixtures';

const SAMPLE_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 100, 127];

for (const descr of ['<f4', '<f8', '|u1', '|i1', '<i2', '<u2', '<i4', '<u4', '<i8', '<u8', '>f4', '>f8', '>i2', '>u2', '>i4', '>u4', '>i8', '>u8']) {
  test(`npy: reads dtype ${descr}`, () => {
    const array = parseNpy('a.npy', npyBytes(descr, [2, 5], SAMPLE_VALUES));
    assert.deepEqual(array.shape, [2, 5]);
    assert.deepEqual(asNumbers(array.values), SAMPLE_VALUES);
  });
}

test('npy: reads negative and fractional values', () => {
  assert.deepEqual(asNumbers(parseNpy('a.npy', npyBytes('<i8', [3], [-5, 0, 7])).values), [-5, 0, 7]);
  assert.deepEqual(asNumbers(parseNpy('a.npy', npyBytes('>f8', [2], [-1.5, 0.25])).values), [-1.5, 0.25]);
});

test('npy: reads bool as 0/1', () => {
  assert.deepEqual(asNumbers(parseNpy('a.npy', npyBytes('|b1', [3], [1, 0, 1])).values), [1, 0, 1]);
});

for (const version of [1, 2, 3] as const) {
  test(`npy: reads format version ${version}`, () => {
    const array = parseNpy('a.npy', npyBytes('<f4', [2, 2], [1, 2, 3, 4], { version }));
    assert.deepEqual(asNumbers(array.values), [1, 2, 3, 4]);
  });
}

test('npy: reads a scalar-shaped header as one element', () => {
  assert.deepEqual(parseNpy('a.npy', npyBytes('<f4', [], [7])).shape, []);
});

test('npy: refuses Fortran order for 2-D arrays but not for 1-D', () => {
  assert.throws(() => parseNpy('f.npy', npyBytes('<f4', [2, 2], [1, 2, 3, 4], { fortranOrder: true })), problemMatching('f.npy', 'Fortran'));
  assert.equal(parseNpy('f.npy', npyBytes('<f4', [4], [1, 2, 3, 4], { fortranOrder: true })).values.length, 4);
});

test('npy: refuses unknown and structured dtypes, naming them', () => {
  const bytes = npyBytes('<f4', [1], [1]);
  const text = new TextDecoder('latin1').decode(bytes).replace("'<f4'", "'<U1'");
  assert.throws(() => parseNpy('u.npy', Uint8Array.from(text, (c) => c.charCodeAt(0))), problemMatching('u.npy', "unsupported dtype '<U1'", '<f4'));
  const structured = new TextDecoder('latin1').decode(bytes).replace("'<f4', ", "[('a', '<f4')],");
  assert.throws(() => parseNpy('s.npy', Uint8Array.from(structured, (c) => c.charCodeAt(0))), problemMatching('s.npy', 'structured'));
});

test('npy: reports wrong magic, truncated header and truncated data', () => {
  assert.throws(() => parseNpy('m.npy', new TextEncoder().encode('not numpy at all')), problemMatching('m.npy', 'not a NumPy .npy file'));
  assert.throws(() => parseNpy('h.npy', npyBytes('<f4', [2], [1, 2]).subarray(0, 8)), problemMatching('h.npy', 'truncated'));
  assert.throws(() => parseNpy('h.npy', npyBytes('<f4', [2], [1, 2]).subarray(0, 40)), problemMatching('h.npy', 'truncated', 'file ends first'));
  assert.throws(() => parseNpy('d.npy', npyBytes('<f4', [4], [1, 2, 3, 4]).subarray(0, 134)), problemMatching('d.npy', 'truncated', 'needs 16 bytes', 'found 6'));
  const future = npyBytes('<f4', [1], [1]);
  future[6] = 9;
  assert.throws(() => parseNpy('v.npy', future), problemMatching('v.npy', 'version 9.0'));
});

test('npy: loads inputs with labels from the sibling file (x_test → y_test), gzipped or not', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('x_test.npy', npyBytes('<f4', [3, 2], [1, 2, 3, 4, 5, 6]));
  await folder.write('y_test.npy.gz', gzip(npyBytes('<i8', [3], [2, 0, 1])));
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 3);
  assert.deepEqual(dataset.sampleShape, [2]);
  assert.deepEqual(Array.from(dataset.inputs), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([2, 0, 1]) });
});

test('npy: uint8 inputs are not scaled', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('images.npy', npyBytes('|u1', [2, 2], [0, 255, 128, 3]));
  await folder.write('labels.npy', npyBytes('|u1', [2], [0, 1]));
  assert.deepEqual(Array.from((await loadDataset(file)).inputs), [0, 255, 128, 3]);
});

test('npy: options.labelKey names the labels file', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('features_only.npy', npyBytes('<f8', [2, 1], [0.5, 1.5]));
  await folder.write('targets.npy', npyBytes('<f8', [2], [0.25, 3.5]));
  const dataset = await loadDataset(file, { labelKey: 'targets' });
  assert.deepEqual(dataset.targets, { kind: 'values', width: 1, values: Float32Array.from([0.25, 3.5]) });
});

test('npy: a missing labels file names the files looked for', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('x.npy', npyBytes('<f4', [1, 1], [1]));
  await assert.rejects(loadDataset(file), problemMatching(file, 'no labels file', 'y.npy'));
  const unnamed = await folder.write('data.npy', npyBytes('<f4', [1, 1], [1]));
  await assert.rejects(loadDataset(unnamed), problemMatching(unnamed, 'does not say where the labels are'));
});

test('npy: a labels file with a different count names both counts', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('x.npy', npyBytes('<f4', [3, 1], [1, 2, 3]));
  await folder.write('y.npy', npyBytes('<i4', [2], [0, 1]));
  await assert.rejects(loadDataset(file), problemMatching(file, '3 input samples', '2 labels'));
});
