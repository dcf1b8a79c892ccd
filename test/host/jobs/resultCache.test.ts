import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { contentHash } from '../../../src/engine/io/contentHash';
import { ResultCache } from '../../../src/host/jobs/resultCache';
import type { FlatnessReport } from '../../../src/protocol/report';

const report = (checkpoint: string, loss: number) => ({ checkpoint: { path: checkpoint }, loss }) as unknown as FlatnessReport;

test('reports are cached by content hash and request; the latest per checkpoint is remembered', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-cache-'));
  const model = path.join(dir, 'model.json');
  const shard = path.join(dir, 'model.weights.bin');
  fs.writeFileSync(model, '{"a":1}');
  fs.writeFileSync(shard, Buffer.from([1, 2, 3]));
  const hash = await contentHash([model, shard]);
  const cache = new ResultCache(path.join(dir, 'storage'));
  assert.equal(await cache.get(hash, 'request-1'), undefined);
  await cache.put(hash, 'request-1', report(model, 0.5));
  assert.equal(((await cache.get(hash, 'request-1')) as FlatnessReport | undefined)?.loss, 0.5);
  assert.equal(await cache.get(hash, 'request-2'), undefined, 'other settings, other entry');
  assert.equal((await cache.latest(model))?.contentHash, hash);
  fs.writeFileSync(shard, Buffer.from([1, 2, 4]));
  const changed = await contentHash([model, shard]);
  assert.notEqual(changed, hash, 'a changed shard changes the hash');
  assert.equal(await cache.get(changed, 'request-1'), undefined);
  assert.equal(((await cache.latest(model))?.report as FlatnessReport | undefined)?.loss, 0.5, 'the old report is still there to show as stale');
  assert.equal(await new ResultCache(undefined).get(hash, 'request-1'), undefined, 'no workspace storage: no cache');
});
