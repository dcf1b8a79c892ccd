/**
 * NumPy `.npz` archives of weights (`np.savez(path, **state_dict)`): one `.npy` entry per tensor,
 * named by the entry without `.npy`. `.npz` files are also data sets (src/engine/data/npz.ts); this format
 * claims an archive only when none of the entries visible in its first bytes has a data-set name.
 */
import { resolve } from 'node:path';
import { STANDARD_KEY_PAIRS } from '../../data/arrayKeys';
import { isNpy, parseNpy, parseNpyHeader, type NpyHeader } from '../../data/npy';
import type { ElementType } from '../../data/numericArray';
import { toFloat32 } from '../../data/numericArray';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { describeFsError } from '../../io/fsErrors';
import { conversionNotes, float32Bytes } from './floatElements';
import type { StoredTensor, TensorFile, TensorFileFormat } from './tensorFile';
import { entryData, entryNamesInHead, entryPrefix, isZipMagic, memorySource, readZipArchive, rewriteZip, type ZipArchive, type ZipEntry } from '../../io/zipArchive';
import { readJobFile, withJobFileSource } from '../../io/jobFiles';

export const NPZ_WEIGHTS_FORMAT_ID = 'npz-weights';
const NPZ_KIND = '.npz (zip) archive';

/** Array names that mark an `.npz` as a data set: the standard input/label keys and their common variants. */
export const DATASET_ARRAY_NAMES: ReadonlySet<string> = new Set([...STANDARD_KEY_PAIRS.flat(), 'features', 'targets']);

const NUMPY_DTYPE_NAMES: Readonly<Record<ElementType, string>> = {
  f2: 'float16', f4: 'float32', f8: 'float64', i1: 'int8', u1: 'uint8', i2: 'int16', u2: 'uint16', i4: 'int32', u4: 'uint32', i8: 'int64', u8: 'uint64',
};

const isFloat = (type: ElementType): boolean => type === 'f2' || type === 'f4' || type === 'f8';

/** The array name of an `.npy` entry, or undefined for other entries. */
function arrayName(entryName: string): string | undefined {
  return entryName.endsWith('.npy') ? entryName.slice(0, -4) : undefined;
}

/** True when the first bytes of an `.npz` show an entry named like a data set's inputs or labels. */
export function looksLikeDataset(head: Uint8Array): boolean {
  return entryNamesInHead(head).some((name) => DATASET_ARRAY_NAMES.has(arrayName(name) ?? ''));
}

