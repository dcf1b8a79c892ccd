/**
 * The zip container of PyTorch `.pt`, NumPy `.npz` and Keras `.keras` files, read from its central directory so
 * that every entry's byte position is known: readers check each entry before inflating it, and
 * writers can replace an entry's data while every other entry keeps its bytes.
 */
import { closeSync, readSync } from 'node:fs';
import { deflateSync, Inflate, inflateSync } from 'fflate';
import { FileProblem } from '../../protocol/errors';
import { limits } from '../../protocol/limits';
import { openRegularFileSync } from './regularFile';

/** Largest uncompressed entry we inflate. */
export const MAX_ENTRY_BYTES = limits.decompressedBytes.value;
/**
 * Deflate tops out near 1000:1 on constant data, so real arrays rarely exceed 200:1; we only apply
 * the ratio above a size where the allocation would hurt, so small all-zero arrays still load.
 */
export const MAX_COMPRESSION_RATIO = limits.compressionRatio.value;
export const RATIO_CHECK_ABOVE_BYTES = 64 * 1024 ** 2;

/** Why an entry must not be inflated, or undefined when it is safe; judged from declared sizes only. */
export function zipEntryRefusal(entry: { name: string; size: number; originalSize: number; compression: number }, archiveBytes: number): string | undefined {
  if (entry.compression !== 0 && entry.compression !== 8) {
    return `entry '${entry.name}' uses zip compression method ${entry.compression}; only stored (0) and deflate (8) are supported`;
  }
  if (entry.originalSize > MAX_ENTRY_BYTES) {
    return `entry '${entry.name}' declares ${entry.originalSize} bytes uncompressed, more than the ${MAX_ENTRY_BYTES}-byte limit (${limits.decompressedBytes.what}); refusing to inflate it`;
  }
  if (entry.originalSize > RATIO_CHECK_ABOVE_BYTES && entry.originalSize > MAX_COMPRESSION_RATIO * entry.size) {
    return (
      `entry '${entry.name}' declares ${entry.originalSize} bytes from ${entry.size} compressed ` +
      `(more than the ${MAX_COMPRESSION_RATIO}:1 limit); this looks like a zip bomb, refusing to inflate it`
    );
  }
  if (entry.size > archiveBytes) return `entry '${entry.name}' is truncated: it declares ${entry.size} compressed bytes but the archive has ${archiveBytes}`;
  return undefined;
}

export interface ZipEntry {
  readonly name: string;
  /** 0 stored, 8 deflate. */
  readonly compression: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
  readonly dataOffset: number;
  readonly centralHeaderOffset: number;
}

/** Random access to a file's bytes: the whole file in memory, or reads of just the ranges needed. */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (the caller keeps within `size`). */
  read(offset: number, length: number): Uint8Array;
}

export function memorySource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: (offset, length) => bytes.subarray(offset, offset + length) };
}

/**
 * Runs `use` with reads from the open file, so a large archive's directory and one entry can be
 * read without loading the rest. The reads are synchronous and small.
 */
export function withFileSource<T>(file: string, use: (source: ByteSource) => T): T {
  const { fd, size } = openRegularFileSync(file);
  try {
    return use({
      size,
      read(offset, length) {
        const buffer = new Uint8Array(length);
        let filled = 0;
        while (filled < length) {
          const count = readSync(fd, buffer, filled, length - filled, offset + filled);
          if (count === 0) throw new FileProblem(file, `truncated: the file ended at byte ${offset + filled} while reading it`);
          filled += count;
        }
        return buffer;
      },
    });
  } finally {
    closeSync(fd);
  }
}

export interface ZipArchive {
  readonly file: string;
  readonly source: ByteSource;
  /** In the order of their local headers, which is the order they were written in. */
  readonly entries: readonly ZipEntry[];
  readonly centralDirectoryOffset: number;
}

const LOCAL_HEADER = 0x04034b50;
const CENTRAL_HEADER = 0x02014b50;
const END_OF_CENTRAL_DIRECTORY = 0x06054b50;
const ZIP64_END_LOCATOR = 0x07064b50;
const ZIP64_END = 0x06064b50;
const DATA_DESCRIPTOR = 0x08074b50;
const ZIP64_EXTRA = 0x0001;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DATA_DESCRIPTOR = 0x8;
const FLAG_UTF8 = 0x800;
const MAX_32 = 0xffffffff;

