import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkpointFormats, readCheckpoint } from '../../src/engine/formats/registry';
import { FileProblem } from '../../src/protocol/errors';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';

test('a checkpoint carries its reader\'s source kind, and every other format\'s writer refuses it without writing', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-source-'));
  try {
    const written = await writeLayersModel(path.join(dir, 'mlp'), mlpModel([3, 4, 2], 1));
    const checkpoint = await readCheckpoint(written.path);
    assert.equal(checkpoint.source.kind, 'tfjs-layers');
    assert.deepEqual(checkpoint.source.kind === 'tfjs-layers' ? checkpoint.source.modelJson : undefined, written.modelJson);

    const foreign = checkpointFormats.filter((format) => format.id !== 'tfjs-layers');
    assert.ok(foreign.length >= 6, 'ONNX, two Keras formats and three weights-only formats');
    const extensionOf: Record<string, string> = { onnx: 'onnx', 'keras-h5': 'h5', 'keras-v3': 'keras', safetensors: 'safetensors', pytorch: 'pt', 'npz-weights': 'npz' };
    for (const format of foreign) {
      const out = path.join(dir, `out-${format.id}.${extensionOf[format.id] ?? format.id}`);
      await assert.rejects(format.write(checkpoint, out, {}), (error: unknown) => {
        assert.ok(error instanceof FileProblem, `${format.id}: ${String(error)}`);
        assert.equal(error.file, out);
        assert.match(error.problem, /(only checkpoints read from|was not read from)/, `${format.id}: ${error.problem}`);
        return true;
      });
      for (const file of format.filesWritten(out)) assert.equal(fs.existsSync(file), false, `${format.id} wrote ${file}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
