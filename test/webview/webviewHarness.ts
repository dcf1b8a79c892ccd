import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FlatnessReport, WeightsReport } from '../../src/protocol/report';
import type { Equivalence, ToWebviewMessage } from '../../src/protocol/webviewProtocol';

/**
 * Runs the built webview (dist/webview.js + media/report.css) in headless Chromium inside a page
 * shaped like VS Code's: the host's CSP (with a fixed nonce), a fake `acquireVsCodeApi` that records
 * posted messages and keeps state in sessionStorage (so it survives a reload, as VS Code's does), and
 * theme variables on `body.vscode-dark` / `body.vscode-light`.
 */

export const repoRoot = path.join(__dirname, '..', '..');
const cli = path.join(repoRoot, 'dist', 'cli.js');
const example = path.join(repoRoot, 'examples', 'digits-mlp');
const nonce = 'dGVzdC1ub25jZS0xMjM0NQ==';

export const chromiumPath = '/usr/bin/chromium';

function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`flatness ${args.join(' ')} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export interface ExampleReports {
  readonly dir: string;
  readonly original: FlatnessReport;
  /** The same network rescaled to a 10× larger Hessian trace: the same function. */
  readonly sharpened: FlatnessReport;
  readonly equivalence: Equivalence;
  /** A PyTorch state dict analyzed without its architecture: tensor statistics only. */
  readonly weightsOnly: WeightsReport;
}

/** Analyzes the digits example and a sharpened equivalent (300 samples, ~6 s), writing the JSON into a temp dir. */
export async function generateExampleReports(): Promise<ExampleReports> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-webview-reports-'));
  const data = ['--data', path.join(example, 'digits.csv.gz'), '--samples', '300', '--quiet'];
  const sharpModel = path.join(dir, 'model.sharp-x10.json');
  const stateDict = path.join(dir, 'state.pt');
  fs.copyFileSync(path.join(repoRoot, 'test', 'fixtures', 'weights', 'mlp.pt'), stateDict);
  await runCli(['rescale', path.join(example, 'model.json'), '--sharpen', '10', '--out', sharpModel, '--json', path.join(dir, 'rescale.json'), ...data]);
  await Promise.all([
    runCli(['analyze', path.join(example, 'model.json'), '--json', path.join(dir, 'original.json'), ...data]),
    runCli(['analyze', sharpModel, '--json', path.join(dir, 'sharpened.json'), ...data]),
    runCli(['analyze', stateDict, '--json', path.join(dir, 'weights.json'), '--quiet']),
  ]);
  const read = <T>(name: string): T => JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as T;
  const rescale = read<{ maxOutputDeviation: number; data: { samples: number } }>('rescale.json');
  return {
    dir,
    original: read<FlatnessReport>('original.json'),
    sharpened: read<FlatnessReport>('sharpened.json'),
    equivalence: { a: 0, b: 1, maxOutputDeviation: rescale.maxOutputDeviation, samples: rescale.data.samples },
    weightsOnly: read<WeightsReport>('weights.json'),
  };
}

/** VS Code's Dark Modern / Light Modern values of the variables the webview reads. */
const themeCss = `
body.vscode-dark {
  --vscode-font-family: system-ui, "Segoe UI", sans-serif; --vscode-font-size: 13px; --vscode-editor-font-family: monospace;
  --vscode-foreground: #cccccc; --vscode-descriptionForeground: #9d9d9d; --vscode-editor-background: #1f1f1f;
  --vscode-panel-border: #2b2b2b; --vscode-charts-blue: #3794ff; --vscode-charts-red: #f14c4c; --vscode-charts-green: #89d185;
  --vscode-charts-orange: #d18616; --vscode-charts-purple: #b180d7; --vscode-charts-yellow: #cca700;
  --vscode-button-background: #0078d4; --vscode-button-foreground: #ffffff; --vscode-button-secondaryBackground: #313131;
  --vscode-button-secondaryForeground: #cccccc; --vscode-badge-background: #616161; --vscode-badge-foreground: #f8f8f8;
  --vscode-editor-findMatchHighlightBackground: rgba(234, 92, 0, 0.33); --vscode-focusBorder: #0078d4;
}
body.vscode-light {
  --vscode-font-family: system-ui, "Segoe UI", sans-serif; --vscode-font-size: 13px; --vscode-editor-font-family: monospace;
  --vscode-foreground: #3b3b3b; --vscode-descriptionForeground: #717171; --vscode-editor-background: #ffffff;
  --vscode-panel-border: #e5e5e5; --vscode-charts-blue: #1a85ff; --vscode-charts-red: #e51400; --vscode-charts-green: #388a34;
  --vscode-charts-orange: #d18616; --vscode-charts-purple: #652d90; --vscode-charts-yellow: #bf8803;
  --vscode-button-background: #005fb8; --vscode-button-foreground: #ffffff; --vscode-button-secondaryBackground: #e5e5e5;
  --vscode-button-secondaryForeground: #3b3b3b; --vscode-badge-background: #cccccc; --vscode-badge-foreground: #3b3b3b;
  --vscode-editor-findMatchHighlightBackground: rgba(234, 92, 0, 0.33); --vscode-focusBorder: #005fb8;
}`;

function pageHtml(origin: string, view: 'report' | 'compare' | 'trajectory', theme: 'dark' | 'light'): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${origin} data:; style-src ${origin}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${origin}/theme.css">
<link rel="stylesheet" href="${origin}/media/report.css">
<title>Flatness report</title>
<script nonce="${nonce}">
  window.__posted = [];
  window.__cspViolations = [];
  document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
  let acquired = false;
  window.acquireVsCodeApi = () => {
    if (acquired) throw new Error('acquireVsCodeApi called twice');
    acquired = true;
    return {
      postMessage: (message) => window.__posted.push(JSON.parse(JSON.stringify(message))),
      setState: (state) => sessionStorage.setItem('vscodeState', JSON.stringify(state)),
      getState: () => JSON.parse(sessionStorage.getItem('vscodeState') ?? 'null') ?? undefined,
    };
  };
</script>
</head>
<body class="vscode-${theme}" data-view="${view}">
<main id="report"><p class="muted">Waiting for the report…</p></main>
<script nonce="${nonce}" src="${origin}/dist/webview.js"></script>
</body>
</html>`;
}

