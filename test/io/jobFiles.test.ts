import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeForListing } from '../../src/engine/formats/registry';
import { jobFileSha256, readJobFile, readJobFileHead, readJobFileRange } from '../../src/engine/io/jobFiles';
import { endJobLedger, filesReadSoFar, startNewJobLedger } from '../../src/engine/io/readLedger';
import { mlpModel, writeLayersModel } from '../fixtures/tfjsLayersFixture';

/** Runs `work` counting the opens for reading of files under `dir`, by path (node:fs's promise and callback forms; read streams open through the latter). */
// The module object itself (an `import * as` namespace is read-only), whose functions the readers call through.
const fs = require('node:fs') as typeof import('node:fs');

async function countingOpens<T>(dir: string, work: () => Promise<T>): Promise<{ result: T; opens: Record<string, number> }> {
  const opens: Record<string, number> = {};
  const note = (file: unknown) => {
    if (typeof file === 'string' && file.startsWith(dir)) opens[file] = (opens[file] ?? 0) + 1;
  };
  const promiseOpen = fs.promises.open;
  const callbackOpen = fs.open;
  fs.promises.open = ((file: unknown, ...rest: unknown[]) => {
    note(file);
    return (promiseOpen as (...args: unknown[]) => unknown)(file, ...rest);
  }) as typeof fs.promises.open;
  (fs as { open: unknown }).open = (file: unknown, ...rest: unknown[]) => {
    note(file);
    return (callbackOpen as (...args: unknown[]) => unknown)(file, ...rest);
  };
  try {
    return { result: await work(), opens };
  } finally {
    fs.promises.open = promiseOpen;
    (fs as { open: unknown }).open = callbackOpen;
  }
}

function freshFile(name: string, bytes: Uint8Array): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'flatness-job-files-'));
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return { dir, file };
}

test('in a job, a file is opened once for its head, its bytes, a range and its hash; a changed file is read again', async () => {
  const bytes = crypto.randomBytes(50_000);
  const { dir, file } = freshFile('weights.bin', bytes);
  startNewJobLedger();
  try {
    const { result, opens } = await countingOpens(dir, async () => {
      const head = await readJobFileHead(file, 16, { wholeFileFollows: true });
      const whole = await readJobFile(file);
      const range = await readJobFileRange(file, 1000, 24);
      return { head, whole, range, sha256: await jobFileSha256(file) };
    });
    assert.deepEqual(opens, { [file]: 1 });
    assert.deepEqual(Buffer.from(result.head), bytes.subarray(0, 16));
    assert.deepEqual(Buffer.from(result.whole), bytes);
    assert.deepEqual(Buffer.from(result.range), bytes.subarray(1000, 1024));
    assert.equal(result.sha256, crypto.createHash('sha256').update(bytes).digest('hex'));
    assert.deepEqual(filesReadSoFar(), [file], 'the output guard sees the file');

    const changed = crypto.randomBytes(60_000);
    writeFileSync(file, changed);
    assert.deepEqual(Buffer.from(await readJobFile(file)), changed, 'another size and modification time: read again');
    assert.equal(await jobFileSha256(file), crypto.createHash('sha256').update(changed).digest('hex'));
  } finally {
    endJobLedger();
  }
});

test('outside a job nothing is kept: each read opens the file, and a range reads only the range', async () => {
  const bytes = crypto.randomBytes(10_000);
  const { dir, file } = freshFile('data.bin', bytes);
  const { result, opens } = await countingOpens(dir, async () => [await readJobFile(file), await readJobFile(file), await readJobFileRange(file, 9_990, 10)]);
  assert.deepEqual(opens, { [file]: 3 });
  assert.deepEqual(Buffer.from(result[2]), bytes.subarray(9_990));
  await assert.rejects(readJobFileRange(file, 9_995, 10), /the file ended at byte 10000, before byte 10005/);
});

test('describing a checkpoint with its content hash reads each of its files once, beside a running job, without touching the job\'s kept files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flatness-job-files-'));
  const written = await writeLayersModel(dir, mlpModel([3, 4, 2], 1), { shards: 2 });
  startNewJobLedger();
  try {
    const { result, opens } = await countingOpens(dir, () => describeForListing({ checkpoint: written.path, contentHash: true }));
    assert.deepEqual(opens, Object.fromEntries([written.path, ...written.shardPaths].map((file) => [file, 1])));
    assert.equal(result.kind, 'checkpoint');
    const expected = crypto.createHash('sha256');
    for (const file of [written.path, ...written.shardPaths]) expected.update(`${file.length}:`).update(readFileSync(file));
    assert.equal(result.kind === 'checkpoint' ? result.contentHash : undefined, expected.digest('hex'));
    // The describe kept its files for itself: the job reads them when it needs them.
    const { opens: jobOpens } = await countingOpens(dir, () => readJobFile(written.path));
    assert.deepEqual(jobOpens, { [written.path]: 1 });
  } finally {
    endJobLedger();
  }
});

test('a FIFO is refused by every read, before it is opened', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flatness-job-files-'));
  const fifo = join(dir, 'pipe');
  (await import('node:child_process')).execFileSync('mkfifo', [fifo]);
  startNewJobLedger();
  try {
    const { opens } = await countingOpens(dir, async () => {
      for (const read of [() => readJobFile(fifo), () => readJobFileHead(fifo, 8, { wholeFileFollows: true }), () => readJobFileRange(fifo, 0, 8), () => jobFileSha256(fifo)]) {
        await assert.rejects(read(), /pipe: the file is a FIFO \(named pipe\), not a regular file/);
      }
    });
    assert.deepEqual(opens, {});
  } finally {
    endJobLedger();
  }
});
