/**
 * Files Flatness Lens writes in Keras formats, opened with h5py (the library Keras itself uses):
 * the same groups, datasets, shapes, dtypes and attributes as the original (plus the provenance
 * attribute), the new values in the weight datasets and the old bytes everywhere else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PROVENANCE_ATTRIBUTE } from '../../src/formats/keras/h5Writer';
import { readCheckpoint } from '../../src/formats/registry';
import { planRescale, writeRescaled, type RescaleRequest } from '../../src/rescale/plan';
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

async function rescaleAndCompare(name: string, request: Omit<RescaleRequest, 'checkpoint'>, datasetPaths: (checkpoint: Awaited<ReturnType<typeof readCheckpoint>>) => Record<string, string>): Promise<void> {
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

const h5Paths = (checkpoint: Awaited<ReturnType<typeof readCheckpoint>>) => (checkpoint.source as { datasetPaths: Record<string, string> }).datasetPaths;
const kerasPaths = (checkpoint: Awaited<ReturnType<typeof readCheckpoint>>) => (checkpoint.source as { kerasDatasetPaths: Record<string, string> }).kerasDatasetPaths;
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
