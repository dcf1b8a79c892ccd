import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, rm, symlink, truncate, appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openDimension } from '../../src/engine/model/inputShape';
import type { Checkpoint, WeightTensor } from '../../src/engine/model/spec';
import { caseFolders } from '../fixtures/tempDirs';
import { FileProblem, ModelProblem } from '../../src/protocol/errors';
import { writeNewFilesAtomically } from '../../src/engine/io/atomicWrite';
import { formatFor, readCheckpoint } from '../../src/engine/formats/registry';
import { MAX_MODEL_JSON_BYTES, readTfjsLayers, tfjsLayersFormat, trainingLossOf } from '../../src/engine/formats/tfjsLayers/tfjsLayersFormat';
import { halfToFloat } from '../../src/engine/data/halfFloat';
import {
  denseLayer,
  denseWeights,
  editModelJson,
  functionalTopology,
  inputLayer,
  mlpModel,
  seededValues,
  sequentialTopology,
  writeLayersModel,
} from '../fixtures/tfjsLayersFixture';
import type { FixtureOptions, JsonObject, LayersModelFixture } from '../fixtures/tfjsLayersFixture';

const { root, freshDir } = caseFolders('tfjs');

async function writeModel(model: LayersModelFixture = mlpModel([4, 5, 3]), options: FixtureOptions = {}) {
  return writeLayersModel(await freshDir(), model, options);
}

/** Asserts the promise rejects with `kind`, and that the message names `file` and matches `problem`. */
async function assertRejects(promise: Promise<unknown>, kind: typeof FileProblem | typeof ModelProblem, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
    assert.match(error.message, problem);
    return true;
  });
}

function valuesByName(checkpoint: Checkpoint): Map<string, Float32Array> {
  return new Map(checkpoint.weights.map((w) => [w.name, w.values]));
}

function assertSameWeights(actual: Checkpoint, expected: ReadonlyMap<string, Float32Array>): void {
  assert.deepEqual(actual.weights.map((w) => w.name), [...expected.keys()]);
  for (const w of actual.weights) assert.deepEqual(w.values, expected.get(w.name), w.name);
}

// ---- sequential ------------------------------------------------------------------------------

test('reads a Sequential model: synthesized input, chained layers, loss, weights by layer', async () => {
  const written = await writeModel();
  const checkpoint = await readTfjsLayers(written.path);
  assert.equal(checkpoint.format, 'tfjs-layers');
  assert.equal(checkpoint.path, written.path);
  assert.deepEqual(checkpoint.model.inputs, [{ name: 'dense_1_input', shape: [4] }]);
  assert.deepEqual(
    checkpoint.model.layers.map((l) => [l.name, l.className, l.inbound]),
    [
      ['dense_1_input', 'InputLayer', []],
      ['dense_1', 'Dense', ['dense_1_input']],
      ['dense_2', 'Dense', ['dense_1']],
    ],
  );
  assert.deepEqual(checkpoint.model.outputs, ['dense_2']);
  assert.equal(checkpoint.model.trainingLoss, 'categorical_crossentropy');
  assert.deepEqual(
    checkpoint.weights.map((w) => [w.name, w.layer, w.role, w.shape, w.trainable]),
    [
      ['dense_1/kernel', 'dense_1', 'kernel', [4, 5], true],
      ['dense_1/bias', 'dense_1', 'bias', [5], true],
      ['dense_2/kernel', 'dense_2', 'kernel', [5, 3], true],
      ['dense_2/bias', 'dense_2', 'bias', [3], true],
    ],
  );
  assertSameWeights(checkpoint, written.storedValues);
  assert.deepEqual(checkpoint.notes, []);
  assert.deepEqual(checkpoint.source.modelJson, written.modelJson);
});

test('Sequential: old list-form config, explicit InputLayer, and a missing "format" field', async () => {
  const layers = [inputLayer('in', [2]), denseLayer('d', 1)];
  const written = await writeModel({ topology: { class_name: 'Sequential', config: layers }, weights: denseWeights('d', 2, 1, 7) }, { format: null });
  const checkpoint = await readTfjsLayers(written.path);
  assert.deepEqual(checkpoint.model.inputs, [{ name: 'in', shape: [2] }]);
  assert.deepEqual(checkpoint.model.layers.map((l) => [l.name, l.inbound]), [['in', []], ['d', ['in']]]);
  assert.equal(checkpoint.model.trainingLoss, undefined);
});

