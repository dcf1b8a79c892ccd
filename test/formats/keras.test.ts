import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { describeKerasH5, kerasH5Format, matchKerasH5, readKerasH5 } from '../../src/engine/formats/keras/kerasH5Format';
import { withH5 } from '../../src/engine/formats/keras/h5Layout';
import { describeH5Error, loadH5wasm, type H5Group } from '../../src/engine/formats/keras/h5wasm';
import { PROVENANCE_ATTRIBUTE } from '../../src/engine/formats/keras/h5Writer';
import { describeKerasV3, kerasV3Format, readKerasV3 } from '../../src/engine/formats/keras/kerasV3Format';
import { readZipEntries as zipEntries, withExtractedFile } from '../../src/engine/formats/keras/archive';
import { formatFor, readCheckpoint } from '../../src/engine/formats/registry';
import { initBackend } from '../../src/engine/model/backend';
import type { Checkpoint } from '../../src/engine/model/spec';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import { caseFolders } from '../fixtures/tempDirs';
import { assertOutputsMatch, engineOutputs, readReferenceOutputs, type ReferenceOutputs } from '../fixtures/referenceOutputs';
import { FileProblem, ModelProblem } from '../../src/protocol/errors';

const fixtures = join(__dirname, '..', 'fixtures', 'keras');
const fixture = (name: string) => join(fixtures, name);
const { freshDir } = caseFolders('keras');
before(() => initBackend('cpu'));

const reference = (name: string): ReferenceOutputs => readReferenceOutputs(fixture(`${name}.json`));

/** Outputs (softmax probabilities) equal numpy's float64 ones within 1e-5 relative. */
function assertMatchesNumpy(checkpoint: Checkpoint, name: string): void {
  const ref = reference(name);
  assertOutputsMatch(engineOutputs(checkpoint, ref.inputs, ref.inputShape, 'nhwc'), ref, `${name} (vs numpy)`);
}

async function assertFileProblem(promise: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FileProblem, `expected FileProblem, got ${String(error)}`);
    assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
    assert.match(error.message, problem);
    return true;
  });
}

/** Edits a copy of a fixture with h5wasm (no Python in tests). */
async function editedCopy(name: string, edit: (h5file: import('../../src/engine/formats/keras/h5wasm').H5File) => void): Promise<string> {
  const copy = join(await freshDir(), name);
  await copyFile(fixture(name), copy);
  withH5(await loadH5wasm(), copy, 'a', edit);
  return copy;
}

// ---- reading ---------------------------------------------------------------------------------

test('the Sequential MLP computes what numpy computes from the same weights', async () => {
  const checkpoint = await readKerasH5(fixture('mlp.h5'));
  assert.equal(checkpoint.format, 'keras-h5');
  assert.deepEqual(checkpoint.weights.map((w) => [w.name, w.layer, w.role, w.shape]), [
    ['dense/kernel:0', 'dense', 'kernel', [4, 8]],
    ['dense/bias:0', 'dense', 'bias', [8]],
    ['dense_1/kernel:0', 'dense_1', 'kernel', [8, 3]],
    ['dense_1/bias:0', 'dense_1', 'bias', [3]],
  ]);
  assert.equal(checkpoint.model.trainingLoss, 'categorical_crossentropy');
  assert.ok(checkpoint.notes.some((n) => n.includes('Keras 2.13.1')));
  assertMatchesNumpy(checkpoint, 'mlp');
});

test('the functional CNN (variable-length attrs, chunked layer_names0/1) computes what numpy computes', async () => {
  const checkpoint = await readKerasH5(fixture('cnn.h5'));
  // Order from layer_names, not from the sorted group keys (which would put 'dense' before 'conv2d').
  assert.deepEqual(checkpoint.weights.map((w) => w.name), ['conv2d/kernel:0', 'conv2d/bias:0', 'dense/kernel:0', 'dense/bias:0']);
  assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']);
  assertMatchesNumpy(checkpoint, 'cnn');
});

