/**
 * The zip container of a Keras 3 `.keras` file, and the private temporary copy
 * of its model.weights.h5 that h5wasm needs, since h5wasm opens host files only.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileProblem } from '../../../protocol/errors';
import { describeFsError } from '../../io/fsErrors';
import { entryData, memorySource, readZipArchive } from '../../io/zipArchive';
import { readJobFile } from '../../io/jobFiles';

export interface ArchiveEntry {
  readonly name: string;
  readonly data: Uint8Array;
  /** Zip compression method: 0 stored, 8 deflated. */
  readonly compression: number;
}

/** The entries of the zip at `file` that `wanted` accepts (all by default), in archive order, each checked before it is inflated. */
export async function readZipEntries(file: string, wanted: (name: string) => boolean = () => true): Promise<ArchiveEntry[]> {
  let bytes: Uint8Array;
  try {
    bytes = await readJobFile(file);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  const archive = readZipArchive(file, memorySource(bytes), 'not a readable .keras zip archive');
  return archive.entries.filter((entry) => wanted(entry.name)).map((entry) => ({ name: entry.name, data: entryData(archive, entry), compression: entry.compression }));
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
