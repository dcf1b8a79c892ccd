// Builds every bundle: the extension host, the background analyzer process, the CLI, the webview
// front end and the benchmark. Type-checking is `npm run typecheck` (esbuild only strips types).
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const outdir = 'dist';

const node = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'warning',
  // tfjs-node is optional: used when the user has installed it, never bundled.
  // h5wasm is ESM only and locates itself with import.meta.url: never bundled; copied to dist/h5wasm
  // (copyH5wasm) and loaded at run time by a real import() (src/engine/formats/keras/h5wasm.ts).
  external: ['vscode', '@tensorflow/tfjs-node', 'h5wasm', 'h5wasm/*'],
  // One copy of each tfjs package, from its ES modules (their "main" bundles would duplicate tfjs-core).
  mainFields: ['module', 'main'],
};

const builds = [
  { ...node, entryPoints: { extension: 'src/extension.ts' } },
  { ...node, entryPoints: { analyzer: 'src/analyzer/process.ts' } },
  { ...node, entryPoints: { cli: 'src/cli/index.ts' }, banner: { js: '#!/usr/bin/env node' } },
  { ...node, entryPoints: { bench: 'bench/bench.ts' } },
  {
    bundle: true,
    platform: 'browser',
    format: 'iife',
    target: 'es2022',
    sourcemap: !production,
    minify: production,
    logLevel: 'warning',
    entryPoints: { webview: 'webview/main.ts' },
  },
];

function copyWasmBinaries() {
  const source = path.join('node_modules', '@tensorflow', 'tfjs-backend-wasm', 'dist');
  fs.mkdirSync(outdir, { recursive: true });
  for (const file of fs.readdirSync(source).filter((f) => f.endsWith('.wasm'))) {
    fs.copyFileSync(path.join(source, file), path.join(outdir, file));
  }
}

/** h5wasm's Node build (ESM, its wasm embedded) with its licence, beside the bundles that load it. */
function copyH5wasm() {
  const source = path.join('node_modules', 'h5wasm');
  const target = path.join(outdir, 'h5wasm');
  fs.mkdirSync(target, { recursive: true });
  for (const file of ['hdf5_hl.js', 'hdf5_util.js']) fs.copyFileSync(path.join(source, 'dist', 'node', file), path.join(target, file));
  fs.copyFileSync(path.join(source, 'LICENSE.txt'), path.join(target, 'LICENSE.txt'));
  fs.writeFileSync(path.join(target, 'package.json'), '{ "type": "module" }\n');
}

copyWasmBinaries();
copyH5wasm();
if (watch) {
  for (const options of builds) await (await esbuild.context({ ...options, outdir })).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build({ ...options, outdir })));
  fs.chmodSync(path.join(outdir, 'cli.js'), 0o755);
}
