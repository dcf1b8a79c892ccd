import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, open, readFile, symlink, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeFile } from '../../src/engine/analysis/analyzeFile';
import { describeOnnx, matchOnnx, onnxFormat, readOnnx } from '../../src/engine/formats/onnx/onnxFormat';
import { toEngine, toOnnx, type WeightLayout } from '../../src/engine/formats/onnx/layouts';
import { decodeModel, GraphField, ModelField, TensorField } from '../../src/engine/formats/onnx/proto';
import { floatToHalf } from '../../src/engine/formats/onnx/tensors';
import { concatBytes, encodeVarint, lengthDelimitedField, parseMessage, stringField, stringOf, varintField, type WireField } from '../../src/engine/formats/onnx/wire';
import { PROVENANCE_KEY } from '../../src/engine/formats/onnx/writer';
import { formatFor, readCheckpoint } from '../../src/engine/formats/registry';
import { halfToFloat } from '../../src/engine/data/halfFloat';
import { initBackend } from '../../src/engine/model/backend';
import { NetworkFunction } from '../../src/engine/model/network';
import type { Checkpoint } from '../../src/engine/model/spec';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import { caseFolders } from '../fixtures/tempDirs';
import { assertOutputsMatch, engineOutputs, readReferenceOutputs, type ReferenceOutputs } from '../fixtures/referenceOutputs';
import { FileProblem, ModelProblem } from '../../src/protocol/errors';

const fixtures = join(__dirname, '..', 'fixtures', 'onnx');
const fixture = (name: string) => join(fixtures, name);
const kerasFixture = (name: string) => join(fixtures, '..', 'keras', name);
const { freshDir } = caseFolders('onnx');
before(() => initBackend('cpu'));

const reference = (name: string): ReferenceOutputs => readReferenceOutputs(fixture(`${name}.json`));

function assertMatchesPyTorch(checkpoint: Checkpoint, name: string): void {
  const ref = reference(name);
  assertOutputsMatch(engineOutputs(checkpoint, ref.inputs, ref.inputShape, 'nchw'), ref, `${name} (vs PyTorch)`);
}

async function assertRejects(promise: Promise<unknown>, kind: typeof FileProblem | typeof ModelProblem, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof kind, `expected ${kind.name}, got ${String(error)}`);
    assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
    assert.match(error.message, problem);
    return true;
  });
}

// ---- editing fixture bytes with the codec, for bad inputs ------------------------------------

/** Rebuilds a model with each graph field replaced by `edit(field)` (undefined keeps it). */
function editGraph(bytes: Uint8Array, edit: (field: WireField) => Uint8Array | undefined): Uint8Array {
  return concatBytes(
    parseMessage(bytes).map((modelField) => {
      if (modelField.number !== ModelField.graph) return bytes.subarray(modelField.start, modelField.end);
      const graph = parseMessage(bytes, modelField.valueStart, modelField.valueEnd).map((f) => edit(f) ?? bytes.subarray(f.start, f.end));
      return lengthDelimitedField(ModelField.graph, concatBytes(graph));
    }),
  );
}

function nameOf(bytes: Uint8Array, field: WireField, nameField: number): string {
  const f = parseMessage(bytes, field.valueStart, field.valueEnd).find((g) => g.number === nameField);
  return f ? stringOf(bytes, f, 'name') : '';
}

/** The initializer `name` with its fields rebuilt by `edit`. */
function editInitializer(bytes: Uint8Array, name: string, edit: (fields: WireField[]) => Uint8Array[]): Uint8Array {
  return editGraph(bytes, (field) => {
    if (field.number !== GraphField.initializer || nameOf(bytes, field, TensorField.name) !== name) return undefined;
    return lengthDelimitedField(GraphField.initializer, concatBytes(edit(parseMessage(bytes, field.valueStart, field.valueEnd))));
  });
}

function externalDataFields(location: string, length: number): Uint8Array[] {
  const entry = (key: string, value: string) => lengthDelimitedField(TensorField.externalData, concatBytes([stringField(1, key), stringField(2, value)]));
  return [entry('location', location), entry('offset', '0'), entry('length', String(length)), varintField(TensorField.dataLocation, 1)];
}

// ---- reading: the engine computes what PyTorch computed --------------------------------------

for (const name of ['mlp', 'cnn', 'convbn', 'leaky', 'depthwise', 'concat', 'pool']) {
  test(`${name}.onnx (torch.onnx.export) computes PyTorch's outputs within 1e-5 relative`, async () => {
    const checkpoint = await readOnnx(fixture(`${name}.onnx`));
    assert.equal(checkpoint.format, 'onnx');
    assertMatchesPyTorch(checkpoint, name);
  });
}

