/**
 * The zip container of a Keras 3 `.keras` file (read with fflate), and the private temporary copy
 * of its model.weights.h5 that h5wasm needs, since h5wasm opens host files only.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { unzipSync } from 'fflate';
import { FileProblem } from '../../shared/errors';
import { describeFsError } from '../fsErrors';

/** Refuse archives that would unpack to more than this (a zip bomb, or not a small model). */
export const MAX_UNPACKED_BYTES = 2 * 1024 ** 3;

export interface ArchiveEntry {
  readonly name: string;
  readonly data: Uint8Array;
  /** Zip compression method: 0 stored, 8 deflated. */
  readonly compression: number;
}

/** The entries of the zip at `file` that `wanted` accepts (all by default), in archive order. */
export async function readZipEntries(file: string, wanted: (name: string) => boolean = () => true): Promise<ArchiveEntry[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  const compression = new Map<string, number>();
  let unpacked: Record<string, Uint8Array>;
  try {
    let total = 0;
    unpacked = unzipSync(bytes, {
      filter: (entry) => {
        if (!wanted(entry.name)) return false;
        if (compression.has(entry.name)) throw new Error(`it holds two entries named ${entry.name}`);
        total += entry.originalSize;
        if (total > MAX_UNPACKED_BYTES) throw new Error(`it unpacks to more than ${MAX_UNPACKED_BYTES} bytes`);
        compression.set(entry.name, entry.compression);
        return true;
      },
    });
  } catch (error) {
    throw new FileProblem(file, `is not a readable .keras zip archive (${error instanceof Error ? error.message : String(error)})`);
  }
  // Map order is the central directory's; object keys would put numeric-looking names first.
  return [...compression].map(([name, method]) => ({ name, data: unpacked[name], compression: method }));
}

/**
 * Runs `use` on a copy of `bytes` in a private temporary folder (removed afterwards). Problems
 * h5wasm reports against the copy are reported against `file` and `entryName` instead.
 */
export async function withExtractedFile<T>(file: string, entryName: string, bytes: Uint8Array, use: (path: string) => Promise<T> | T): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'flatness-keras-'));
  try {
    const path = join(dir, entryName);
    await writeFile(path, bytes, { flag: 'wx', mode: 0o600 });
    try {
      return await use(path);
    } catch (error) {
      if (error instanceof FileProblem && error.file === path) throw new FileProblem(file, `${entryName}: ${error.problem}`);
      throw error;
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
