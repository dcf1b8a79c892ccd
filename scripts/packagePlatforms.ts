/**
 * `npm run package:platforms`: one .vsix per platform (`vsce package --target …`), each carrying
 * onnxruntime-node with only that platform's native binary (the npm package holds all of them,
 * 288 MB). The binary sits in dist/node_modules/, where the analyzer process (dist/analyzer.js)
 * resolves `onnxruntime-node`; the extension host never loads it. Prints each file's size.
 * Run `npm run build -- --production` first (`npm run package:platforms` does).
 * Arguments: targets to build (default: all); `--this-platform` builds this machine's only.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const targets: Record<string, string> = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
};

const root = path.join(__dirname, '..');
const packages = path.join(root, 'node_modules');
const staged = path.join(root, 'dist', 'node_modules');
const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }).version;
const thisPlatform = `${process.platform}-${process.arch}`;
const only = process.argv.slice(2).map((arg) => (arg === '--this-platform' ? thisPlatform : arg));
const unknown = only.filter((target) => !(target in targets));
if (unknown.length > 0) {
  process.stderr.write(`packagePlatforms: no package for ${unknown.join(', ')}; the targets are ${Object.keys(targets).join(', ')}\n`);
  process.exit(1);
}

function stage(platformDir: string): void {
  fs.rmSync(staged, { recursive: true, force: true });
  const ort = path.join(packages, 'onnxruntime-node');
  const into = path.join(staged, 'onnxruntime-node');
  for (const entry of ['package.json', 'LICENSE', 'README.md', 'dist']) {
    if (fs.existsSync(path.join(ort, entry))) fs.cpSync(path.join(ort, entry), path.join(into, entry), { recursive: true });
  }
  fs.cpSync(path.join(ort, 'bin', 'napi-v6', platformDir), path.join(into, 'bin', 'napi-v6', platformDir), { recursive: true });
  fs.cpSync(path.join(packages, 'onnxruntime-common'), path.join(staged, 'onnxruntime-common'), { recursive: true });
}

const sizes: Record<string, number> = {};
try {
  for (const [target, platformDir] of Object.entries(targets)) {
    if (only.length > 0 && !only.includes(target)) continue;
    stage(platformDir);
    const out = `flatness-lens-${target}-${version}.vsix`;
    execFileSync(process.execPath, [path.join(packages, '@vscode', 'vsce', 'vsce'), 'package', '--target', target, '--no-dependencies', '--allow-missing-repository', '--no-rewrite-relative-links', '-o', out], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
    sizes[out] = fs.statSync(path.join(root, out)).size;
    process.stdout.write(`${out}: ${(sizes[out] / 1e6).toFixed(1)} MB\n`);
  }
} finally {
  fs.rmSync(staged, { recursive: true, force: true });
}
