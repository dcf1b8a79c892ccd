import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/engine/data/load';
import { fixtureFolder, gzip, problemMatching } from './fixtures';

/** Like sklearn's digits.csv.gz: 64 features then the label, no header. */
function digitsLikeCsv(rows: number): string {
  return Array.from({ length: rows }, (_, r) => [...Array.from({ length: 64 }, (_, c) => (r + c) % 17), r % 10].join(',')).join('\n') + '\n';
}

test('csv: reads a gzipped digits-style file (64 features + label, no header)', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('digits.csv.gz', gzip(digitsLikeCsv(12)));
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 12);
  assert.deepEqual(dataset.sampleShape, [64]);
  assert.equal(dataset.inputs[64 + 3], 4);
  assert.equal(dataset.targets.kind, 'classes');
  assert.deepEqual(Array.from(dataset.targets.kind === 'classes' ? dataset.targets.classes : []), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
});

test("csv: skips iris's header-ish first row (150,4,setosa,versicolor,virginica)", async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('iris.csv', '150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n4.9,3.0,1.4,0.2,0\n6.3,3.3,6.0,2.5,2\n');
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 3);
  assert.deepEqual(dataset.sampleShape, [4]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([0, 0, 2]) });
});

test('csv: a first row with a different field count is a header (569,30,malignant,benign)', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('cancer.csv', '2,3,malignant,benign\n1,2,3,0\n4,5,6,1\n');
  const dataset = await loadDataset(file);
  assert.equal(dataset.count, 2);
  assert.deepEqual(Array.from(dataset.inputs), [1, 2, 3, 4, 5, 6]);
});

test('csv: a named header is detected; options.header forces either way', async () => {
  const folder = await fixtureFolder();
  const named = await folder.write('named.csv', 'a,b,label\n1,2,0\n3,4,1\n');
  assert.equal((await loadDataset(named)).count, 2);
  const numericHeader = await folder.write('numeric.csv', '10,20,30\n1,2,0\n3,4,1\n');
  assert.equal((await loadDataset(numericHeader)).count, 3);
  assert.equal((await loadDataset(numericHeader, { header: true })).count, 2);
  await assert.rejects(loadDataset(named, { header: false }), problemMatching(named, 'line 1', "'a' is not a number"));
});

test('csv: detects semicolon (with decimal commas) and tab delimiters; .tsv is tab', async () => {
  const folder = await fixtureFolder();
  const semicolon = await folder.write('eu.csv', '1,5;2;0\n3;4,25;1\n');
  assert.deepEqual(Array.from((await loadDataset(semicolon)).inputs), [1.5, 2, 3, 4.25]);
  const tabbed = await folder.write('tabbed.csv', '1\t2\t0\n3\t4\t1\n');
  assert.deepEqual(Array.from((await loadDataset(tabbed)).inputs), [1, 2, 3, 4]);
  const tsv = await folder.write('data.tsv', 'x1\tx2\ty\n1\t2\t1\n');
  assert.equal((await loadDataset(tsv)).count, 1);
  const spaced = await folder.write('savetxt.txt', '1.0 2.0 0\n3.0   4.0 1\n');
  assert.deepEqual(Array.from((await loadDataset(spaced)).inputs), [1, 2, 3, 4]);
});

test('csv: quoted fields and CRLF line ends', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('quoted.csv', '"a, b",c,label\r\n"1",2,"cat"\r\n3,4,dog\r\n');
  const dataset = await loadDataset(file);
  assert.deepEqual(Array.from(dataset.inputs), [1, 2, 3, 4]);
  assert.deepEqual(dataset.targets, { kind: 'classes', classes: Int32Array.from([0, 1]) });
});

test('csv: labelColumn first, by index, and negative from the end', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('first.csv', '1,10,20\n0,30,40\n');
  const first = await loadDataset(file, { labelColumn: 'first' });
  assert.deepEqual(Array.from(first.inputs), [10, 20, 30, 40]);
  assert.deepEqual(first.targets, { kind: 'classes', classes: Int32Array.from([1, 0]) });
  assert.deepEqual(Array.from((await loadDataset(file, { labelColumn: 1 })).inputs), [1, 20, 0, 40]);
  assert.deepEqual(Array.from((await loadDataset(file, { labelColumn: -2 })).inputs), [1, 20, 0, 40]);
  await assert.rejects(loadDataset(file, { labelColumn: 3 }), problemMatching(file, 'labelColumn 3 is out of range', '3 columns'));
});

test('csv: non-integer labels are regression values of width 1', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('regression.csv', '1,2,0.5\n3,4,-1.25\n');
  assert.deepEqual((await loadDataset(file)).targets, { kind: 'values', width: 1, values: Float32Array.from([0.5, -1.25]) });
});

test('csv: class names map to indices in sorted order', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('names.csv', '1,virginica\n2,setosa\n3,versicolor\n4,setosa\n');
  assert.deepEqual((await loadDataset(file)).targets, { kind: 'classes', classes: Int32Array.from([2, 0, 1, 0]) });
});

test('csv: ragged rows name the line', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('ragged.csv', '1,2,0\n3,4,1\n\n5,6\n');
  await assert.rejects(loadDataset(file), problemMatching(file, 'line 4 has 2 fields', 'line 2 has 3'));
});

test('csv: a non-numeric feature names the line and column', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('text.csv', '1,2,0\n3,x,1\n');
  await assert.rejects(loadDataset(file), problemMatching(file, 'line 2, column 2', "'x' is not a number"));
});

test('csv: NaN and Inf inputs name the sample', async () => {
  const folder = await fixtureFolder();
  const nan = await folder.write('nan.csv', '1,2,0\n3,4,1\nnan,5,0\n');
  await assert.rejects(loadDataset(nan), problemMatching(nan, 'sample 2', 'NaN'));
  const inf = await folder.write('inf.csv', '1,-inf,0\n');
  await assert.rejects(loadDataset(inf), problemMatching(inf, 'sample 0', '-Infinity'));
});

test('csv: empty files, header-only files and a single column are errors', async () => {
  const folder = await fixtureFolder();
  const empty = await folder.write('empty.csv', '\n\n');
  await assert.rejects(loadDataset(empty), problemMatching(empty, 'empty'));
  const headerOnly = await folder.write('header.csv', 'a,b,label\n');
  await assert.rejects(loadDataset(headerOnly), problemMatching(headerOnly, 'empty', 'header'));
  const single = await folder.write('single.csv', '1\n2\n');
  await assert.rejects(loadDataset(single), problemMatching(single, '1 column'));
});

test('csv: negative integer labels are read as regression values', async () => {
  const folder = await fixtureFolder();
  const file = await folder.write('signed.csv', '1,-1\n2,1\n');
  assert.deepEqual((await loadDataset(file)).targets, { kind: 'values', width: 1, values: Float32Array.from([-1, 1]) });
});

test('csv: a truncated gzip file is reported', async () => {
  const folder = await fixtureFolder();
  const zipped = gzip(digitsLikeCsv(50));
  const file = await folder.write('cut.csv.gz', zipped.subarray(0, zipped.length / 2));
  await assert.rejects(loadDataset(file), problemMatching(file, 'gzip', 'truncated'));
});