test('the registry picks the Keras format by name and signature; describe counts parameters', async () => {
  assert.equal((await formatFor(fixture('mlp.h5')))?.id, kerasH5Format.id);
  assert.equal((await readCheckpoint(fixture('cnn.h5'))).format, 'keras-h5');
  const signature = new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a, 0]);
  assert.ok(matchKerasH5('model.h5', signature));
  assert.ok(matchKerasH5('MODEL.HDF5', signature));
  assert.ok(!matchKerasH5('model.json', signature));
  assert.ok(!matchKerasH5('model.h5', new TextEncoder().encode('not an hdf5 file at all')));
  assert.deepEqual(await describeKerasH5(fixture('mlp.h5')), { parameters: 4 * 8 + 8 + 8 * 3 + 3, files: [fixture('mlp.h5')] });
  assert.equal((await describeKerasH5(fixture('cnn.h5'))).parameters, 3 * 3 * 1 * 2 + 2 + 8 * 3 + 3);
});

test('analyzeFile works on a Keras .h5 with probe data', async () => {
  const report = await analyzeFile({
    checkpoint: fixture('cnn.h5'),
    seed: 1,
    probeSamples: 32,
    metrics: ['loss', 'eigenvalues', 'trace'],
    settings: { eigenvalues: { count: 2 }, trace: { samples: 4 } },
  });
  assert.equal(report.checkpoint.format, 'keras-h5');
  assert.equal(report.checkpoint.parameters, 47);
  assert.ok(Number.isFinite(report.loss) && report.loss > 0);
  assert.ok(report.hessian.topEigenvalues![0] > 0);
});

// ---- writing ---------------------------------------------------------------------------------

test('writing back gives identical values, keeps everything else, records provenance, never overwrites', async () => {
  const dir = await freshDir();
  const original = await readKerasH5(fixture('cnn.h5'));
  const out = join(dir, 'cnn.copy.h5');
  assert.deepEqual(kerasH5Format.filesWritten(out), [out]);
  const doubled = original.weights.map((w) => ({ ...w, values: w.values.map((v) => 2 * v) }));
  assert.deepEqual(await kerasH5Format.write(original, out, { weights: doubled, metadata: { mode: 'test', n: 1 } }), [out]);
  const reread = await readKerasH5(out);
  assert.deepEqual(reread.model, original.model);
  reread.weights.forEach((w, i) => {
    assert.equal(w.name, original.weights[i].name);
    assert.deepEqual(w.shape, original.weights[i].shape);
    assert.deepEqual(w.values, doubled[i].values);
  });
  const provenance = withH5(await loadH5wasm(), out, 'r', (h5file) => h5file.get_attribute(PROVENANCE_ATTRIBUTE, true));
  assert.deepEqual(JSON.parse(String(provenance)), { mode: 'test', n: 1 });

  const before = await readFile(out);
  await assertFileProblem(kerasH5Format.write(original, out, {}), out, /already exists/);
  assert.deepEqual(await readFile(out), before, 'the existing file is untouched');

  const same = join(dir, 'cnn.same.h5');
  await kerasH5Format.write(original, same, {});
  (await readKerasH5(same)).weights.forEach((w, i) => assert.deepEqual(w.values, original.weights[i].values));
});

test('rescaling the MLP to flatten writes an .h5 that computes the same function', async () => {
  const dir = await freshDir();
  const plan = await planRescale({ checkpoint: fixture('mlp.h5'), mode: 'flatten', probeSamples: 32, traceSamples: 4, seed: 1 });
  const [written] = await writeRescaled(plan, join(dir, 'mlp.flat.h5'));
  const rescaled = await readKerasH5(written);
  const original = await readKerasH5(fixture('mlp.h5'));
  assert.ok(rescaled.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - original.weights[i].values[j]) > 1e-4 * Math.abs(v))), 'the weights changed');
  assertMatchesNumpy(rescaled, 'mlp');
  const provenance = withH5(await loadH5wasm(), written, 'r', (h5file) => JSON.parse(String(h5file.get_attribute(PROVENANCE_ATTRIBUTE, true))) as { mode: string });
  assert.equal(provenance.mode, 'flatten');
});

// ---- bad input -------------------------------------------------------------------------------

test('a truncated .h5 is a FileProblem naming the file', async () => {
  const file = join(await freshDir(), 'truncated.h5');
  await writeFile(file, (await readFile(fixture('mlp.h5'))).subarray(0, 3000));
  await assertFileProblem(readCheckpoint(file), file, /truncated/);
  await assertFileProblem(readKerasH5(file), file, /truncated/);
});

