import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zipSync } from 'fflate';
import { loadDataset } from '../../src/engine/data/load';
import { MAX_ENTRY_BYTES, zipEntryRefusal } from '../../src/engine/io/zipArchive';
import { fixtureFolder, npyBytes, problemMatching } from './fixtures';

const INPUTS = npyBytes('<f4', [4, 2, 2], Array.from({ length: 16 }, (_, i) => i / 2));
const CLASS_LABELS = npyBytes('<i8', [4], [0, 2, 1, 2]);

function npz(arrays: Record<string, Uint8Array>, level: 0 | 6 = 6): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(arrays).map(([name, bytes]) => [`${name}.npy`, [bytes, { level }]])));
}

/** Rewrites the declared uncompressed size of every entry in the central directory. */
function withDeclaredSize(zip: Uint8Array, declared: number): Uint8Array {
  const patched = zip.slice();
  const view = new DataView(patched.buffer);
  for (let at = 0; at + 4 <= patched.length; at++) {
    if (view.getUint32(at, true) === 0x02014b50) view.setUint32(at + 24, declared, true);
  }
  return patched;
}

for (const [level, kind] of [[0, 'stored'], [6, 'deflated']] as const) {
  test(`npz: reads ${kind} x/y arrays`, async () => {
    const folder = await fixtureFolder();
    const file = await folder.write('data.npz', npz({ x: INPUTS, y: CLASS_LABELS }, level));
    const dataset = await loadDataset(file);
    assert.equal(dataset.source, file);
    assert.equal(dataset.count, 4);
    assert.deepEqual(dataset.sampleShape, [2, 2]);
    assert.equal(dataset.inputs[5], 2.5);
    assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([0, 2, 1, 2]) });
  });
}

for (const [inputKey, labelKey] of [['X', 'Y'], ['inputs', 'labels'], ['images', 'labels'], ['x_test', 'y_test']]) {
  test(`npz: finds ${inputKey}/${labelKey}`, async () => {
    const folder = await fixtureFolder();
    const file = await folder.write('data.npz', npz({ [inputKey]: INPUTS, [labelKey]: CLASS_LABELS, extra: CLASS_LABELS }));
    assert.equal((await loadDataset(file)).count, 4);
  });
}

test('npz: options.inputKey/labelKey choose the arrays', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('data.npz', npz({ pixels: INPUTS, digits: CLASS_LABELS, x: INPUTS }));
  const dataset = await loadDataset(file, { inputKey: 'pixels', labelKey: 'digits' });
  assert.equal(dataset.count, 4);
  await assert.rejects(loadDataset(file, { inputKey: 'nope', labelKey: 'digits' }), problemMatching(file, "no array named 'nope'", "'pixels'"));
});

test('npz: names the arrays found when none match', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('data.npz', npz({ arr_0: INPUTS, arr_1: CLASS_LABELS }));
  await assert.rejects(loadDataset(file), problemMatching(file, "'arr_0', 'arr_1'", 'x/y'));
});

test('npz: one-hot labels become classes, other 2-D float labels stay values', async () => {
  const folder = await fixtureFolder();
  const oneHot = npyBytes('<f4', [4, 3], [1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1]);
  const oneHotFile = await folder.write('onehot.npz', npz({ x: INPUTS, y: oneHot }));
  assert.deepEqual((await loadDataset(oneHotFile)).targets, { kind: 'classes', classes: Int32Array.from([0, 2, 1, 2]) });
  const soft = npyBytes('<f4', [4, 2], [0.5, 0.5, 1, 0, 0, 1, 0.25, 0.75]);
  const softFile = await folder.write('soft.npz', npz({ x: INPUTS, y: soft }));
  assert.deepEqual((await loadDataset(softFile)).targets, { kind: 'values', width: 2, values: Float32Array.from([0.5, 0.5, 1, 0, 0, 1, 0.25, 0.75]) });
});

test('npz: a bad array inside names the archive and the array', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('data.npz', npz({ x: npyBytes('<f4', [2, 2], [1, 2, 3, 4], { fortranOrder: true }), y: CLASS_LABELS }));
  await assert.rejects(loadDataset(file), problemMatching(file, "array 'x'", 'Fortran'));
});

test('npz: refuses an entry declaring a huge size from few compressed bytes', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('bomb.npz', withDeclaredSize(npz({ x: INPUTS, y: CLASS_LABELS }), 1024 ** 3));
  await assert.rejects(loadDataset(file), problemMatching(file, "entry 'x.npy'", 'zip bomb'));
});

test('npz: refuses declared sizes over the limit and unknown compression methods', () => {
  assert.match(zipEntryRefusal({ name: 'x.npy', size: 4 * 1024 ** 3, originalSize: MAX_ENTRY_BYTES + 1, compression: 8 }, 5 * 1024 ** 3) ?? '', /limit/);
  assert.match(zipEntryRefusal({ name: 'x.npy', size: 10, originalSize: 10, compression: 12 }, 100) ?? '', /compression method 12/);
  assert.equal(zipEntryRefusal({ name: 'x.npy', size: 100, originalSize: 60_000, compression: 8 }, 1000), undefined);
});

test('npz: reports a truncated or corrupt archive', async () => {
  const folder = await fixtureFolder();
  const zip = npz({ x: INPUTS, y: CLASS_LABELS }, 0);
  const truncated = await folder.write('cut.npz', zip.subarray(0, zip.length - 40));
  await assert.rejects(loadDataset(truncated), problemMatching(truncated, 'not a valid .npz'));
  const notZip = await folder.write('junk.npz', 'hello');
  await assert.rejects(loadDataset(notZip), problemMatching(notZip, 'not a valid .npz'));
});

test('npz: the x and y counts must match', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('data.npz', npz({ x: INPUTS, y: npyBytes('<i8', [3], [0, 1, 2]) }));
  await assert.rejects(loadDataset(file), problemMatching(file, '4 input samples', '3 labels'));
});