test('the MLP maps onto InputLayer, Dense, Activation layers with [in, out] kernels', async () => {
  const checkpoint = await readOnnx(fixture('mlp.onnx'));
  assert.deepEqual(checkpoint.model.inputs, [{ name: 'input', shape: [6] }]);
  assert.deepEqual(checkpoint.model.layers.map((l) => l.className), ['InputLayer', 'Dense', 'Activation', 'Dense', 'Activation']);
  assert.deepEqual(checkpoint.weights.map((w) => [w.name, w.layer, w.role, w.shape, w.trainable]), [
    ['fc1.weight', 'fc1.Gemm', 'kernel', [6, 8], true],
    ['fc1.bias', 'fc1.Gemm', 'bias', [8], true],
    ['fc2.weight', 'fc2.Gemm', 'kernel', [8, 4], true],
    ['fc2.bias', 'fc2.Gemm', 'bias', [4], true],
  ]);
  assert.equal(new NetworkFunction(checkpoint).outputHead, 'softmax');
});

test('the CNN: NCHW input becomes [H, W, C], kernels HWIO, BatchNorm statistics non-trainable', async () => {
  const cnn = await readOnnx(fixture('cnn.onnx'));
  assert.deepEqual(cnn.model.inputs[0].shape, [6, 6, 2]);
  assert.deepEqual(cnn.model.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'Activation', 'MaxPooling2D', 'Flatten', 'Dense']);
  assert.equal(cnn.model.layers[1].config.padding, 'same');
  assert.deepEqual(cnn.weights.find((w) => w.role === 'kernel' && w.layer.includes('conv'))?.shape, [3, 3, 2, 3]);
  assert.ok(cnn.notes.some((n) => /channels-last/.test(n)), cnn.notes.join('; '));
  const bn = await readOnnx(fixture('convbn.onnx'));
  assert.deepEqual(bn.weights.filter((w) => w.layer.includes('bn')).map((w) => [w.role, w.trainable]), [
    ['gamma', true],
    ['beta', true],
    ['moving_mean', false],
    ['moving_variance', false],
  ]);
});

test('depthwise Conv, PReLU slopes through Unsqueeze, Pad, AveragePool and shapes computed in the graph map onto engine layers', async () => {
  const depthwise = await readOnnx(fixture('depthwise.onnx'));
  // x.view(x.size(0), -1) is Shape → Gather → Unsqueeze → Concat → Reshape; AvgPool2d(2) is Pad (of zeros) + AveragePool.
  assert.deepEqual(depthwise.model.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'Activation', 'ZeroPadding2D', 'DepthwiseConv2D', 'PReLU', 'AveragePooling2D', 'Flatten', 'Dense']);
  assert.equal(depthwise.model.layers[4].config.depth_multiplier, 2);
  const shapes = new Map(depthwise.weights.map((w) => [w.name, w.shape]));
  assert.deepEqual(shapes.get('depthwise.weight'), [3, 3, 4, 2]);
  assert.deepEqual(shapes.get('prelu.weight'), [1, 1, 8]);

  // AvgPool2d(3, padding=1) counts the padded zeros: a ZeroPadding2D and a 'valid' pool; nn.ZeroPad2d((1, 0, 0, 1))'s
  // pads are computed by Mul/Sub/ConstantOfShape/Concat/Reshape/Slice/Transpose.
  const concat = await readOnnx(fixture('concat.onnx'));
  const padding = concat.model.layers.filter((l) => l.className === 'ZeroPadding2D').map((l) => l.config.padding);
  assert.deepEqual(padding, [[[1, 1], [1, 1]], [[0, 1], [1, 0]]]);
  assert.equal(concat.model.layers.find((l) => l.className === 'AveragePooling2D')?.config.padding, 'valid');
  assert.deepEqual(concat.model.layers.find((l) => l.className === 'Concatenate')?.inbound, ['elu.Elu', 'relu.Relu']);

  // count_include_pad = False: TensorFlow's 'same', which averages over the real cells only.
  const pool = await readOnnx(fixture('pool.onnx'));
  assert.deepEqual(pool.model.layers.filter((l) => l.className === 'AveragePooling2D').map((l) => l.config.padding), ['valid', 'same']);
});