test('random bytes named .h5 are a FileProblem naming the file', async () => {
  const file = join(await freshDir(), 'random.h5');
  const bytes = new Uint8Array(4096);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
  await writeFile(file, bytes);
  await assertFileProblem(readCheckpoint(file), file, /not a checkpoint format/);
  await assertFileProblem(readKerasH5(file), file, /signature not found|not an HDF5/i);
});

test('an HDF5 file without model_config is a FileProblem saying it is not a Keras model', async () => {
  await assertFileProblem(readKerasH5(fixture('noconfig.h5')), fixture('noconfig.h5'), /not a Keras model.*model_config/);
  await assertFileProblem(describeKerasH5(fixture('noconfig.h5')), fixture('noconfig.h5'), /model_config/);
});

test('a NaN weight is a FileProblem naming the file and the weight', async () => {
  await assertFileProblem(readCheckpoint(fixture('nan.h5')), fixture('nan.h5'), /weight 'dense_1\/kernel.*' has NaN at index \d+/);
});

test('a weight whose shape does not fit model_config is a FileProblem naming the layer', async () => {
  const file = await editedCopy('mlp.h5', (h5file) => {
    const config = String(h5file.get_attribute('model_config', true)).replace('"units": 3', '"units": 5');
    h5file.delete_attribute('model_config');
    h5file.create_attribute('model_config', config);
  });
  await assertFileProblem(readKerasH5(file), file, /layer 'dense_1'.*'dense_1\/kernel:0' has shape \[8, 3\].*\[\?, 5\]/);
});

test('a layer_names entry without its group is a FileProblem', async () => {
  const file = await editedCopy('mlp.h5', (h5file) => {
    const weights = h5file.get('model_weights') as import('../../src/engine/formats/keras/h5wasm').H5Group;
    weights.delete_attribute('layer_names');
    weights.create_attribute('layer_names', ['dense', 'dense_9']);
  });
  await assertFileProblem(readKerasH5(file), file, /'dense_9'.*no group/);
});

// ---- Keras 3 .keras --------------------------------------------------------------------------

test('a Keras 3 .keras MLP computes what numpy computes, with roles from the layer classes', async () => {
  const file = fixture('mlp.keras');
  assert.equal((await formatFor(file))?.id, 'keras-v3');
  const checkpoint = await readCheckpoint(file);
  assert.deepEqual(checkpoint.weights.map((w) => [w.name, w.layer, w.role, w.shape]), [
    ['dense/kernel', 'dense', 'kernel', [4, 8]],
    ['dense/bias', 'dense', 'bias', [8]],
    ['dense_1/kernel', 'dense_1', 'kernel', [8, 3]],
    ['dense_1/bias', 'dense_1', 'bias', [3]],
  ]);
  assert.equal(checkpoint.model.trainingLoss, 'categorical_crossentropy');
  assertMatchesNumpy(checkpoint, 'mlp');
  assert.deepEqual(await describeKerasV3(file), { parameters: 67, files: [file] });
});

test('a Keras 3 Functional .keras CNN (empty vars groups, deflated weights entry) computes what numpy computes', async () => {
  const checkpoint = await readKerasV3(fixture('cnn.keras'));
  assert.deepEqual(checkpoint.weights.map((w) => w.name), ['conv2d/kernel', 'conv2d/bias', 'dense/kernel', 'dense/bias']);
  assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense']);
  assertMatchesNumpy(checkpoint, 'cnn');
});

