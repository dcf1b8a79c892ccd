/**
 * Import rules, checked by `npm run check:deps` (dependency-cruiser). Type-only imports count:
 * a cycle through `import type` still ties two files together.
 *
 * The layers, as path prefixes under the repository root. The extension host is everything that
 * imports `vscode`; the engine reads checkpoints and does the math; the protocol is the types and
 * validators both sides (and the webview) share.
 */
const host = ['src/extension.ts', 'src/host/'];
const protocol = ['src/protocol/'];
const engine = ['src/engine/'];
const entryPoints = ['src/cli/', 'src/analyzer/process.ts'];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const anyOf = (prefixes) => `^(${prefixes.map(escape).join('|')})`;

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'No file may reach itself through its imports (type-only imports included).',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      severity: 'error',
      comment: 'No folder may reach itself through the imports of its files: sibling folders depend one way.',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-not-vscode',
      severity: 'error',
      comment: 'The engine and the entry points run outside the editor: they never import vscode.',
      from: { path: anyOf([...engine, ...entryPoints, ...protocol]) },
      to: { path: '^(vscode$|node_modules/@types/vscode/)' },
    },
    {
      name: 'engine-not-host',
      severity: 'error',
      comment: 'The engine and the entry points never import the extension host.',
      from: { path: anyOf([...engine, ...entryPoints]) },
      to: { path: anyOf(host) },
    },
    {
      name: 'engine-not-entry-points',
      severity: 'error',
      comment: 'The engine is used by the CLI and the analyzer process, never the reverse.',
      from: { path: anyOf(engine) },
      to: { path: anyOf(entryPoints) },
    },
    {
      name: 'host-not-engine',
      comment: 'The host never parses a checkpoint or does tensor math: it asks the analyzer process (src/protocol/analyzerProtocol.ts). It may write its exports through the io layer (output guard, atomic write), start that process with the engine\'s malloc settings, and use the pure helpers that both sides share: training-run series (detection, Kendall τ, CSV) and the standalone HTML report.',
      severity: 'error',
      from: { path: anyOf(host) },
      to: { path: anyOf(engine), pathNot: '^src/engine/(io/(outputGuard|atomicWrite)\\.ts$|exec/reusingAllocator\\.ts$|runs/|reportExport/)' },
    },
    {
      name: 'host-not-entry-points',
      severity: 'error',
      comment: 'The host talks to the analyzer process through the protocol, not by importing the CLI or the process.',
      from: { path: anyOf(host) },
      to: { path: anyOf(entryPoints) },
    },
    {
      name: 'protocol-is-a-leaf',
      severity: 'error',
      comment: 'The protocol (types and validators shared by host, analyzer and webview) imports nothing of the project but itself.',
      from: { path: anyOf(protocol) },
      to: { path: '^(src|webview)/', pathNot: anyOf(protocol) },
    },
    {
      name: 'webview-only-protocol',
      severity: 'error',
      comment: 'The webview runs in the browser: of the extension it may import only the protocol.',
      from: { path: '^webview/' },
      to: { path: '^src/', pathNot: anyOf(protocol) },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    parser: 'swc',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '^dist/' },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
