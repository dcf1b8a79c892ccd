import { execFile } from 'node:child_process';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { standaloneReportHtml } from '../../src/engine/reportExport/standaloneHtml';
import type { FlatnessReport } from '../../src/protocol/report';
import { formatNumber } from '../../webview/summaryRows';

const repoRoot = path.join(__dirname, '..', '..');
const cli = path.join(repoRoot, 'dist', 'cli.js');
const example = path.join(repoRoot, 'examples', 'digits-mlp');
const chromiumPath = '/usr/bin/chromium';
const missing = !fs.existsSync(chromiumPath) ? `${chromiumPath} is not installed` : !fs.existsSync(cli) || !fs.existsSync(path.join(repoRoot, 'dist', 'webview.js')) ? 'dist/ is not built (npm run build)' : false;
if (missing && process.env.CI) throw new Error(`HTML export tests cannot run in CI: ${missing}`);

function runCli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 64 << 20, timeout: 170_000 }, (error, stdout, stderr) => (error ? reject(new Error(`flatness ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

describe('standalone HTML report', () => {
  it('keeps a report whose text holds </script> and </style> inside its own elements', () => {
    const report = { kind: 'weights', tool: { version: '0' }, checkpoint: { path: '/x/</script><script>alert(1)</script>.pt' } } as unknown as FlatnessReport;
    const html = standaloneReportHtml(report, 'const s = "</script>";', 'p::after { content: "</style>"; }');
    assert.equal(html.match(/<\/script>/g)?.length, 2, 'only the two script elements close');
    assert.equal(html.match(/<\/style>/g)?.length, 1, 'only the style element closes');
    assert.ok(!html.includes('<script>alert'), 'the report JSON cannot open an element');
  });
});

describe('flatness analyze --html on a rescaled checkpoint', { skip: missing, timeout: 240_000 }, () => {
  let dir: string;
  let browser: Browser;
  let rescale: { maxOutputDeviation: number; data: { samples: number } };
  let report: FlatnessReport;
  let html: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-html-'));
    for (const f of ['model.json', 'model.weights.bin', 'digits.csv.gz']) fs.copyFileSync(path.join(example, f), path.join(dir, f));
    const data = ['--data', path.join(dir, 'digits.csv.gz'), '--samples', '100', '--quiet'];
    browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    await runCli(['rescale', path.join(dir, 'model.json'), '--flatten', '--json', path.join(dir, 'rescale.json'), ...data]);
    rescale = JSON.parse(fs.readFileSync(path.join(dir, 'rescale.json'), 'utf8')) as typeof rescale;
    html = path.join(dir, 'flat report.html');
    await runCli(['analyze', path.join(dir, 'model.flat.json'), '--metrics', 'eigenvalues,trace,density', '--top-k', '3', '--json', path.join(dir, 'flat.json'), '--html', html, ...data]);
    report = JSON.parse(fs.readFileSync(path.join(dir, 'flat.json'), 'utf8')) as FlatnessReport;
  });

  after(async () => {
    await browser?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores the data set relative to the rescaled checkpoint and reports where it came from', () => {
    const stored = (JSON.parse(fs.readFileSync(path.join(dir, 'model.flat.json'), 'utf8')) as { flatnessLens: { data: { source: string } } }).flatnessLens;
    assert.equal(stored.data.source, 'digits.csv.gz');
    const p = report.checkpoint.provenance;
    assert.ok(p, 'the report has a provenance section');
    assert.equal(p.source, 'model.json');
    assert.equal(p.mode, 'flatten');
    assert.equal(p.maxOutputDeviation, rescale.maxOutputDeviation);
    assert.equal(p.samples, rescale.data.samples);
    assert.ok(p.factors.length >= 2 && p.factors.every((f) => f.alpha === undefined || f.alpha > 0), JSON.stringify(p.factors));
    assert.equal(report.checkpoint.layerSummary, '3 Dense layers (6 weight tensors)');
  });

  it('shows the report offline in a browser: numbers, provenance, drawn charts, no editor buttons', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    const requests: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    await page.route('**', (route) => {
      requests.push(route.request().url());
      return route.request().url().startsWith('file:') ? route.continue() : route.abort();
    });
    await page.goto(`file://${html}`);
    await page.locator('table.summary').waitFor({ timeout: 20_000 });
    const lambda = await page.locator('tr[data-metric] td.value').first().innerText();
    const rows = await page.locator('tr[data-metric]').allInnerTexts();
    assert.ok(rows.some((r) => r.includes(formatNumber(report.hessian.topEigenvalues![0]))), `λ₁ ${formatNumber(report.hessian.topEigenvalues![0])} not in ${rows.join(' | ')} (first value ${lambda})`);
    assert.ok(rows.some((r) => r.includes(formatNumber(report.hessian.trace!.estimate))), 'the trace is shown');
    const provenance = await page.locator('section.provenance').innerText();
    assert.match(provenance, /Equivalent to model\.json/);
    assert.ok(provenance.includes(`max |Δ output| = ${rescale.maxOutputDeviation.toExponential(1)}`), provenance);
    assert.ok(provenance.includes(`on ${rescale.data.samples} samples`), provenance);
    assert.equal(await page.locator('button').filter({ hasText: /Export|Re-run|Rescale|Open the report/ }).count(), 0, 'no button that needs the editor');
    const canvases = page.locator('canvas');
    assert.ok((await canvases.count()) >= 2);
    // A PNG of the first chart that is not a blank canvas: its data URL is much longer than an empty one's.
    const dataUrl = await canvases.first().evaluate((c) => (c as unknown as { toDataURL(type: string): string }).toDataURL('image/png'));
    const painted = dataUrl.length;
    assert.ok(painted > 5000, `the first chart's PNG is only ${painted} characters long: nothing drawn`);
    assert.deepEqual(errors, []);
    assert.deepEqual(requests.filter((u) => !u.startsWith('file:')), [], 'the page asks nothing of the network');
    await page.close();
  });
});