test('round trip: read → write (new values, metadata) → read gives the written values', async () => {
  const written = await writeModel({ ...mlpModel([3, 4, 2]), extra: { userDefinedMetadata: { author: 'test' } } });
  const original = await readTfjsLayers(written.path);
  const doubled: WeightTensor[] = original.weights.map((w) => ({ ...w, values: w.values.map((v) => 2 * v) }));
  const outPath = join(await freshDir(), 'rescaled.json');
  const files = await tfjsLayersFormat.write(original, outPath, { weights: doubled, metadata: { rescaledFrom: original.path, factor: 2 } });
  assert.deepEqual(files, [outPath, join(outPath, '..', 'rescaled.weights.bin')]);

  const reread = await readTfjsLayers(outPath);
  assertSameWeights(reread, valuesByName({ ...original, weights: doubled }));
  assert.deepEqual(reread.model, original.model);
  const json = JSON.parse(await readFile(outPath, 'utf8')) as JsonObject;
  assert.deepEqual(json.flatnessLens, { rescaledFrom: original.path, factor: 2 });
  assert.deepEqual(json.userDefinedMetadata, { author: 'test' });
  assert.deepEqual(json.modelTopology, written.modelJson.modelTopology);
  assert.equal(json.format, 'layers-model');
  assert.deepEqual(json.weightsManifest, [
    { paths: ['rescaled.weights.bin'], weights: original.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'float32' })) },
  ]);
});

test('round trip without replacement values keeps every value bit for bit', async () => {
  const written = await writeModel(mlpModel([6, 7, 5, 2], 3), { shards: 2 });
  const original = await readTfjsLayers(written.path);
  const outPath = join(await freshDir(), 'copy.json');
  await tfjsLayersFormat.write(original, outPath, {});
  assertSameWeights(await readTfjsLayers(outPath), written.storedValues);
  const json = JSON.parse(await readFile(outPath, 'utf8')) as JsonObject;
  assert.equal(json.flatnessLens, undefined);
});

test('multiple shards and groups, with weights split across shard boundaries', async () => {
  const written = await writeModel(mlpModel([5, 9, 7, 3], 11), { shards: 3, groups: 2 });
  assert.equal(written.shardPaths.length, 6);
  const checkpoint = await readTfjsLayers(written.path);
  assertSameWeights(checkpoint, written.storedValues);
});

// ---- functional ------------------------------------------------------------------------------

/** in(4) → a, b; add(a, b); concat(add, a) → out. Listed out of order to exercise the sort. */
function residualModel(form: 'keras2' | 'keras3'): LayersModelFixture {
  const topology = functionalTopology(
    [
      { layer: denseLayer('out', 2, 'softmax'), inbound: ['cat'] },
      { layer: inputLayer('in', [4]), inbound: [] },
      { layer: denseLayer('a', 4, 'relu'), inbound: ['in'] },
      { layer: denseLayer('b', 4, 'relu'), inbound: ['in'] },
      { layer: { class_name: 'Add', config: { name: 'add', trainable: true } }, inbound: ['a', 'b'] },
      { layer: { class_name: 'Concatenate', config: { name: 'cat', axis: -1 } }, inbound: ['add', 'a'] },
    ],
    ['in'],
    ['out'],
    form,
  );
  const weights = [...denseWeights('a', 4, 4, 1), ...denseWeights('b', 4, 4, 2), ...denseWeights('out', 8, 2, 3)];
  return { topology, weights, trainingConfig: { loss: { out: 'categorical_crossentropy' } } };
}

for (const form of ['keras2', 'keras3'] as const) {
  test(`functional model with Add and Concatenate (${form} inbound nodes): graph, sort, round trip`, async () => {
    const written = await writeModel(residualModel(form));
    const checkpoint = await readTfjsLayers(written.path);
    const { layers } = checkpoint.model;
    assert.deepEqual(checkpoint.model.inputs, [{ name: 'in', shape: [4] }]);
    assert.deepEqual(checkpoint.model.outputs, ['out']);
    assert.equal(checkpoint.model.trainingLoss, 'categorical_crossentropy');
    const inbound = new Map(layers.map((l) => [l.name, l.inbound]));
    assert.deepEqual(inbound.get('add'), ['a', 'b']);
    assert.deepEqual(inbound.get('cat'), ['add', 'a']);
    const position = new Map(layers.map((l, i) => [l.name, i]));
    for (const layer of layers) {
      for (const from of layer.inbound) assert.ok(position.get(from)! < position.get(layer.name)!, `${from} before ${layer.name}`);
    }
    assert.equal(layers[0].name, 'in');

    const outPath = join(await freshDir(), 'residual.json');
    await tfjsLayersFormat.write(checkpoint, outPath, {});
    const reread = await readTfjsLayers(outPath);
    assert.deepEqual(reread.model, checkpoint.model);
    assertSameWeights(reread, written.storedValues);
  });
}