test('layout conversions invert each other (Gemm transB with CHW rows, OIHW)', () => {
  const values = Float32Array.from({ length: 2 * 12 }, (_, i) => i);
  const layouts: [WeightLayout, number[]][] = [
    [{ kind: 'dense', transB: true, chw: [3, 2, 2] }, [2, 12]],
    [{ kind: 'dense', transB: false, chw: [3, 2, 2] }, [12, 2]],
    [{ kind: 'conv' }, [2, 3, 2, 2]],
  ];
  for (const [layout, dims] of layouts) assert.deepEqual(toOnnx(toEngine(values, dims, layout), dims, layout), values);
  // Engine feature (h·W + w)·C + c of a [C=3, H=2, W=2] image is ONNX feature c·4 + h·2 + w.
  const kernel = toEngine(Float32Array.from({ length: 12 }, (_, i) => i), [12, 1], { kind: 'dense', transB: false, chw: [3, 2, 2] });
  assert.deepEqual([...kernel], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
});

test('float16 encoding rounds to the nearest half', () => {
  for (const v of [0, 1, -2.5, 65504, 6.1e-5, 3e-7, 0.1, 1e6]) {
    const expected = Math.abs(v) > 65519 ? Infinity : v;
    const back = halfToFloat(floatToHalf(v));
    assert.ok(Math.abs(back - expected) <= Math.abs(expected) * 1e-3 + 6e-8 || back === expected, `${v} → ${back}`);
  }
});

test('registry, match and describe', async () => {
  assert.equal((await formatFor(fixture('mlp.onnx')))?.id, 'onnx');
  assert.ok(matchOnnx('a.ONNX', Uint8Array.of(0x08, 0x07)));
  assert.ok(!matchOnnx('a.onnx', new TextEncoder().encode('{"x": 1}')));
  assert.ok(!matchOnnx('a.pb', Uint8Array.of(0x08, 0x07)));
  assert.deepEqual(await describeOnnx(fixture('mlp.onnx')), { parameters: 6 * 8 + 8 + 8 * 4 + 4, files: [fixture('mlp.onnx')] });
  assert.deepEqual(onnxFormat.filesWritten('/x/y.onnx'), ['/x/y.onnx']);
});

// ---- writing ---------------------------------------------------------------------------------

test('round trip without changes: identical bytes and values; with metadata: provenance appended', async () => {
  const dir = await freshDir();
  const original = new Uint8Array(await readFile(fixture('cnn.onnx')));
  const checkpoint = await readOnnx(fixture('cnn.onnx'));
  const [plain] = await onnxFormat.write(checkpoint, join(dir, 'same.onnx'), {});
  assert.deepEqual(new Uint8Array(await readFile(plain)), original, 'unchanged weights give the same bytes');
  const [withMetadata] = await onnxFormat.write(checkpoint, join(dir, 'meta.onnx'), { weights: checkpoint.weights, metadata: { mode: 'test' } });
  const written = new Uint8Array(await readFile(withMetadata));
  assert.deepEqual(written.subarray(0, original.length), original, 'everything before the provenance entry is unchanged');
  const model = decodeModel(written);
  assert.deepEqual(JSON.parse(model.metadata.get(PROVENANCE_KEY)!), { mode: 'test' });
  const again = await readOnnx(withMetadata);
  for (const [i, w] of again.weights.entries()) assert.deepEqual(w.values, checkpoint.weights[i].values, w.name);
  await assertRejects(onnxFormat.write(checkpoint, withMetadata, {}), FileProblem, withMetadata, /already exists/);
  await assertRejects(onnxFormat.write(checkpoint, join(dir, 'x.json'), {}), FileProblem, 'x.json', /<name>\.onnx/);
});

test('new values are written back in ONNX layouts: only the initializer data changes', async () => {
  const dir = await freshDir();
  const checkpoint = await readOnnx(fixture('cnn.onnx'));
  const doubled = checkpoint.weights.map((w) => ({ ...w, values: w.values.map((v) => 2 * v) }));
  const [out] = await onnxFormat.write(checkpoint, join(dir, 'doubled.onnx'), { weights: doubled });
  const again = await readOnnx(out);
  for (const [i, w] of again.weights.entries()) assert.deepEqual(w.values, doubled[i].values, w.name);
  const [a, b] = [decodeModel(new Uint8Array(await readFile(fixture('cnn.onnx')))), decodeModel(new Uint8Array(await readFile(out)))];
  assert.deepEqual(b.graph.nodes, a.graph.nodes);
  assert.equal(b.producer, a.producer);
  assert.deepEqual([...b.opsets], [...a.opsets]);
  assert.deepEqual(b.graph.initializers.map((t) => [t.name, t.dims, t.dataType]), a.graph.initializers.map((t) => [t.name, t.dims, t.dataType]));
});

for (const name of ['mlp', 'cnn']) {
  test(`rescaled ${name}.onnx (planRescale + writeRescaled) still computes PyTorch's outputs`, async () => {
    const dir = await freshDir();
    const plan = await planRescale({ checkpoint: fixture(`${name}.onnx`), mode: 'sharpen', factor: 10, probeSamples: 32, traceSamples: 4, seed: 1 });
    const [written] = await writeRescaled(plan, join(dir, `${name}.sharp.onnx`));
    const rescaled = await readOnnx(written);
    const original = await readOnnx(fixture(`${name}.onnx`));
    assert.ok(rescaled.weights.some((w, i) => w.values.some((v, j) => Math.abs(v - original.weights[i].values[j]) > 1e-3 * Math.abs(v))), 'the weights changed');
    assertMatchesPyTorch(rescaled, name);
    const provenance = JSON.parse(decodeModel(new Uint8Array(await readFile(written))).metadata.get(PROVENANCE_KEY)!) as { mode: string };
    assert.equal(provenance.mode, 'sharpen');
  });
}

// ---- the same network in four files ---------------------------------------------------------

test('one MLP as ONNX, TF.js Layers, Keras .h5 and .keras: same outputs, loss, top eigenvalues, trace and ε-sharpness', async () => {
  const files = {
    onnx: fixture('mlp.onnx'),
    'TF.js': fixture('mlp.tfjs.json'),
    'Keras .h5': kerasFixture('twin-mlp.h5'),
    'Keras .keras': kerasFixture('twin-mlp.keras'),
  };
  for (const file of Object.values(files)) assertMatchesPyTorch(await readCheckpoint(file), 'mlp');
  const settings = { eigenvalues: { count: 2 }, trace: { samples: 8 }, sharpness: { subspaceDim: 5, iterations: 4, restarts: 1 } };
  const reports = await Promise.all(
    Object.entries(files).map(async ([format, checkpoint]) => {
      const report = await analyzeFile({ checkpoint, seed: 3, probeSamples: 64, metrics: ['loss', 'eigenvalues', 'trace', 'sharpness'], settings });
      return { format, report };
    }),
  );
  const [first, ...others] = reports;
  const measures = ({ report }: (typeof reports)[number]) => ({
    parameters: report.checkpoint.parameters,
    loss: report.loss,
    'top eigenvalue': report.hessian.topEigenvalues![0],
    'second eigenvalue': report.hessian.topEigenvalues![1],
    // Probes are seeded by weight position and size, not name ('fc1.weight' vs 'dense_1/kernel').
    trace: report.hessian.trace!.estimate,
    'ε-sharpness': report.sharpness!.fullSpace,
    'ε-sharpness (subspace)': report.sharpness!.subspace.value,
  });
  const expected = measures(first);
  for (const other of others) {
    assert.equal(other.report.data.loss, first.report.data.loss, `${other.format}: loss kind`);
    for (const [what, value] of Object.entries(measures(other))) {
      const reference = expected[what as keyof typeof expected];
      const close = Math.abs(value - reference) <= 1e-4 * Math.max(Math.abs(value), Math.abs(reference), 1e-6);
      assert.ok(close, `${what}: ${other.format} ${value} vs ${first.format} ${reference}`);
    }
  }
});

// ---- bad input -------------------------------------------------------------------------------

test('a truncated file and garbage bytes are refused, naming the file', async () => {
  const dir = await freshDir();
  const bytes = await readFile(fixture('mlp.onnx'));
  const truncated = join(dir, 'truncated.onnx');
  await writeFile(truncated, bytes.subarray(0, bytes.length - 100));
  await assertRejects(readOnnx(truncated), FileProblem, truncated, /not a valid ONNX model.*truncated/);
  const garbage = join(dir, 'garbage.onnx');
  await writeFile(garbage, Buffer.from('this is not a protobuf at all, just text\n'));
  await assertRejects(readOnnx(garbage), FileProblem, garbage, /not a valid ONNX model/);
  await assertRejects(readCheckpoint(garbage), FileProblem, garbage, /not a checkpoint format/);
  const empty = join(dir, 'empty.onnx');
  await writeFile(empty, new Uint8Array(0));
  await assertRejects(readOnnx(empty), FileProblem, empty, /no graph/);
});

for (const op of ['Einsum', 'LSTM', 'GRU']) {
  test(`an unsupported operator (${op}) is refused, naming the node, the op and the file`, async () => {
    const dir = await freshDir();
    const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
    const edited = editGraph(bytes, (field) => {
      if (field.number !== GraphField.node || nameOf(bytes, field, 4) !== 'Relu') return undefined;
      const node = parseMessage(bytes, field.valueStart, field.valueEnd).map((f) => (f.number === 4 ? stringField(4, op) : bytes.subarray(f.start, f.end)));
      return lengthDelimitedField(GraphField.node, concatBytes(node));
    });
    const path = join(dir, 'unsupported.onnx');
    await writeFile(path, edited);
    await assertRejects(readOnnx(path), ModelProblem, path, new RegExp(`'/relu/Relu'.*ONNX operator '${op}' is not supported \\(supported: Gemm`));
    // Listing the file (the Checkpoints view) already names it.
    await assertRejects(describeOnnx(path), ModelProblem, path, new RegExp(`'/relu/Relu'.*ONNX operator '${op}' is not supported`));
  });
}

/** Rebuilds the node named `name` with its fields replaced by `edit`. */
function editNode(bytes: Uint8Array, name: string, edit: (fields: WireField[]) => Uint8Array[]): Uint8Array {
  return editGraph(bytes, (field) => {
    if (field.number !== GraphField.node || nameOf(bytes, field, 3) !== name) return undefined;
    return lengthDelimitedField(GraphField.node, concatBytes(edit(parseMessage(bytes, field.valueStart, field.valueEnd))));
  });
}

test('Pad other than zeros on height and width, and shape ops on data, are refused naming the node', async () => {
  const dir = await freshDir();
  const concat = new Uint8Array(await readFile(fixture('concat.onnx')));
  const reflect = lengthDelimitedField(5, concatBytes([stringField(1, 'mode'), stringField(4, 'reflect'), varintField(20, 3)]));
  const reflected = join(dir, 'reflect.onnx');
  await writeFile(reflected, editNode(concat, '/pad/Pad', (fields) => fields.map((f) => (f.number === 5 ? reflect : concat.subarray(f.start, f.end)))));
  await assertRejects(readOnnx(reflected), ModelProblem, reflected, /'\/pad\/Pad'.*Pad: mode 'reflect' is not supported/);

  const mlp = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const unsqueeze = join(dir, 'unsqueeze.onnx');
  await writeFile(unsqueeze, editNode(mlp, '/relu/Relu', (fields) => fields.map((f) => (f.number === 4 ? stringField(4, 'Unsqueeze') : mlp.subarray(f.start, f.end)))));
  await assertRejects(readOnnx(unsqueeze), ModelProblem, unsqueeze, /'\/relu\/Relu'.*Unsqueeze: has no axes/);
});

test('external data: a relative file inside the folder is read (and written back inline); ../x and absolute paths are refused', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const original = await readOnnx(fixture('mlp.onnx'));
  const model = decodeModel(bytes);
  const tensor = model.graph.initializers.find((t) => t.name === 'fc1.weight')!;
  const raw = tensor.fields.find((f) => f.number === TensorField.rawData)!;
  await writeFile(join(dir, 'fc1.bin'), bytes.subarray(raw.valueStart, raw.valueEnd));
  const external = (location: string) =>
    editInitializer(bytes, 'fc1.weight', (fields) => [...fields.filter((f) => f.number !== TensorField.rawData).map((f) => bytes.subarray(f.start, f.end)), ...externalDataFields(location, 8 * 6 * 4)]);

  const good = join(dir, 'external.onnx');
  await writeFile(good, external('fc1.bin'));
  const checkpoint = await readOnnx(good);
  assert.deepEqual(checkpoint.weights.map((w) => w.values), original.weights.map((w) => w.values));
  assert.ok(checkpoint.notes.some((n) => /external data/.test(n)));
  assert.deepEqual((await describeOnnx(good)).files, [good, join(dir, 'fc1.bin')]);
  const [inline] = await onnxFormat.write(checkpoint, join(dir, 'inline.onnx'), {});
  const reread = decodeModel(new Uint8Array(await readFile(inline)));
  assert.ok(reread.graph.initializers.every((t) => t.external === undefined), 'written inline');
  assert.match(reread.metadata.get(PROVENANCE_KEY)!, /inline/);
  assert.deepEqual((await readOnnx(inline)).weights.map((w) => w.values), original.weights.map((w) => w.values));

  for (const [label, location, problem] of [
    ['parent', '../x', /contains '\.\.'/],
    ['absolute', join(dir, 'fc1.bin'), /is absolute/],
    ['missing', 'nothere.bin', /missing/],
  ] as const) {
    const path = join(dir, `${label}.onnx`);
    await writeFile(path, external(location));
    await assertRejects(readOnnx(path), FileProblem, path, problem);
  }
  await writeFile(join(dir, 'short.bin'), new Uint8Array(100));
  const short = join(dir, 'short.onnx');
  await writeFile(short, external('short.bin'));
  await assertRejects(readOnnx(short), FileProblem, short, /need 192 bytes.*holds only 100 bytes/);
});