test('writing a .keras: new values, every other entry byte-identical with its compression, provenance in model.weights.h5, never overwrites', async () => {
  const dir = await freshDir();
  const original = await readKerasV3(fixture('cnn.keras'));
  const out = join(dir, 'cnn.copy.keras');
  assert.deepEqual(kerasV3Format.filesWritten(out), [out]);
  const doubled = original.weights.map((w) => ({ ...w, values: w.values.map((v) => 2 * v) }));
  assert.deepEqual(await kerasV3Format.write(original, out, { weights: doubled, metadata: { mode: 'test', n: 1 } }), [out]);
  const reread = await readKerasV3(out);
  assert.deepEqual(reread.model, original.model);
  reread.weights.forEach((w, i) => {
    assert.equal(w.name, original.weights[i].name);
    assert.deepEqual(w.values, doubled[i].values);
  });
  const [before, after] = [await zipEntries(fixture('cnn.keras')), await zipEntries(out)];
  assert.deepEqual(after.map((e) => [e.name, e.compression]), before.map((e) => [e.name, e.compression]));
  for (const name of ['metadata.json', 'config.json']) assert.deepEqual(after.find((e) => e.name === name)!.data, before.find((e) => e.name === name)!.data, name);
  const provenance = await withExtractedFile(out, 'model.weights.h5', after.find((e) => e.name === 'model.weights.h5')!.data, async (path) =>
    withH5(await loadH5wasm(), path, 'r', (h5file) => h5file.get_attribute(PROVENANCE_ATTRIBUTE, true)),
  );
  assert.deepEqual(JSON.parse(String(provenance)), { mode: 'test', n: 1 });

  const bytes = await readFile(out);
  await assertFileProblem(kerasV3Format.write(original, out, {}), out, /already exists/);
  assert.deepEqual(await readFile(out), bytes, 'the existing file is untouched');
  const same = join(dir, 'cnn.same.keras');
  await kerasV3Format.write(original, same, {});
  (await readKerasV3(same)).weights.forEach((w, i) => assert.deepEqual(w.values, original.weights[i].values));
  await assertFileProblem(kerasV3Format.write(original, join(dir, 'cnn.h5'), {}), join(dir, 'cnn.h5'), /<name>\.keras/);
  await assertFileProblem(kerasV3Format.write(await readKerasH5(fixture('cnn.h5')), join(dir, 'fromh5.keras'), {}), join(dir, 'fromh5.keras'), /not read from a Keras \.keras file/);
});

test('rescaling the .keras MLP to flatten writes a .keras that computes the same function', async () => {
  const dir = await freshDir();
  const plan = await planRescale({ checkpoint: fixture('mlp.keras'), mode: 'flatten', probeSamples: 32, traceSamples: 4, seed: 1 });
  const [written] = await writeRescaled(plan, join(dir, 'mlp.flat.keras'));
  const rescaled = await readCheckpoint(written);
  const original = await readKerasV3(fixture('mlp.keras'));
  assert.equal(rescaled.format, 'keras-v3');
  assert.ok(rescaled.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - original.weights[i].values[j]) > 1e-4 * Math.abs(v))), 'the weights changed');
  assertMatchesNumpy(rescaled, 'mlp');
});

test('bad .keras archives are FileProblems naming the .keras file', async () => {
  const dir = await freshDir();
  const entries = unzipSync(new Uint8Array(await readFile(fixture('mlp.keras'))));
  const noWeights = join(dir, 'noweights.keras');
  await writeFile(noWeights, zipSync({ 'config.json': entries['config.json'] }));
  await assertFileProblem(readKerasV3(noWeights), noWeights, /no model\.weights\.h5/);
  const brokenWeights = join(dir, 'broken.keras');
  await writeFile(brokenWeights, zipSync({ 'config.json': entries['config.json'], 'model.weights.h5': entries['model.weights.h5'].subarray(0, 2000) }));
  await assertFileProblem(readKerasV3(brokenWeights), brokenWeights, /model\.weights\.h5: .*truncated/);
  const notZip = join(dir, 'notzip.keras');
  await writeFile(notZip, new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]));
  await assertFileProblem(readKerasV3(notZip), notZip, /not a readable .keras zip/);
});

// ---- hostile and malformed Keras files -------------------------------------------------------

/** Replaces (or adds) a root string attribute of a copy of `name`. */
function withRootAttribute(name: string, attribute: string, value: string | number): Promise<string> {
  return editedCopy(name, (h5file) => {
    if (Object.keys(h5file.attrs).includes(attribute)) h5file.delete_attribute(attribute);
    h5file.create_attribute(attribute, value);
  });
}

test('a model_config that is not JSON, not an object or not a string is a FileProblem naming the attribute', async () => {
  const cases: [string | number, RegExp][] = [
    ['{"class_name": "Sequential", nope', /root attribute model_config is not valid JSON/],
    ['[1, 2]', /root attribute model_config is not a JSON object/],
    [42, /attribute model_config of the root group is not a string/],
  ];
  for (const [value, problem] of cases) {
    const file = await withRootAttribute('mlp.h5', 'model_config', value);
    await assertFileProblem(readKerasH5(file), file, problem);
    await assertFileProblem(describeKerasH5(file), file, problem);
  }
});