test('both modelTopology shapes give the same model; loss from training_config', async () => {
  const model = residualModel('keras2');
  const tfjsShape = await readTfjsLayers((await writeModel(model, { topologyShape: 'tfjs' })).path);
  const converterShape = await readTfjsLayers((await writeModel(model, { topologyShape: 'converter' })).path);
  assert.deepEqual(converterShape.model, tfjsShape.model);
  assert.equal(converterShape.model.trainingLoss, 'categorical_crossentropy');
});

test('Keras 3 flavour: batch_shape, single flattened input/output refs, nested weight names with :0', async () => {
  const input = { class_name: 'InputLayer', config: { name: 'input_layer', batch_shape: [null, 3], dtype: 'float32' } };
  const topology = functionalTopology([{ layer: input, inbound: [] }, { layer: denseLayer('dense', 2), inbound: ['input_layer'] }], ['input_layer'], ['dense'], 'keras3');
  const weights = [
    { name: 'model/dense/kernel:0', shape: [3, 2], values: seededValues(6, 1) },
    { name: 'model/dense/bias:0', shape: [2], values: seededValues(2, 2) },
  ];
  const checkpoint = await readTfjsLayers((await writeModel({ topology, weights })).path);
  assert.deepEqual(checkpoint.model.inputs, [{ name: 'input_layer', shape: [3] }]);
  assert.deepEqual(checkpoint.weights.map((w) => [w.layer, w.role]), [['dense', 'kernel'], ['dense', 'bias']]);
});

test('trainable flags: BatchNorm moving statistics and layers with trainable: false', async () => {
  const bn = { class_name: 'BatchNormalization', config: { name: 'bn', axis: -1 } };
  const frozen = denseLayer('frozen', 2, 'linear', { trainable: false });
  const topology = sequentialTopology([2], [denseLayer('d', 2), bn, frozen]);
  const weights = [
    ...denseWeights('d', 2, 2, 1),
    ...['gamma', 'beta', 'moving_mean', 'moving_variance'].map((role, i) => ({ name: `bn/${role}`, shape: [2], values: [1 + i, 0.5] })),
    ...denseWeights('frozen', 2, 2, 2),
  ];
  const checkpoint = await readTfjsLayers((await writeModel({ topology, weights })).path);
  assert.deepEqual(
    checkpoint.weights.map((w) => `${w.name}:${w.trainable}`),
    ['d/kernel:true', 'd/bias:true', 'bn/gamma:true', 'bn/beta:true', 'bn/moving_mean:false', 'bn/moving_variance:false', 'frozen/kernel:false', 'frozen/bias:false'],
  );
});

test('training loss: string, single-entry dict or list, Keras 3 loss object; several losses → undefined', () => {
  assert.equal(trainingLossOf({ loss: 'mse' }), 'mse');
  assert.equal(trainingLossOf({ loss: { out: 'mae' } }), 'mae');
  assert.equal(trainingLossOf({ loss: ['binary_crossentropy'] }), 'binary_crossentropy');
  assert.equal(trainingLossOf({ loss: { module: 'keras.losses', class_name: 'CategoricalCrossentropy', config: { name: 'categorical_crossentropy' } } }), 'categorical_crossentropy');
  assert.equal(trainingLossOf({ loss: { a: 'mse', b: 'mae' } }), undefined);
  assert.equal(trainingLossOf(null), undefined);
});

// ---- quantized -------------------------------------------------------------------------------

/** Dequantizes straight from the manifest and shard bytes: q * scale + min. */
async function dequantizeByFormula(modelPath: string): Promise<Map<string, Float32Array>> {
  const json = JSON.parse(await readFile(modelPath, 'utf8')) as { weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; quantization: { dtype: string; scale: number; min: number } }[] }[] };
  const result = new Map<string, Float32Array>();
  for (const group of json.weightsManifest) {
    const bytes = Buffer.concat(await Promise.all(group.paths.map((p) => readFile(join(modelPath, '..', p)))));
    let offset = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const { dtype, scale, min } = w.quantization;
      const width = dtype === 'uint8' ? 1 : 2;
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const q = width === 1 ? bytes[offset + i] : bytes.readUInt16LE(offset + 2 * i);
        values[i] = q * scale + min;
      }
      result.set(w.name, values);
      offset += count * width;
    }
  }
  return result;
}

