/**
 * safetensors files: an 8-byte little-endian header length N, N bytes of JSON
 * (`{"__metadata__": {...}, "name": {"dtype", "shape", "data_offsets": [begin, end]}, ...}`), then the
 * tensors' raw little-endian bytes, offsets relative to the end of the header.
 * See https://github.com/huggingface/safetensors#format.
 */
import { resolve } from 'node:path';
import { FileProblem } from '../../../protocol/errors';
import { writeNewFilesAtomically } from '../../io/atomicWrite';
import { describeFsError } from '../../io/fsErrors';
import { conversionNotes, decodeFloats, float32Bytes, type FloatEncoding } from './floatElements';
import type { StoredTensor, TensorFile, TensorFileFormat } from './tensorFile';
import { readJobFile, readJobFileRange } from '../../io/jobFiles';
import { requireRegularFile } from '../../io/regularFile';

export const SAFETENSORS_FORMAT_ID = 'safetensors';
/** Where provenance goes in `__metadata__` (a JSON string: the format allows only string values). */
export const SAFETENSORS_PROVENANCE_KEY = 'flatness_lens';
/** The reference implementation refuses larger headers; so do we, before reading one. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const DTYPES: Readonly<Record<string, { readonly width: number; readonly encoding?: FloatEncoding; readonly name: string }>> = {
  F64: { width: 8, encoding: 'f64', name: 'float64' },
  F32: { width: 4, encoding: 'f32', name: 'float32' },
  F16: { width: 2, encoding: 'f16', name: 'float16' },
  BF16: { width: 2, encoding: 'bf16', name: 'bfloat16' },
  I64: { width: 8, name: 'int64' },
  I32: { width: 4, name: 'int32' },
  I16: { width: 2, name: 'int16' },
  I8: { width: 1, name: 'int8' },
  U8: { width: 1, name: 'uint8' },
  BOOL: { width: 1, name: 'bool' },
};

interface HeaderTensor {
  readonly name: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly numel: number;
  readonly begin: number;
  readonly end: number;
}

interface SafetensorsHeader {
  /** In the header's order. */
  readonly keys: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  /** In the order of their data. */
  readonly tensors: readonly HeaderTensor[];
  /** Byte position of the data in the file. */
  readonly dataStart: number;
}

/**
 * The top-level keys of a JSON object text, in order, including duplicates (which JSON.parse
 * would silently merge). Assumes `text` parsed as a JSON object.
 */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      i++;
      if (depth === 1) {
        let j = i;
        while (/\s/.test(text[j] ?? '')) j++;
        if (text[j] === ':') keys.push(JSON.parse(text.slice(start, i)) as string);
      }
      continue;
    }
    if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    i++;
  }
  return keys;
}

function parseHeader(file: string, headerBytes: Uint8Array, dataLength: number): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new FileProblem(file, `safetensors header: ${problem}`);
  };
  if (headerBytes[0] !== 0x7b) fail(`it does not start with '{'`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    return fail('it is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return fail(`it is not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return fail('it is not a JSON object');
  const header = parsed as Record<string, unknown>;
  const keys = topLevelKeys(text);
  const duplicate = keys.find((key, i) => keys.indexOf(key) !== i);
  if (duplicate !== undefined) fail(`it names '${duplicate}' twice`);

  let metadata: Record<string, string> | undefined;
  const tensors: HeaderTensor[] = [];
  for (const name of keys) {
    const info = header[name];
    if (name === '__metadata__') {
      if (typeof info !== 'object' || info === null || Array.isArray(info) || !Object.values(info).every((v) => typeof v === 'string')) {
        fail('__metadata__ must map names to strings');
      }
      metadata = info as Record<string, string>;
      continue;
    }
    tensors.push(headerTensor(name, info, dataLength, fail));
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: HeaderTensor | undefined;
  for (const tensor of tensors) {
    if (tensor.begin < cursor) fail(`the data of '${tensor.name}' (bytes ${tensor.begin}..${tensor.end}) overlaps that of '${previous?.name}' (ending at ${cursor})`);
    if (tensor.begin > cursor) fail(`bytes ${cursor}..${tensor.begin} of the data belong to no tensor (a gap before '${tensor.name}')`);
    cursor = tensor.end;
    previous = tensor;
  }
  if (cursor !== dataLength) fail(`the tensors cover ${cursor} bytes of data but the file has ${dataLength} after the header`);
  return { keys, metadata, tensors, dataStart: 8 + headerBytes.length };
}

function headerTensor(name: string, info: unknown, dataLength: number, fail: (problem: string) => never): HeaderTensor {
  const at = `tensor '${name}'`;
  if (typeof info !== 'object' || info === null || Array.isArray(info)) return fail(`${at} is not described by an object`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPES)) {
    return fail(`${at} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPES).join(', ')}`);
  }
  const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(shape) || !shape.every(isCount)) return fail(`${at} has shape ${JSON.stringify(shape)}; expected a list of non-negative integers`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    return fail(`${at} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end) fail(`${at} has data_offsets [${begin}, ${end}] that end before they begin`);
  if (end > dataLength) fail(`${at} has data_offsets [${begin}, ${end}] beyond the ${dataLength} bytes of data; the file is truncated or corrupt`);
  const numel = (shape as number[]).reduce((a, b) => a * b, 1);
  const bytes = numel * DTYPES[dtype].width;
  if (!Number.isSafeInteger(bytes) || end - begin !== bytes) {
    fail(`${at} has shape [${shape.join(', ')}] of ${dtype} (${bytes} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
  }
  return { name, dtype, shape: shape as number[], numel, begin, end };
}

/** Checks the 8-byte length prefix against the file size and returns the header length. */
function headerLength(file: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < 8 || prefix.length < 8) throw new FileProblem(file, `truncated: ${fileSize} bytes is too short for a safetensors file`);
  const length = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) throw new FileProblem(file, `the safetensors header declares ${length} bytes, more than the ${MAX_HEADER_BYTES}-byte limit`);
  if (length > BigInt(fileSize - 8)) throw new FileProblem(file, `truncated: the safetensors header declares ${length} bytes but only ${fileSize - 8} follow`);
  return Number(length);
}

