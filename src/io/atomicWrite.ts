import { randomBytes } from 'node:crypto';
import { link, lstat, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { FileProblem } from '../shared/errors';
import { describeFsError, hasErrorCode } from './fsErrors';

export interface NewFile {
  readonly path: string;
  readonly data: Uint8Array | string;
}

/** Errors from link() on file systems without hard links; there we fall back to check-then-rename. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'ENOSYS']);

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
      const temp = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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
      await rm(temps[i], { force: true });
    }
  } catch (error) {
    await Promise.all(created.map((path) => rm(path, { force: true }).catch(() => undefined)));
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
