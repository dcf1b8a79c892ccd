import * as path from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { datasetFromArrays } from './assemble';
import { readCompanionFile } from './companion';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { BYTES_PER_ELEMENT, decodeElements, formatShape } from './numericArray';
import type { ElementType, NumericArray } from './numericArray';

/** IDX type codes (third magic byte); all multi-byte values are big-endian. */
const ELEMENT_TYPE_BY_CODE: Readonly<Record<number, ElementType>> = {
  0x08: 'u1',
  0x09: 'i1',
  0x0b: 'i2',
  0x0c: 'i4',
  0x0d: 'f4',
  0x0e: 'f8',
};

interface IdxHeader {
  readonly elementType: ElementType;
  readonly dims: readonly number[];
  readonly dataOffset: number;
}

function readIdxHeader(bytes: Uint8Array): IdxHeader | string {
  if (bytes.length < 4) return `truncated: ${bytes.length} bytes is too short for an IDX header`;
  const magic = Array.from(bytes.subarray(0, 4), (byte) => byte.toString(16).padStart(2, '0')).join('');
  if (bytes[0] !== 0 || bytes[1] !== 0) return `not an IDX file: magic 0x${magic} does not start with two zero bytes`;
  const elementType = ELEMENT_TYPE_BY_CODE[bytes[2]];
  if (!elementType) return `unknown IDX type code 0x${magic.slice(4, 6)} in magic 0x${magic} (known: 08 u8, 09 i8, 0B i16, 0C i32, 0D f32, 0E f64)`;
  const dimCount = bytes[3];
  if (dimCount === 0) return 'the IDX header declares 0 dimensions';
  const dataOffset = 4 + 4 * dimCount;
  if (bytes.length < dataOffset) return `truncated: the header declares ${dimCount} dimensions but the file ends first`;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: dimCount }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { elementType, dims, dataOffset };
}

export function parseIdx(file: string, bytes: Uint8Array): NumericArray & { readonly elementType: ElementType } {
  const header = readIdxHeader(bytes);
  if (typeof header === 'string') throw new FileProblem(file, header);
  const count = header.dims.reduce((a, b) => a * b, 1);
  const byteCount = count * BYTES_PER_ELEMENT[header.elementType];
  const available = bytes.length - header.dataOffset;
  if (available < byteCount) {
    throw new FileProblem(file, `truncated: dimensions ${formatShape(header.dims)} need ${byteCount} bytes of data, found ${available}`);
  }
  return {
    shape: header.dims,
    values: decodeElements(bytes, header.dataOffset, header.elementType, count, true),
    elementType: header.elementType,
  };
}

/** True for a well-formed IDX header whose dimensions account for exactly the file's size. */
function isIdx(bytes: Uint8Array): boolean {
  const header = readIdxHeader(bytes);
  if (typeof header === 'string') return false;
  const count = header.dims.reduce((a, b) => a * b, 1);
  return bytes.length === header.dataOffset + count * BYTES_PER_ELEMENT[header.elementType];
}

/** `train-images-idx3-ubyte` → `train-labels-idx1-ubyte`, then the plain `images` → `labels` swap. */
export function idxLabelCandidates(file: string): string[] {
  const base = path.basename(file);
  const renamed = [base.replace('images-idx3', 'labels-idx1'), base.replace(/images(?!.*images)/, 'labels')];
  return [...new Set(renamed.filter((name) => name !== base))].map((name) => path.join(path.dirname(file), name));
}

/**
 * Reads an IDX images file (MNIST and its kin) and the labels file beside it. uint8 images are
 * divided by 255 unless `options.scale` is false, because MNIST-style training code feeds the
 * network values in [0, 1]; measuring on raw 0-255 pixels would evaluate a different loss surface.
 */
async function readIdxDataset(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset> {
  const images = parseIdx(file, bytes);
  if (images.shape.length === 1) {
    throw new FileProblem(file, 'this is a 1-D IDX file (a labels file?); open the images file, and its labels are found beside it');
  }
  const candidates = idxLabelCandidates(file);
  if (candidates.length === 0) {
    throw new FileProblem(file, "cannot find its labels: the file name has no 'images' to replace with 'labels' (as in train-images-idx3-ubyte)");
  }
  const companion = await readCompanionFile(file, candidates, 'labels');
  const labels = parseIdx(companion.file, companion.bytes);
  if (labels.shape[0] !== images.shape[0]) {
    throw new FileProblem(file, `it has ${images.shape[0]} images but ${path.basename(companion.file)} has ${labels.shape[0]} labels; the counts must match`);
  }
  const scaleImages = images.elementType === 'u1' && options.scale !== false;
  return datasetFromArrays(file, images, labels, { inputScale: scaleImages ? 1 / 255 : 1, labelsFile: companion.file });
}

export const idxFormat: DataFormat = {
  id: 'idx',
  matchesContent: isIdx,
  matchesName: (name) => /idx\d/i.test(name) || /-ubyte$/i.test(name) || /\.idx$/i.test(name),
  read: readIdxDataset,
  peekSampleShape: (file, head) => {
    const header = readIdxHeader(head);
    if (typeof header === 'string') throw new FileProblem(file, header);
    return header.dims.slice(1);
  },
};
