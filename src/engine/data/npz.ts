import { FileProblem } from '../../protocol/errors';
import { entryData, isZipMagic, memorySource, MAX_ENTRY_BYTES, readZipArchive, type ZipEntry } from '../io/zipArchive';
import { chooseArrayKeys } from './arrayKeys';
import { datasetFromArrays } from './assemble';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { parseNpy } from './npy';

export function isZip(bytes: Uint8Array): boolean {
  return isZipMagic(bytes) || (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x05 && bytes[3] === 0x06);
}

async function readNpzDataset(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset> {
  const archive = readZipArchive(file, memorySource(bytes), 'not a valid .npz (zip) archive');
  const entryByArray = new Map(archive.entries.filter((entry) => entry.name.endsWith('.npy')).map((entry) => [entry.name.slice(0, -4), entry]));
  const choice = chooseArrayKeys([...entryByArray.keys()], options, 'array');
  if (!choice.found) throw new FileProblem(file, choice.problem);
  const wanted = [choice.inputKey, choice.labelKey].map((key) => entryByArray.get(key) as ZipEntry);
  const total = wanted.reduce((sum, entry) => sum + entry.size, 0);
  if (total > MAX_ENTRY_BYTES) throw new FileProblem(file, `the arrays declare ${total} bytes together, more than the ${MAX_ENTRY_BYTES}-byte limit`);
  const inputs = parseNpy(file, entryData(archive, wanted[0]), choice.inputKey);
  const labels = parseNpy(file, entryData(archive, wanted[1]), choice.labelKey);
  return datasetFromArrays(file, inputs, labels);
}

export const npzFormat: DataFormat = {
  id: 'npz',
  matchesContent: isZip,
  matchesName: (name) => /\.npz$/i.test(name),
  read: readNpzDataset,
};