async function readArchive(file: string): Promise<ZipArchive> {
  let bytes: Uint8Array;
  try {
    bytes = await readJobFile(file);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
  return readZipArchive(file, memorySource(bytes), NPZ_KIND);
}

/** Decodes only the `.npy` header, inflating no more than it. */
function entryHeader(archive: ZipArchive, entry: ZipEntry, name: string): NpyHeader {
  const fail = (problem: string): never => {
    throw new FileProblem(archive.file, `array '${name}': ${problem}`);
  };
  const start = entryPrefix(archive, entry, 12);
  let length = start.length;
  if (start.length >= 10 && isNpy(start)) {
    const view = new DataView(start.buffer, start.byteOffset, start.byteLength);
    length = start[6] === 1 ? 10 + view.getUint16(8, true) : start.length >= 12 ? 12 + view.getUint32(8, true) : start.length;
  }
  return parseNpyHeader(entryPrefix(archive, entry, Math.min(length, entry.size)), fail);
}

function arrayEntries(archive: ZipArchive): { name: string; entry: ZipEntry }[] {
  return archive.entries.flatMap((entry) => {
    const name = arrayName(entry.name);
    return name === undefined ? [] : [{ name, entry }];
  });
}

function skippedNote(archive: ZipArchive): string[] {
  const others = archive.entries.filter((entry) => arrayName(entry.name) === undefined).map((entry) => entry.name);
  return others.length > 0 ? [`entries that are not .npy arrays were ignored: ${others.join(', ')}`] : [];
}

async function readTensors(path: string): Promise<TensorFile> {
  const file = resolve(path);
  const archive = await readArchive(file);
  const converted = new Set<string>();
  const tensors: StoredTensor[] = arrayEntries(archive).map(({ name, entry }) => {
    const header = entryHeader(archive, entry, name);
    const dtype = NUMPY_DTYPE_NAMES[header.elementType];
    if (!isFloat(header.elementType)) return { name, dtype, shape: header.shape };
    const array = parseNpy(file, entryData(archive, entry), name);
    if (header.elementType !== 'f4') converted.add(dtype);
    return { name, dtype, shape: header.shape, values: toFloat32(array.values) };
  });
  const notes = [...skippedNote(archive), ...conversionNotes(converted, 'arrays')];
  return { path: file, format: NPZ_WEIGHTS_FORMAT_ID, tensors, notes };
}

/** Reads the zip directory and each array's .npy header only. */
async function countParameters(path: string): Promise<number> {
  const file = resolve(path);
  return withJobFileSource(file, (source) => {
    const archive = readZipArchive(file, source, NPZ_KIND);
    return arrayEntries(archive).reduce((sum, { name, entry }) => {
      const header = entryHeader(archive, entry, name);
      return sum + (isFloat(header.elementType) ? header.shape.reduce((a, b) => a * b, 1) : 0);
    }, 0);
  });
}

/** A version 1.0 `.npy` of float32 little-endian values in C order, its header padded as numpy pads it. */
export function encodeFloat32Npy(shape: readonly number[], values: Float32Array): Uint8Array {
  return encodeNpy('<f4', shape, float32Bytes(values));
}

/** A version 1.0 `.npy` holding `data` (already encoded as `descr`, C order). */
export function encodeNpy(descr: string, shape: readonly number[], data: Uint8Array): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const bytes = new Uint8Array(10 + header.length + data.length);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(bytes.buffer).setUint16(8, header.length, true);
  bytes.set(new TextEncoder().encode(header), 10);
  bytes.set(data, 10 + header.length);
  return bytes;
}

/** `.npz` has no place for provenance that numpy would not load as an array, so `metadata` is not stored. */
const writeTensors: TensorFileFormat['writeTensors'] = async (originalPath, replacements, outPath) => {
  const file = resolve(originalPath);
  const out = resolve(outPath);
  const archive = await readArchive(file);
  const byName = new Map(arrayEntries(archive).map(({ name, entry }) => [name, entry]));
  const newEntries = new Map<string, Uint8Array>();
  for (const [name, values] of replacements) {
    const entry = byName.get(name);
    if (entry === undefined) throw new FileProblem(file, `has no array named '${name}' to replace`);
    const header = entryHeader(archive, entry, name);
    if (!isFloat(header.elementType)) throw new FileProblem(file, `array '${name}' holds ${NUMPY_DTYPE_NAMES[header.elementType]} values; only float arrays can be replaced`);
    const numel = header.shape.reduce((a, b) => a * b, 1);
    if (values.length !== numel) throw new FileProblem(file, `array '${name}' has ${numel} values (shape [${header.shape.join(', ')}]) but ${values.length} were given`);
    newEntries.set(entry.name, encodeFloat32Npy(header.shape, values));
  }
  await writeNewFilesAtomically([{ path: out, data: rewriteZip(archive, newEntries) }]);
  return [out];
};

export const npzWeightsFile: TensorFileFormat = {
  id: NPZ_WEIGHTS_FORMAT_ID,
  displayName: 'NumPy weights archive (.npz)',
  match: (fileName, head) => /\.npz$/i.test(fileName) && isZipMagic(head) && entryNamesInHead(head).length > 0 && !looksLikeDataset(head),
  readTensors,
  countParameters,
  writeTensors,
};
