import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkDataCandidates } from '../../src/engine/analysis/dataCandidates';
import { describeForListing } from '../../src/engine/formats/registry';
import { CheckpointIndex } from '../../src/host/checkpoints/checkpointIndex';
import { DataChoices } from '../../src/host/jobs/dataChoice';
import { dataCandidatesRequest } from '../../src/host/jobs/requests';
import { readSettings } from '../../src/host/settings';
import { host, Uri } from './fakeVscode';
import { MemoryMemento } from './memoryMemento';

const example = path.join(__dirname, '..', '..', 'examples', 'digits-mlp');

test('the data-set picker offers only files that could feed the model, and logs why the others are left out', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-data-pick-'));
  const index = new CheckpointIndex(describeForListing, () => [], () => undefined);
  try {
    fs.mkdirSync(path.join(root, 'model'));
    for (const file of ['model.json', 'model.weights.bin']) fs.copyFileSync(path.join(example, file), path.join(root, 'model', file));
    fs.mkdirSync(path.join(root, 'data'));
    fs.copyFileSync(path.join(example, 'digits.csv.gz'), path.join(root, 'data', 'digits.csv.gz'));
    const rows = (features: number) => Array.from({ length: 30 }, (_, r) => [...new Array(features).fill(r % 5), r % 3].join(',')).join('\n');
    fs.writeFileSync(path.join(root, 'data', 'iris.csv'), rows(4));
    fs.writeFileSync(path.join(root, 'data', 'digits-copy.csv.gz'), gzipSync(rows(64)));
    fs.writeFileSync(path.join(root, 'data', 'notes.txt'), 'Trained for 20 epochs.\n');
    fs.writeFileSync(path.join(root, 'package.json'), '{"name": "demo"}');
    host.reset(root, {});
    const log: string[] = [];
    // The analyzer's own check, run in this process instead of the background one.
    const choices = new DataChoices(new MemoryMemento(), (entry, files) => checkDataCandidates(dataCandidatesRequest(entry.uri.fsPath, readSettings(entry.uri), files)), (line) => log.push(line));
    const entry = await index.entryFor(Uri.file(path.join(root, 'model', 'model.json')) as unknown as import('vscode').Uri);
    host.picks.push('digits-copy.csv.gz');
    const choice = await choices.ask(entry);
    assert.deepEqual(choice, { kind: 'file', path: path.join(root, 'data', 'digits-copy.csv.gz') });
    const shown = host.shownPicks[0];
    assert.deepEqual(shown.labels, ['Data-free (Gaussian probe inputs)', 'digits-copy.csv.gz', 'digits.csv.gz']);
    assert.match(shown.placeholder ?? '', /3 files that cannot feed this model left out/);
    assert.ok(log.some((line) => /data\/iris\.csv left out for model\/model\.json: each sample has 4 values .* takes 64/.test(line)), log.join('\n'));
    assert.ok(log.some((line) => line.includes('notes.txt left out')), log.join('\n'));
    assert.ok(log.some((line) => line.includes('package.json left out')), log.join('\n'));
  } finally {
    index.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('without an answer from the check, the picker offers every file and logs why it could not check', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-data-pick-'));
  const index = new CheckpointIndex(describeForListing, () => [], () => undefined);
  try {
    fs.mkdirSync(path.join(root, 'model'));
    for (const file of ['model.json', 'model.weights.bin']) fs.copyFileSync(path.join(example, file), path.join(root, 'model', file));
    fs.writeFileSync(path.join(root, 'notes.txt'), 'Trained for 20 epochs.\n');
    host.reset(root, {});
    const log: string[] = [];
    const choices = new DataChoices(new MemoryMemento(), () => Promise.reject(new Error('the analyzer process ended unexpectedly')), (line) => log.push(line));
    const entry = await index.entryFor(Uri.file(path.join(root, 'model', 'model.json')) as unknown as import('vscode').Uri);
    host.picks.push('notes.txt');
    assert.deepEqual(await choices.ask(entry), { kind: 'file', path: path.join(root, 'notes.txt') });
    assert.deepEqual(host.shownPicks[0].labels, ['Data-free (Gaussian probe inputs)', 'notes.txt']);
    assert.match(log.join('\n'), /not checked \(the analyzer process ended unexpectedly\)/);
  } finally {
    index.dispose();
    fs.rmSync(root, { recursive: true, force: true });
  }
});
