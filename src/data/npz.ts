import { unzipSync } from 'fflate';
import type { UnzipFileInfo } from 'fflate';
import { FileProblem } from '../shared/errors';
import { chooseArrayKeys } from './arrayKeys';
import { datasetFromArrays } from './assemble';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../shared/requests';
import { parseNpy } from './npy';

/** Largest uncompressed entry we inflate. */
export const MAX_ENTRY_BYTES = 4 * 1024 ** 3;
/**
 * Deflate tops out near 1000:1 on constant data, so real arrays rarely exceed 200:1; we only apply
 * the ratio above a size where the allocation would hurt, so small all-zero arrays still load.
 */
export const MAX_COMPRESSION_RATIO = 200;
export const RATIO_CHECK_ABOVE_BYTES = 64 * 1024 ** 2;

export function isZip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 0x03 || bytes[2] === 0x05) && (bytes[3] === 0x04 || bytes[3] === 0x06);
}

/** Why an entry must not be inflated, or undefined when it is safe; judged from declared sizes only. */
export function zipEntryRefusal(entry: Pick<UnzipFileInfo, 'name' | 'size' | 'originalSize' | 'compression'>, archiveBytes: number): string | undefined {
  if (entry.compression !== 0 && entry.compression !== 8) {
    return `entry '${entry.name}' uses zip compression method ${entry.compression}; only stored (0) and deflate (8) are supported`;
  }
  if (entry.originalSize > MAX_ENTRY_BYTES) {
    return `entry '${entry.name}' declares ${entry.originalSize} bytes uncompressed, more than the ${MAX_ENTRY_BYTES}-byte limit; refusing to inflate it`;
  }
  if (entry.originalSize > RATIO_CHECK_ABOVE_BYTES && entry.originalSize > MAX_COMPRESSION_RATIO * entry.size) {
    return (
      `entry '${entry.name}' declares ${entry.originalSize} bytes from ${entry.size} compressed ` +
      `(more than ${MAX_COMPRESSION_RATIO}:1); this looks like a zip bomb, refusing to inflate it`
    );
  }
  if (entry.size > archiveBytes) return `entry '${entry.name}' is truncated: it declares ${entry.size} compressed bytes but the archive has ${archiveBytes}`;
  return undefined;
}

function listEntries(file: string, bytes: Uint8Array): UnzipFileInfo[] {
  const entries: UnzipFileInfo[] = [];
  try {
    unzipSync(bytes, { filter: (entry) => (entries.push(entry), false) });
  } catch (error) {
    throw new FileProblem(file, `not a valid .npz (zip) archive: ${(error as Error).message}`);
  }
  return entries;
}

async function readNpzDataset(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset> {
  const entries = listEntries(file, bytes);
  const entryByArray = new Map(entries.filter((entry) => entry.name.endsWith('.npy')).map((entry) => [entry.name.slice(0, -4), entry]));
  const choice = chooseArrayKeys([...entryByArray.keys()], options, 'array');
  if (!choice.found) throw new FileProblem(file, choice.problem);
  const wanted = [choice.inputKey, choice.labelKey].map((key) => entryByArray.get(key) as UnzipFileInfo);
  let total = 0;
  for (const entry of wanted) {
    const refusal = zipEntryRefusal(entry, bytes.length);
    if (refusal) throw new FileProblem(file, refusal);
    total += entry.originalSize;
  }
  if (total > MAX_ENTRY_BYTES) throw new FileProblem(file, `the arrays declare ${total} bytes together, more than the ${MAX_ENTRY_BYTES}-byte limit`);

  const names = new Set(wanted.map((entry) => entry.name));
  let contents: Record<string, Uint8Array>;
  try {
    contents = unzipSync(bytes, { filter: (entry) => names.has(entry.name) });
  } catch (error) {
    throw new FileProblem(file, `cannot inflate '${choice.inputKey}.npy' or '${choice.labelKey}.npy': ${(error as Error).message}`);
  }
  const inputs = parseNpy(file, contents[`${choice.inputKey}.npy`], choice.inputKey);
  const labels = parseNpy(file, contents[`${choice.labelKey}.npy`], choice.labelKey);
  return datasetFromArrays(file, inputs, labels);
}

export const npzFormat: DataFormat = {
  id: 'npz',
  matchesContent: isZip,
  matchesName: (name) => /\.npz$/i.test(name),
  read: readNpzDataset,
};
