/**
 * Each input file of a job read from the disk once: matching a format on its first bytes, the
 * format's reader, the data loaders and the content hash all take the bytes from here. While a job
 * runs, the bytes are kept by real path until it ends (src/engine/io/readLedger.ts; a describe
 * beside it keeps its own), up to `limits.keptInputBytes` in all. A file that does not fit is not
 * kept: it is read in ranges where a reader needs only ranges (an ONNX external data file, a zip
 * directory) and streamed for its hash. A file whose size, inode or modification time changed
 * since it was kept is read again. Outside a job (a library call) nothing is kept.
 *
 * Every read goes through src/engine/io/regularFile.ts, so FIFOs, sockets and devices are still
 * refused before anything is opened, and every file lands in the read ledger the output guard checks.
 */
import * as crypto from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { limits } from '../../protocol/limits';
import { describeFsError } from './fsErrors';
import { keptFiles, noteFileRead, type KeptFile } from './readLedger';
import { openRegularFile, readRegularFile, refuseLarge, regularFileStats } from './regularFile';
import { hashFileInto } from './sha256';
import { memorySource, withFileSource, type ByteSource } from './zipArchive';

interface ReadOptions {
  /** Refuse a file larger than this (default: `limits.fileBytes`). */
  readonly maxBytes?: number;
  /** What the file is, for messages: 'the data file'. */
  readonly role?: string;
}

/** A regular file as found now: its size, what identifies this version of it, and its real path. */
interface FoundFile {
  readonly size: number;
  readonly identity: string;
  readonly key: string;
}

function keyOf(file: string): string {
  try {
    return realpathSync.native(resolve(file));
  } catch {
    return resolve(file);
  }
}

async function findFile(file: string, role = 'the file'): Promise<FoundFile> {
  const info = await regularFileStats(file, role);
  return { size: info.size, identity: `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}`, key: keyOf(file) };
}

/** Frees the kept bytes of these files (the job is done with them); they stay in the read ledger. */
export function forgetJobFiles(files: readonly string[]): void {
  const store = keptFiles();
  for (const key of files.map(keyOf)) {
    store?.files.delete(key);
    store?.sizes.delete(key);
  }
}

/** Whether a file of `size` bytes may be read whole and kept, with what the job keeps already. */
function fitsInBudget(size: number): boolean {
  const store = keptFiles();
  if (store === undefined || size > limits.fileBytes.value) return false;
  let kept = 0;
  for (const keptSize of store.sizes.values()) kept += keptSize;
  return kept + size <= limits.keptInputBytes.value;
}

/** The kept bytes of `file`, if this job read this version of it whole already (noted as read again under this name). */
async function keptFile(file: string, found: FoundFile): Promise<KeptFile | undefined> {
  const store = keptFiles();
  const entry = store?.files.get(found.key);
  if (store === undefined || entry === undefined) return undefined;
  const kept = await entry.catch(() => undefined);
  if (kept === undefined) return undefined;
  if (kept.identity !== found.identity) {
    if (store.files.get(found.key) === entry) {
      store.files.delete(found.key);
      store.sizes.delete(found.key);
    }
    return undefined;
  }
  noteFileRead(resolve(file));
  return kept;
}

/** Reads `file` whole and keeps it when it fits what is left of the job's budget. */
async function readAndKeep(file: string, found: FoundFile, options: ReadOptions): Promise<Uint8Array> {
  const store = keptFiles();
  if (store === undefined || !fitsInBudget(found.size)) return readRegularFile(file, options);
  const reading = readRegularFile(file, options).then((bytes): KeptFile => ({ bytes, identity: found.identity }));
  store.files.set(found.key, reading);
  store.sizes.set(found.key, found.size);
  try {
    return (await reading).bytes;
  } catch (error) {
    if (store.files.get(found.key) === reading) {
      store.files.delete(found.key);
      store.sizes.delete(found.key);
    }
    throw error;
  }
}

/** All bytes of a regular file, read once per job. Callers must not change them: they are shared. */
export async function readJobFile(file: string, options: ReadOptions = {}): Promise<Uint8Array> {
  const role = options.role ?? 'the file';
  const found = await findFile(file, role);
  const kept = await keptFile(file, found);
  if (kept === undefined) return readAndKeep(file, found, options);
  refuseLarge(file, kept.bytes.length, options.maxBytes ?? limits.fileBytes.value, role);
  return kept.bytes;
}

/**
 * All bytes of the file when the job keeps it (reading it now when it fits), else undefined: for a
 * reader that can read the file in place instead (h5wasm opens files by path), so that a file too
 * large to keep, or one read outside a job, is not loaded whole.
 */
