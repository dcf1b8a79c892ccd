/**
 * Loading h5wasm (HDF5 compiled to WebAssembly, with direct host file access through Emscripten's
 * NODERAWFS). It is ESM only and finds itself through `import.meta.url`, so it is not bundled:
 * esbuild.mjs marks it external and copies its Node build to dist/h5wasm/, which the bundles load
 * with a real `import()` (the packaged extension has no node_modules); from sources (tests, tsx)
 * the package itself is imported. Loaded on first use only: activation does not pay for the 4 MB module.
 */
import { existsSync, lstatSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type * as H5wasmModule from 'h5wasm/node' with { 'resolution-mode': 'import' };

export type H5wasm = typeof H5wasmModule;
export type H5File = H5wasmModule.File;
export type H5Group = H5wasmModule.Group;
export type H5Dataset = H5wasmModule.Dataset;

let loading: Promise<H5wasm> | undefined;

export function loadH5wasm(): Promise<H5wasm> {
  loading ??= load();
  return loading;
}

async function load(): Promise<H5wasm> {
  // Emscripten's environment check misreads a process that defines `navigator` (Node 21+, Electron)
  // as a browser; hide it while the module initializes, as h5wasm's README advises.
  const navigatorProperty = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  if (navigatorProperty?.configurable) Object.defineProperty(globalThis, 'navigator', { value: undefined, configurable: true, writable: true });
  try {
    const copied = join(__dirname, 'h5wasm', 'hdf5_hl.js');
    const h5wasm: H5wasm = existsSync(copied) ? ((await import(pathToFileURL(copied).href)) as H5wasm) : await import('h5wasm/node');
    await h5wasm.ready;
    // HDF5 errors become JS exceptions carrying the error stack, instead of lines on stderr.
    h5wasm.Module.activate_throwing_error_handler();
    return h5wasm;
  } finally {
    if (navigatorProperty?.configurable) Object.defineProperty(globalThis, 'navigator', navigatorProperty);
  }
}

/** The part of Emscripten's file system that HDF5's open() calls go through. */
interface EmscriptenFs {
  open(path: unknown, ...rest: unknown[]): unknown;
  readonly ErrnoError: new (errno: number) => Error;
}

/** Emscripten's errno number for EACCES, and its open() flags (Linux values). */
const EMSCRIPTEN_EACCES = 2;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_DIRECTORY = 0o200000;

/**
 * Runs `use` while HDF5 may open `file` and no other existing file. HDF5 follows external links,
 * external raw data files and virtual dataset sources to any path on the host (h5wasm reads host
 * files directly), so a crafted model file could make us read, and show or rewrite as its weights,
 * bytes from anywhere. Still allowed: listing directories (HDF5 looks for filter plugins) and
 * creating new files (its error handler formats messages in a tmpfile). `use` sees the paths
 * refused so far; a virtual dataset whose source cannot be opened reads as fill values without an
 * error, so the caller must check them even on success.
 */
export function confinedTo<T>(h5: H5wasm, file: string, use: (refused: readonly string[]) => T): T {
  const fs = h5.FS as unknown as EmscriptenFs | null;
  if (fs === null) throw new Error('h5wasm is not initialized');
  const allowed = resolve(file);
  const refused: string[] = [];
  const open = fs.open;
  const harmless = (path: string, flags: unknown): boolean => {
    if (typeof flags !== 'number') return false;
    const info = lstatSync(path, { throwIfNoEntry: false });
    if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return info === undefined;
    return (flags & O_DIRECTORY) !== 0 && info?.isDirectory() === true;
  };
  fs.open = function (this: unknown, path: unknown, ...rest: unknown[]): unknown {
    if (typeof path !== 'string' || (resolve(path) !== allowed && !harmless(path, rest[0]))) {
      refused.push(String(path));
      throw new fs.ErrnoError(EMSCRIPTEN_EACCES);
    }
    return open.call(this, path, ...rest);
  };
  try {
    return use(refused);
  } finally {
    fs.open = open;
  }
}

/** The first line of an HDF5 error stack that says what went wrong, for a FileProblem message. */
export function describeH5Error(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // An assertion inside the HDF5 library, hit by damaged metadata.
  if (/^Aborted\(/.test(text.trim())) return 'the HDF5 library aborted on an inconsistent internal structure';
  const minor = [...text.matchAll(/^\s*#\d+:.*?\bin (\w+)\(\): (.*)$/gm)].map((m) => m[2].trim());
  const detail = minor.length > 0 ? minor[minor.length - 1] : text.split('\n').find((line) => line.trim() !== '')?.trim();
  return (detail ?? 'unknown HDF5 error').slice(0, 300);
}