test('an initializer whose dims need more bytes than its raw_data holds is refused', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const edited = editInitializer(bytes, 'fc1.bias', (fields) =>
    fields.map((f) => (f.number === TensorField.rawData ? lengthDelimitedField(TensorField.rawData, bytes.slice(f.valueStart, f.valueEnd - 4)) : bytes.subarray(f.start, f.end))),
  );
  const path = join(dir, 'short-data.onnx');
  await writeFile(path, edited);
  await assertRejects(readOnnx(path), FileProblem, path, /initializer 'fc1\.bias': dims \[8\] of float need 32 bytes, but its raw_data holds 28 bytes/);
});

test('float_data initializers are decoded', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const original = await readOnnx(fixture('mlp.onnx'));
  // fc2.bias as packed float_data instead of raw_data.
  const edited = editInitializer(bytes, 'fc2.bias', (fields) =>
    fields.map((f) => (f.number === TensorField.rawData ? lengthDelimitedField(TensorField.floatData, bytes.slice(f.valueStart, f.valueEnd)) : bytes.subarray(f.start, f.end))),
  );
  const path = join(dir, 'float-data.onnx');
  await writeFile(path, edited);
  const checkpoint = await readOnnx(path);
  assert.deepEqual(checkpoint.weights.map((w) => w.values), original.weights.map((w) => w.values));
});