export async function readJobFileIfKept(file: string, options: ReadOptions = {}): Promise<Uint8Array | undefined> {
  const found = await findFile(file, options.role);
  const kept = await keptFile(file, found);
  if (kept !== undefined) return kept.bytes;
  return fitsInBudget(found.size) ? readAndKeep(file, found, options) : undefined;
}

export async function readJobTextFile(file: string, options: ReadOptions = {}): Promise<string> {
  return new TextDecoder().decode(await readJobFile(file, options));
}

/**
 * The first `length` bytes of a regular file. With `wholeFileFollows` (a reader will read all of
 * it next) the whole file is read and kept when it fits, so the reader does not read it again.
 */
export async function readJobFileHead(file: string, length: number, options: { role?: string; wholeFileFollows?: boolean } = {}): Promise<Uint8Array> {
  const role = options.role ?? 'the file';
  const found = await findFile(file, role);
  const kept = await keptFile(file, found);
  if (kept !== undefined) return kept.bytes.subarray(0, length);
  if (options.wholeFileFollows && fitsInBudget(found.size)) return (await readAndKeep(file, found, { role })).subarray(0, length);
  return readRange(file, 0, Math.min(length, found.size), role, true);
}

/**
 * `length` bytes from `start` of a regular file: from its kept bytes when this job read it whole;
 * with `keepWhole` (more ranges of it will follow) the whole file is read and kept when it fits;
 * otherwise only the range is read. A file shorter than the range is a FileProblem saying where it ended.
 */
export async function readJobFileRange(file: string, start: number, length: number, options: { role?: string; keepWhole?: boolean } = {}): Promise<Uint8Array> {
  const role = options.role ?? 'the file';
  const found = await findFile(file, role);
  const kept = await keptFile(file, found);
  const bytes = kept?.bytes ?? (options.keepWhole && fitsInBudget(found.size) ? await readAndKeep(file, found, { role }) : undefined);
  if (bytes === undefined) return readRange(file, start, length, role, false);
  if (start + length > bytes.length) throw new FileProblem(resolve(file), `${role}: the file ended at byte ${bytes.length}, before byte ${start + length}`);
  return bytes.subarray(start, start + length);
}

async function readRange(file: string, start: number, length: number, role: string, shortIsFine: boolean): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  const { handle } = await openRegularFile(file, role);
  try {
    let filled = 0;
    while (filled < length) {
      const { bytesRead } = await handle.read(out, filled, Math.min(length - filled, 1 << 30), start + filled);
      if (bytesRead === 0) {
        if (shortIsFine) return out.subarray(0, filled);
        throw new FileProblem(resolve(file), `${role}: the file ended at byte ${start + filled}, before byte ${start + length}`);
      }
      filled += bytesRead;
    }
    return out;
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(resolve(file), `cannot read it (${describeFsError(error)})`);
  } finally {
    await handle.close();
  }
}

/** Runs `use` on random access to the file: its kept bytes when this job read it whole, else reads of the ranges `use` asks for. */
export async function withJobFileSource<T>(file: string, use: (source: ByteSource) => T): Promise<T> {
  const kept = await keptFile(file, await findFile(file));
  return kept !== undefined ? use(memorySource(kept.bytes)) : withFileSource(file, use);
}

const HASH_CHUNK_BYTES = 16 * 1024 * 1024;

/** Hashes kept bytes a slice at a time, letting other work (a cancel message) in between. */
async function hashBytesInto(hash: crypto.Hash, bytes: Uint8Array): Promise<void> {
  for (let start = 0; start < bytes.length; start += HASH_CHUNK_BYTES) {
    hash.update(bytes.subarray(start, start + HASH_CHUNK_BYTES));
    if (start + HASH_CHUNK_BYTES < bytes.length) await new Promise((done) => setImmediate(done));
  }
}

/** Feeds a file's contents to `hash`: from the kept bytes, or streamed when the job did not keep it. */
export async function hashJobFileInto(hash: crypto.Hash, file: string): Promise<void> {
  const kept = await keptFile(file, await findFile(file));
  if (kept !== undefined) return hashBytesInto(hash, kept.bytes);
  noteFileRead(resolve(file));
  await hashFileInto(hash, file);
}

/** The SHA-256 of one file's contents, in hex (what `sha256sum` prints); computed once per job for a kept file. */
export async function jobFileSha256(file: string): Promise<string> {
  const kept = await keptFile(file, await findFile(file));
  if (kept !== undefined) {
    kept.sha256 ??= (async () => {
      const hash = crypto.createHash('sha256');
      await hashBytesInto(hash, kept.bytes);
      return hash.digest('hex');
    })();
    return kept.sha256;
  }
  const hash = crypto.createHash('sha256');
  await hashJobFileInto(hash, file);
  return hash.digest('hex');
}