for (const quantize of ['uint8', 'uint16'] as const) {
  test(`${quantize}-quantized weights dequantize to q*scale+min (odd sizes, unaligned offsets)`, async () => {
    const written = await writeModel(mlpModel([3, 5, 3], 5), { quantize, shards: 2 });
    const checkpoint = await readTfjsLayers(written.path);
    assertSameWeights(checkpoint, await dequantizeByFormula(written.path));
    const step = quantize === 'uint8' ? 2 / 255 : 2 / 65535;
    const original = mlpModel([3, 5, 3], 5).weights;
    for (const [i, w] of checkpoint.weights.entries()) {
      w.values.forEach((v, j) => assert.ok(Math.abs(v - Number(original[i].values[j])) <= step, `${w.name}[${j}]`));
    }
    assert.match(checkpoint.notes.join('\n'), new RegExp(`${quantize}-quantized; dequantized; a rewritten file will store float32`));

    const outPath = join(await freshDir(), 'float.json');
    await tfjsLayersFormat.write(checkpoint, outPath, { metadata: { step: 1 } });
    const json = JSON.parse(await readFile(outPath, 'utf8')) as { weightsManifest: { weights: JsonObject[] }[]; flatnessLens: JsonObject };
    assert.ok(json.weightsManifest[0].weights.every((w) => w.dtype === 'float32' && w.quantization === undefined));
    assert.equal(json.flatnessLens.step, 1);
    assert.match(String(json.flatnessLens.writerNote), /quantized.*float32/);
    assertSameWeights(await readTfjsLayers(outPath), valuesByName(checkpoint));
  });
}

test('float16 weights decode as half floats', async () => {
  const values = [0.5, -2, 1 / 3, 65504, 2 ** -24, -0, 0.1, 1000.5];
  const written = await writeModel({ topology: sequentialTopology([2], [denseLayer('d', 4)]), weights: [{ name: 'd/kernel', shape: [2, 4], values }, { name: 'd/bias', shape: [4], values: [1, 2, 3, 4] }] }, { quantize: 'float16' });
  const checkpoint = await readTfjsLayers(written.path);
  assert.deepEqual([...checkpoint.weights[0].values], [0.5, -2, 0.333251953125, 65504, 2 ** -24, -0, 0.0999755859375, 1000.5]);
  assertSameWeights(checkpoint, written.storedValues);
  assert.match(checkpoint.notes.join('\n'), /float16-quantized/);
});

test('halfToFloat on known bit patterns', () => {
  assert.equal(halfToFloat(0x3c00), 1);
  assert.equal(halfToFloat(0xc000), -2);
  assert.equal(halfToFloat(0x7bff), 65504);
  assert.equal(halfToFloat(0x0001), 2 ** -24);
  assert.equal(halfToFloat(0x03ff), 1023 * 2 ** -24);
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));
});

// ---- registry --------------------------------------------------------------------------------

test('registry: picks tfjs-layers for a model.json and refuses other files', async () => {
  const written = await writeModel();
  assert.equal((await formatFor(written.path))?.id, 'tfjs-layers');
  assert.equal((await readCheckpoint(written.path)).weights.length, 4);
  assert.equal(await formatFor(written.shardPaths[0]), undefined);
  await assertRejects(readCheckpoint(written.shardPaths[0]), FileProblem, written.shardPaths[0], /not a checkpoint format Flatness Lens reads/);

  const graph = join(await freshDir(), 'model.json');
  await writeFile(graph, JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }));
  await assertRejects(readCheckpoint(graph), FileProblem, graph, /graph model.*no layers to rebuild/);
  await assertRejects(readCheckpoint(join(root, 'nope.json')), FileProblem, 'nope.json', /cannot open/);
});

test('match() looks only at the name and the head', () => {
  const head = (text: string) => new TextEncoder().encode(text);
  assert.equal(tfjsLayersFormat.match('model.json', head('{"format": "layers-model", "modelTopology": {')), true);
  assert.equal(tfjsLayersFormat.match('model.JSON', head('{"modelTopology": {')), true);
  assert.equal(tfjsLayersFormat.match('model.bin', head('{"modelTopology": {')), false);
  assert.equal(tfjsLayersFormat.match('model.json', head('{"format":"graph-model","modelTopology":{')), true, 'matched so that read() explains graph models');
  assert.equal(tfjsLayersFormat.match('data.json', head('{"rows": []}')), false);
});

// ---- bad inputs ------------------------------------------------------------------------------

test('truncated shard, extra bytes and a missing shard are reported with the group and sizes', async () => {
  let written = await writeModel();
  await truncate(written.shardPaths[0], 10);
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /weightsManifest\[0\]: its 4 weights need 172 bytes but its shards \('group1-shard1of1\.bin'\) hold 10 bytes/);

  written = await writeModel(mlpModel([4, 5, 3]), { groups: 2 });
  await appendFile(written.shardPaths[1], new Uint8Array(3));
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /weightsManifest\[1\]: .* need 72 bytes .* hold 75 bytes \(extra bytes\)/);

  written = await writeModel(mlpModel([4, 5, 3]), { shards: 2 });
  await rm(written.shardPaths[1]);
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /shard file 'group1-shard2of2\.bin' listed in weightsManifest\[0\] is missing/);
});