// ---- hostile and malformed files: lying sizes, escaping paths, blow-ups ------------------------

/** The model with initializer `name`'s dims replaced by `dims`. */
function withDims(bytes: Uint8Array, name: string, dims: readonly (number | bigint)[]): Uint8Array {
  return editInitializer(bytes, name, (fields) => [...dims.map((d) => varintField(TensorField.dims, d)), ...fields.filter((f) => f.number !== TensorField.dims).map((f) => bytes.subarray(f.start, f.end))]);
}

test('initializer dims that claim far more values than the data holds are refused by read and describe, without allocating', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const cases: [string, readonly (number | bigint)[], RegExp][] = [
    ['huge', [3e7, 3e7], /initializer 'fc1\.weight': dims \[30000000,30000000\] of float need 3600000000000000 bytes, but its raw_data holds 192 bytes/],
    ['overflowing', [1e9, 1e9], /initializer 'fc1\.weight' is too large \(dims \[1000000000,1000000000\]\)/],
    ['negative', [-6, -8], /initializer 'fc1\.weight' has an invalid dimension -6/],
  ];
  for (const [label, dims, problem] of cases) {
    const path = join(dir, `${label}.onnx`);
    await writeFile(path, withDims(bytes, 'fc1.weight', dims));
    await assertRejects(describeOnnx(path), FileProblem, path, problem);
    // The graph check comes first on read: the node does not receive that many features.
    await assertRejects(readOnnx(path), ModelProblem, path, /'\/fc1\/Gemm'.*weight 'fc1\.weight' expects/);
  }
  const beyond = join(dir, 'beyond-int64.onnx');
  await writeFile(beyond, withDims(bytes, 'fc1.weight', [2n ** 63n + 5n, 6]));
  for (const read of [readOnnx, describeOnnx]) await assertRejects(read(beyond), FileProblem, beyond, /not a valid ONNX model: tensor 'fc1\.weight' dims = .* is too large/);
});

