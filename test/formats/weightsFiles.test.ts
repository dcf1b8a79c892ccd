import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { unzipSync, zipSync, type Zippable } from 'fflate';
import { encodeNpy, npzWeightsFile } from '../../src/engine/formats/weights/npzWeights';
import { pytorchFile } from '../../src/engine/formats/weights/pytorch';
import { MAX_HEADER_BYTES, safetensorsFile, SAFETENSORS_PROVENANCE_KEY } from '../../src/engine/formats/weights/safetensors';
import type { StoredTensor, TensorFile, TensorFileFormat } from '../../src/engine/formats/weights/tensorFile';
import { FileProblem } from '../../src/protocol/errors';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';

const encoder = new TextEncoder();
const fixtures = join(__dirname, '..', 'fixtures', 'weights');
const fixture = (name: string) => join(fixtures, name);
const { freshDir } = caseFolders('weights');

interface Digest {
  readonly shape: number[];
  readonly dtype: string;
  readonly first: number[];
  readonly last: number | null;
  readonly sum: number;
}
const digests = (net: string): Record<string, Digest> =>
  (JSON.parse(readFileSync(fixture(`${net}.expected.json`), 'utf8')) as { tensors: Record<string, Digest> }).tensors;

const SAFETENSORS_DTYPE: Record<string, string> = { float32: 'F32', int64: 'I64' };
const FORMATS: readonly { file: string; format: TensorFileFormat; dtype: (torchDtype: string) => string }[] = [
  { file: 'mlp.pt', format: pytorchFile, dtype: (d) => d },
  { file: 'mlp.safetensors', format: safetensorsFile, dtype: (d) => SAFETENSORS_DTYPE[d] },
  { file: 'mlp.npz', format: npzWeightsFile, dtype: (d) => d },
  { file: 'cnn.pt', format: pytorchFile, dtype: (d) => d },
  { file: 'cnn.safetensors', format: safetensorsFile, dtype: (d) => SAFETENSORS_DTYPE[d] },
];

const byName = (file: TensorFile): Map<string, StoredTensor> => new Map(file.tensors.map((t) => [t.name, t]));

function assertSameBits(actual: Float32Array | undefined, expected: Float32Array | undefined, what: string): void {
  assert.ok(actual !== undefined && expected !== undefined, `${what}: values missing`);
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  const bad = a.findIndex((bits, i) => bits !== b[i]);
  assert.equal(bad, -1, `${what}: value ${bad} is ${actual[bad]}, expected ${expected[bad]}`);
}