export interface WebviewServer {
  readonly origin: string;
  url(view: 'report' | 'compare' | 'trajectory', theme?: 'dark' | 'light'): string;
  close(): Promise<void>;
}

/** Serves the page, the theme, dist/webview.js and media/report.css (nothing else) on 127.0.0.1. */
export async function startWebviewServer(): Promise<WebviewServer> {
  const files: Record<string, { file: string; type: string }> = {
    '/dist/webview.js': { file: path.join(repoRoot, 'dist', 'webview.js'), type: 'text/javascript' },
    '/media/report.css': { file: path.join(repoRoot, 'media', 'report.css'), type: 'text/css' },
  };
  let origin = '';
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', origin);
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      response.end(body);
    };
    if (url.pathname === '/page.html') {
      const asked = url.searchParams.get('view');
      const view = asked === 'compare' || asked === 'trajectory' ? asked : 'report';
      const theme = url.searchParams.get('theme') === 'light' ? 'light' : 'dark';
      return send(200, 'text/html; charset=utf-8', pageHtml(origin, view, theme));
    }
    // Chromium asks every new origin for a favicon; VS Code's webviews have none either.
    if (url.pathname === '/favicon.ico') return send(204, 'image/x-icon', '');
    if (url.pathname === '/theme.css') return send(200, 'text/css', themeCss);
    const entry = files[url.pathname];
    if (!entry) return send(404, 'text/plain', 'not found');
    return send(200, entry.type, fs.readFileSync(entry.file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    url: (view, theme = 'dark') => `${origin}/page.html?view=${view}&theme=${theme}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface OpenedWebview {
  readonly page: Page;
  /** Console errors and uncaught exceptions seen so far. */
  readonly errors: string[];
  close(): Promise<void>;
}

export async function openWebview(browser: Browser, server: WebviewServer, options: { view: 'report' | 'compare' | 'trajectory'; theme?: 'dark' | 'light'; width?: number; height?: number }): Promise<OpenedWebview> {
  const context = await browser.newContext({ viewport: { width: options.width ?? 1400, height: options.height ?? 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    // Errors only: Chromium warns when a test reads a canvas back more than once (willReadFrequently).
    if (message.type() === 'error') errors.push(`console.${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  await page.goto(server.url(options.view, options.theme));
  return { page, errors, close: () => context.close() };
}

// In-page code is written as JavaScript strings: the root tsconfig type-checks test/ without the DOM
// library (so nothing in src/ can use it by accident), and tsx's keepNames helper `__name` would not
// exist in the page anyway.

/** Evaluates a JavaScript expression in the page. */
export function inPage<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate<T>(expression);
}

/** What the webview posted to the host so far. */
export function postedMessages(page: Page): Promise<{ type: string; [key: string]: unknown }[]> {
  return inPage(page, 'window.__posted');
}

export function cspViolations(page: Page): Promise<string[]> {
  return inPage(page, 'window.__cspViolations');
}

/** Waits until the webview has posted a message of this type (n times in all). */
export async function waitForPosted(page: Page, type: string, count = 1): Promise<void> {
  await page.waitForFunction(`window.__posted.filter((m) => m.type === ${JSON.stringify(type)}).length >= ${count}`);
}

/** Posts a message to the webview the way VS Code's host does (a window `message` event). */
export async function postToWebview(page: Page, message: ToWebviewMessage): Promise<void> {
  await inPage(page, `window.postMessage(${JSON.stringify(message)}, '*')`);
}

export interface CanvasInk {
  readonly width: number;
  readonly height: number;
  /** Distinct colours among the sampled pixels. */
  readonly colours: number;
  /** Fraction of sampled pixels that differ from the top-left pixel (the background). */
  readonly inked: number;
}

/** Samples every third pixel in both directions of the chart canvas in the card `chartId`. */
export function canvasInk(page: Page, chartId: string): Promise<CanvasInk | null> {
  return inPage(page, `(() => {
    const canvas = document.querySelector('[data-chart=${JSON.stringify(chartId)}] canvas');
    const context = canvas && canvas.getContext('2d');
    if (!context || canvas.width === 0 || canvas.height === 0) return null;
    const { data } = context.getImageData(0, 0, canvas.width, canvas.height);
    const background = data.slice(0, 4).join();
    const colours = new Set();
    let inked = 0;
    let samples = 0;
    for (let y = 0; y < canvas.height; y += 3) {
      for (let x = 0; x < canvas.width; x += 3) {
        const o = 4 * (y * canvas.width + x);
        const colour = data.slice(o, o + 4).join();
        colours.add(colour);
        if (colour !== background) inked++;
        samples++;
      }
    }
    return { width: canvas.width, height: canvas.height, colours: colours.size, inked: inked / samples };
  })()`);
}

/** The [r, g, b] of one pixel of a chart's canvas. */
export function canvasPixel(page: Page, chartId: string, x: number, y: number): Promise<number[]> {
  return inPage(page, `Array.from(document.querySelector('[data-chart=${JSON.stringify(chartId)}] canvas').getContext('2d').getImageData(${x}, ${y}, 1, 1).data.slice(0, 3))`);
}

/** A folder for screenshots that outlives the test run (its path is printed). */
export function screenshotDir(): string {
  const dir = process.env.FLATNESS_WEBVIEW_SCREENSHOTS ?? path.join(os.tmpdir(), 'flatness-webview-screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