test('a length-delimited field whose declared length runs past the end is refused without allocating it', async () => {
  const dir = await freshDir();
  const giant = join(dir, 'giant-graph.onnx');
  await writeFile(giant, concatBytes([varintField(ModelField.irVersion, 7), encodeVarint((ModelField.graph << 3) | 2), encodeVarint(2n ** 62n), new Uint8Array(10)]));
  await assertRejects(readOnnx(giant), FileProblem, giant, /not a valid ONNX model: field 7 at byte 2 declares 4611686018427387904 bytes but only 10 remain \(truncated\?\)/);

  // Inside an initializer whose own length is consistent: raw_data declares 10^12 bytes.
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const lying = editInitializer(bytes, 'fc1.bias', (fields) => [
    ...fields.filter((f) => f.number !== TensorField.rawData).map((f) => bytes.subarray(f.start, f.end)),
    encodeVarint((TensorField.rawData << 3) | 2),
    encodeVarint(1e12),
    new Uint8Array(32),
  ]);
  const inner = join(dir, 'lying-raw-data.onnx');
  await writeFile(inner, lying);
  for (const read of [readOnnx, describeOnnx]) await assertRejects(read(inner), FileProblem, inner, /not a valid ONNX model: field 9 at byte \d+ declares 1000000000000 bytes but only 32 remain/);
});

