import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { link, lstat, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { describeFsError, hasErrorCode } from './fsErrors';

export interface NewFile {
  readonly path: string;
  readonly data: Uint8Array | string;
}

/** Errors from link() on file systems without hard links; there we fall back to check-then-rename. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS']);

/** Temporary files written but not yet moved into place or removed: what a signal handler cleans up. */
const pendingTemps = new Set<string>();

/** Marks a temporary path (file or folder) for removal by `removePendingTempFilesSync`, until `untrackTemporaryPath`. */
export function trackTemporaryPath(path: string): void {
  pendingTemps.add(path);
}

export function untrackTemporaryPath(path: string): void {
  pendingTemps.delete(path);
}

function temporaryNameFor(target: string): string {
  const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  pendingTemps.add(temp);
  return temp;
}

async function removeTemp(temp: string): Promise<void> {
  await rm(temp, { force: true }).catch(() => undefined);
  pendingTemps.delete(temp);
}

/** Removes every temporary file still pending, synchronously: for SIGINT/SIGTERM handlers just before exit. */
export function removePendingTempFilesSync(): void {
  for (const temp of pendingTemps) {
    try {
      rmSync(temp, { force: true, recursive: true });
    } catch {
      // Nothing more can be done while exiting; the name starts with a dot and ends in .tmp.
    }
  }
  pendingTemps.clear();
}

/**
 * Writes each file to a temporary name in its folder, then renames it over the target, so a reader
 * sees the old file or the new one, never a part. The caller has checked the targets with
 * `checkOutputs` (src/engine/io/outputGuard.ts). On failure the temporary files are removed.
 */
export async function replaceFilesAtomically(files: readonly NewFile[]): Promise<void> {
  const temps: string[] = [];
  let current = '';
  try {
    for (const file of files) {
      current = resolve(file.path);
      const temp = temporaryNameFor(current);
      temps.push(temp);
      await writeFile(temp, file.data, { flag: 'wx' });
    }
    for (const [i, file] of files.entries()) {
      current = resolve(file.path);
      await rename(temps[i], current);
      pendingTemps.delete(temps[i]);
    }
  } catch (error) {
    await Promise.all(temps.map(removeTemp));
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(current, `cannot write it (${describeFsError(error)})`);
  }
}

/**
 * Creates all files or none: each is written to a temporary name in its target folder and then
 * moved into place. Refuses to overwrite anything. On failure every file it created is removed.
 */
export async function writeNewFilesAtomically(files: readonly NewFile[]): Promise<void> {
  const targets = files.map((f) => resolve(f.path));
  for (const target of targets) await refuseIfExists(target);

  const created: string[] = [];
  let current = targets[0] ?? '';
  try {
    const temps: string[] = [];
    for (const [i, target] of targets.entries()) {
      current = target;
      const temp = temporaryNameFor(target);
      try {
        await writeFile(temp, files[i].data, { flag: 'wx' });
      } finally {
        created.push(temp);
      }
      temps.push(temp);
    }
    for (const [i, target] of targets.entries()) {
      current = target;
      await moveIntoPlaceWithoutOverwriting(temps[i], target);
      created.push(target);
      await removeTemp(temps[i]);
    }
  } catch (error) {
    await Promise.all(created.map((path) => removeTemp(path)));
    if (error instanceof FileProblem) throw error;
    throw new FileProblem(current, `cannot write it (${describeFsError(error)}); nothing was written`);
  }
}

async function refuseIfExists(target: string): Promise<void> {
  // Any lstat error other than "exists" is left for the write itself to report.
  const exists = await lstat(target).then(
    () => true,
    () => false,
  );
  if (exists) throw new FileProblem(target, 'already exists; Flatness Lens never overwrites files');
}

/** Leaves `temp` behind when it hard-links; the caller removes it once the target is recorded. */
export async function moveIntoPlaceWithoutOverwriting(temp: string, target: string): Promise<void> {
  try {
    // link() fails with EEXIST instead of replacing, which rename() would do silently.
    await link(temp, target);
  } catch (error) {
    if (hasErrorCode(error, 'EEXIST')) throw new FileProblem(target, 'already exists; Flatness Lens never overwrites files');
    if (!(error instanceof Error) || !NO_HARD_LINKS.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
    await refuseIfExists(target);
    await rename(temp, target);
  }
}