const badShardPaths: [string, RegExp][] = [
  ['../outside.bin', /contains '\.\.'/],
  ['sub/../../outside.bin', /contains '\.\.'/],
  ['%2e%2e/outside.bin', /contains '\.\.'/],
  ['%2E%2E%2Foutside.bin', /contains '\.\.'/],
  ['/etc/passwd', /is absolute/],
  ['file:///etc/passwd', /is a URL/],
  ['https://example.com/w.bin', /is a URL/],
  ['C:/weights.bin', /is a URL|is absolute/],
  ['sub\\weights.bin', /backslash/],
  ['weights\u0000.bin', /NUL/],
  ['weights%00.bin', /NUL/],
  ['%E0%A4%A.bin', /percent-encoding/],
];
for (const [listed, problem] of badShardPaths) {
  test(`shard path ${JSON.stringify(listed)} is refused`, async () => {
    const written = await writeModel();
    await writeFile(join(written.path, '..', '..', 'outside.bin'), new Uint8Array(172));
    await editModelJson(written.path, (json) => {
      (json.weightsManifest as { paths: string[] }[])[0].paths = [listed];
    });
    await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, problem);
  });
}

test('a shard symlink that leads outside the model folder is refused; one inside is followed', async () => {
  const written = await writeModel();
  const outside = join(await freshDir(), 'elsewhere.bin');
  await writeFile(outside, await readFile(written.shardPaths[0]));
  await rm(written.shardPaths[0]);
  await symlink(outside, written.shardPaths[0]);
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /leads outside the model's folder/);

  await rm(written.shardPaths[0]);
  const inside = join(written.path, '..', 'real.bin');
  await writeFile(inside, await readFile(outside));
  await symlink('real.bin', written.shardPaths[0]);
  assertSameWeights(await readTfjsLayers(written.path), written.storedValues);
});

test('a shard path with percent-encoded characters is decoded', async () => {
  const written = await writeModel();
  const spaced = join(written.path, '..', 'my weights.bin');
  await writeFile(spaced, await readFile(written.shardPaths[0]));
  await editModelJson(written.path, (json) => {
    (json.weightsManifest as { paths: string[] }[])[0].paths = ['my%20weights.bin'];
  });
  assertSameWeights(await readTfjsLayers(written.path), written.storedValues);
});

type ManifestEdit = (weights: JsonObject[]) => void;
const badManifests: [string, ManifestEdit, RegExp][] = [
  ['duplicate weight names', (w) => void (w[2].name = 'dense_1/kernel'), /weight name 'dense_1\/kernel' appears more than once/],
  ['a negative dimension', (w) => void (w[1].shape = [-5]), /weight 'dense_1\/bias': shape \[-5\] has -5; dimensions must be non-negative integers/],
  ['a non-integer dimension', (w) => void (w[1].shape = [2.5, 2]), /shape \[2\.5,2\] has 2\.5/],
  ['a string dimension', (w) => void (w[1].shape = ['5']), /shape \["5"\] has "5"/],
  ['an unsupported dtype', (w) => void (w[1].dtype = 'string'), /dtype "string" is not supported/],
  ['uint8 quantization without scale', (w) => void (w[1].quantization = { dtype: 'uint8', min: 0 }), /needs finite "scale" and "min"/],
  ['a weight of an unknown layer', (w) => void (w[3].name = 'dense_9/bias'), /weight 'dense_9\/bias' belongs to layer 'dense_9', which is not in modelTopology/],
  ['a weight name without a layer', (w) => void (w[3].name = 'bias'), /weight 'bias' has no layer part/],
  ['two weights for one role', (w) => void (w[3].name = 'scope/dense_2/kernel'), /weights 'dense_2\/kernel' and 'scope\/dense_2\/kernel' are both the kernel of layer 'dense_2'/],
];
for (const [what, edit, problem] of badManifests) {
  test(`weightsManifest with ${what} is refused`, async () => {
    const written = await writeModel();
    await editModelJson(written.path, (json) => edit((json.weightsManifest as { weights: JsonObject[] }[])[0].weights));
    await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, problem);
  });
}

for (const [what, bad, problem] of [
  ['NaN', NaN, /weight 'dense_2\/kernel' has NaN at index 4/],
  ['Infinity', -Infinity, /weight 'dense_2\/kernel' has an infinite value at index 4/],
] as const) {
  test(`a ${what} weight is refused, naming the weight`, async () => {
    const model = mlpModel([4, 5, 3]);
    const values = Float32Array.from(model.weights[2].values);
    values[4] = bad;
    const weights = model.weights.map((w, i) => (i === 2 ? { ...w, values } : w));
    const written = await writeModel({ ...model, weights });
    await assertRejects(readCheckpoint(written.path), FileProblem, written.path, problem);
    const allowed = await readCheckpoint(written.path, { allowNonFinite: true });
    assert.ok(!Number.isFinite(allowed.weights[2].values[4]));
  });
}

