/**
 * Files Flatness Lens writes in Keras formats, opened with h5py (the library Keras itself uses):
 * the same groups, datasets, shapes, dtypes and attributes as the original (plus the provenance
 * attribute), the new values in the weight datasets and the old bytes everywhere else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeKerasH5, readKerasH5 } from '../../src/engine/formats/keras/kerasH5Format';
import { PROVENANCE_ATTRIBUTE } from '../../src/engine/formats/keras/h5Writer';
import { describeKerasV3, readKerasV3 } from '../../src/engine/formats/keras/kerasV3Format';
import { sourceOfKind } from '../../src/engine/formats/checkpointFormat';
import type { KerasH5Source } from '../../src/engine/formats/keras/h5Writer';
import type { KerasV3Source } from '../../src/engine/formats/keras/kerasV3Writer';
import type { Checkpoint } from '../../src/engine/model/spec';
import { planRescale, writeRescaled } from '../../src/engine/rescale/plan';
import type { RescaleRequest } from '../../src/protocol/requests';
import { FileProblem } from '../../src/protocol/errors';
import { missingPythonModules, runPythonJson } from '../fixtures/python';
import { caseFolders } from '../fixtures/tempDirs';

const fixture = (name: string) => join(__dirname, '..', 'fixtures', 'keras', name);
const { freshDir } = caseFolders('keras-h5py');
const skip = missingPythonModules(['h5py', 'numpy']);

/** Reads an .h5, or the model.weights.h5 inside a .keras, and describes both files for comparison. */
const compareProgram = String.raw`
import hashlib, io, json, sys, zipfile
import h5py, numpy as np

def plain(v):
    if isinstance(v, bytes):
        return v.decode('utf8')
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()] if v.dtype.kind in 'OSU' else v.tolist()
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v

def structure(f):
    out = {}
    def visit(name, obj):
        entry = {'attrs': {k: [str(obj.attrs.get_id(k).dtype), plain(obj.attrs[k])] for k in obj.attrs.keys()}}
        if isinstance(obj, h5py.Dataset):
            entry.update(kind='dataset', shape=list(obj.shape), dtype=str(obj.dtype))
        else:
            entry.update(kind='group')
        out[name] = entry
    visit('/', f)
    f.visititems(visit)
    return out

def open_h5(path):
    if not path.endswith('.keras'):
        return h5py.File(path, 'r'), None
    z = zipfile.ZipFile(path)
    entries = [[i.filename, i.compress_type] for i in z.infolist()]
    other = {i.filename: hashlib.sha256(z.read(i.filename)).hexdigest() for i in z.infolist() if i.filename != 'model.weights.h5'}
    return h5py.File(io.BytesIO(z.read('model.weights.h5')), 'r'), {'entries': entries, 'other': other}

request = json.load(sys.stdin)
original, original_zip = open_h5(request['original'])
written, written_zip = open_h5(request['written'])
weights = request['weights']
mismatched = []
def compare(name, obj):
    if not isinstance(obj, h5py.Dataset):
        return
    new = np.asarray(obj[()])
    if name in weights:
        expected = np.asarray(weights[name], dtype=obj.dtype).reshape(obj.shape)
        if not np.array_equal(new, expected):
            mismatched.append(name + ': ' + str(float(np.max(np.abs(new.astype(np.float64) - expected)))))
    elif not np.array_equal(new, np.asarray(original[name][()])):
        mismatched.append(name + ': changed but is not a weight')
written.visititems(compare)
json.dump({
    'original': structure(original), 'written': structure(written),
    'provenance': plain(written.attrs.get(request['provenanceAttribute'])),
    'mismatched': mismatched,
    'originalZip': original_zip, 'writtenZip': written_zip,
}, sys.stdout)
`;

interface Comparison {
  readonly original: Record<string, { attrs: Record<string, unknown> }>;
  readonly written: Record<string, { attrs: Record<string, unknown> }>;
  readonly provenance: string | null;
  readonly mismatched: string[];
  readonly originalZip: { entries: unknown[]; other: Record<string, string> } | null;
  readonly writtenZip: { entries: unknown[]; other: Record<string, string> } | null;
}

