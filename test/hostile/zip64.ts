/**
 * Writes a stored (uncompressed) zip archive in ZIP64 form, as NumPy and PyTorch do for large
 * files: every size and offset in the headers is 0xFFFFFFFF with the real value in the ZIP64 extra
 * field, and the end of the central directory is found through the ZIP64 record and locator.
 * Independent of src/engine/io/zipArchive.ts, so the reader is checked against the specification.
 */
export function crc(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of data) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

export function zip64Stored(entries: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const extraLocal = Buffer.alloc(20);
    extraLocal.writeUInt16LE(0x0001, 0);
    extraLocal.writeUInt16LE(16, 2);
    extraLocal.writeBigUInt64LE(BigInt(entry.data.length), 4);
    extraLocal.writeBigUInt64LE(BigInt(entry.data.length), 12);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(0x800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc(entry.data), 14);
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extraLocal.length, 28);
    parts.push(local, name, extraLocal, entry.data);

    const extraCentral = Buffer.alloc(28);
    extraCentral.writeUInt16LE(0x0001, 0);
    extraCentral.writeUInt16LE(24, 2);
    extraCentral.writeBigUInt64LE(BigInt(entry.data.length), 4);
    extraCentral.writeBigUInt64LE(BigInt(entry.data.length), 12);
    extraCentral.writeBigUInt64LE(BigInt(offset), 20);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(45, 4);
    header.writeUInt16LE(45, 6);
    header.writeUInt16LE(0x800, 8);
    header.writeUInt32LE(crc(entry.data), 16);
    header.writeUInt32LE(0xffffffff, 20);
    header.writeUInt32LE(0xffffffff, 24);
    header.writeUInt16LE(name.length, 28);
    header.writeUInt16LE(extraCentral.length, 30);
    header.writeUInt32LE(0xffffffff, 42);
    central.push(header, name, extraCentral);
    offset += local.length + name.length + extraLocal.length + entry.data.length;
  }
  const directoryOffset = offset;
  const directorySize = central.reduce((n, p) => n + p.length, 0);
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE(45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(directorySize), 40);
  record.writeBigUInt64LE(BigInt(directoryOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(directoryOffset + directorySize), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...parts, ...central, record, locator, end]);
}
