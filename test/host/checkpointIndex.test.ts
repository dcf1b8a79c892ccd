import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AnalyzerClient } from '../../src/host/analyzerClient';
import { CheckpointIndex } from '../../src/host/checkpoints/checkpointIndex';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import { host } from './fakeVscode';

// The real background process, built by `npm test` into dist/analyzer.js: the host lists
// checkpoints without reading one itself.
const script = path.join(__dirname, '..', '..', 'dist', 'analyzer.js');

/** The content hash as the cache defines it: sha256 over `<path length>:<bytes>` of every file in order. */
function expectedHash(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(`${file.length}:`).update(fs.readFileSync(file));
  return hash.digest('hex');
}

test('the Checkpoints view lists what the analyzer process recognizes, with parameters, files and content hash', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-index-'));
  const analyzer = new AnalyzerClient({ script, log: () => undefined });
  const index = new CheckpointIndex((request) => analyzer.describe(request).done, () => [], () => undefined);
  try {
    const written = await writeLayersModel(path.join(root, 'models', 'mlp'), mlpModel([3, 4, 2], 1), { shards: 2 });
    fs.mkdirSync(path.join(root, 'notes'));
    fs.writeFileSync(path.join(root, 'notes', 'settings.json'), '{"not": "a model"}');
    fs.writeFileSync(path.join(root, 'broken.onnx'), Buffer.from('this is not protobuf'));
    host.reset(root, {});

    const entries = await index.all();
    assert.deepEqual(entries.map((e) => e.relativePath), ['broken.onnx', path.join('models', 'mlp', 'model.json')]);
    const [broken, mlp] = entries;

    assert.equal(mlp.format, 'tfjs-layers');
    assert.equal(mlp.weightsOnly, false);
    assert.equal(mlp.parameters, 3 * 4 + 4 + 4 * 2 + 2);
    assert.equal(mlp.files[0], written.path);
    assert.equal(mlp.files.length, 3, 'model.json and its two shards');
    assert.equal(mlp.contentHash, undefined, 'listing reads headers only; the hash waits for a job');
    assert.equal(await index.hashOf(mlp), expectedHash(mlp.files));
    assert.equal(mlp.contentHash, expectedHash(mlp.files));
    assert.deepEqual(mlp.state, { kind: 'new' });

    assert.equal(broken.state.kind, 'unreadable');
    const reason = broken.state.kind === 'unreadable' ? broken.state.reason : '';
    assert.match(reason, /not a checkpoint format Flatness Lens reads/);
    assert.ok(!reason.includes(root), `the reason does not repeat the path: ${reason}`);
  } finally {
    index.dispose();
    analyzer.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a file that names a checkpoint format but fails to parse is listed as unreadable with the engine\'s reason', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-index-'));
  const analyzer = new AnalyzerClient({ script, log: () => undefined });
  const index = new CheckpointIndex((request) => analyzer.describe(request).done, () => [], () => undefined);
  try {
    const written = await writeLayersModel(path.join(root, 'm'), mlpModel([2, 2], 3));
    // recognized by its first bytes, refused by describe: its weight shard is gone
    fs.rmSync(written.shardPaths[0]);
    host.reset(root, {});
    const [entry] = await index.all();
    assert.equal(entry.state.kind, 'unreadable');
    const reason = entry.state.kind === 'unreadable' ? entry.state.reason : '';
    assert.ok(reason.includes(path.basename(written.shardPaths[0])), `names the missing shard: ${reason}`);
  } finally {
    index.dispose();
    analyzer.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