async function rescaleAndCompare(name: string, request: Omit<RescaleRequest, 'checkpoint'>, datasetPaths: (checkpoint: Checkpoint) => Record<string, string>): Promise<void> {
  const original = fixture(name);
  const plan = await planRescale({ ...request, checkpoint: original });
  const [written] = await writeRescaled(plan, join(await freshDir(), name.replace(/(\.\w+)$/, '.rescaled$1')));
  const paths = datasetPaths(plan.checkpoint);
  const weights = Object.fromEntries(plan.weights.map((w) => [paths[w.name], Array.from(w.values)]));
  assert.equal(Object.keys(weights).length, plan.weights.length);
  const result = runPythonJson<Comparison>(compareProgram, { original, written, weights, provenanceAttribute: PROVENANCE_ATTRIBUTE });

  assert.deepEqual(result.mismatched, [], 'weight datasets hold the new values, every other dataset its old ones');
  const { [PROVENANCE_ATTRIBUTE]: provenanceAttr, ...rootAttrs } = result.written['/'].attrs;
  assert.ok(provenanceAttr, 'the provenance attribute is there');
  assert.deepEqual({ ...result.written, '/': { ...result.written['/'], attrs: rootAttrs } }, result.original, 'same groups, datasets, shapes, dtypes and attributes');
  const provenance = JSON.parse(result.provenance ?? 'null') as { mode: string; source: { file: string } };
  assert.equal(provenance.mode, request.mode);
  assert.equal(provenance.source.file, name);
  assert.deepEqual(result.writtenZip, result.originalZip, 'same zip entries (names, compression) and identical bytes outside model.weights.h5');
}

const h5Paths = (checkpoint: Checkpoint) => sourceOfKind<KerasH5Source>(checkpoint, 'keras-h5')?.datasetPaths ?? {};
const kerasPaths = (checkpoint: Checkpoint) => sourceOfKind<KerasV3Source>(checkpoint, 'keras-v3')?.kerasDatasetPaths ?? {};
const small = { probeSamples: 32, traceSamples: 4, seed: 1 };

test('a rescaled .h5 (Sequential MLP, flatten) has the original structure in h5py and the new values', { skip }, async () => {
  await rescaleAndCompare('mlp.h5', { ...small, mode: 'flatten' }, h5Paths);
});

test('a rescaled .h5 (functional CNN with chunked layer_names, sharpen) has the original structure in h5py and the new values', { skip }, async () => {
  await rescaleAndCompare('cnn.h5', { ...small, mode: 'sharpen', factor: 10 }, h5Paths);
});

test('a rescaled .keras (MLP with optimizer state, flatten) has the original entries and structure in h5py and the new values', { skip }, async () => {
  await rescaleAndCompare('mlp.keras', { ...small, mode: 'flatten' }, kerasPaths);
});

test('a rescaled .keras (Functional CNN, deflated weights entry, sharpen) has the original entries and structure in h5py and the new values', { skip }, async () => {
  await rescaleAndCompare('cnn.keras', { ...small, mode: 'sharpen', factor: 10 }, kerasPaths);
});

// ---- hostile HDF5 files crafted with h5py: data from other files, sizes that lie ----------------

