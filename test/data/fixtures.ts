import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { FileProblem } from '../../src/protocol/errors';
import { numberAt } from '../../src/engine/data/numericArray';
import type { NumericValues } from '../../src/engine/data/numericArray';

/** numpy dtype descriptors we can write, e.g. '<f4', '>i8', '|u1', '|b1'. */
export type NpyDescr = string;

export interface NpyWriteOptions {
  readonly version?: 1 | 2 | 3;
  readonly fortranOrder?: boolean;
}

const WRITERS: Readonly<Record<string, (view: DataView, offset: number, value: number, little: boolean) => void>> = {
  f4: (v, o, x, l) => v.setFloat32(o, x, l),
  f8: (v, o, x, l) => v.setFloat64(o, x, l),
  i1: (v, o, x) => v.setInt8(o, x),
  u1: (v, o, x) => v.setUint8(o, x),
  b1: (v, o, x) => v.setUint8(o, x),
  i2: (v, o, x, l) => v.setInt16(o, x, l),
  u2: (v, o, x, l) => v.setUint16(o, x, l),
  i4: (v, o, x, l) => v.setInt32(o, x, l),
  u4: (v, o, x, l) => v.setUint32(o, x, l),
  i8: (v, o, x, l) => v.setBigInt64(o, BigInt(x), l),
  u8: (v, o, x, l) => v.setBigUint64(o, BigInt(x), l),
};

/** Encodes values the way np.save does: magic, version, padded dict header, raw data. */
export function npyBytes(descr: NpyDescr, shape: readonly number[], values: readonly number[], options: NpyWriteOptions = {}): Uint8Array {
  const version = options.version ?? 1;
  const kind = descr.slice(1);
  const write = WRITERS[kind];
  if (!write) throw new Error(`fixture writer has no dtype ${descr}`);
  const size = Number(kind.slice(1));
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${options.fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const prefixLength = version === 1 ? 10 : 12;
  const padded = dict + ' '.repeat(64 - ((prefixLength + dict.length + 1) % 64)) + '\n';
  const header = new TextEncoder().encode(padded);
  const bytes = new Uint8Array(prefixLength + header.length + values.length * size);
  bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(bytes.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  bytes.set(header, prefixLength);
  const little = descr[0] !== '>';
  values.forEach((value, i) => write(view, prefixLength + header.length + i * size, value, little));
  return bytes;
}

const IDX_SIZES: Readonly<Record<number, number>> = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 };

/** Encodes an IDX file: two zero bytes, type code, dimension count, big-endian dims and data. */
export function idxBytes(typeCode: number, dims: readonly number[], values: readonly number[]): Uint8Array {
  const size = IDX_SIZES[typeCode];
  const offset = 4 + 4 * dims.length;
  const bytes = new Uint8Array(offset + values.length * size);
  const view = new DataView(bytes.buffer);
  bytes.set([0, 0, typeCode, dims.length]);
  dims.forEach((dim, i) => view.setUint32(4 + 4 * i, dim, false));
  values.forEach((value, i) => {
    const at = offset + i * size;
    if (typeCode === 0x08) view.setUint8(at, value);
    else if (typeCode === 0x09) view.setInt8(at, value);
    else if (typeCode === 0x0b) view.setInt16(at, value, false);
    else if (typeCode === 0x0c) view.setInt32(at, value, false);
    else if (typeCode === 0x0d) view.setFloat32(at, value, false);
    else view.setFloat64(at, value, false);
  });
  return bytes;
}

export function gzip(data: Uint8Array | string): Uint8Array {
  return gzipSync(typeof data === 'string' ? Buffer.from(data) : data);
}

/** A fresh temporary folder; `write` puts a file in it and returns its path. */
export async function fixtureFolder(): Promise<{ dir: string; write(name: string, data: Uint8Array | string): Promise<string> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'flatness-data-'));
  return {
    dir,
    async write(name, data) {
      const file = path.join(dir, name);
      await writeFile(file, data);
      return file;
    },
  };
}

/** Rejects with a FileProblem whose file is `file` and whose message contains every fragment. */
export function problemMatching(file: string, ...fragments: (string | RegExp)[]): (error: unknown) => boolean {
  return (error) => {
    if (!(error instanceof FileProblem)) throw new Error(`expected a FileProblem, got ${String(error)}`);
    const problem = error;
    if (problem.file !== file) throw new Error(`expected the problem to name ${file}, got ${problem.file}: ${problem.message}`);
    for (const fragment of fragments) {
      const found = typeof fragment === 'string' ? problem.problem.includes(fragment) : fragment.test(problem.problem);
      if (!found) throw new Error(`expected the problem to mention ${String(fragment)}, got: ${problem.problem}`);
    }
    return true;
  };
}

/** Plain numbers from any decoded array (bigint elements included), for comparisons. */
export function asNumbers(values: NumericValues): number[] {
  return Array.from({ length: values.length }, (_, i) => numberAt(values, i));
}
