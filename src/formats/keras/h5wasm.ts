/**
 * Loading h5wasm (HDF5 compiled to WebAssembly, with direct host file access through Emscripten's
 * NODERAWFS). It is ESM only and finds itself through `import.meta.url`, so it is not bundled:
 * esbuild.mjs marks it external and copies its Node build to dist/h5wasm/, which the bundles load
 * with a real `import()` (the packaged extension has no node_modules); from sources (tests, tsx)
 * the package itself is imported. Loaded on first use only: activation does not pay for the 4 MB module.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
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

/** The first line of an HDF5 error stack that says what went wrong, for a FileProblem message. */
export function describeH5Error(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const minor = [...text.matchAll(/^\s*#\d+:.*?\bin (\w+)\(\): (.*)$/gm)].map((m) => m[2].trim());
  const detail = minor.length > 0 ? minor[minor.length - 1] : text.split('\n').find((line) => line.trim() !== '')?.trim();
  return (detail ?? 'unknown HDF5 error').slice(0, 300);
}