/** Writes variants of mlp.h5 and mlp.keras into `dir`, each with dense's kernel replaced as named. */
const hostileProgram = String.raw`
import io, json, os, shutil, sys, zipfile
import h5py, numpy as np

request = json.load(sys.stdin)
d = request['dir']
secret = np.arange(32, dtype='<f4') + 1000
secret.tofile(os.path.join(d, 'secret.bin'))
with h5py.File(os.path.join(d, 'secret.h5'), 'w') as f:
    f['data'] = secret.reshape(4, 8)

def replace_kernel(f, path, how):
    del f[path]
    if how == 'external-relative':
        f.create_dataset(path, shape=(4, 8), dtype='<f4', external=[('../secret.bin', 0, 128)])
    elif how == 'external-absolute':
        f.create_dataset(path, shape=(4, 8), dtype='<f4', external=[(os.path.join(d, 'secret.bin'), 0, 128)])
    elif how == 'virtual':
        layout = h5py.VirtualLayout(shape=(4, 8), dtype='<f4')
        layout[:] = h5py.VirtualSource(os.path.join(d, 'secret.h5'), 'data', shape=(4, 8))
        f.create_virtual_dataset(path, layout)
    elif how == 'huge-unwritten':
        f.create_dataset(path, shape=(1000000000, 8), dtype='<f4', chunks=(1024, 8))
    elif how == 'large-unwritten':
        f.create_dataset(path, shape=(20000000, 8), dtype='<f4', chunks=(1024, 8))
    elif how == 'huge-compressed':
        f.create_dataset(path, shape=(20000000, 8), dtype='<f4', chunks=(65536, 8), compression='gzip')

written = {}
for how in request['variants']:
    out = os.path.join(d, how + '.h5')
    shutil.copy(request['h5'], out)
    with h5py.File(out, 'a') as f:
        replace_kernel(f, 'model_weights/dense/dense/kernel:0', how)
    written[how + '.h5'] = out
    src = zipfile.ZipFile(request['keras'])
    weights = os.path.join(d, how + '.weights.h5')
    with open(weights, 'wb') as w:
        w.write(src.read('model.weights.h5'))
    with h5py.File(weights, 'a') as f:
        replace_kernel(f, 'layers/dense/vars/0', how)
    out = os.path.join(d, how + '.keras')
    with zipfile.ZipFile(out, 'w') as z:
        for info in src.infolist():
            z.writestr(info, open(weights, 'rb').read() if info.filename == 'model.weights.h5' else src.read(info.filename))
    written[how + '.keras'] = out
json.dump(written, sys.stdout)
`;

async function assertRefused(promise: Promise<unknown>, file: string, problem: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof FileProblem, `expected FileProblem, got ${String(error)}`);
    assert.ok(error.message.includes(file), `message should name ${file}: ${error.message}`);
    assert.match(error.message, problem);
    return true;
  });
}

test('a weight stored in another file (external raw data, relative or absolute; a virtual dataset) is refused in .h5 and .keras', { skip }, async () => {
  const dir = await freshDir();
  const variants = ['external-relative', 'external-absolute', 'virtual'];
  const files = runPythonJson<Record<string, string>>(hostileProgram, { dir, h5: fixture('mlp.h5'), keras: fixture('mlp.keras'), variants });
  assert.ok(existsSync(join(dir, 'secret.bin')));
  for (const variant of variants) {
    const h5 = files[`${variant}.h5`];
    const keras = files[`${variant}.keras`];
    const refusal = /refers to another file \('.*secret\.(bin|h5)'\) through an HDF5 external link, external data file or virtual dataset/;
    await assertRefused(readKerasH5(h5), h5, refusal);
    await assertRefused(readKerasV3(keras), keras, new RegExp(`model\\.weights\\.h5: ${refusal.source}`));
  }
});

test('a chunked weight that declares gigabytes it does not hold (unwritten, or compressed beyond deflate\'s limit) is refused before reading', { skip }, async () => {
  const dir = await freshDir();
  const variants = ['huge-unwritten', 'large-unwritten', 'huge-compressed'];
  const files = runPythonJson<Record<string, string>>(hostileProgram, { dir, h5: fixture('mlp.h5'), keras: fixture('mlp.keras'), variants });
  for (const [variant, bytes, compressed] of [['huge-unwritten', 32000000000, false], ['large-unwritten', 640000000, false], ['huge-compressed', 640000000, true]] as const) {
    const h5 = files[`${variant}.h5`];
    const keras = files[`${variant}.keras`];
    const tail = `\\(${bytes} bytes\\), more than .* \\(\\d+ bytes\\) can hold${compressed ? ' even compressed' : ''}; refusing to read it`;
    await assertRefused(readKerasH5(h5), h5, new RegExp(`dataset model_weights/dense/dense/kernel:0 declares shape \\[\\d+, 8\\] ${tail}`));
    await assertRefused(describeKerasH5(h5), h5, /refusing to read it/);
    await assertRefused(readKerasV3(keras), keras, new RegExp(`dataset layers/dense/vars/0 declares shape \\[\\d+, 8\\] ${tail}`));
    await assertRefused(describeKerasV3(keras), keras, /refusing to read it/);
  }
});
