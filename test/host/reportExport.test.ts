import './useFakeVscode';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeForListing } from '../../src/engine/formats/registry';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';
import { saveWithDialog } from '../../src/host/report/reportExport';
import { host } from './fakeVscode';

test("an export from the editor never replaces a checkpoint's files, and replaces another file only when the user confirms", async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-export-'));
  try {
    const written = await writeLayersModel(path.join(root, 'model'), mlpModel([3, 4, 2], 1), { shards: 2 });
    const description = await describeForListing({ checkpoint: written.path, contentHash: false });
    assert.equal(description.kind, 'checkpoint');
    const files = description.kind === 'checkpoint' ? description.files : [];
    const shard = files.find((file) => file.endsWith('.bin'));
    assert.ok(shard, `no shard among ${files.join(', ')}`);
    const shardBytes = fs.readFileSync(shard);
    host.reset(root, {});

    host.saveTargets.push(shard);
    await saveWithDialog(path.join(root, 'report.json'), { JSON: ['json'] }, '{"x": 1}', [written.path, ...files]);
    assert.deepEqual(fs.readFileSync(shard), shardBytes, 'the shard was replaced');
    assert.match(host.messages.at(-1)?.text ?? '', /not saved: .*\.bin/);
    assert.equal(host.messages.at(-1)?.severity, 'error');

    const other = path.join(root, 'notes.json');
    fs.writeFileSync(other, 'keep me');
    host.saveTargets.push(other);
    await saveWithDialog(other, { JSON: ['json'] }, '{"x": 2}', files);
    assert.equal(fs.readFileSync(other, 'utf8'), 'keep me', 'replaced without asking');
    assert.match(host.messages.at(-1)?.text ?? '', /notes\.json already exists\. Replace it\?/);

    host.saveTargets.push(other);
    host.warningAnswers.push('Replace');
    await saveWithDialog(other, { JSON: ['json'] }, '{"x": 3}', files);
    assert.equal(fs.readFileSync(other, 'utf8'), '{"x": 3}');
    assert.deepEqual(fs.readdirSync(root).filter((name) => name.includes('.tmp')), [], 'a temporary file was left behind');
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