test('a training_config nested 30000 levels deep is a FileProblem, not a stack overflow', async () => {
  const file = await withRootAttribute('mlp.h5', 'training_config', `{"loss": ${'['.repeat(30000)}"mse"${']'.repeat(30000)}}`);
  await assertFileProblem(readKerasH5(file), file, /root attribute training_config nests lists and objects more than 100 levels deep/);
});

test('weight_names listing a dataset that does not exist, or a group, is a FileProblem naming both', async () => {
  for (const [names, problem] of [
    [['dense/kernel:0', 'dense/gamma:0'], /model_weights\/dense lists weight 'dense\/gamma:0', but there is no dataset model_weights\/dense\/dense\/gamma:0/],
    [['dense'], /model_weights\/dense lists weight 'dense', but there is no dataset model_weights\/dense\/dense/],
  ] as const) {
    const file = await editedCopy('mlp.h5', (h5file) => {
      const layer = h5file.get('model_weights/dense') as H5Group;
      layer.delete_attribute('weight_names');
      layer.create_attribute('weight_names', [...names]);
    });
    await assertFileProblem(readKerasH5(file), file, problem);
    await assertFileProblem(describeKerasH5(file), file, problem);
  }
});

test('a kernel whose input size disagrees with the layer before is refused at first use, naming the layer', async () => {
  const file = await editedCopy('mlp.h5', (h5file) => {
    const config = String(h5file.get_attribute('model_config', true)).replace('"batch_input_shape": [null, 4]', '"batch_input_shape": [null, 5]');
    h5file.delete_attribute('model_config');
    h5file.create_attribute('model_config', config);
  });
  const checkpoint = await readKerasH5(file);
  assert.deepEqual(checkpoint.model.inputs[0].shape, [5]);
  assert.throws(() => engineOutputs(checkpoint, new Array<number>(5).fill(0), [1, 5], 'nhwc'), (error: unknown) => {
    assert.ok(error instanceof ModelProblem, String(error));
    assert.match(error.message, /layer 'dense': kernel expects 4 input features, the layer receives 5/);
    return true;
  });
});

test('an .h5 cut short anywhere, or with damaged bytes that make HDF5 abort or ask for 2.4 GB, is a FileProblem; the reader keeps working', async () => {
  const dir = await freshDir();
  const mlp = await readFile(fixture('mlp.h5'));
  for (let keep = 0; keep < mlp.length; keep += 1500) {
    const file = join(dir, `cut-${keep}.h5`);
    await writeFile(file, mlp.subarray(0, keep));
    await assertFileProblem(readKerasH5(file), file, /./);
    await assertFileProblem(describeKerasH5(file), file, /./);
  }
  const damaged: [string, [number, number][], RegExp][] = [
    // Which internal check trips first on this damage depends on the HDF5 build's state, so either message is right.
    ['cnn.h5', [[4408, 242]], /HDF5 error \((the HDF5 library aborted on an inconsistent internal structure|ran off end of input buffer while decoding)\); the file may be damaged/],
    ['mlp.h5', [[5491, 150], [10270, 40], [12939, 148], [13424, 202], [13861, 21]], /HDF5 error \(memory allocation failed.*\); the file may be damaged/],
  ];
  for (const [name, changes, problem] of damaged) {
    const bytes = new Uint8Array(await readFile(fixture(name)));
    for (const [at, value] of changes) bytes[at] = value;
    const file = join(dir, `damaged-${name}`);
    await writeFile(file, bytes);
    await assertFileProblem(readKerasH5(file), file, problem);
  }
  assertMatchesNumpy(await readKerasH5(fixture('mlp.h5')), 'mlp');
});

test('an HDF5 abort and an HDF5 error stack each become a one-line reason', () => {
  assert.equal(describeH5Error(new Error('Aborted(Assertion failed: H5C.c:1234)')), 'the HDF5 library aborted on an inconsistent internal structure');
  const stack = 'HDF5-DIAG: Error detected in HDF5 (1.14.2):\n  #000: H5D.c line 403 in H5Dopen2(): unable to open dataset\n  #001: H5VLcallback.c line 1 in H5VL_dataset_open(): ran off end of input buffer while decoding';
  assert.equal(describeH5Error(new Error(stack)), 'ran off end of input buffer while decoding');
});