test('graph models, invalid JSON, unknown formats and a missing manifest are refused clearly', async () => {
  const dir = await freshDir();
  const cases: [string, string, RegExp][] = [
    ['graph.json', JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] }), /graph model.*no layers to rebuild/],
    ['broken.json', '{"modelTopology": {"class_name": "Sequential",', /is not valid JSON/],
    ['list.json', '[1, 2]', /expected a JSON object at the top level, found a list of 2/],
    ['other.json', JSON.stringify({ format: 'saved-model', modelTopology: {} }), /unknown "format" "saved-model"/],
    ['nomanifest.json', JSON.stringify({ modelTopology: mlpModel([2, 2]).topology }), /"weightsManifest" should be a list of groups, found nothing/],
    ['notopology.json', JSON.stringify({ modelTopology: { keras_version: '2' }, weightsManifest: [] }), /neither a "class_name" nor a "model_config"/],
  ];
  for (const [name, text, problem] of cases) {
    const path = join(dir, name);
    await writeFile(path, text);
    await assertRejects(readTfjsLayers(path), FileProblem, path, problem);
  }
});

test('model structure problems name the layer and the file', async () => {
  const shared = functionalTopology(
    [
      { layer: inputLayer('in', [2]), inbound: [] },
      { layer: denseLayer('twice', 2), inbound: ['in'] },
      { layer: denseLayer('out', 1), inbound: ['twice'] },
    ],
    ['in'],
    ['out'],
  );
  ((shared.config as JsonObject).layers as JsonObject[])[1].inbound_nodes = [[['in', 0, 0, {}]], [['in', 0, 0, {}]]];
  const nested = functionalTopology(
    [
      { layer: inputLayer('in', [2]), inbound: [] },
      { layer: { class_name: 'Sequential', config: { name: 'inner', layers: [] } }, inbound: ['in'] },
    ],
    ['in'],
    ['inner'],
  );
  const unknownDim = sequentialTopology([2], [denseLayer('d', 1)]);
  (((unknownDim.config as JsonObject).layers as JsonObject[])[0].config as JsonObject).batch_input_shape = [null, null, 2];
  const noInputShape = { class_name: 'Sequential', config: { name: 's', layers: [denseLayer('d', 1)] } };

  const cases: [JsonObject, RegExp][] = [
    [shared, /layer 'twice': is called 2 times \(a shared layer\); shared layers are not supported/],
    [nested, /layer 'inner': is itself a Sequential model; nested models are not supported/],
    [noInputShape, /layer 'd': the first layer of a Sequential model needs a batch_input_shape/],
  ];
  for (const [topology, problem] of cases) {
    const written = await writeModel({ topology, weights: [] });
    await assertRejects(readTfjsLayers(written.path), ModelProblem, written.path, problem);
  }
  // An open (null) dimension is read as such; the input shape is asked for where it is needed (inputShape.ts).
  const open = await writeModel({ topology: unknownDim, weights: [] });
  assert.deepEqual((await readTfjsLayers(open.path)).model.inputs[0].shape, [openDimension, 2]);
});

// ---- writer safety ---------------------------------------------------------------------------

async function readSmallCheckpoint(): Promise<Checkpoint> {
  return readTfjsLayers((await writeModel()).path);
}

test('the writer never overwrites the json or the shard', async () => {
  const checkpoint = await readSmallCheckpoint();
  const dir = await freshDir();
  const outPath = join(dir, 'out.json');
  await writeFile(outPath, 'keep me');
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, {}), FileProblem, outPath, /already exists/);
  assert.equal(await readFile(outPath, 'utf8'), 'keep me');

  await rm(outPath);
  await writeFile(join(dir, 'out.weights.bin'), 'keep me too');
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, {}), FileProblem, 'out.weights.bin', /already exists/);
  assert.deepEqual(await readdir(dir), ['out.weights.bin']);
  assert.equal(await readFile(join(dir, 'out.weights.bin'), 'utf8'), 'keep me too');
});

test('the writer leaves nothing behind when it cannot write (parent is a file)', async () => {
  const checkpoint = await readSmallCheckpoint();
  const dir = await freshDir();
  await writeFile(join(dir, 'not-a-folder'), '');
  const outPath = join(dir, 'not-a-folder', 'out.json');
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, {}), FileProblem, 'not-a-folder', /cannot write it \(ENOTDIR\)/);
  assert.deepEqual(await readdir(dir), ['not-a-folder']);
});

