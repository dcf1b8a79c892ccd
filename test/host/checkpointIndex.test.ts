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
import { host, Uri } from './fakeVscode';

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

/** An index over a fresh workspace whose describe requests are counted by file; `settleMs` short for the test. */
function watchedIndex(root: string, analyzer: AnalyzerClient): { index: CheckpointIndex; described: Map<string, number> } {
  const described = new Map<string, number>();
  const index = new CheckpointIndex(
    (request) => {
      described.set(request.checkpoint, (described.get(request.checkpoint) ?? 0) + 1);
      return analyzer.describe(request).done;
    },
    () => [],
    () => undefined,
    50,
  );
  host.reset(root, {});
  return { index, described };
}

test('a folder of checkpoints moved into the workspace after the first scan is listed without a Refresh', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-index-'));
  const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-run-'));
  const analyzer = new AnalyzerClient({ script, log: () => undefined });
  const { index } = watchedIndex(root, analyzer);
  try {
    assert.deepEqual(await index.all(), []);
    for (const step of [100, 200]) await writeLayersModel(path.join(elsewhere, 'run', `step_${step}`), mlpModel([3, 4, 2], step), { shards: 2 });
    fs.renameSync(path.join(elsewhere, 'run'), path.join(root, 'run'));
    const changed = new Promise<void>((done) => index.onDidChange(() => done()));
    // A folder moved in is one event, for the folder; none for the files inside it.
    host.fileEvent('create', path.join(root, 'run'));
    await changed;
    const entries = await index.all();
    assert.deepEqual(entries.map((e) => e.relativePath), [path.join('run', 'step_100', 'model.json'), path.join('run', 'step_200', 'model.json')]);
    assert.ok(entries.every((e) => e.format === 'tfjs-layers' && e.files.length === 3 && e.state.kind === 'new'));

    // The folder removed: one event for the folder; its checkpoints leave the view.
    fs.rmSync(path.join(root, 'run'), { recursive: true });
    host.fileEvent('delete', path.join(root, 'run'));
    await index.settled();
    assert.deepEqual(await index.all(), []);
  } finally {
    index.dispose();
    analyzer.dispose();
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(elsewhere, { recursive: true, force: true });
  }
});

test('file events are handled once they settle: a checkpoint written as several files is described once, and one listed before its shard arrived is read again', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-index-'));
  const analyzer = new AnalyzerClient({ script, log: () => undefined });
  const { index, described } = watchedIndex(root, analyzer);
  try {
    assert.deepEqual(await index.all(), []);
    // A training script writes model.json and its two shards; the watcher reports each file, and a change of each.
    const written = await writeLayersModel(path.join(root, 'step_1'), mlpModel([3, 4, 2], 1), { shards: 2 });
    for (const file of [written.path, ...written.shardPaths]) {
      host.fileEvent('create', file);
      host.fileEvent('change', file);
    }
    await index.settled();
    const [entry] = await index.all();
    assert.equal(entry.relativePath, path.join('step_1', 'model.json'));
    assert.equal(entry.state.kind, 'new');
    assert.equal(entry.parameters, 3 * 4 + 4 + 4 * 2 + 2);
    assert.equal(described.get(written.path), 1, 'one describe for the burst of six events');

    // Another step whose model.json is seen before its shards exist: unreadable, then read again when they arrive.
    const later = await writeLayersModel(path.join(root, 'step_2'), mlpModel([3, 4, 2], 2), { shards: 2 });
    const shards = later.shardPaths.map((file) => [file, fs.readFileSync(file)] as const);
    for (const [file] of shards) fs.rmSync(file);
    host.fileEvent('create', later.path);
    await index.settled();
    const early = index.get(Uri.file(later.path) as never);
    assert.equal(early?.state.kind, 'unreadable');
    for (const [file, bytes] of shards) {
      fs.writeFileSync(file, bytes);
      host.fileEvent('create', file);
    }
    await index.settled();
    assert.equal(early?.state.kind, 'new');
    assert.equal(early?.files.length, 3);
  } finally {
    index.dispose();
    analyzer.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
