import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Dataset } from '../../src/engine/data/dataset';
import type { Targets } from '../../src/engine/model/loss';
import { fitDatasetToModel, takeFirst } from '../../src/engine/data/fit';
import { problemMatching } from './fixtures';

function dataset(targets: Targets, sampleShape: number[] = [4], count = 3): Dataset {
  const size = sampleShape.reduce((a, b) => a * b, 1);
  return { source: 'data.npz', count, sampleShape, inputs: Float32Array.from({ length: count * size }, (_, i) => i), targets };
}
const classes = (...labels: number[]): Targets => ({ kind: 'classes', classes: Int32Array.from(labels) });
const values = (width: number, ...numbers: number[]): Targets => ({ kind: 'values', width, values: Float32Array.from(numbers) });

test('fit: reshapes samples with the same element count to the model input shape', () => {
  const fitted = fitDatasetToModel(dataset(classes(0, 1, 2)), [2, 2, 1], 3, 'ce');
  assert.deepEqual(fitted.sampleShape, [2, 2, 1]);
  assert.equal(fitted.inputs.length, 12);
});

test('fit: a sample size mismatch names both shapes', () => {
  assert.throws(
    () => fitDatasetToModel(dataset(classes(0, 1, 2), [8, 8]), [784], 10, 'ce'),
    problemMatching('data.npz', 'each sample has 64 values (shape [8, 8])', "the model's input takes 784 values (shape [784])"),
  );
});

test('fit: ce needs classes in range or soft labels of the output width', () => {
  assert.throws(() => fitDatasetToModel(dataset(classes(0, 3, 1)), [4], 3, 'ce'), problemMatching('data.npz', 'sample 1 has class label 3', '[0, 3)'));
  const soft = values(3, 0.2, 0.8, 0, 1, 0, 0, 0, 0, 1);
  assert.equal(fitDatasetToModel(dataset(soft), [4], 3, 'ce').targets, soft);
  assert.throws(() => fitDatasetToModel(dataset(soft), [4], 2, 'ce'), problemMatching('data.npz', '3 values per sample', '2 outputs'));
});

test('fit: bce needs 0/1 classes with one output, or [0, 1] values of the output width', () => {
  assert.deepEqual(fitDatasetToModel(dataset(classes(0, 1, 1)), [4], 1, 'bce').targets, classes(0, 1, 1));
  assert.throws(() => fitDatasetToModel(dataset(classes(0, 2, 1)), [4], 1, 'bce'), problemMatching('data.npz', 'sample 1 has class label 2', '0 or 1'));
  assert.throws(() => fitDatasetToModel(dataset(classes(0, 1, 1)), [4], 2, 'bce'), problemMatching('data.npz', '1 output', 'it has 2'));
  const multiLabel = values(2, 1, 0, 1, 1, 0, 0);
  assert.equal(fitDatasetToModel(dataset(multiLabel), [4], 2, 'bce').targets, multiLabel);
  assert.throws(() => fitDatasetToModel(dataset(values(2, 1, 0, 1, 1.5, 0, 0)), [4], 2, 'bce'), problemMatching('data.npz', 'sample 1', '1.5', '[0, 1]'));
});

test('fit: mse one-hots classes, uses them as values with one output, and checks value width', () => {
  assert.deepEqual(fitDatasetToModel(dataset(classes(2, 0, 1)), [4], 3, 'mse').targets, values(3, 0, 0, 1, 1, 0, 0, 0, 1, 0));
  assert.deepEqual(fitDatasetToModel(dataset(classes(2, 0, 1)), [4], 1, 'mse').targets, values(1, 2, 0, 1));
  assert.throws(() => fitDatasetToModel(dataset(classes(2, 0, 5)), [4], 3, 'mse'), problemMatching('data.npz', 'sample 2 has class label 5'));
  assert.throws(() => fitDatasetToModel(dataset(values(1, 1, 2, 3)), [4], 2, 'mse'), problemMatching('data.npz', '1 values per sample', '2 outputs'));
});

test('takeFirst: the first n samples, all when n is larger, and n must be at least 1', () => {
  const source = dataset(values(2, 1, 2, 3, 4, 5, 6));
  const first = takeFirst(source, 2);
  assert.equal(first.count, 2);
  assert.deepEqual(Array.from(first.inputs), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(first.targets, values(2, 1, 2, 3, 4));
  assert.deepEqual(takeFirst(dataset(classes(4, 5, 6)), 1).targets, classes(4));
  assert.equal(takeFirst(source, 10), source);
  assert.throws(() => takeFirst(source, 0), RangeError);
  assert.throws(() => takeFirst(source, 1.5), RangeError);
});

test('images stored channels-first (C, H, W), as PyTorch keeps them, are refused with the transpose to make, not scrambled', () => {
  const images = (shape: number[]) => ({ ...dataset(classes(0, 1)), count: 2, sampleShape: shape, inputs: new Float32Array(2 * 3 * 4 * 5) });
  assert.throws(() => fitDatasetToModel(images([3, 4, 5]), [4, 5, 3], 3, 'ce'), problemMatching('data.npz', '(C, H, W) = [3, 4, 5]', '(H, W, C) = [4, 5, 3]', 'x.transpose(0, 2, 3, 1)'));
  assert.deepEqual(fitDatasetToModel(images([4, 5, 3]), [4, 5, 3], 3, 'ce').sampleShape, [4, 5, 3]);
  assert.deepEqual(fitDatasetToModel(images([60]), [4, 5, 3], 3, 'ce').sampleShape, [4, 5, 3], 'flat samples are taken as they are');
  assert.deepEqual(fitDatasetToModel({ ...images([1, 12, 10]), inputs: new Float32Array(240) }, [12, 10, 1], 3, 'ce').sampleShape, [12, 10, 1], 'one channel: the same bytes either way');
});