test('atomic writes remove the files already written when a later one fails', async () => {
  const dir = await freshDir();
  await writeFile(join(dir, 'blocker'), '');
  const bad = join(dir, 'blocker', 'b.json');
  await assertRejects(writeNewFilesAtomically([{ path: join(dir, 'a.bin'), data: new Uint8Array(8) }, { path: bad, data: '{}' }]), FileProblem, bad, /ENOTDIR/);
  assert.deepEqual(await readdir(dir), ['blocker']);
});

test('the writer checks replacement weights and its target name', async () => {
  const checkpoint = await readSmallCheckpoint();
  const dir = await freshDir();
  const outPath = join(dir, 'out.json');
  const withValues = (index: number, values: Float32Array, shape = checkpoint.weights[index].shape) =>
    checkpoint.weights.map((w, i) => (i === index ? { ...w, values, shape } : w));
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, { weights: withValues(1, new Float32Array(5).fill(NaN)) }), FileProblem, outPath, /weight 'dense_1\/bias' has NaN at index 0; refusing to write/);
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, { weights: withValues(1, new Float32Array(6), [6]) }), FileProblem, outPath, /has shape \[6\], expected \[5\]/);
  await assertRejects(tfjsLayersFormat.write(checkpoint, outPath, { weights: checkpoint.weights.slice(1) }), FileProblem, outPath, /no replacement values given for weight 'dense_1\/kernel'/);
  await assertRejects(tfjsLayersFormat.write(checkpoint, join(dir, 'out.bin'), {}), FileProblem, 'out.bin', /written as <name>\.json/);
  assert.deepEqual(await readdir(dir), []);
});

test('a checkpoint not read from a model.json is written with a topology built from its model', async () => {
  const checkpoint = await readSmallCheckpoint();
  const dir = await freshDir();
  const foreign: Checkpoint = { ...checkpoint, format: 'keras-h5', source: { kind: 'none' } };
  const [json] = await tfjsLayersFormat.write(foreign, join(dir, 'converted.json'), {});
  const reread = await readTfjsLayers(json);
  assert.deepEqual(reread.model.layers.map((l) => [l.name, l.className, l.inbound]), checkpoint.model.layers.map((l) => [l.name, l.className, l.inbound]));
  assert.deepEqual(reread.weights.map((w) => [w.layer, w.role, Array.from(w.values)]), checkpoint.weights.map((w) => [w.layer, w.role, Array.from(w.values)]));
});

test('quantized decoding agrees with tfjs-core io.decodeWeights, including a float32 weight at an unaligned offset', async () => {
  const tf = await import('@tensorflow/tfjs-core');
  await import('@tensorflow/tfjs-backend-cpu');
  await tf.setBackend('cpu');
  for (const quantize of ['uint8', 'uint16', 'float16'] as const) {
    const written = await writeModel(mlpModel([3, 5, 3], 9), { quantize });
    // Keep only dense_1/kernel (15 values) quantized, the rest float32: the next offset is 15 or 30 bytes.
    await editModelJson(written.path, (json) => {
      const weights = (json.weightsManifest as { weights: JsonObject[] }[])[0].weights;
      for (const w of weights.slice(1)) {
        w.quantization = undefined;
      }
    });
    const shard = await readFile(written.shardPaths[0]);
    const specs = (JSON.parse(await readFile(written.path, 'utf8')) as { weightsManifest: { weights: JsonObject[] }[] }).weightsManifest[0].weights;
    const width = quantize === 'uint8' ? 1 : 2;
    const quantizedBytes = shard.subarray(0, 15 * width);
    const rest = written.storedValues;
    const floatBytes = Buffer.alloc(4 * (5 + 15 + 3));
    [...rest.get('dense_1/bias')!, ...rest.get('dense_2/kernel')!, ...rest.get('dense_2/bias')!].forEach((v, i) => floatBytes.writeFloatLE(v, 4 * i));
    await writeFile(written.shardPaths[0], Buffer.concat([quantizedBytes, floatBytes]));

    const checkpoint = await readTfjsLayers(written.path);
    const bytes = new Uint8Array(await readFile(written.shardPaths[0]));
    const tensors = tf.io.decodeWeights(bytes.buffer, specs as unknown as Parameters<typeof tf.io.decodeWeights>[1]);
    for (const w of checkpoint.weights) {
      assert.deepEqual(w.values, tensors[w.name].dataSync(), `${quantize} ${w.name}`);
    }
    tf.dispose(Object.values(tensors));
  }
});

test('describe() counts parameters and lists every file without decoding weights, and catches bad shards by size', async () => {
  const written = await writeModel(mlpModel([4, 5, 3]), { shards: 2 });
  const summary = await tfjsLayersFormat.describe(written.path);
  assert.equal(summary.parameters, 4 * 5 + 5 + 5 * 3 + 3);
  assert.equal(summary.files[0], written.path);
  assert.equal(summary.files.length, 1 + written.shardPaths.length);
  await truncate(written.shardPaths[1], 3);
  await assertRejects(tfjsLayersFormat.describe(written.path), FileProblem, written.path, /need \d+ bytes but its shards .* hold \d+ bytes \(truncated\?\)/);
});

