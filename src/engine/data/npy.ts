import * as path from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { datasetFromArrays } from './assemble';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { BYTES_PER_ELEMENT, decodeElements, formatShape } from './numericArray';
import type { ElementType, NumericArray } from './numericArray';
import { readCompanionFile } from './companion';

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const SUPPORTED_DTYPES = '<f2 <f4 <f8 |u1 |i1 <i2 <u2 <i4 <u4 <i8 <u8 |b1 (and their big-endian forms)';

/** Labels file names to try beside an inputs .npy, by the name part that marks it as inputs. */
const LABEL_NAME_FOR_INPUT_NAME: Readonly<Record<string, readonly string[]>> = {
  x: ['y'],
  X: ['y', 'Y'],
  inputs: ['labels', 'targets'],
  images: ['labels'],
  features: ['labels', 'targets'],
};

export function isNpy(bytes: Uint8Array): boolean {
  return NPY_MAGIC.every((byte, i) => bytes[i] === byte);
}

export interface NpyHeader {
  readonly elementType: ElementType;
  readonly bigEndian: boolean;
  readonly shape: readonly number[];
  readonly dataOffset: number;
}

/**
 * Decodes a .npy array (format versions 1-3, C order, the numeric dtypes and bool).
 * `arrayName` prefixes messages when the array sits inside an .npz.
 */
export function parseNpy(file: string, bytes: Uint8Array, arrayName?: string): NumericArray {
  const fail = (problem: string): never => {
    throw new FileProblem(file, arrayName === undefined ? problem : `array '${arrayName}': ${problem}`);
  };
  const header = parseNpyHeader(bytes, fail);
  const count = header.shape.reduce((a, b) => a * b, 1);
  const byteCount = count * BYTES_PER_ELEMENT[header.elementType];
  const available = bytes.length - header.dataOffset;
  if (available < byteCount) {
    fail(`truncated: shape ${formatShape(header.shape)} needs ${byteCount} bytes of data, found ${available}`);
  }
  return {
    shape: header.shape,
    values: decodeElements(bytes, header.dataOffset, header.elementType, count, header.bigEndian),
  };
}

export function parseNpyHeader(bytes: Uint8Array, fail: (problem: string) => never): NpyHeader {
  if (bytes.length < 10) fail(`truncated: ${bytes.length} bytes is too short for a .npy header`);
  if (!isNpy(bytes)) fail('not a NumPy .npy file (it does not start with "\\x93NUMPY")');
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let headerStart: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) fail('truncated: the .npy header is incomplete');
    headerLength = view.getUint32(8, true);
    headerStart = 12;
  } else {
    return fail(`unsupported .npy format version ${major}.${bytes[7]} (expected 1.0, 2.0 or 3.0)`);
  }
  const dataOffset = headerStart + headerLength;
  if (dataOffset > bytes.length) fail(`truncated: the header declares ${headerLength} bytes but the file ends first`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataOffset));

  if (/'descr'\s*:\s*\[/.test(text)) fail(`structured dtypes are not supported; supported dtypes: ${SUPPORTED_DTYPES}`);
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text)?.[1] ?? fail(`the header has no 'descr': ${text.trim()}`);
  const fortranOrder = /'fortran_order'\s*:\s*(True|False)/.exec(text)?.[1] ?? fail(`the header has no 'fortran_order': ${text.trim()}`);
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(text)?.[1] ?? fail(`the header has no 'shape': ${text.trim()}`);
  const shape = shapeText
    .split(',')
    .map((part) => part.trim().replace(/L$/, ''))
    .filter((part) => part.length > 0)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : fail(`bad shape (${shapeText}) in the header`)));

  const dtype = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const elementType = dtype ? elementTypeOf(dtype[2], dtype[3]) : undefined;
  if (!dtype || !elementType) return fail(`unsupported dtype '${descr}'; supported dtypes: ${SUPPORTED_DTYPES}`);
  if (fortranOrder === 'True' && shape.filter((d) => d > 1).length > 1) {
    fail('the array is stored in Fortran (column-major) order; save it in C order, e.g. np.save(path, np.ascontiguousarray(a))');
  }
  return { elementType, bigEndian: dtype[1] === '>', shape, dataOffset };
}

function elementTypeOf(kind: string, size: string): ElementType | undefined {
  if (kind === 'b') return size === '1' ? 'u1' : undefined; // numpy bool is one byte, 0 or 1
  const type = `${kind}${size}`;
  return type in BYTES_PER_ELEMENT ? (type as ElementType) : undefined;
}

/** Labels file candidates for an inputs .npy: `x_test.npy` → `y_test.npy`, `images.npy` → `labels.npy`. */
export function npyLabelCandidates(file: string, labelKey: string | undefined): string[] {
  const directory = path.dirname(file);
  if (labelKey !== undefined) return [path.join(directory, `${labelKey}.npy`)];
  const base = path.basename(file).replace(/\.gz$/i, '').replace(/\.npy$/i, '');
  const parts = base.split(/([-_.])/);
  const candidates: string[] = [];
  parts.forEach((part, index) => {
    for (const labelName of LABEL_NAME_FOR_INPUT_NAME[part] ?? []) {
      const renamed = [...parts.slice(0, index), labelName, ...parts.slice(index + 1)].join('');
      candidates.push(path.join(directory, `${renamed}.npy`));
    }
  });
  return candidates;
}

async function readNpyDataset(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset> {
  const inputs = parseNpy(file, bytes);
  const candidates = npyLabelCandidates(file, options.labelKey);
  if (candidates.length === 0) {
    throw new FileProblem(
      file,
      'a .npy file holds only inputs, and its name does not say where the labels are: name it x.npy/images.npy/inputs.npy ' +
        '(labels in y.npy/labels.npy beside it), set labelKey, or save both in one .npz with np.savez(path, x=..., y=...)',
    );
  }
  const companion = await readCompanionFile(file, candidates, 'labels');
  const labels = parseNpy(companion.file, companion.bytes);
  return datasetFromArrays(file, inputs, labels, { labelsFile: companion.file });
}

export const npyFormat: DataFormat = {
  id: 'npy',
  matchesContent: isNpy,
  matchesName: (name) => /\.npy$/i.test(name),
  read: readNpyDataset,
  peekSampleShape: (file, head) => parseNpyHeader(head, (problem) => {
    throw new FileProblem(file, problem);
  }).shape.slice(1),
};