test('files named .onnx that are not protobuf, or are too large to be, are refused naming the file', async () => {
  const dir = await freshDir();
  const cases: [string, Uint8Array, RegExp][] = [
    ['png.onnx', Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13), /not a valid ONNX model/],
    ['json.onnx', new TextEncoder().encode('{"graph": {"node": []}}'), /not a valid ONNX model/],
    ['zip.onnx', new Uint8Array(await readFile(kerasFixture('mlp.keras'))), /not a valid ONNX model/],
    // Starts like a ModelProto (ir_version) and then is noise.
    ['noise.onnx', Uint8Array.from({ length: 4096 }, (_, i) => (i < 2 ? [0x08, 0x07][i] : (i * 2654435761) >>> 24)), /not a valid ONNX model/],
    ['no-ir-version.onnx', lengthDelimitedField(ModelField.graph, new Uint8Array(0)), /not a valid ONNX model: it has no ir_version/],
  ];
  for (const [name, bytes, problem] of cases) {
    const path = join(dir, name);
    await writeFile(path, bytes);
    await assertRejects(readOnnx(path), FileProblem, path, problem);
    await assertRejects(describeOnnx(path), FileProblem, path, problem);
  }
  // A sparse file: nothing is read.
  const huge = join(dir, 'huge.onnx');
  await writeFile(huge, await readFile(fixture('mlp.onnx')));
  await truncate(huge, 3 * 2 ** 30);
  await assertRejects(readOnnx(huge), FileProblem, huge, /it is 3221225472 bytes, more than the 2 GiB a protobuf message can hold/);
});

test('initializer data in the wrong wire type is a FileProblem naming the initializer, not a decoding error', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  // fc2.bias as four float_data varints instead of raw_data.
  const edited = editInitializer(bytes, 'fc2.bias', (fields) => [
    ...fields.filter((f) => f.number !== TensorField.rawData).map((f) => bytes.subarray(f.start, f.end)),
    ...[1, 2, 3, 4].map((v) => varintField(TensorField.floatData, v)),
  ]);
  const path = join(dir, 'varint-floats.onnx');
  await writeFile(path, edited);
  await assertRejects(readOnnx(path), FileProblem, path, /: initializer 'fc2\.bias' float_data has wire type 0/);
  await assertRejects(describeOnnx(path), FileProblem, path, /float_data has wire type 0/);
});