async function rejectsWithProblem(promise: Promise<unknown>, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FileProblem, `expected a FileProblem, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.match(error.problem, pattern);
    return true;
  });
}

const headOf = (bytes: Uint8Array) => bytes.subarray(0, 16 * 1024);

describe('readers on files written by PyTorch and NumPy', () => {
  for (const { file, format, dtype } of FORMATS) {
    test(`${file}: names, shapes, dtypes and values match what the script stored`, async () => {
      const expected = digests(file.split('.')[0]);
      const read = await format.readTensors(fixture(file));
      assert.equal(read.format, format.id);
      assert.equal(read.path, fixture(file));
      // np.savez keeps only the float tensors the script gave it (all of them for the MLP).
      assert.deepEqual(read.tensors.map((t) => t.name), Object.keys(expected));
      let floats = 0;
      for (const tensor of read.tensors) {
        const digest = expected[tensor.name];
        assert.deepEqual(tensor.shape, digest.shape, tensor.name);
        assert.equal(tensor.dtype, dtype(digest.dtype), tensor.name);
        if (digest.dtype.startsWith('int')) {
          assert.equal(tensor.values, undefined, `${tensor.name} is an integer tensor`);
          continue;
        }
        const values = tensor.values as Float32Array;
        floats += values.length;
        assert.deepEqual([...values.subarray(0, 5)], digest.first, `${tensor.name}: first values`);
        assert.equal(values[values.length - 1], digest.last, `${tensor.name}: last value`);
        const sum = values.reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(sum - digest.sum) <= 1e-9 * Math.max(1, Math.abs(digest.sum)) * values.length, `${tensor.name}: sum ${sum} vs ${digest.sum}`);
      }
      assert.equal(await format.countParameters(fixture(file)), floats);
    });
  }

  test('the three MLP files hold bit-identical values', async () => {
    const [pt, st, npz] = await Promise.all([pytorchFile, safetensorsFile, npzWeightsFile].map((f, i) => f.readTensors(fixture(['mlp.pt', 'mlp.safetensors', 'mlp.npz'][i]))));
    for (const tensor of pt.tensors) {
      assertSameBits(byName(st).get(tensor.name)?.values, tensor.values, `safetensors ${tensor.name}`);
      assertSameBits(byName(npz).get(tensor.name)?.values, tensor.values, `npz ${tensor.name}`);
    }
  });

  test('safetensors: F16, BF16 and F64 convert to the float32 values PyTorch gives; integer and bool tensors carry no values', async () => {
    const expected = JSON.parse(readFileSync(fixture('mixed.expected.json'), 'utf8')) as Record<string, { dtype: string; shape: number[]; values: number[] | null }>;
    const read = await safetensorsFile.readTensors(fixture('mixed.safetensors'));
    assert.deepEqual(read.tensors.map((t) => t.name), Object.keys(expected));
    for (const tensor of read.tensors) {
      const want = expected[tensor.name];
      assert.equal(tensor.dtype, want.dtype);
      assert.deepEqual(tensor.shape, want.shape);
      if (want.values === null) assert.equal(tensor.values, undefined, tensor.name);
      else assert.deepEqual([...(tensor.values as Float32Array)], want.values, tensor.name);
    }
    assert.deepEqual(read.notes, ['float16, bfloat16 and float64 tensors were converted to float32']);
    assert.equal(await safetensorsFile.countParameters(fixture('mixed.safetensors')), 18);
  });
});

describe('match', () => {
  test('each format claims its own fixtures and nothing else', () => {
    const files = ['mlp.pt', 'cnn.pt', 'mlp.safetensors', 'mixed.safetensors', 'mlp.npz', 'mlp.onnx'];
    const claims = (format: TensorFileFormat) => files.filter((name) => format.match(name, headOf(readFileSync(fixture(name)))));
    assert.deepEqual(claims(pytorchFile), ['mlp.pt', 'cnn.pt']);
    assert.deepEqual(claims(safetensorsFile), ['mlp.safetensors', 'mixed.safetensors']);
    assert.deepEqual(claims(npzWeightsFile), ['mlp.npz']);
    // The name matters, and so does the content.
    assert.equal(pytorchFile.match('mlp.bin', readFileSync(fixture('mlp.pt'))), false);
    assert.equal(pytorchFile.match('mlp.pth', readFileSync(fixture('mlp.pt'))), true);
    assert.equal(pytorchFile.match('mlp.pt', readFileSync(fixture('mlp.npz'))), false);
    assert.equal(safetensorsFile.match('mlp.safetensors', new Uint8Array(readFileSync(fixture('mlp.pt')))), false);
  });

  test('npz: an archive whose visible entries include a data-set array name is left to the data-set reader', () => {
    const npy = readFileSync(fixture('mlp.npz')); // any bytes do for the entries' content here
    const archive = (names: string[], level: 0 | 6 = 0) => zipSync(Object.fromEntries(names.map((n) => [n, [new Uint8Array(npy.subarray(0, 100)), { level }]])) as Zippable);
    const claims = (names: string[], level: 0 | 6 = 0) => npzWeightsFile.match('data.npz', headOf(archive(names, level)));
    assert.equal(claims(['x.npy', 'y.npy']), false);
    assert.equal(claims(['y.npy', 'x.npy']), false);
    assert.equal(claims(['images.npy', 'labels.npy'], 6), false);
    assert.equal(claims(['x_test.npy', 'y_test.npy']), false);
    assert.equal(claims(['fc1.weight.npy', 'labels.npy']), false, 'a labels array visible in the head marks a data set');
    assert.equal(claims(['fc1.weight.npy', 'fc1.bias.npy']), true);
    assert.equal(claims(['dense/kernel.npy', 'dense/bias.npy'], 6), true);
    assert.equal(npzWeightsFile.match('weights.npy', headOf(archive(['w.npy']))), false);
  });
});

describe('round trips', () => {
  for (const { file, format } of FORMATS) {
    test(`${file}: writing without replacements keeps every value`, async () => {
      const out = join(await freshDir(), `copy-${file}`);
      assert.deepEqual(await format.writeTensors(fixture(file), new Map(), out), [out]);
      const [before, after] = await Promise.all([format.readTensors(fixture(file)), format.readTensors(out)]);
      assert.deepEqual(after.tensors.map((t) => [t.name, t.dtype, t.shape]), before.tensors.map((t) => [t.name, t.dtype, t.shape]));
      for (const tensor of before.tensors) if (tensor.values) assertSameBits(byName(after).get(tensor.name)?.values, tensor.values, tensor.name);
      if (format !== safetensorsFile) assert.deepEqual(await readFile(out), await readFile(fixture(file)), 'zip archives come back byte for byte');
    });

    test(`${file}: replaced tensors get exactly the new values, the others keep theirs`, async () => {
      const before = await format.readTensors(fixture(file));
      const target = before.tensors.find((t) => t.name.endsWith('.weight') && t.shape.length >= 2) as StoredTensor;
      const newValues = (target.values as Float32Array).map((v, i) => v * 2.5 + i * 1e-3);
      const out = join(await freshDir(), `rescaled-${file}`);
      await format.writeTensors(fixture(file), new Map([[target.name, newValues]]), out, { rescaled: 'by 2.5' });
      const after = await format.readTensors(out);
      assert.deepEqual(after.tensors.map((t) => [t.name, t.shape]), before.tensors.map((t) => [t.name, t.shape]));
      for (const tensor of before.tensors) {
        if (tensor.values === undefined) continue;
        assertSameBits(byName(after).get(tensor.name)?.values, tensor.name === target.name ? newValues : tensor.values, tensor.name);
      }
      if (format === pytorchFile || format === npzWeightsFile) {
        // Every other entry is byte-identical (fflate reads the archive independently of our reader).
        const [original, written] = [unzipSync(await readFile(fixture(file))), unzipSync(await readFile(out))];
        assert.deepEqual(Object.keys(written), Object.keys(original));
        const changed = Object.keys(original).filter((name) => Buffer.compare(Buffer.from(original[name]), Buffer.from(written[name])) !== 0);
        assert.equal(changed.length, 1, `changed entries: ${changed.join(', ')}`);
      }
    });
  }

  test('safetensors: metadata is kept, provenance goes under __metadata__, header keeps its order', async () => {
    const out = join(await freshDir(), 'provenance.safetensors');
    await safetensorsFile.writeTensors(fixture('mlp.safetensors'), new Map(), out, { objective: 'flatten', factors: [1, 2] });
    const bytes = await readFile(out);
    const length = Number(bytes.readBigUInt64LE(0));
    assert.equal(length % 8, 0, 'the header is padded to 8 bytes');
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<string, Record<string, string>>;
    assert.deepEqual(Object.keys(header), ['__metadata__', '0.weight', '0.bias', '2.weight', '2.bias']);
    assert.equal(header.__metadata__.format, 'pt');
    assert.equal(header.__metadata__.source, 'makeWeightsFixtures.py');
    assert.deepEqual(JSON.parse(header.__metadata__[SAFETENSORS_PROVENANCE_KEY]), { objective: 'flatten', factors: [1, 2] });
  });

  test('safetensors: a replaced F16 tensor is written as F32; the tensors after it move, unchanged', async () => {
    const before = await safetensorsFile.readTensors(fixture('mixed.safetensors'));
    const half = Float32Array.from([1.5, -2, 1e-7, 3.25, 0, 7]);
    const out = join(await freshDir(), 'mixed.safetensors');
    await safetensorsFile.writeTensors(fixture('mixed.safetensors'), new Map([['half', half]]), out);
    const after = byName(await safetensorsFile.readTensors(out));
    assert.equal(after.get('half')?.dtype, 'F32');
    assertSameBits(after.get('half')?.values, half, 'half');
    for (const tensor of before.tensors.filter((t) => t.name !== 'half')) {
      assert.equal(after.get(tensor.name)?.dtype, tensor.dtype);
      if (tensor.values) assertSameBits(after.get(tensor.name)?.values, tensor.values, tensor.name);
    }
  });

  test('npz: deflated archives stay deflated; a float64 array is written back as float32', async () => {
    const dir = await freshDir();
    const entries = unzipSync(await readFile(fixture('mlp.npz')));
    // Re-encode one array as float64 by hand so the archive has both element types.
    const bias = (await npzWeightsFile.readTensors(fixture('mlp.npz'))).tensors[1];
    entries['0.bias.npy'] = float64Npy(bias.shape, bias.values as Float32Array);
    const compressed = join(dir, 'compressed.npz');
    await writeFile(compressed, zipSync(Object.fromEntries(Object.entries(entries).map(([n, d]) => [n, [d, { level: 6 }]])) as Zippable));
    const read = byName(await npzWeightsFile.readTensors(compressed));
    assert.equal(read.get('0.bias')?.dtype, 'float64');
    assertSameBits(read.get('0.bias')?.values, bias.values, '0.bias from float64');

    const newBias = (bias.values as Float32Array).map((v) => -v);
    const out = join(dir, 'out.npz');
    await npzWeightsFile.writeTensors(compressed, new Map([['0.bias', newBias]]), out);
    const written = await readFile(out);
    assert.deepEqual(localHeaderMethods(written), [8, 8, 8, 8]);
    const after = byName(await npzWeightsFile.readTensors(out));
    assert.equal(after.get('0.bias')?.dtype, 'float32');
    assertSameBits(after.get('0.bias')?.values, newBias, '0.bias');
    assertSameBits(after.get('2.weight')?.values, read.get('2.weight')?.values, '2.weight');
  });

  for (const { file, format } of FORMATS.slice(0, 3)) {
    test(`${file}: writeTensors refuses an existing outPath and leaves it untouched`, async () => {
      const out = join(await freshDir(), `existing-${file}`);
      await writeFile(out, 'keep me');
      const name = (await format.readTensors(fixture(file))).tensors[0].name;
      await rejectsWithProblem(format.writeTensors(fixture(file), new Map([[name, new Float32Array(2048)]]), out), out, /already exists/);
      assert.equal(await readFile(out, 'utf8'), 'keep me');
    });
  }

  test('writeTensors refuses unknown names, wrong lengths and integer tensors', async () => {
    const dir = await freshDir();
    for (const { file, format } of FORMATS.slice(0, 3)) {
      await rejectsWithProblem(format.writeTensors(fixture(file), new Map([['nope', new Float32Array(1)]]), join(dir, `a-${file}`)), fixture(file), /no (tensor|array) named 'nope'/);
      await rejectsWithProblem(format.writeTensors(fixture(file), new Map([['0.bias', new Float32Array(3)]]), join(dir, `b-${file}`)), fixture(file), /has 32 values .* but 3 were given/);
    }
    await rejectsWithProblem(
      pytorchFile.writeTensors(fixture('cnn.pt'), new Map([['1.num_batches_tracked', new Float32Array(1)]]), join(dir, 'c.pt')),
      fixture('cnn.pt'),
      /stored as int64; only float32 tensors can be replaced/,
    );
    await rejectsWithProblem(safetensorsFile.writeTensors(fixture('mixed.safetensors'), new Map([['count', new Float32Array(3)]]), join(dir, 'd.safetensors')), fixture('mixed.safetensors'), /holds I64 values/);
    assert.deepEqual(await listDir(dir), []);
  });
});

describe('files written here load in the real tools', () => {
  const missing = missingPythonModules(['torch', 'numpy']);
  const PROGRAM = String.raw`
import json, struct, sys
import numpy as np
def entry(dtype, shape, values):
    return {'dtype': dtype, 'shape': list(shape), 'values': np.asarray(values, dtype=np.float64).reshape(-1).tolist()}
def load(path, kind):
    result = {}
    if kind == 'pt':
        import torch
        for name, t in torch.load(path, weights_only=True).items():
            result[name] = entry(str(t.dtype).replace('torch.', ''), t.shape, t.double().numpy())
    elif kind == 'npz':
        with np.load(path) as archive:
            for name in archive.files:
                result[name] = entry(str(archive[name].dtype), archive[name].shape, archive[name])
    else:
        data = open(path, 'rb').read()
        (length,) = struct.unpack('<Q', data[:8])
        header = json.loads(data[8:8 + length])
        result['__metadata__'] = header.pop('__metadata__', None)
        types = {'F64': '<f8', 'F32': '<f4', 'F16': '<f2', 'I64': '<i8', 'I32': '<i4', 'U8': 'u1', 'BOOL': '?'}
        for name, info in header.items():
            begin, end = info['data_offsets']
            raw = data[8 + length + begin:8 + length + end]
            if info['dtype'] == 'BF16':
                values = (np.frombuffer(raw, '<u2').astype(np.uint32) << 16).view(np.float32)
            else:
                values = np.frombuffer(raw, types[info['dtype']])
            result[name] = entry(info['dtype'], info['shape'], values)
    return result
print(json.dumps([load(path, kind) for path, kind in json.load(sys.stdin)]))
`;
  interface Loaded {
    readonly dtype: string;
    readonly shape: number[];
    readonly values: number[];
  }
  type Kind = 'pt' | 'npz' | 'safetensors';
  /** One Python run for several files: importing torch takes seconds. */
  const load = (...files: [string, Kind][]) => runPythonJson<Record<string, Loaded>[]>(PROGRAM, files);

  const cases = [
    { file: 'mlp.pt', kind: 'pt', format: pytorchFile, replace: ['0.weight', '2.bias'] },
    { file: 'cnn.pt', kind: 'pt', format: pytorchFile, replace: ['0.weight', '1.running_var', '5.bias'] },
    { file: 'mlp.npz', kind: 'npz', format: npzWeightsFile, replace: ['0.weight', '2.bias'] },
    { file: 'mlp.safetensors', kind: 'safetensors', format: safetensorsFile, replace: ['2.weight'] },
    { file: 'cnn.safetensors', kind: 'safetensors', format: safetensorsFile, replace: ['1.weight', '1.bias'] },
    { file: 'mixed.safetensors', kind: 'safetensors', format: safetensorsFile, replace: ['brain', 'double'] },
  ] as const;
  for (const { file, kind, format, replace } of cases) {
    test(`${file}: the written copy loads in ${kind === 'pt' ? 'torch.load(weights_only=True)' : 'NumPy'} with the new values`, { skip: missing }, async () => {
      const before = await format.readTensors(fixture(file));
      const replacements = new Map<string, Float32Array>(replace.map((name, k) => {
        const values = byName(before).get(name)?.values as Float32Array;
        return [name, values.map((v, i) => Math.fround(v * (k + 1.5) - i / 7))];
      }));
      const out = join(await freshDir(), file);
      await format.writeTensors(fixture(file), replacements, out, { check: 'real tools' });
      const [original, loaded] = load([fixture(file), kind], [out, kind]);
      assert.deepEqual(Object.keys(loaded), Object.keys(original));
      for (const [name, tensor] of Object.entries(loaded)) {
        if (name === '__metadata__') continue;
        const replaced = replacements.get(name);
        assert.deepEqual(tensor.shape, original[name].shape, name);
        if (replaced) {
          assert.equal(tensor.dtype, kind === 'safetensors' ? 'F32' : 'float32', name);
          assert.deepEqual(tensor.values, [...replaced], `${name}: new values`);
        } else {
          assert.equal(tensor.dtype, original[name].dtype, name);
          assert.deepEqual(tensor.values, original[name].values, `${name}: unchanged`);
        }
      }
      if (file === 'cnn.pt') assert.deepEqual(loaded['1.num_batches_tracked'].values, [200]);
      if (kind === 'safetensors') assert.deepEqual(JSON.parse((loaded.__metadata__ as unknown as Record<string, string>)[SAFETENSORS_PROVENANCE_KEY]), { check: 'real tools' });
    });
  }

  test('a hand-made .pt with two tensors in one storage loads in torch as we read it, and one of them can be rewritten', { skip: missing }, async () => {
    const dir = await freshDir();
    const path = join(dir, 'shared.pt');
    const storage = Float32Array.from({ length: 8 }, (_, i) => i + 0.5);
    await writeFile(path, ptArchive([{ name: 'a', key: '0', storageNumel: 8, offset: 0, shape: [2, 2], stride: [2, 1] }, { name: 'b', key: '0', storageNumel: 8, offset: 4, shape: [4], stride: [1] }], { '0': storage }));
    const read = byName(await pytorchFile.readTensors(path));
    const out = join(dir, 'out.pt');
    await pytorchFile.writeTensors(path, new Map([['a', Float32Array.from([9, 8, 7, 6])]]), out);
    const [torch, rewritten] = load([path, 'pt'], [out, 'pt']);
    assert.deepEqual([...(read.get('a')?.values as Float32Array)], torch.a.values);
    assert.deepEqual([...(read.get('b')?.values as Float32Array)], torch.b.values);
    assert.deepEqual(rewritten.a.values, [9, 8, 7, 6]);
    assert.deepEqual(rewritten.b.values, [4.5, 5.5, 6.5, 7.5]);
  });

  test('the forbidden-global pickles are real pickles (checked with pickletools, which executes nothing)', { skip: missing }, () => {
    const marker = '/nonexistent/never';
    for (const pickle of hostilePickles(marker)) {
      const ok = runPythonJson<boolean>('import json, pickletools, sys; pickletools.dis(bytes.fromhex(json.load(sys.stdin)), out=open("/dev/null", "w")); print("true")', Buffer.from(pickle.bytes).toString('hex'));
      assert.equal(ok, true, pickle.global);
    }
  });
});

describe('hostile and broken files', () => {
  test('truncated files', async () => {
    const dir = await freshDir();
    for (const { file, format } of FORMATS) {
      const bytes = await readFile(fixture(file));
      for (const keep of [0, 7, Math.floor(bytes.length / 2), bytes.length - 1]) {
        const path = join(dir, `cut-${keep}-${file}`);
        await writeFile(path, bytes.subarray(0, keep));
        await rejectsWithProblem(format.readTensors(path), path, /truncated|too short|no zip end|corrupt|cover|beyond/);
        await rejectsWithProblem(format.countParameters(path), path, /./);
      }
    }
  });

  describe('safetensors header', () => {
    const cases: readonly [string, Uint8Array, RegExp][] = [
      ['length beyond the file', withLength(safetensors('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), 1000), /header declares 1000 bytes but only \d+ follow/],
      ['length over 100 MB', withLength(safetensors('{}', 0), MAX_HEADER_BYTES + 1), /more than the 104857600-byte limit/],
      ['not JSON', safetensors('{"a": nope}', 0), /not valid JSON/],
      ['not an object', safetensors('["a"]', 0), /does not start with '\{'/],
      ['overlapping offsets', safetensors(tensorHeader({ a: ['F32', [2], [0, 8]], b: ['F32', [1], [4, 8]] }), 8), /overlaps/],
      ['a gap', safetensors(tensorHeader({ a: ['F32', [1], [0, 4]], b: ['F32', [1], [8, 12]] }), 12), /bytes 4\.\.8 of the data belong to no tensor/],
      ['offsets out of range', safetensors(tensorHeader({ a: ['F32', [4], [0, 16]] }), 8), /beyond the 8 bytes of data/],
      ['bytes left over', safetensors(tensorHeader({ a: ['F32', [1], [0, 4]] }), 8), /cover 4 bytes of data but the file has 8/],
      ['offsets not numel × width', safetensors(tensorHeader({ a: ['F32', [3], [0, 8]] }), 8), /shape \[3\] of F32 \(12 bytes\) but data_offsets \[0, 8\] span 8 bytes/],
      ['an unknown dtype', safetensors(tensorHeader({ a: ['F8_E4M3', [1], [0, 1]] }), 1), /dtype "F8_E4M3"; supported/],
      ['a negative dimension', safetensors(tensorHeader({ a: ['F32', [-1], [0, 0]] }), 0), /list of non-negative integers/],
      ['a duplicate name', safetensors('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', 2), /names 'a' twice/],
      ['metadata that is not strings', safetensors('{"__metadata__":{"n":1}}', 0), /__metadata__ must map names to strings/],
    ];
    for (const [what, bytes, pattern] of cases) {
      test(what, async () => {
        const path = join(await freshDir(), 'bad.safetensors');
        await writeFile(path, bytes);
        await rejectsWithProblem(safetensorsFile.readTensors(path), path, pattern);
        await rejectsWithProblem(safetensorsFile.countParameters(path), path, pattern);
      });
    }
  });

  test('NaN values are read as NaN', async () => {
    const dir = await freshDir();
    const values = Float32Array.from([1, NaN, -Infinity]);
    const st = join(dir, 'nan.safetensors');
    await writeFile(st, safetensors(tensorHeader({ w: ['F32', [3], [0, 12]] }), 12, new Uint8Array(values.buffer)));
    const pt = join(dir, 'nan.pt');
    await writeFile(pt, ptArchive([{ name: 'w', key: '0', storageNumel: 3, offset: 0, shape: [3], stride: [1] }], { '0': values }));
    for (const [path, format] of [[st, safetensorsFile], [pt, pytorchFile]] as const) {
      const read = (await format.readTensors(path)).tensors[0].values as Float32Array;
      assert.deepEqual([...read], [1, NaN, -Infinity], path);
    }
  });

  test('pickles that name forbidden globals are refused, and nothing runs', async () => {
    const dir = await freshDir();
    const marker = join(dir, 'ran');
    for (const [i, pickle] of hostilePickles(marker).entries()) {
      const path = join(dir, `evil-${i}.pt`);
      await writeFile(path, zipSync({ 'archive/data.pkl': [pickle.bytes, { level: 0 }], 'archive/version': [new TextEncoder().encode('3\n'), { level: 0 }] }));
      const refusal = new RegExp(`refusing to load: it names the Python global '${pickle.global.replace('.', '\\.')}', which Flatness Lens never executes`);
      await rejectsWithProblem(pytorchFile.readTensors(path), path, refusal);
      await rejectsWithProblem(pytorchFile.countParameters(path), path, refusal);
      await rejectsWithProblem(pytorchFile.writeTensors(path, new Map(), join(dir, `out-${i}.pt`)), path, refusal);
    }
    assert.equal(existsSync(marker), false);
    assert.deepEqual((await listDir(dir)).filter((name) => name.startsWith('out-')), []);
  });

  test('zip entries that could escape a folder are refused', async () => {
    const dir = await freshDir();
    const good = unzipSync(await readFile(fixture('mlp.npz')));
    for (const [i, bad] of ['../evil.npy', 'a/../../evil.npy', '/etc/evil.npy', 'a\\evil.npy'].entries()) {
      const npz = join(dir, `escape-${i}.npz`);
      await writeFile(npz, zipSync({ ...Object.fromEntries(Object.entries(good).map(([n, d]) => [n, [d, { level: 0 }]])), [bad]: [good['0.bias.npy'], { level: 0 }] } as Zippable));
      await rejectsWithProblem(npzWeightsFile.readTensors(npz), npz, /refusing the archive/);
      const pt = join(dir, `escape-${i}.pt`);
      await writeFile(pt, zipSync({ [bad.replace('evil.npy', 'data.pkl')]: [new Uint8Array([0x80, 2, 0x7d, 0x2e]), { level: 0 }] }));
      await rejectsWithProblem(pytorchFile.readTensors(pt), pt, /(a '\.\.' component|an absolute path|a backslash).*refusing the archive/);
    }
  });

  test('a zip bomb (a huge declared size) is refused before inflating', async () => {
    const dir = await freshDir();
    const bytes = zipSync({ 'archive/data.pkl': [new Uint8Array(1000), { level: 9 }], 'archive/data/0': [new Uint8Array(16), { level: 0 }] });
    const declared = 3_000_000_000;
    patchEntrySizes(bytes, 'archive/data.pkl', declared);
    const path = join(dir, 'bomb.pt');
    await writeFile(path, bytes);
    await rejectsWithProblem(pytorchFile.readTensors(path), path, /declares 3000000000 bytes from \d+ compressed .*zip bomb/);
    const npz = join(dir, 'bomb.npz');
    const npzBytes = zipSync({ 'w.npy': [new Uint8Array(1000), { level: 9 }] });
    patchEntrySizes(npzBytes, 'w.npy', declared);
    await writeFile(npz, npzBytes);
    await rejectsWithProblem(npzWeightsFile.countParameters(npz), npz, /zip bomb/);
  });

  test('a .pt whose storage is shorter than its tensors need, or than data.pkl declares', async () => {
    const dir = await freshDir();
    const short = join(dir, 'short-view.pt');
    await writeFile(short, ptArchive([{ name: 'w', key: '0', storageNumel: 10, offset: 0, shape: [4, 4], stride: [4, 1] }], { '0': new Float32Array(10) }));
    await rejectsWithProblem(pytorchFile.readTensors(short), short, /tensor 'w': it needs elements 0\.\.16 of storage '0', which holds 10/);
    const cut = join(dir, 'short-bytes.pt');
    await writeFile(cut, ptArchive([{ name: 'w', key: '0', storageNumel: 10, offset: 0, shape: [10], stride: [1] }], { '0': new Float32Array(5) }));
    await rejectsWithProblem(pytorchFile.countParameters(cut), cut, /storage 'archive\/data\/0' holds 20 bytes, but data\.pkl declares 10 float32 elements \(40 bytes\)/);
    const missing = join(dir, 'missing.pt');
    await writeFile(missing, ptArchive([{ name: 'w', key: '7', storageNumel: 1, offset: 0, shape: [1], stride: [1] }], {}));
    await rejectsWithProblem(pytorchFile.readTensors(missing), missing, /storage 'archive\/data\/7' is missing/);
  });

  test('a .pt with a non-contiguous tensor or a big-endian byte order is refused with the reason', async () => {
    const dir = await freshDir();
    const strided = join(dir, 'transposed.pt');
    await writeFile(strided, ptArchive([{ name: 'w', key: '0', storageNumel: 6, offset: 0, shape: [2, 3], stride: [1, 2] }], { '0': new Float32Array(6) }));
    await rejectsWithProblem(pytorchFile.readTensors(strided), strided, /not contiguous \(shape \[2, 3\], stride \[1, 2\]\)/);
    const big = join(dir, 'big.pt');
    await writeFile(big, ptArchive([{ name: 'w', key: '0', storageNumel: 1, offset: 0, shape: [1], stride: [1] }], { '0': new Float32Array(1) }, { 'archive/byteorder': 'big' }));
    await rejectsWithProblem(pytorchFile.readTensors(big), big, /byte order 'big'; Flatness Lens reads little-endian/);
  });

  test('a .pt: overlapping views of one storage cannot be rewritten; non-float32 storages cannot either', async () => {
    const dir = await freshDir();
    const path = join(dir, 'views.pt');
    await writeFile(path, ptArchive([{ name: 'a', key: '0', storageNumel: 8, offset: 0, shape: [8], stride: [1] }, { name: 'b', key: '0', storageNumel: 8, offset: 4, shape: [2, 2], stride: [2, 1] }], { '0': new Float32Array(8) }));
    await rejectsWithProblem(pytorchFile.writeTensors(path, new Map([['b', new Float32Array(4)]]), join(dir, 'out.pt')), path, /shares storage '0' with 'a' and their elements overlap/);
    const half = join(dir, 'half.pt');
    await writeFile(half, ptArchive([{ name: 'h', key: '0', storageNumel: 2, offset: 0, shape: [2], stride: [1], type: 'HalfStorage' }], { '0': new Uint8Array([0, 0x3c, 0, 0xc0]) }));
    assert.deepEqual([...((await pytorchFile.readTensors(half)).tensors[0].values as Float32Array)], [1, -2]);
    await rejectsWithProblem(pytorchFile.writeTensors(half, new Map([['h', new Float32Array(2)]]), join(dir, 'out-half.pt')), half, /stored as float16; only float32 tensors can be replaced/);
    assert.deepEqual((await listDir(dir)).sort(), ['half.pt', 'views.pt']);
  });

  test('a .pt that is not a state dict says what it holds', async () => {
    const dir = await freshDir();
    const path = join(dir, 'list.pt');
    await writeFile(path, zipSync({ 'archive/data.pkl': [new Uint8Array([0x80, 2, 0x5d, 0x2e]), { level: 0 }] }));
    await rejectsWithProblem(pytorchFile.readTensors(path), path, /holds a list of 0, not a state dict/);
    const nested = join(dir, 'nested.pt');
    const pickle = concat([0x80, 2, 0x7d], str('epoch'), [0x4b, 3, 0x73, 0x2e]);
    await writeFile(nested, zipSync({ 'archive/data.pkl': [pickle, { level: 0 }] }));
    await rejectsWithProblem(pytorchFile.readTensors(nested), nested, /state dict entry 'epoch' holds the number 3, not a tensor/);
  });

  test('a .pt: tied weights (one tensor under two names) are rewritten only together; parameters read like tensors', async () => {
    const dir = await freshDir();
    const path = join(dir, 'tied.pt');
    const t: CraftedTensor = { name: 'a', key: '0', storageNumel: 3, offset: 0, shape: [3], stride: [1] };
    // b is BINGET of the memoized a; c wraps a tensor of its own storage in _rebuild_parameter.
    const parameter = concat(global('torch._utils', '_rebuild_parameter'), [0x28], tensorPickle({ ...t, key: '1' }), [0x88], global('collections', 'OrderedDict'), [0x29, 0x52, 0x74, 0x52]);
    const pickle = concat([0x80, 2], global('collections', 'OrderedDict'), [0x29, 0x52, 0x28], str('a'), tensorPickle(t), [0x71, 200], str('b'), [0x68, 200], str('c'), parameter, [0x75, 0x2e]);
    const storage = Float32Array.from([1, 2, 3]);
    await writeFile(path, zipSync({ 'archive/data.pkl': [pickle, { level: 0 }], 'archive/data/0': [new Uint8Array(storage.buffer), { level: 0 }], 'archive/data/1': [new Uint8Array(Float32Array.from([4, 5, 6]).buffer), { level: 0 }] }));
    const read = await pytorchFile.readTensors(path);
    assert.deepEqual(read.tensors.map((x) => [x.name, [...(x.values as Float32Array)]]), [['a', [1, 2, 3]], ['b', [1, 2, 3]], ['c', [4, 5, 6]]]);
    const values = Float32Array.from([7, 8, 9]);
    await rejectsWithProblem(pytorchFile.writeTensors(path, new Map([['a', values]]), join(dir, 'one.pt')), path, /'a' and 'b' are one tensor in the file \(tied weights\); replace both/);
    await rejectsWithProblem(pytorchFile.writeTensors(path, new Map([['a', values], ['b', new Float32Array(3)]]), join(dir, 'two.pt')), path, /get different values/);
    const out = join(dir, 'both.pt');
    await pytorchFile.writeTensors(path, new Map([['a', values], ['b', Float32Array.from(values)], ['c', values]]), out);
    assert.deepEqual((await pytorchFile.readTensors(out)).tensors.map((x) => [...(x.values as Float32Array)]), [[7, 8, 9], [7, 8, 9], [7, 8, 9]]);
  });

  test('a training checkpoint with a model_state_dict entry reads that state dict', async () => {
    const dir = await freshDir();
    const path = join(dir, 'checkpoint.pt');
    const inner = tensorPickleItems([{ name: 'w', key: '0', storageNumel: 2, offset: 0, shape: [2], stride: [1] }]);
    const pickle = concat([0x80, 2, 0x7d], str('epoch'), [0x4b, 3, 0x73], str('model_state_dict'), [0x7d], inner, [0x73, 0x2e]);
    await writeFile(path, zipSync({ 'archive/data.pkl': [pickle, { level: 0 }], 'archive/data/0': [new Uint8Array(Float32Array.from([3, 4]).buffer), { level: 0 }] }));
    const read = await pytorchFile.readTensors(path);
    assert.deepEqual([...(read.tensors[0].values as Float32Array)], [3, 4]);
    assert.deepEqual(read.notes, ["read the state dict stored under 'model_state_dict'; its other entries (epoch) were ignored"]);
  });

  test('a damaged entry fails its CRC-32 check', async () => {
    const dir = await freshDir();
    const bytes = new Uint8Array(await readFile(fixture('mlp.pt')));
    bytes[bytes.length - 200 - 3000] ^= 0xff; // inside the first storage
    const path = join(dir, 'flipped.pt');
    await writeFile(path, bytes);
    await rejectsWithProblem(pytorchFile.readTensors(path), path, /corrupt: its contents do not match the CRC-32/);
  });

  test('a missing file is a FileProblem too', async () => {
    const path = join(await freshDir(), 'absent.safetensors');
    for (const format of [safetensorsFile, pytorchFile, npzWeightsFile]) {
      await rejectsWithProblem(format.readTensors(path), path, /cannot (read|open) it \(ENOENT\)/);
    }
  });
});

// ----- crafting files -----

function concat(...parts: ArrayLike<number>[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
/** BINUNICODE */
const str = (s: string) => {
  const bytes = encoder.encode(s);
  return concat([0x58, ...u32(bytes.length)], bytes);
};
/** BININT */
const int = (n: number) => [0x4a, ...u32(n)];
/** GLOBAL */
const global = (module: string, name: string) => concat([0x63], encoder.encode(`${module}\n${name}\n`));

interface CraftedTensor {
  readonly name: string;
  readonly key: string;
  readonly storageNumel: number;
  readonly offset: number;
  readonly shape: number[];
  readonly stride: number[];
  readonly type?: string;
}

/** `_rebuild_tensor_v2(('storage', type, key, 'cpu', numel), offset, shape, stride, False, OrderedDict())` */
function tensorPickle(t: CraftedTensor): Uint8Array {
  return concat(
    global('torch._utils', '_rebuild_tensor_v2'),
    [0x28, 0x28], str('storage'), global('torch', t.type ?? 'FloatStorage'), str(t.key), str('cpu'), int(t.storageNumel), [0x74, 0x51],
    int(t.offset), [0x28], ...t.shape.map(int), [0x74], [0x28], ...t.stride.map(int), [0x74], [0x89],
    global('collections', 'OrderedDict'), [0x29, 0x52], [0x74, 0x52],
  );
}

/** MARK, then name/tensor pairs, then SETITEMS. */
function tensorPickleItems(tensors: readonly CraftedTensor[]): Uint8Array {
  return concat([0x28], ...tensors.flatMap((t) => [str(t.name), tensorPickle(t)]), [0x75]);
}

/** A .pt archive like torch.save writes (without its 64-byte alignment, which torch does not need). */
function ptArchive(tensors: readonly CraftedTensor[], storages: Record<string, Float32Array | Uint8Array>, extra: Record<string, string> = {}): Uint8Array {
  const pickle = concat([0x80, 2], global('collections', 'OrderedDict'), [0x29, 0x52], tensorPickleItems(tensors), [0x2e]);
  const files: Zippable = { 'archive/data.pkl': [pickle, { level: 0 }] };
  for (const [key, data] of Object.entries(storages)) files[`archive/data/${key}`] = [new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { level: 0 }];
  for (const [name, text] of Object.entries(extra)) files[name] = [encoder.encode(text), { level: 0 }];
  files['archive/version'] = [encoder.encode('3\n'), { level: 0 }];
  return zipSync(files);
}

/** Pickles that would run `touch marker` if a real unpickler loaded them. */
function hostilePickles(marker: string): { global: string; bytes: Uint8Array }[] {
  const command = `touch ${marker}`;
  return [
    { global: 'os.system', bytes: concat([0x80, 2], global('os', 'system'), str(command), [0x85, 0x52, 0x2e]) },
    { global: 'posix.system', bytes: concat([0x80, 2], global('posix', 'system'), str(command), [0x85, 0x52, 0x2e]) },
    // Protocol 4 names globals with STACK_GLOBAL.
    {
      global: 'builtins.eval',
      bytes: concat([0x80, 4, 0x8c, 8], encoder.encode('builtins'), [0x8c, 4], encoder.encode('eval'), [0x93], str(`__import__('os').system('${command}')`), [0x85, 0x52, 0x2e]),
    },
    // Hidden inside an otherwise valid state dict, after a tensor.
    { global: 'os.system', bytes: concat([0x80, 2, 0x7d], str('w'), global('os', 'system'), str(command), [0x85, 0x52, 0x73, 0x2e]) },
    // INST names the global inline.
    { global: 'os.system', bytes: concat([0x80, 2, 0x28], str(command), [0x69], encoder.encode('os\nsystem\n'), [0x2e]) },
  ];
}

type HeaderTensors = Record<string, [string, number[], [number, number]]>;
function tensorHeader(spec: HeaderTensors): string {
  return JSON.stringify(Object.fromEntries(Object.entries(spec).map(([name, [dtype, shape, offsets]]) => [name, { dtype, shape, data_offsets: offsets }])));
}

function safetensors(header: string, dataLength: number, data?: Uint8Array): Uint8Array {
  const text = encoder.encode(header);
  const bytes = new Uint8Array(8 + text.length + dataLength);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(text.length), true);
  bytes.set(text, 8);
  if (data) bytes.set(data, 8 + text.length);
  return bytes;
}

function withLength(bytes: Uint8Array, length: number): Uint8Array {
  new DataView(bytes.buffer).setBigUint64(0, BigInt(length), true);
  return bytes;
}

function float64Npy(shape: readonly number[], values: Float32Array): Uint8Array<ArrayBuffer> {
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const data = Float64Array.from(values);
  return concat([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8], encoder.encode(header), new Uint8Array(data.buffer));
}

/** Compression methods of the local headers, in order. */
function localHeaderMethods(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const methods: number[] = [];
  for (let at = 0; view.getUint32(at, true) === 0x04034b50; ) {
    methods.push(view.getUint16(at + 8, true));
    at += 30 + view.getUint16(at + 26, true) + view.getUint16(at + 28, true) + view.getUint32(at + 18, true);
  }
  return methods;
}

/** Sets an entry's declared uncompressed size in its local and central headers. */
function patchEntrySizes(bytes: Uint8Array, name: string, size: number): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nameBytes = encoder.encode(name);
  for (let at = 0; at + 46 < bytes.length; at++) {
    const signature = view.getUint32(at, true);
    const nameAt = signature === 0x04034b50 ? at + 30 : signature === 0x02014b50 ? at + 46 : -1;
    if (nameAt < 0 || !nameBytes.every((b, i) => bytes[nameAt + i] === b)) continue;
    view.setUint32(signature === 0x04034b50 ? at + 22 : at + 24, size, true);
  }
}

const listDir = (dir: string): Promise<string[]> => readdir(dir);

test('.npz float16 arrays are read exactly (widened to float32) and a replaced one is written as float32', async () => {
  // 1, −2, 65504 (the largest float16), 2⁻²⁴ (the smallest subnormal), as little-endian half bits.
  const halves = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001]);
  const file = join(await freshDir(), 'half.npz');
  await writeFile(file, zipSync({ 'fc.weight.npy': encodeNpy('<f2', [2, 2], new Uint8Array(halves.buffer)) }));
  const read = await npzWeightsFile.readTensors(file);
  assert.equal(read.tensors[0].dtype, 'float16');
  assert.deepEqual(Array.from(read.tensors[0].values!), [1, -2, 65504, 2 ** -24]);
  assert.equal(await npzWeightsFile.countParameters(file), 4);
  const out = join(await freshDir(), 'half-rescaled.npz');
  await npzWeightsFile.writeTensors(file, new Map([['fc.weight', new Float32Array([0.5, 0.25, 3, 4])]]), out);
  const written = await npzWeightsFile.readTensors(out);
  assert.equal(written.tensors[0].dtype, 'float32');
  assert.deepEqual(Array.from(written.tensors[0].values!), [0.5, 0.25, 3, 4]);
});

test('a training checkpoint saved by PyTorch ({epoch, model, optimizer}) gives the state dict under "model"', async (t) => {
  const missing = missingPythonModules(['torch']);
  if (missing) return t.skip(missing);
  const file = join(await freshDir(), 'checkpoint.pt');
  const sums = runPythonJson<Record<string, number>>(
    `
import json, sys, torch
request = json.load(sys.stdin)
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
optimizer = torch.optim.Adam(model.parameters())
model(torch.randn(5, 4)).sum().backward()
optimizer.step()
torch.save({"epoch": 3, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, request["file"])
print(json.dumps({k: float(v.double().sum()) for k, v in model.state_dict().items()}))
`,
    { file },
  );
  const read = await pytorchFile.readTensors(file);
  assert.deepEqual(read.tensors.map((tensor) => tensor.name), Object.keys(sums));
  for (const tensor of read.tensors) assert.ok(Math.abs(tensor.values!.reduce((a, b) => a + b, 0) - sums[tensor.name]) < 1e-5, tensor.name);
  assert.ok(read.notes.some((note) => /under 'model'.*epoch, optimizer/.test(note)), read.notes.join('; '));
});