async function readWhole(file: string): Promise<Uint8Array> {
  try {
    return await readJobFile(file);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  }
}

function parseFile(file: string, bytes: Uint8Array): SafetensorsHeader {
  const length = headerLength(file, bytes, bytes.length);
  return parseHeader(file, bytes.subarray(8, 8 + length), bytes.length - 8 - length);
}

async function readTensors(path: string): Promise<TensorFile> {
  const file = resolve(path);
  const bytes = await readWhole(file);
  const header = parseFile(file, bytes);
  const converted = new Set<string>();
  const tensors: StoredTensor[] = header.tensors.map((t) => {
    const { encoding, name } = DTYPES[t.dtype];
    if (encoding === undefined) return { name: t.name, dtype: t.dtype, shape: t.shape };
    if (encoding !== 'f32') converted.add(name);
    return { name: t.name, dtype: t.dtype, shape: t.shape, values: decodeFloats(bytes, header.dataStart + t.begin, t.numel, encoding) };
  });
  const notes = conversionNotes(converted, 'tensors');
  return { path: file, format: SAFETENSORS_FORMAT_ID, tensors, notes };
}

/** Reads only the header (from the bytes this job keeps of the file, when it read it whole already). */
async function countParameters(path: string): Promise<number> {
  const file = resolve(path);
  const size = await requireRegularFile(file);
  const length = headerLength(file, await readJobFileRange(file, 0, Math.min(8, size)), size);
  const header = parseHeader(file, await readJobFileRange(file, 8, length), size - 8 - length);
  return header.tensors.reduce((sum, t) => sum + (DTYPES[t.dtype].encoding === undefined ? 0 : t.numel), 0);
}

/**
 * Replaced tensors are written as F32 (a replaced F16/BF16/F64 tensor changes dtype, and the data
 * offsets after it move); all other tensors keep their bytes, the header its order and metadata.
 */
async function writeTensors(
  originalPath: string,
  replacements: ReadonlyMap<string, Float32Array>,
  outPath: string,
  metadata?: Readonly<Record<string, unknown>>,
): Promise<string[]> {
  const file = resolve(originalPath);
  const out = resolve(outPath);
  const bytes = await readWhole(file);
  const header = parseFile(file, bytes);
  const byName = new Map(header.tensors.map((t) => [t.name, t]));
  for (const [name, values] of replacements) {
    const tensor = byName.get(name);
    if (tensor === undefined) throw new FileProblem(file, `has no tensor named '${name}' to replace`);
    if (DTYPES[tensor.dtype].encoding === undefined) throw new FileProblem(file, `tensor '${name}' holds ${tensor.dtype} values; only floating-point tensors can be replaced`);
    if (values.length !== tensor.numel) throw new FileProblem(file, `tensor '${name}' has ${tensor.numel} values (shape [${tensor.shape.join(', ')}]) but ${values.length} were given`);
  }

  const blobs: Uint8Array[] = [];
  const entries = new Map<string, unknown>();
  let offset = 0;
  for (const tensor of header.tensors) {
    const replaced = replacements.get(tensor.name);
    const blob = replaced === undefined ? bytes.subarray(header.dataStart + tensor.begin, header.dataStart + tensor.end) : float32Bytes(replaced);
    const dtype = replaced === undefined ? tensor.dtype : 'F32';
    entries.set(tensor.name, { dtype, shape: tensor.shape, data_offsets: [offset, offset + blob.length] });
    blobs.push(blob);
    offset += blob.length;
  }
  const newMetadata: Record<string, string> | undefined =
    metadata === undefined ? header.metadata : { ...header.metadata, [SAFETENSORS_PROVENANCE_KEY]: JSON.stringify(metadata) };
  const keys = newMetadata !== undefined && !header.keys.includes('__metadata__') ? ['__metadata__', ...header.keys] : header.keys;
  // Written by hand so the keys keep their order even when a name looks like an integer.
  const members = keys.map((key) => `${JSON.stringify(key)}:${JSON.stringify(key === '__metadata__' ? newMetadata : entries.get(key))}`);
  let headerText = `{${members.join(',')}}`;
  const encoded = new TextEncoder().encode(headerText);
  headerText += ' '.repeat((8 - (encoded.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(headerText);

  const result = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(result.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  result.set(headerBytes, 8);
  let at = 8 + headerBytes.length;
  for (const blob of blobs) {
    result.set(blob, at);
    at += blob.length;
  }
  await writeNewFilesAtomically([{ path: out, data: result }]);
  return [out];
}

export const safetensorsFile: TensorFileFormat = {
  id: SAFETENSORS_FORMAT_ID,
  displayName: 'safetensors (.safetensors)',
  match: (fileName, head) => {
    if (!/\.safetensors$/i.test(fileName) || head.length < 9) return false;
    const length = new DataView(head.buffer, head.byteOffset, 8).getBigUint64(0, true);
    return length > 0n && length <= BigInt(MAX_HEADER_BYTES) && head[8] === 0x7b; // '{'
  },
  readTensors,
  countParameters,
  writeTensors,
};