test('external data: symlinks out of the folder, the folder itself, a directory, and bad offsets or lengths are refused', async () => {
  const root = await freshDir();
  const dir = join(root, 'model');
  await mkdir(join(dir, 'sub'), { recursive: true });
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const raw = decodeModel(bytes).graph.initializers.find((t) => t.name === 'fc1.weight')!.fields.find((f) => f.number === TensorField.rawData)!;
  const data = bytes.subarray(raw.valueStart, raw.valueEnd);
  await writeFile(join(root, 'secret.bin'), data);
  await symlink(join(root, 'secret.bin'), join(dir, 'link.bin'));
  await writeFile(join(dir, 'w.bin'), data);
  const entry = (key: string, value: string) => lengthDelimitedField(TensorField.externalData, concatBytes([stringField(1, key), stringField(2, value)]));
  const external = (location: string, offset: string, length: string) =>
    editInitializer(bytes, 'fc1.weight', (fields) => [
      ...fields.filter((f) => f.number !== TensorField.rawData).map((f) => bytes.subarray(f.start, f.end)),
      entry('location', location),
      entry('offset', offset),
      entry('length', length),
      varintField(TensorField.dataLocation, 1),
    ]);
  const cases: [string, string, string, RegExp][] = [
    ['link.bin', '0', '192', /external data path "link\.bin" in initializer 'fc1\.weight' \(external data\) leads outside the model's folder \(to .*secret\.bin, through a symlink\)/],
    ['.', '0', '192', /external data path "\." .* names the model's folder itself/],
    ['sub', '0', '192', /'sub' is not a file/],
    ['sub/../../secret.bin', '0', '192', /contains '\.\.'/],
    ['%2e%2e/secret.bin', '0', '192', /contains '\.\.'/],
    ['file:///etc/passwd', '0', '192', /is a URL/],
    ['w.bin', '100', '192', /need 192 bytes from offset 100, but 'w\.bin' holds only 192 bytes/],
    ['w.bin', '9007199254740993', '192', /invalid offset "9007199254740993"/],
    ['w.bin', '-4', '192', /invalid offset "-4"/],
    ['w.bin', '0x0', '192', /invalid offset "0x0"/],
    ['w.bin', '0', '1e9', /length "1e9" does not match: dims \[8,6\] of float need 192 bytes/],
  ];
  for (const [i, [location, offset, length, problem]] of cases.entries()) {
    const path = join(dir, `case-${i}.onnx`);
    await writeFile(path, external(location, offset, length));
    await assertRejects(readOnnx(path), FileProblem, path, problem);
    await assertRejects(describeOnnx(path), FileProblem, path, problem);
  }
});

test('external data: only the tensor\'s byte range of a large external file is read', async () => {
  const dir = await freshDir();
  const bytes = new Uint8Array(await readFile(fixture('mlp.onnx')));
  const raw = decodeModel(bytes).graph.initializers.find((t) => t.name === 'fc1.weight')!.fields.find((f) => f.number === TensorField.rawData)!;
  const offset = 2 ** 31 + 8;
  // A sparse 3 GiB file (over Node's readFile limit) with the weight at an offset past 2 GiB.
  const big = join(dir, 'big.bin');
  await writeFile(big, new Uint8Array(0));
  await truncate(big, 3 * 2 ** 30);
  const handle = await open(big, 'r+');
  await handle.write(bytes.subarray(raw.valueStart, raw.valueEnd), 0, raw.valueEnd - raw.valueStart, offset);
  await handle.close();
  const entry = (key: string, value: string) => lengthDelimitedField(TensorField.externalData, concatBytes([stringField(1, key), stringField(2, value)]));
  const path = join(dir, 'big-external.onnx');
  await writeFile(path, editInitializer(bytes, 'fc1.weight', (fields) => [
    ...fields.filter((f) => f.number !== TensorField.rawData).map((f) => bytes.subarray(f.start, f.end)),
    entry('location', 'big.bin'),
    entry('offset', String(offset)),
    varintField(TensorField.dataLocation, 1),
  ]));
  const original = await readOnnx(fixture('mlp.onnx'));
  assert.deepEqual((await readOnnx(path)).weights.map((w) => w.values), original.weights.map((w) => w.values));
  assert.deepEqual((await describeOnnx(path)).files, [path, big]);
});

/** The Constant node `name` with its value replaced by an int64 tensor of `dims` holding `values`. */
function withConstant(bytes: Uint8Array, name: string, dims: readonly number[], values: readonly number[]): Uint8Array {
  const data = new Uint8Array(8 * values.length);
  const view = new DataView(data.buffer);
  values.forEach((v, i) => view.setBigInt64(8 * i, BigInt(v), true));
  const tensor = concatBytes([...dims.map((d) => varintField(TensorField.dims, d)), varintField(TensorField.dataType, 7), lengthDelimitedField(TensorField.rawData, data)]);
  const attribute = lengthDelimitedField(5, concatBytes([stringField(1, 'value'), lengthDelimitedField(5, tensor), varintField(20, 4)]));
  return editNode(bytes, name, (fields) => fields.map((f) => (f.number === 5 ? attribute : bytes.subarray(f.start, f.end))));
}

test('shape computations in the graph: a huge ConstantOfShape, a broadcasting blow-up and constants whose dims lie are refused before allocating', async () => {
  const dir = await freshDir();
  // concat.onnx computes ZeroPad2d's pads as ConstantOfShape([Constant_1 · Constant_2 − 4]), Concat, Reshape, Slice, ...
  const bytes = new Uint8Array(await readFile(fixture('concat.onnx')));
  const cases: [string, Uint8Array, RegExp][] = [
    ['constant-of-shape', withConstant(bytes, '/pad/Constant_1', [], [1e12]), /'\/pad\/ConstantOfShape'.*ConstantOfShape: would compute a constant of dims \[\d+\] \(\d+ values\); only small shape computations/],
    [
      'broadcast',
      withConstant(withConstant(bytes, '/pad/Constant_1', [1, 3000], new Array<number>(3000).fill(1)), '/pad/Constant_2', [3000, 1], new Array<number>(3000).fill(2)),
      /'\/pad\/Mul'.*Mul: would compute a constant of dims \[3000,3000\] \(9000000 values\)/,
    ],
    ['lying-dims', withConstant(bytes, '/pad/Constant_1', [1000000, 1000000], [2]), /constant '.*' has dims \[1000000,1000000\] \(1000000000000 values\) but holds 1 values/],
  ];
  for (const [label, edited, problem] of cases) {
    const path = join(dir, `${label}.onnx`);
    await writeFile(path, edited);
    await assert.rejects(readOnnx(path), (error: unknown) => {
      assert.ok(error instanceof FileProblem || error instanceof ModelProblem, `${label}: expected FileProblem or ModelProblem, got ${String(error)}`);
      assert.ok(error.message.includes(path), `${label}: message should name ${path}: ${error.message}`);
      assert.match(error.message, problem, label);
      return true;
    });
  }
});
