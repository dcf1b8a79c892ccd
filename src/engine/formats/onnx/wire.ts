/**
 * The protobuf wire format, just enough to read and rewrite ONNX files: each message is split into
 * its fields with their byte spans, so a writer can copy every field it does not change byte for
 * byte (unknown fields included). https://protobuf.dev/programming-guides/encoding/
 */

export enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** One field occurrence of a message. */
export interface WireField {
  readonly number: number;
  readonly wireType: WireType;
  /** Span of the whole field (tag included) within the buffer. */
  readonly start: number;
  readonly end: number;
  /** Span of the value: the payload of a length-delimited field, else the varint/fixed bytes. */
  readonly valueStart: number;
  readonly valueEnd: number;
  /** Varint fields only: the value (exact up to 2^53; larger values are reported by `varintOf`). */
  readonly varint?: bigint;
}

/** A malformed message; the caller adds the file and the message it was parsing. */
export class WireError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireError';
  }
}

function readVarint(bytes: Uint8Array, at: number, end: number): { value: bigint; next: number } {
  let value = 0n;
  let shift = 0n;
  for (let i = at; i < end && i < at + 10; i++) {
    const byte = bytes[i];
    value |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return { value: BigInt.asUintN(64, value), next: i + 1 };
    shift += 7n;
  }
  throw new WireError(at + 10 <= end ? `varint at byte ${at} is longer than 10 bytes` : `varint at byte ${at} runs past the end of its message`);
}

/** The fields of the message in bytes[start, end), in file order. */
export function parseMessage(bytes: Uint8Array, start = 0, end = bytes.length): WireField[] {
  const fields: WireField[] = [];
  let at = start;
  while (at < end) {
    const fieldStart = at;
    const tag = readVarint(bytes, at, end);
    at = tag.next;
    const number = Number(tag.value >> 3n);
    const wireType = Number(tag.value & 7n) as WireType;
    if (number === 0 || number > 536870911) throw new WireError(`invalid field number ${number} at byte ${fieldStart}`);
    let valueStart = at;
    let valueEnd: number;
    let varint: bigint | undefined;
    switch (wireType) {
      case WireType.Varint: {
        const v = readVarint(bytes, at, end);
        varint = v.value;
        valueEnd = v.next;
        break;
      }
      case WireType.Fixed64:
        valueEnd = at + 8;
        break;
      case WireType.Fixed32:
        valueEnd = at + 4;
        break;
      case WireType.LengthDelimited: {
        const length = readVarint(bytes, at, end);
        if (length.value > BigInt(end - length.next)) {
          throw new WireError(`field ${number} at byte ${fieldStart} declares ${length.value} bytes but only ${end - length.next} remain (truncated?)`);
        }
        valueStart = length.next;
        valueEnd = valueStart + Number(length.value);
        break;
      }
      default:
        throw new WireError(`field ${number} at byte ${fieldStart} has unsupported wire type ${wireType as number}`);
    }
    if (valueEnd > end) throw new WireError(`field ${number} at byte ${fieldStart} runs past the end of its message (truncated?)`);
    fields.push({ number, wireType, start: fieldStart, end: valueEnd, valueStart, valueEnd, varint });
    at = valueEnd;
  }
  return fields;
}

/** A varint field as a JS number (int64 two's complement → negative), exact within ±2^53. */
export function varintOf(field: WireField, what: string): number {
  if (field.wireType !== WireType.Varint || field.varint === undefined) throw new WireError(`${what} should be a varint, found wire type ${field.wireType}`);
  const signed = BigInt.asIntN(64, field.varint);
  if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) throw new WireError(`${what} = ${signed} is too large`);
  return Number(signed);
}

/** Repeated int64 values, packed (one length-delimited field) or not (one varint per field). */
export function int64sOf(bytes: Uint8Array, fields: readonly WireField[], what: string): number[] {
  const values: number[] = [];
  for (const field of fields) {
    if (field.wireType === WireType.Varint) {
      values.push(varintOf(field, what));
      continue;
    }
    if (field.wireType !== WireType.LengthDelimited) throw new WireError(`${what} has wire type ${field.wireType}`);
    let at = field.valueStart;
    while (at < field.valueEnd) {
      const v = readVarint(bytes, at, field.valueEnd);
      const signed = BigInt.asIntN(64, v.value);
      if (signed > BigInt(Number.MAX_SAFE_INTEGER) || signed < BigInt(Number.MIN_SAFE_INTEGER)) throw new WireError(`${what} value ${signed} is too large`);
      values.push(Number(signed));
      at = v.next;
    }
  }
  return values;
}

/** Repeated fixed-width values (float, double), packed or not: the concatenated payload bytes. */
export function fixedBytesOf(bytes: Uint8Array, fields: readonly WireField[], width: 4 | 8, what: string): Uint8Array {
  const expected = width === 4 ? WireType.Fixed32 : WireType.Fixed64;
  const total = fields.reduce((sum, f) => sum + (f.valueEnd - f.valueStart), 0);
  const out = new Uint8Array(total);
  let offset = 0;
  for (const field of fields) {
    if (field.wireType !== expected && field.wireType !== WireType.LengthDelimited) throw new WireError(`${what} has wire type ${field.wireType}`);
    out.set(bytes.subarray(field.valueStart, field.valueEnd), offset);
    offset += field.valueEnd - field.valueStart;
  }
  if (total % width !== 0) throw new WireError(`${what} holds ${total} bytes, not a multiple of ${width}`);
  return out;
}

export function stringOf(bytes: Uint8Array, field: WireField, what: string): string {
  if (field.wireType !== WireType.LengthDelimited) throw new WireError(`${what} should be a string, found wire type ${field.wireType}`);
  return new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(field.valueStart, field.valueEnd));
}

export function float32Of(bytes: Uint8Array, field: WireField, what: string): number {
  if (field.wireType !== WireType.Fixed32) throw new WireError(`${what} should be a float, found wire type ${field.wireType}`);
  return new DataView(bytes.buffer, bytes.byteOffset + field.valueStart, 4).getFloat32(0, true);
}

// ---- writing ---------------------------------------------------------------------------------

export function encodeVarint(value: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v !== 0n) byte |= 0x80;
    out.push(byte);
  } while (v !== 0n);
  return Uint8Array.from(out);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function varintField(number: number, value: number | bigint): Uint8Array {
  return concatBytes([encodeVarint((number << 3) | WireType.Varint), encodeVarint(value)]);
}

export function lengthDelimitedField(number: number, payload: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint((number << 3) | WireType.LengthDelimited), encodeVarint(payload.length), payload]);
}

export function stringField(number: number, text: string): Uint8Array {
  return lengthDelimitedField(number, new TextEncoder().encode(text));
}
