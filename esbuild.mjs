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
  external: ['vscode', '@tensorflow/tfjs-node'],
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

copyWasmBinaries();
if (watch) {
  for (const options of builds) await (await esbuild.context({ ...options, outdir })).watch();
} else {
  await Promise.all(builds.map((options) => esbuild.build({ ...options, outdir })));
  fs.chmodSync(path.join(outdir, 'cli.js'), 0o755);
}
