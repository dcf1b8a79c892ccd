import { constants, fstatSync, openSync, closeSync, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { formatLimitValue, limits } from '../../protocol/limits';
import { describeFsError } from './fsErrors';
import { noteFileRead } from './readLedger';

/**
 * Opening a FIFO for reading blocks until a writer appears, and a device or socket never ends: only
 * regular files are opened. O_NONBLOCK makes the open itself return at once even if a FIFO was put
 * in place between the check and the open; the descriptor is checked again after opening.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

export function kindOfFile(info: Stats): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

function refuseIrregular(file: string, info: Stats, role: string): void {
  if (!info.isFile()) throw new FileProblem(file, `${role} is ${kindOfFile(info)}, not a regular file; Flatness Lens reads only regular files`);
}

export function refuseLarge(file: string, size: number, maxBytes: number, role: string): void {
  if (size > maxBytes) throw new FileProblem(file, `${role} holds ${size} bytes, more than the ${formatLimitValue(maxBytes)} limit (${limits.fileBytes.what})`);
}

/** Checks with a stat (no open) that `file` is a regular file; returns its size. */
export async function requireRegularFile(file: string, role = 'the file'): Promise<number> {
  return (await regularFileStats(file, role)).size;
}

/** The stat of `file` (no open), refusing anything but a regular file. */
export async function regularFileStats(file: string, role = 'the file'): Promise<Stats> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    throw new FileProblem(file, `cannot open it (${describeFsError(error)})${hasCode(error, 'ENOENT') ? ': file not found' : ''}`);
  }
  refuseIrregular(file, info, role);
  return info;
}

/** Opens a regular file for reading (refusing FIFOs, sockets and devices) and records it as read. */
export async function openRegularFile(file: string, role = 'the file'): Promise<{ handle: FileHandle; size: number }> {
  await requireRegularFile(file, role);
  let handle: FileHandle;
  try {
    handle = await open(file, READ_FLAGS);
  } catch (error) {
    throw new FileProblem(file, `cannot open it (${describeFsError(error)})`);
  }
  try {
    const info = await handle.stat();
    refuseIrregular(file, info, role);
    noteFileRead(resolve(file));
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/** The synchronous twin of `openRegularFile`, for readers that work on a descriptor. */
export function openRegularFileSync(file: string, role = 'the file'): { fd: number; size: number } {
  let fd: number;
  try {
    fd = openSync(file, READ_FLAGS);
  } catch (error) {
    throw new FileProblem(file, `cannot open it (${describeFsError(error)})${hasCode(error, 'ENOENT') ? ': file not found' : ''}`);
  }
  try {
    const info = fstatSync(fd);
    refuseIrregular(file, info, role);
    noteFileRead(resolve(file));
    return { fd, size: info.size };
  } catch (error) {
    closeSync(fd);
    throw error;
  }
}

/** All bytes of a regular file whose size, known before reading, is at most `maxBytes`. */
export async function readRegularFile(file: string, options: { maxBytes?: number; role?: string } = {}): Promise<Uint8Array> {
  const role = options.role ?? 'the file';
  const { handle, size } = await openRegularFile(file, role);
  try {
    refuseLarge(file, size, options.maxBytes ?? limits.fileBytes.value, role);
    const bytes = new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(bytes, filled, size - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return filled === size ? bytes : bytes.subarray(0, filled);
  } catch (error) {
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(file, `cannot read it (${describeFsError(error)})`);
  } finally {
    await handle.close();
  }
}

export async function readRegularTextFile(file: string, options: { maxBytes?: number; role?: string } = {}): Promise<string> {
  return new TextDecoder().decode(await readRegularFile(file, options));
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