export function isZipMagic(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

/**
 * Names of the entries whose local headers lie in `head` (a file's first bytes), in order; stops at
 * the first entry whose size the local header does not give. For cheap format recognition only.
 */
export function entryNamesInHead(head: Uint8Array): string[] {
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const names: string[] = [];
  let at = 0;
  while (at + 30 <= head.length && view.getUint32(at, true) === LOCAL_HEADER) {
    const flags = view.getUint16(at + 6, true);
    const nameLength = view.getUint16(at + 26, true);
    const extraLength = view.getUint16(at + 28, true);
    const nameEnd = at + 30 + nameLength;
    if (nameEnd > head.length) break;
    names.push(decodeName(head.subarray(at + 30, nameEnd), flags));
    let compressedSize = view.getUint32(at + 18, true);
    if (compressedSize === MAX_32 && nameEnd + extraLength <= head.length) {
      compressedSize = zip64Fields(view, nameEnd, extraLength, [view.getUint32(at + 22, true), compressedSize])[1];
    }
    if (flags & FLAG_DATA_DESCRIPTOR || compressedSize === MAX_32) break;
    at = nameEnd + extraLength + compressedSize;
  }
  return names;
}

/** Parses and checks the archive's directory; inflates nothing. `kind` names the file type in messages. */
export function readZipArchive(file: string, source: ByteSource, kind: string): ZipArchive {
  const fail = (problem: string): never => {
    throw new FileProblem(file, `${kind}: ${problem}`);
  };
  const size = source.size;
  if (size < 22) fail(`truncated: ${size} bytes is too short for a zip archive`);
  const tailStart = Math.max(0, size - 22 - 0xffff);
  const tail = source.read(tailStart, size - tailStart);
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const endInTail = findEndOfCentralDirectory(tailView) ?? fail('no zip end-of-central-directory record; the file is truncated or not a zip archive');
  const end = tailStart + endInTail;
  let entryCount = tailView.getUint16(endInTail + 10, true);
  let directorySize = tailView.getUint32(endInTail + 12, true);
  let directoryOffset = tailView.getUint32(endInTail + 16, true);
  if (tailView.getUint16(endInTail + 4, true) !== 0 || tailView.getUint16(endInTail + 6, true) !== 0) fail('multi-part zip archives are not supported');
  if (entryCount === 0xffff || directorySize === MAX_32 || directoryOffset === MAX_32) {
    const locator = end - 20;
    if (locator < 0 || viewOf(source.read(locator, 20)).getUint32(0, true) !== ZIP64_END_LOCATOR) fail('the zip64 end-of-central-directory locator is missing');
    const record = safeNumber(viewOf(source.read(locator + 8, 8)).getBigUint64(0, true), fail);
    if (record + 56 > size) fail('the zip64 end-of-central-directory record is out of range');
    const recordView = viewOf(source.read(record, 56));
    if (recordView.getUint32(0, true) !== ZIP64_END) fail('the zip64 end-of-central-directory record is missing');
    entryCount = safeNumber(recordView.getBigUint64(32, true), fail);
    directorySize = safeNumber(recordView.getBigUint64(40, true), fail);
    directoryOffset = safeNumber(recordView.getBigUint64(48, true), fail);
  }
  if (directoryOffset + directorySize > end) fail(`the central directory (bytes ${directoryOffset}..${directoryOffset + directorySize}) lies outside the archive; the file is truncated or corrupt`);
  if (entryCount * 46 > directorySize) fail(`the central directory is too short for the ${entryCount} entries it declares`);

  const directory = source.read(directoryOffset, directorySize);
  const view = viewOf(directory);
  const entries: ZipEntry[] = [];
  const seen = new Set<string>();
  let at = 0;
  for (let i = 0; i < entryCount; i++) {
    if (at + 46 > directorySize || view.getUint32(at, true) !== CENTRAL_HEADER) fail(`central directory entry ${i} is damaged`);
    const entry = centralEntry(source, directory, at, directoryOffset, fail);
    if (seen.has(entry.name)) fail(`the archive holds two entries named '${entry.name}'`);
    seen.add(entry.name);
    entries.push(entry);
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  entries.sort((a, b) => a.localHeaderOffset - b.localHeaderOffset);
  for (let i = 1; i < entries.length; i++) {
    const previous = entries[i - 1];
    if (entries[i].localHeaderOffset < previous.dataOffset + previous.compressedSize) {
      fail(`entries '${previous.name}' and '${entries[i].name}' overlap; refusing a crafted archive`);
    }
  }
  return { file, source, entries, centralDirectoryOffset: directoryOffset };
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The entry whose central header starts at `at` in `directory` (which starts at `directoryOffset` in the file). */
function centralEntry(source: ByteSource, directory: Uint8Array, at: number, directoryOffset: number, fail: (problem: string) => never): ZipEntry {
  const view = viewOf(directory);
  const flags = view.getUint16(at + 8, true);
  const compression = view.getUint16(at + 10, true);
  const nameLength = view.getUint16(at + 28, true);
  const extraLength = view.getUint16(at + 30, true);
  if (at + 46 + nameLength + extraLength > directory.length) fail('the central directory is truncated');
  const nameBytes = directory.subarray(at + 46, at + 46 + nameLength);
  const name = decodeName(nameBytes, flags);
  const nameProblem = unsafeNameProblem(name);
  if (nameProblem) fail(`entry '${name}' ${nameProblem}; refusing the archive`);
  if (flags & FLAG_ENCRYPTED) fail(`entry '${name}' is encrypted`);
  const [size, compressedSize, localHeaderOffset] = zip64Fields(view, at + 46 + nameLength, extraLength, [
    view.getUint32(at + 24, true),
    view.getUint32(at + 20, true),
    view.getUint32(at + 42, true),
  ]);
  const refusal = zipEntryRefusal({ name, size: compressedSize, originalSize: size, compression }, source.size);
  if (refusal) fail(refusal);
  if (compression === 0 && size !== compressedSize) fail(`stored entry '${name}' declares ${size} bytes but holds ${compressedSize}`);

  if (localHeaderOffset + 30 + nameLength > directoryOffset) fail(`entry '${name}' has no local header at byte ${localHeaderOffset}; the file is truncated or corrupt`);
  const local = source.read(localHeaderOffset, 30 + nameLength);
  const localView = viewOf(local);
  if (localView.getUint32(0, true) !== LOCAL_HEADER) fail(`entry '${name}' has no local header at byte ${localHeaderOffset}; the file is truncated or corrupt`);
  const localNameLength = localView.getUint16(26, true);
  if (localNameLength !== nameLength || !local.subarray(30).every((byte, i) => byte === nameBytes[i])) {
    fail(`entry '${name}' has a different name in its local header; refusing a crafted archive`);
  }
  if (localView.getUint16(8, true) !== compression) fail(`entry '${name}' has a different compression method in its local header`);
  const dataOffset = localHeaderOffset + 30 + localNameLength + localView.getUint16(28, true);
  if (dataOffset + compressedSize > directoryOffset) {
    fail(`entry '${name}' declares ${compressedSize} bytes at byte ${dataOffset}, past the end of the data; the file is truncated`);
  }
  return { name, compression, flags, crc32: view.getUint32(at + 16, true), compressedSize, size, localHeaderOffset, dataOffset, centralHeaderOffset: directoryOffset + at };
}

/** Replaces each 0xFFFFFFFF field, in order, by the next 64-bit value of the zip64 extra field. */
function zip64Fields(view: DataView, extraStart: number, extraLength: number, fields: number[]): number[] {
  const result = [...fields];
  let at = extraStart;
  const end = Math.min(extraStart + extraLength, view.byteLength);
  while (at + 4 <= end) {
    const id = view.getUint16(at, true);
    const length = view.getUint16(at + 2, true);
    if (id === ZIP64_EXTRA) {
      let field = at + 4;
      for (let i = 0; i < result.length; i++) {
        if (result[i] !== MAX_32) continue;
        if (field + 8 > at + 4 + length || field + 8 > end) break;
        const value = view.getBigUint64(field, true);
        result[i] = value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
        field += 8;
      }
      break;
    }
    at += 4 + length;
  }
  return result;
}

function findEndOfCentralDirectory(view: DataView): number | undefined {
  const lowest = Math.max(0, view.byteLength - 22 - 0xffff);
  for (let at = view.byteLength - 22; at >= lowest; at--) {
    if (view.getUint32(at, true) === END_OF_CENTRAL_DIRECTORY && at + 22 + view.getUint16(at + 20, true) <= view.byteLength) return at;
  }
  return undefined;
}

function safeNumber(value: bigint, fail: (problem: string) => never): number {
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : fail(`a zip64 field holds ${value}, too large to be real`);
}

function decodeName(bytes: Uint8Array, flags: number): string {
  return new TextDecoder(flags & FLAG_UTF8 ? 'utf-8' : 'latin1').decode(bytes);
}

/** Why an entry name could escape a folder it is extracted to, or undefined when it cannot. */
export function unsafeNameProblem(name: string): string | undefined {
  if (name.includes('\0')) return 'has a NUL character in its name';
  if (name.includes('\\')) return 'has a backslash in its name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'has an absolute path';
  if (name.split('/').includes('..')) return "has a '..' component in its path";
  return undefined;
}

/** The entry's uncompressed bytes (a view into the archive when stored), checked against its CRC-32. */
export function entryData(archive: ZipArchive, entry: ZipEntry): Uint8Array {
  const raw = archive.source.read(entry.dataOffset, entry.compressedSize);
  let data = raw;
  if (entry.compression === 8) {
    try {
      // A fixed output buffer: data that inflates past the declared size is cut off, and the CRC catches it.
      data = inflateSync(raw, { out: new Uint8Array(entry.size) });
    } catch (error) {
      throw new FileProblem(archive.file, `entry '${entry.name}' cannot be inflated (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (data.length !== entry.size || crc32(data) !== entry.crc32) {
    throw new FileProblem(archive.file, `entry '${entry.name}' is corrupt: its contents do not match the CRC-32 the archive records`);
  }
  return data;
}

/** The first `count` uncompressed bytes of an entry (fewer if it is shorter), inflating no more than needed. */
export function entryPrefix(archive: ZipArchive, entry: ZipEntry, count: number): Uint8Array {
  if (entry.compression === 0) return archive.source.read(entry.dataOffset, Math.min(count, entry.size));
  const chunks: Uint8Array[] = [];
  let filled = 0;
  const inflater = new Inflate((chunk) => {
    chunks.push(chunk);
    filled += chunk.length;
  });
  const step = 16 * 1024;
  try {
    for (let at = 0; at < entry.compressedSize && filled < count; at += step) {
      const length = Math.min(step, entry.compressedSize - at);
      inflater.push(archive.source.read(entry.dataOffset + at, length), at + length >= entry.compressedSize);
    }
  } catch (error) {
    throw new FileProblem(archive.file, `entry '${entry.name}' cannot be inflated (${error instanceof Error ? error.message : String(error)})`);
  }
  const prefix = new Uint8Array(Math.min(count, filled));
  let at = 0;
  for (const chunk of chunks) {
    if (at >= prefix.length) break;
    prefix.set(chunk.subarray(0, prefix.length - at), at);
    at += chunk.length;
  }
  return prefix;
}

/**
 * A copy of the archive in which the named entries hold new uncompressed data, compressed as the
 * original entries were. When each new entry is stored and as long as the old one, the bytes are
 * replaced in place and only the CRC-32 fields change, so the layout (e.g. PyTorch's 64-byte
 * alignment of tensor data) is kept; otherwise the archive is rebuilt with the other entries'
 * compressed bytes copied unchanged.
 */
export function rewriteZip(archive: ZipArchive, replacements: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const byName = new Map(archive.entries.map((entry) => [entry.name, entry]));
  for (const name of replacements.keys()) {
    if (!byName.has(name)) throw new FileProblem(archive.file, `has no zip entry '${name}' to replace`);
  }
  const inPlace = [...replacements].every(([name, data]) => {
    const entry = byName.get(name) as ZipEntry;
    return entry.compression === 0 && entry.compressedSize === data.length;
  });
  const bytes = archive.source.read(0, archive.source.size);
  return inPlace ? replaceInPlace(bytes, byName, replacements) : rebuild(archive.file, bytes, archive.entries, replacements);
}

function replaceInPlace(bytes: Uint8Array, byName: ReadonlyMap<string, ZipEntry>, replacements: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  for (const [name, data] of replacements) {
    const entry = byName.get(name) as ZipEntry;
    out.set(data, entry.dataOffset);
    const crc = crc32(data);
    view.setUint32(entry.centralHeaderOffset + 16, crc, true);
    // With a data descriptor the local header may leave the CRC at zero; keep it so.
    if (!(entry.flags & FLAG_DATA_DESCRIPTOR) || view.getUint32(entry.localHeaderOffset + 14, true) !== 0) {
      view.setUint32(entry.localHeaderOffset + 14, crc, true);
    }
    if (entry.flags & FLAG_DATA_DESCRIPTOR) {
      const descriptor = entry.dataOffset + entry.compressedSize;
      const hasSignature = view.getUint32(descriptor, true) === DATA_DESCRIPTOR;
      view.setUint32(descriptor + (hasSignature ? 4 : 0), crc, true);
    }
  }
  return out;
}

function rebuild(file: string, bytes: Uint8Array, entries: readonly ZipEntry[], replacements: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const source = viewOf(bytes);
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const replaced = replacements.get(entry.name);
    const raw = replaced === undefined
      ? bytes.subarray(entry.dataOffset, entry.dataOffset + entry.compressedSize)
      : entry.compression === 8 ? deflateSync(replaced, { level: 6 }) : replaced;
    const size = replaced === undefined ? entry.size : replaced.length;
    const crc = replaced === undefined ? entry.crc32 : crc32(replaced);
    if (size > MAX_32 - 1 || raw.length > MAX_32 - 1 || offset > MAX_32 - 1) {
      throw new FileProblem(file, 'writing zip archives over 4 GiB is not supported');
    }
    const nameBytes = bytes.subarray(entry.centralHeaderOffset + 46, entry.centralHeaderOffset + 46 + source.getUint16(entry.centralHeaderOffset + 28, true));
    const flags = entry.flags & FLAG_UTF8;
    const time = source.getUint16(entry.centralHeaderOffset + 12, true);
    const date = source.getUint16(entry.centralHeaderOffset + 14, true);

    const local = new Uint8Array(30 + nameBytes.length + raw.length);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, LOCAL_HEADER, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(6, flags, true);
    lv.setUint16(8, entry.compression, true);
    lv.setUint16(10, time, true);
    lv.setUint16(12, date, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, raw.length, true);
    lv.setUint32(22, size, true);
    lv.setUint16(26, nameBytes.length, true);
    local.set(nameBytes, 30);
    local.set(raw, 30 + nameBytes.length);

    const central = new Uint8Array(46 + nameBytes.length);
    const cv = new DataView(central.buffer);
    cv.setUint32(0, CENTRAL_HEADER, true);
    cv.setUint16(4, (source.getUint16(entry.centralHeaderOffset + 4, true) & 0xff00) | 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(8, flags, true);
    cv.setUint16(10, entry.compression, true);
    cv.setUint16(12, time, true);
    cv.setUint16(14, date, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, raw.length, true);
    cv.setUint32(24, size, true);
    cv.setUint16(28, nameBytes.length, true);
    cv.setUint16(36, source.getUint16(entry.centralHeaderOffset + 36, true), true);
    cv.setUint32(38, source.getUint32(entry.centralHeaderOffset + 38, true), true);
    cv.setUint32(42, offset, true);
    central.set(nameBytes, 46);

    locals.push(local);
    centrals.push(central);
    offset += local.length;
  }
  const directorySize = centrals.reduce((sum, c) => sum + c.length, 0);
  if (offset + directorySize > MAX_32 - 1 || entries.length >= 0xffff) {
    throw new FileProblem(file, 'writing zip archives over 4 GiB or with 65535 entries is not supported');
  }
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, END_OF_CENTRAL_DIRECTORY, true);
  ev.setUint16(8, entries.length, true);
  ev.setUint16(10, entries.length, true);
  ev.setUint32(12, directorySize, true);
  ev.setUint32(16, offset, true);

  const out = new Uint8Array(offset + directorySize + end.length);
  let at = 0;
  for (const part of [...locals, ...centrals, end]) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = CRC_TABLE[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
