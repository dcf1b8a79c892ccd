import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/engine/data/load';
import { fixtureFolder, problemMatching } from './fixtures';

test('json: {x, y} with nested inputs takes the sample shape from the nesting', async () => {
  const folder = await fixtureFolder();
  const x = [[[1, 2], [3, 4], [5, 6]], [[7, 8], [9, 10], [11, 12]]];
  const file = await folder.write('data.json', JSON.stringify({ x, y: [1, 0] }));
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 2);
  assert.deepEqual(dataset.sampleShape, [3, 2]);
  assert.deepEqual(Array.from(dataset.inputs), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([1, 0]) });
});

test('json: {inputs, labels} with one-hot labels, and flat samples get shape [1]', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('data.json', JSON.stringify({ inputs: [0.5, 1.5], labels: [[0, 1], [1, 0]] }));
  const dataset = await loadDataset(file);
  assert.deepEqual(dataset.sampleShape, [1]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([1, 0]) });
});

test('json: an array of {x, y} records, string class names', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('records.json', JSON.stringify([{ x: [1, 2], y: 'dog' }, { x: [3, 4], y: 'cat' }]));
  const dataset = await loadDataset(file);
  assert.deepEqual(Array.from(dataset.inputs), [1, 2, 3, 4]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([1, 0]) });
});

test('json: options keys and regression values', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('custom.json', JSON.stringify({ features: [[1], [2]], price: [[1.5, 2], [0.25, 3]] }));
  const dataset = await loadDataset(file, { inputKey: 'features', labelKey: 'price' });
  assert.deepEqual(dataset.targets, { kind: 'values', width: 2, values: Float32Array.from([1.5, 2, 0.25, 3]) });
  await assert.rejects(loadDataset(file), problemMatching(file, "'features', 'price'", 'inputKey'));
});

test('json: ragged nesting names the path', async () => {
  const folder = await fixtureFolder();
  const ragged = await folder.write('ragged.json', JSON.stringify({ x: [[[1, 2], [3, 4]], [[5, 6], [7]]], y: [0, 1] }));
  await assert.rejects(loadDataset(ragged), problemMatching(ragged, 'x[1][1] has 1 elements', 'x[0][0] has 2'));
  const deeper = await folder.write('deeper.json', JSON.stringify([{ x: [1, 2], y: 0 }, { x: [1, [2]], y: 1 }]));
  await assert.rejects(loadDataset(deeper), problemMatching(deeper, '[1].x[1] is an array of 1', 'ragged'));
  const shallower = await folder.write('shallower.json', JSON.stringify({ x: [[1, 2], 3], y: [0, 1] }));
  await assert.rejects(loadDataset(shallower), problemMatching(shallower, 'x[1] is the number 3', 'x[0] is an array of 2'));
});

test('json: non-numbers, bad documents and count mismatches', async () => {
  const folder = await fixtureFolder();
  const nulls = await folder.write('null.json', JSON.stringify({ x: [[1, null]], y: [0] }));
  await assert.rejects(loadDataset(nulls), problemMatching(nulls, 'x[0][1] is null', 'expected a number'));
  const invalid = await folder.write('invalid.json', '{"x": [1, 2');
  await assert.rejects(loadDataset(invalid), problemMatching(invalid, 'not valid JSON'));
  const scalar = await folder.write('scalar.json', '42');
  await assert.rejects(loadDataset(scalar), problemMatching(scalar, 'the number 42'));
  const mismatch = await folder.write('mismatch.json', JSON.stringify({ x: [[1], [2], [3]], y: [0, 1] }));
  await assert.rejects(loadDataset(mismatch), problemMatching(mismatch, '3 input samples', '2 labels'));
  const empty = await folder.write('empty.json', JSON.stringify({ x: [], y: [] }));
  await assert.rejects(loadDataset(empty), problemMatching(empty, 'empty'));
  const record = await folder.write('record.json', JSON.stringify([{ x: [1], y: 0 }, { x: [2] }]));
  await assert.rejects(loadDataset(record), problemMatching(record, '[1]', "keys 'x' and 'y'"));
});