test('an HDF5 external link to another file is refused, naming its target, and nothing of that file is read', async () => {
  const dir = await freshDir();
  const secret = join(dir, 'secret.h5');
  const h5 = await loadH5wasm();
  const made = new h5.File(secret, 'w');
  made.create_dataset({ name: 'data', data: new Float32Array(32).fill(1000), shape: [4, 8], dtype: '<f4' });
  made.close();
  const file = await editedCopy('mlp.h5', (h5file) => {
    (h5file.get('model_weights/dense/dense') as H5Group).create_external_link(secret, '/data', 'linked:0');
    const layer = h5file.get('model_weights/dense') as H5Group;
    layer.delete_attribute('weight_names');
    layer.create_attribute('weight_names', ['dense/linked:0', 'dense/bias:0']);
  });
  const problem = new RegExp(`refers to another file \\('${secret.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'\\) through an HDF5 external link`);
  await assertFileProblem(readKerasH5(file), file, problem);
  await assertFileProblem(describeKerasH5(file), file, problem);
});

/** Sets an entry's declared uncompressed size in its local and central zip headers. */
function patchEntrySize(bytes: Uint8Array, name: string, size: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameBytes = new TextEncoder().encode(name);
  for (let at = 0; at + 46 < bytes.length; at++) {
    const signature = view.getUint32(at, true);
    const nameAt = signature === 0x04034b50 ? at + 30 : signature === 0x02014b50 ? at + 46 : -1;
    if (nameAt < 0 || !nameBytes.every((b, i) => bytes[nameAt + i] === b)) continue;
    view.setUint32(signature === 0x04034b50 ? at + 22 : at + 24, size, true);
  }
}

test('hostile .keras archives: a zip bomb, escaping entry names, broken config.json, weights that are not HDF5, not a zip', async () => {
  const dir = await freshDir();
  const entries = unzipSync(new Uint8Array(await readFile(fixture('mlp.keras'))));
  const encode = (text: string) => new TextEncoder().encode(text);
  const config = new TextDecoder().decode(entries['config.json']);
  assert.ok(config.includes('"loss": "categorical_crossentropy"'));

  const bomb = zipSync({ 'config.json': [entries['config.json'], { level: 0 }], 'model.weights.h5': [new Uint8Array(100000), { level: 9 }] });
  patchEntrySize(bomb, 'model.weights.h5', 3_000_000_000);
  const cases: [string, Uint8Array, RegExp][] = [
    ['bomb.keras', bomb, /entry 'model\.weights\.h5' declares 3000000000 bytes from \d+ compressed .*zip bomb, refusing to inflate it/],
    ['parent.keras', zipSync({ ...entries, '../evil.json': encode('{}') } as Zippable), /entry '\.\.\/evil\.json' has a '\.\.' component in its path; refusing the archive/],
    ['absolute.keras', zipSync({ ...entries, '/tmp/evil.json': encode('{}') } as Zippable), /entry '\/tmp\/evil\.json' has an absolute path/],
    ['backslash.keras', zipSync({ ...entries, 'a\\..\\..\\evil.json': encode('{}') } as Zippable), /has a backslash in its name/],
    ['noconfig.keras', zipSync({ 'model.weights.h5': entries['model.weights.h5'] }), /has no config\.json: not a Keras 3 model file/],
    ['badconfig.keras', zipSync({ ...entries, 'config.json': encode('{"class_name": nope') }), /config\.json is not valid JSON/],
    ['listconfig.keras', zipSync({ ...entries, 'config.json': encode('[1, 2]') }), /config\.json is not a JSON object/],
    [
      'deepconfig.keras',
      zipSync({ ...entries, 'config.json': encode(config.replace('"loss": "categorical_crossentropy"', `"loss": ${'['.repeat(200000)}"mse"${']'.repeat(200000)}`)) }),
      /config\.json nests lists and objects more than 100 levels deep/,
    ],
    ['textweights.keras', zipSync({ ...entries, 'model.weights.h5': encode('not hdf5') }), /model\.weights\.h5: cannot open it as an HDF5 file \(file signature not found\)/],
    ['text.keras', encode('this is not a zip archive, just text'), /not a readable \.keras zip archive/],
    ['empty.keras', new Uint8Array(0), /not a readable \.keras zip archive: truncated/],
  ];
  for (const [name, bytes, problem] of cases) {
    const file = join(dir, name);
    await writeFile(file, bytes);
    await assertFileProblem(readKerasV3(file), file, problem);
    await assertFileProblem(describeKerasV3(file), file, problem);
  }
});
