import { realpathSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { filesReadSoFar } from './readLedger';

export interface OutputCheck {
  /** Files the job reads (in addition to those the readers recorded): never replaced, even with force. */
  readonly inputs: readonly string[];
  /** Replace existing files that are not inputs (the CLI's --force, or the user's confirmation). */
  readonly force?: boolean;
  /** How the user allows replacing an existing file, for the message ('pass --force'). */
  readonly howToForce?: string;
}

function statOrUndefined(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The path a name refers to after resolving symbolic links in its folder, with the case folded
 * where the platform's file systems usually ignore case (macOS, Windows), so two spellings of one
 * file compare equal even before it exists.
 */
export function canonicalPath(file: string): string {
  const absolute = resolve(file);
  let real: string;
  try {
    real = realpathSync.native(absolute);
  } catch {
    try {
      real = resolve(realpathSync.native(dirname(absolute)), basename(absolute));
    } catch {
      real = absolute;
    }
  }
  return process.platform === 'darwin' || process.platform === 'win32' ? real.toLowerCase() : real;
}

/** The input `output` is the same file as (same device and inode, or the same canonical path), if any. */
export function inputAt(output: string, inputs: readonly string[]): string | undefined {
  const target = statOrUndefined(output);
  const canonical = canonicalPath(output);
  for (const input of inputs) {
    const info = statOrUndefined(input);
    if (target && info && target.dev === info.dev && target.ino === info.ino) return input;
    if (canonicalPath(input) === canonical) return input;
  }
  return undefined;
}

/**
 * Refuses, before anything is written, outputs that would replace a file the job reads (always),
 * that name the same file twice, or that exist already (unless `force`). Messages name both files.
 */
export function checkOutputs(outputs: readonly string[], check: OutputCheck): void {
  const inputs = [...new Set([...check.inputs.map((f) => resolve(f)), ...filesReadSoFar()])];
  const seen = new Map<string, string>();
  for (const output of outputs) {
    const input = inputAt(output, inputs);
    if (input !== undefined) {
      throw new FileProblem(resolve(output), input === resolve(output) ? 'is an input of this job; Flatness Lens never writes over its inputs, choose another name' : `is the same file as the input ${input}; Flatness Lens never writes over its inputs, choose another name`);
    }
    const canonical = canonicalPath(output);
    const earlier = seen.get(canonical);
    if (earlier !== undefined) throw new FileProblem(resolve(output), `is also the output ${earlier}; give each output its own name`);
    seen.set(canonical, resolve(output));
    const existing = statOrUndefined(output);
    if (existing && !existing.isFile()) throw new FileProblem(resolve(output), 'exists and is not a regular file; choose another name');
    if (existing && !check.force) throw new FileProblem(resolve(output), `already exists; ${check.howToForce ?? 'pass --force'} to replace it`);
  }
}