// ---- hostile model.json files: lying shapes, deep nesting, huge files, long chains ---------------

test('weight shapes with huge dims are refused from the manifest, before any shard is read', async () => {
  for (const [shape, problem] of [
    [[1e9, 1e9], /weight 'dense_1\/kernel': shape \[1000000000,1000000000\] is too large/],
    [[1e7, 1e7], /weightsManifest\[0\]: its 4 weights need 400000000000092 bytes but its shards \('group1-shard1of1\.bin'\) hold 172 bytes \(truncated\?\)/],
    [[2 ** 31, 4], /need 34359738460 bytes but its shards .* hold 172 bytes/],
  ] as const) {
    const written = await writeModel();
    await editModelJson(written.path, (json) => void ((json.weightsManifest as { weights: JsonObject[] }[])[0].weights[0].shape = shape));
    await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, problem);
    await assertRejects(tfjsLayersFormat.describe(written.path), FileProblem, written.path, problem);
  }
});

const nested = (depth: number, inner: string) => '['.repeat(depth) + inner + ']'.repeat(depth);

test('deeply nested JSON is refused with a FileProblem, not a stack overflow; ordinary nesting is read', async () => {
  const model = { ...mlpModel([4, 5, 3]), trainingConfig: { loss: 'categorical_crossentropy' } };
  const spliced = async (edit: (text: string) => string) => {
    const written = await writeModel(model);
    await writeFile(written.path, edit(await readFile(written.path, 'utf8')));
    return written;
  };
  const cases: [string, (text: string) => string][] = [
    ['a loss nested in single-element lists', (text) => text.replace('"loss":"categorical_crossentropy"', `"loss":${nested(200000, '"mse"')}`)],
    ['an unused field', (text) => text.replace('"generatedBy":', `"extra":${'{"a":'.repeat(200000)}1${'}'.repeat(200000)},"generatedBy":`)],
  ];
  for (const [, edit] of cases) {
    const written = await spliced(edit);
    await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /nests lists and objects more than 100 levels deep/);
    await assertRejects(tfjsLayersFormat.describe(written.path), FileProblem, written.path, /more than 100 levels deep/);
  }
  // Keras 3 inbound nodes are walked for __keras_tensor__ entries.
  const functional = functionalTopology([{ layer: inputLayer('in', [4]), inbound: [] }, { layer: denseLayer('d', 2), inbound: ['in'] }], ['in'], ['d'], 'keras3');
  const written = await writeModel({ topology: functional, weights: denseWeights('d', 4, 2, 1) });
  const text = await readFile(written.path, 'utf8');
  assert.ok(text.includes('"args":['));
  await writeFile(written.path, text.replace('"args":[', `"args":[${nested(200000, '')},`));
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, /more than 100 levels deep/);

  const ordinary = await spliced((t) => t.replace('"generatedBy":', `"extra":${nested(50, '1')},"generatedBy":`));
  assertSameWeights(await readTfjsLayers(ordinary.path), ordinary.storedValues);
});

test('a model.json over the size limit is refused without being read', async () => {
  const written = await writeModel();
  await truncate(written.path, MAX_MODEL_JSON_BYTES + 1);
  await assertRejects(readTfjsLayers(written.path), FileProblem, written.path, new RegExp(`is ${MAX_MODEL_JSON_BYTES + 1} bytes, more than the ${MAX_MODEL_JSON_BYTES}-byte limit for a model\\.json`));
  await assertRejects(tfjsLayersFormat.describe(written.path), FileProblem, written.path, /-byte limit for a model\.json/);
});

test('a functional chain of 50000 layers listed outputs-first is sorted without overflowing the stack', async () => {
  const count = 50000;
  const layers: { layer: JsonObject; inbound: string[] }[] = [{ layer: inputLayer('in', [2]), inbound: [] }];
  for (let i = 0; i < count; i++) layers.push({ layer: { class_name: 'Activation', config: { name: `a${i}`, activation: 'relu' } }, inbound: [i === 0 ? 'in' : `a${i - 1}`] });
  const written = await writeModel({ topology: functionalTopology([...layers].reverse(), ['in'], [`a${count - 1}`]), weights: [] });
  const { model } = await readTfjsLayers(written.path);
  assert.deepEqual(model.layers.slice(0, 3).map((l) => l.name), ['in', 'a0', 'a1']);
  assert.equal(model.layers.length, count + 1);
});
