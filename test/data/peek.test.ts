/**
 * The quick look at a data file behind the data-set picker: the sample shape from the first bytes
 * must be what the full loader finds, and a file that is no data set is refused with its reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadDataset } from '../../src/engine/data/load';
import { PEEK_BYTES, peekDataset } from '../../src/engine/data/peek';
import { checkDataCandidates } from '../../src/engine/analysis/dataCandidates';
import { fixtureFolder, gzip, idxBytes, npyBytes, problemMatching } from './fixtures';

const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');

/** Rows of `features` pseudo-random integers (little for gzip to squeeze) and a class label, comma-separated. */
function csvText(rows: number, features: number): string {
  let state = 12345;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) % 1000;
  return Array.from({ length: rows }, (_, r) => [...Array.from({ length: features }, next), r % 10].join(',')).join('\n') + '\n';
}

test('peekDataset: beyond the first bytes, the sample shape is the one the full loader finds (csv, gzipped csv, npy, idx)', async () => {
  const folder = await fixtureFolder();
  const text = csvText(20000, 12);
  assert.ok(gzip(text).length > 2 * PEEK_BYTES, 'even gzipped, the file is larger than what the peek reads');
  const csv = await folder.write('big.csv', text);
  const csvGz = await folder.write('big.csv.gz', gzip(text));
  for (const file of [csv, csvGz]) {
    const peek = await peekDataset(file);
    assert.equal(peek.format, 'csv');
    assert.deepEqual(peek.sampleShape, (await loadDataset(file)).sampleShape, path.basename(file));
    assert.deepEqual(peek.sampleShape, [12]);
  }
  const images = 3000;
  const npy = await folder.write('x_train.npy', npyBytes('<f4', [images, 8, 8], new Array(images * 64).fill(0.5)));
  await folder.write('y_train.npy', npyBytes('<i8', [images], Array.from({ length: images }, (_, i) => i % 10)));
  assert.deepEqual((await peekDataset(npy)).sampleShape, (await loadDataset(npy)).sampleShape);
  assert.deepEqual((await peekDataset(npy)).sampleShape, [8, 8]);
  const idx = await folder.write('train-images-idx3-ubyte', idxBytes(0x08, [images, 28, 28], new Array(images * 784).fill(3)));
  await folder.write('train-labels-idx1-ubyte', idxBytes(0x08, [images], Array.from({ length: images }, (_, i) => i % 10)));
  assert.deepEqual((await peekDataset(idx)).sampleShape, (await loadDataset(idx)).sampleShape);
  assert.deepEqual((await peekDataset(idx)).sampleShape, [28, 28]);
});

test('peekDataset: files that are no data set are refused with the file and the reason; a large JSON is not judged', async () => {
  const folder = await fixtureFolder();
  const manifest = await folder.write('package.json', JSON.stringify({ name: 'demo', version: '1.0.0', scripts: { test: 'node' } }));
  await assert.rejects(peekDataset(manifest), problemMatching(manifest));
  const prose = await folder.write('notes.txt', 'Trained for 20 epochs.\nLearning rate 0.01, batch 64.\n');
  await assert.rejects(peekDataset(prose), problemMatching(prose));
  const binary = await folder.write('weights.gz', gzip(new Uint8Array(1000).fill(7)));
  await assert.rejects(peekDataset(binary), problemMatching(binary, 'unrecognized data format'));
  const missing = path.join(folder.dir, 'absent.csv');
  await assert.rejects(peekDataset(missing), problemMatching(missing, 'file not found'));
  const large = await folder.write('large.json', JSON.stringify({ x: Array.from({ length: 10000 }, () => [1, 2, 3, 4, 5, 6, 7, 8]), y: new Array(10000).fill(1) }));
  assert.ok((await peekDataset(large)).sampleShape === undefined, 'a JSON document larger than the peek is only understood whole');
});

test('checkDataCandidates: for the example network (64 inputs) only files with 64 values per sample fit, each refusal says why', async () => {
  const folder = await fixtureFolder();
  const narrow = await folder.write('ten-features.csv', csvText(50, 10));
  const wide = await folder.write('sixty-four.csv.gz', gzip(csvText(3000, 64)));
  const large = await folder.write('large.json', JSON.stringify({ x: Array.from({ length: 3000 }, () => new Array(64).fill(1)), y: new Array(3000).fill(1) }));
  const manifest = await folder.write('package.json', '{"name": "demo"}');
  const digits = path.join(example, 'digits.csv.gz');
  const result = await checkDataCandidates({ model: { checkpoint: path.join(example, 'model.json') }, files: [digits, narrow, wide, large, manifest] });
  assert.deepEqual(result.inputShape, [64]);
  const byName = new Map(result.candidates.map((c) => [path.basename(c.file), c]));
  assert.equal(byName.get('digits.csv.gz')!.fits, true);
  assert.equal(byName.get('sixty-four.csv.gz')!.fits, true);
  assert.equal(byName.get('ten-features.csv')!.fits, false);
  assert.match(byName.get('ten-features.csv')!.reason!, /each sample has 10 values .* the model's input takes 64/);
  assert.equal(byName.get('large.json')!.fits, null, 'not known without loading it');
  assert.equal(byName.get('package.json')!.fits, false);
  assert.ok(byName.get('package.json')!.reason);
  // The verdicts agree with the full loader.
  assert.deepEqual((await loadDataset(narrow)).sampleShape, [10]);
  assert.deepEqual((await loadDataset(wide)).sampleShape, [64]);
});
