import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/engine/data/load';
import { parseIdx } from '../../src/engine/data/idx';
import { fixtureFolder, gzip, idxBytes, problemMatching, asNumbers } from './fixtures';

const PIXELS = [0, 255, 51, 102, 0, 0, 255, 255];

test('idx: uint8 images are scaled to [0, 1] and labels found beside them (MNIST names, gzipped)', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('train-images-idx3-ubyte.gz', gzip(idxBytes(0x08, [2, 2, 2], PIXELS)));
  await folder.write('train-labels-idx1-ubyte.gz', gzip(idxBytes(0x08, [2], [7, 3])));
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 2);
  assert.deepEqual(dataset.sampleShape, [2, 2]);
  assert.deepEqual(Array.from(dataset.inputs), PIXELS.map((p) => Math.fround(p / 255)));
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([7, 3]) });
});

test('idx: scale false keeps raw pixels; labels may be gzipped when images are not', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('t10k-images.idx3-ubyte', idxBytes(0x08, [2, 4], PIXELS));
  await folder.write('t10k-labels.idx3-ubyte.gz', gzip(idxBytes(0x08, [2], [1, 0])));
  assert.deepEqual(Array.from((await loadDataset(file, { scale: false })).inputs), PIXELS);
});

for (const [code, name, values] of [
  [0x09, 'int8', [-128, -1, 0, 127]],
  [0x0b, 'int16', [-300, 2, 3, 30000]],
  [0x0c, 'int32', [-70000, 1, 2, 70000]],
  [0x0d, 'float32', [-1.5, 0.25, 2, 3]],
  [0x0e, 'float64', [-1.5, 0.125, 2, 1e10]],
] as const) {
  test(`idx: reads ${name} big-endian data unscaled`, async () => {
    assert.deepEqual(asNumbers(parseIdx('a.idx', idxBytes(code, [2, 2], values)).values), values);
    const folder = await fixtureFolder();
    const file = await folder.write('images.idx', idxBytes(code, [2, 2], values));
    await folder.write('labels.idx', idxBytes(0x08, [2], [0, 1]));
    assert.deepEqual(Array.from((await loadDataset(file)).inputs), values.map(Math.fround));
  });
}

test('idx: a missing labels file names the file looked for', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('train-images-idx3-ubyte', idxBytes(0x08, [1, 2], [1, 2]));
  await assert.rejects(loadDataset(file), problemMatching(file, 'no labels file', 'train-labels-idx1-ubyte'));
  const unnamed = await folder.write('digits-idx3-ubyte', idxBytes(0x08, [1, 2], [1, 2]));
  await assert.rejects(loadDataset(unnamed), problemMatching(unnamed, "no 'images'"));
});

test('idx: opening the labels file says to open the images file', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('train-labels-idx1-ubyte', idxBytes(0x08, [2], [1, 2]));
  await assert.rejects(loadDataset(file), problemMatching(file, '1-D IDX', 'images file'));
});

test('idx: wrong magic, unknown type code and truncation', () => {
  assert.throws(() => parseIdx('m.idx', Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), problemMatching('m.idx', 'magic 0x01000801'));
  assert.throws(() => parseIdx('t.idx', Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 0])), problemMatching('t.idx', 'unknown IDX type code 0x0a'));
  assert.throws(() => parseIdx('h.idx', Uint8Array.from([0, 0, 8, 3, 0, 0])), problemMatching('h.idx', 'truncated'));
  const full = idxBytes(0x0d, [2, 3], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => parseIdx('d.idx', full.subarray(0, full.length - 1)), problemMatching('d.idx', 'truncated', 'need 24 bytes', 'found 23'));
});

test('idx: image and label counts must match, naming both files', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('images-idx3-ubyte', idxBytes(0x08, [2, 2], [1, 2, 3, 4]));
  await folder.write('labels-idx1-ubyte', idxBytes(0x08, [3], [0, 1, 2]));
  await assert.rejects(loadDataset(file), problemMatching(file, '2 images', 'labels-idx1-ubyte has 3 labels'));
});

test('idx: negative int8 labels are an error naming the labels file', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('images-idx3-ubyte', idxBytes(0x08, [2, 1], [1, 2]));
  const labels = await folder.write('labels-idx1-ubyte', idxBytes(0x09, [2], [0, -1]));
  await assert.rejects(loadDataset(file), problemMatching(labels, 'sample 1', 'class label -1', '0 or greater'));
});
