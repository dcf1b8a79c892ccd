import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { isFromWebviewMessage } from '../../src/protocol/webviewProtocol';
import { formatNumber } from '../../webview/summaryRows';
import {
  canvasInk,
  canvasPixel,
  chromiumPath,
  cspViolations,
  generateExampleReports,
  inPage,
  launchChromium,
  openWebview,
  postedMessages,
  postToWebview,
  repoRoot,
  screenshotDir,
  startWebviewServer,
  waitForPosted,
  type ExampleReports,
  type OpenedWebview,
  type WebviewServer,
} from './webviewHarness';

// Drives the built webview (run `node esbuild.mjs` first) in headless Chromium with the host's CSP.

const reportCharts = ['eigenvalues', 'density', 'slices', 'surface', 'block-traces', 'tensor-norms', 'stable-ranks', 'alpha-orbit', 'volume'] as const;
const compareCharts = ['compare-eigenvalues', 'compare-slices'] as const;
// Skipped on a machine without Debian's chromium (apt-get install chromium), except in CI, which installs it.
const missing = !fs.existsSync(chromiumPath) ? `${chromiumPath} is not installed` : !fs.existsSync(path.join(repoRoot, 'dist', 'webview.js')) ? 'dist/webview.js is not built' : false;
if (missing && process.env.CI) throw new Error(`report webview tests cannot run in CI: ${missing}`);
const skip = missing;

describe('report webview', { skip, timeout: 180_000 }, () => {
  let reports: ExampleReports;
  let server: WebviewServer;
  let browser: Browser;
  let shots: string;
  const opened: OpenedWebview[] = [];

  before(async () => {
    [reports, server, browser] = await Promise.all([generateExampleReports(), startWebviewServer(), launchChromium()]);
    shots = screenshotDir();
  });

  after(async () => {
    for (const o of opened) await o.close();
    await browser?.close();
    await server?.close();
    if (reports) fs.rmSync(reports.dir, { recursive: true, force: true });
    if (shots) console.log(`webview screenshots: ${shots}`);
  });

  async function open(options: Parameters<typeof openWebview>[2]): Promise<OpenedWebview> {
    const o = await openWebview(browser, server, options);
    opened.push(o);
    return o;
  }

  async function showReport(page: Page, stale = false): Promise<void> {
    await waitForPosted(page, 'report/ready');
    await postToWebview(page, { type: 'report/show', report: reports.original, stale });
    await page.waitForSelector('[data-chart="volume"] canvas');
  }

  async function assertChartsDrawn(page: Page, ids: readonly string[]): Promise<void> {
    for (const id of ids) {
      const ink = await canvasInk(page, id);
      assert.ok(ink, `chart ${id}: no canvas`);
      assert.ok(ink.width > 100 && ink.height > 100, `chart ${id}: canvas is ${ink.width}×${ink.height}`);
      assert.ok(ink.colours >= 3 && ink.inked > 0.01, `chart ${id} looks blank: ${JSON.stringify(ink)}`);
    }
  }

  async function assertClean(o: OpenedWebview): Promise<void> {
    assert.deepEqual(o.errors, [], 'console errors or page errors');
    assert.deepEqual(await cspViolations(o.page), [], 'CSP violations');
  }

  async function assertNoHorizontalOverflow(page: Page): Promise<void> {
    const { scrollWidth, clientWidth } = await inPage<{ scrollWidth: number; clientWidth: number }>(page, '({ scrollWidth: document.documentElement.scrollWidth, clientWidth: document.documentElement.clientWidth })');
    assert.ok(scrollWidth <= clientWidth, `page overflows horizontally: ${scrollWidth} > ${clientWidth}`);
  }

  test('renders the summary with the top eigenvalue and error bars, and draws every chart', async () => {
    const o = await open({ view: 'report' });
    await showReport(o.page);
    const topEigenvalue = reports.original.hessian.topEigenvalues![0]!;
    const lambdaMax = await o.page.textContent('tr[data-metric="lambda-max"] td.value');
    assert.ok(lambdaMax?.startsWith(formatNumber(topEigenvalue)), `λ_max cell: ${lambdaMax}, expected ${formatNumber(topEigenvalue)} first`);
    assert.match(lambdaMax ?? '', /±/);
    const trace = await o.page.textContent('tr[data-metric="trace"] td.value');
    // An exact trace (a piecewise-linear network on ONNX Runtime) has no error bar; an estimate has its standard error.
    const expectedTrace = reports.original.hessian.trace!;
    assert.equal(trace, expectedTrace.method === 'exact' ? formatNumber(expectedTrace.estimate) : `${formatNumber(expectedTrace.estimate)}\u00a0±\u00a0${formatNumber(expectedTrace.stderr, 2)}`);
    const volume = reports.original.volumeFlatness!;
    assert.equal(await o.page.textContent('tr[data-metric="volume-log"] td.value'), `log-volume ${formatNumber(volume.logVolume)}\u00a0±\u00a0${formatNumber(volume.logVolumeStderr!, 2)}`);
    assert.match(await o.page.textContent('tr[data-metric="epsilon-sharpness"] td.definition') ?? '', /best of \d+ restarts, a lower bound; (the restarts reached|every restart reached)/);
    assert.equal(await o.page.locator('tr[data-metric] td.definition').count(), await o.page.locator('tr[data-metric]').count(), 'every row has a definition');
    assert.equal(await o.page.locator('.stale-banner').count(), 0);
    await assertChartsDrawn(o.page, reportCharts);
    assert.match(await o.page.textContent('[data-chart="alpha-orbit"] .caption') ?? '', /same function/);
    await assertNoHorizontalOverflow(o.page);
    await o.page.screenshot({ path: path.join(shots, 'report-dark-wide.png'), fullPage: true });
    await assertClean(o);
  });

  test('a weights-only report: what is missing, the tensor table and the norm charts', async () => {
    const o = await open({ view: 'report' });
    await waitForPosted(o.page, 'report/ready');
    await postToWebview(o.page, { type: 'report/show', report: reports.weightsOnly, stale: false });
    await o.page.waitForSelector('[data-chart="tensor-norms"] canvas');
    assert.match((await o.page.textContent('.architecture-missing')) ?? '', /holds weights only.*architecture/);
    const first = reports.weightsOnly.tensors[0]!;
    assert.equal(await o.page.locator('table.tensors tbody tr').count(), reports.weightsOnly.tensors.length);
    const cells = await o.page.locator(`tr[data-tensor="${first.name}"] td`).allTextContents();
    assert.equal(cells[0], `[${first.shape.join(', ')}]`);
    assert.equal(cells[6], formatNumber(first.matrix!.spectralNorm));
    assert.equal(await o.page.locator('tr[data-metric]').count(), 0, 'no Hessian metrics are shown');
    assert.equal(await o.page.getByRole('button', { name: 'Rescale to Flatten' }).count(), 0, 'no rescale without an architecture');
    await assertChartsDrawn(o.page, ['tensor-norms', 'stable-ranks']);
    await o.page.getByRole('button', { name: 'Export CSV' }).click();
    assert.ok((await postedMessages(o.page)).some((m) => m.type === 'report/export'));
    await assertNoHorizontalOverflow(o.page);
    await o.page.screenshot({ path: path.join(shots, 'weights-only.png'), fullPage: true });
    await assertClean(o);
  });

  test('buttons post their messages; Export PNG posts a PNG data URL', async () => {
    const o = await open({ view: 'report' });
    await showReport(o.page);
    await o.page.click('[data-export-chart="eigenvalues"]');
    await o.page.click('[data-export-chart="surface"]');
    await o.page.getByRole('button', { name: 'Re-run' }).click();
    await o.page.getByRole('button', { name: 'Rescale to Flatten' }).click();
    await o.page.getByRole('button', { name: 'Rescale to Sharpen' }).click();
    await o.page.getByRole('button', { name: 'Export JSON' }).click();
    await o.page.getByRole('button', { name: 'Export CSV' }).click();
    const posted = await postedMessages(o.page);
    for (const message of posted) assert.ok(isFromWebviewMessage(message), `the host would reject ${JSON.stringify(message).slice(0, 200)}`);
    const exports = posted.filter((m) => m.type === 'report/exportChart');
    assert.deepEqual(exports.map((m) => m.chart), ['eigenvalues', 'surface']);
    for (const m of exports) {
      assert.match(String(m.dataUrl), /^data:image\/png;base64,/);
      assert.ok(String(m.dataUrl).length > 5000, 'the PNG has content');
    }
    assert.deepEqual(posted.filter((m) => m.type !== 'report/exportChart').map((m) => JSON.stringify(m)), [
      '{"type":"report/ready"}',
      '{"type":"report/rerun"}',
      '{"type":"report/rescale","mode":"flatten"}',
      '{"type":"report/rescale","mode":"sharpen"}',
      '{"type":"report/export","format":"json"}',
      '{"type":"report/export","format":"csv"}',
    ]);
    await assertClean(o);
  });

  test('progress, failure and the stale banner', async () => {
    const o = await open({ view: 'report', width: 700 });
    await waitForPosted(o.page, 'report/ready');
    await postToWebview(o.page, { type: 'report/progress', progress: { stage: 'trace', fraction: 0.42, message: 'Hutchinson probe 12 of 30' } });
    await o.page.waitForSelector('progress');
    assert.equal(await o.page.textContent('.progress-label'), 'trace: Hutchinson probe 12 of 30 (42%)');
    assert.equal(await o.page.locator('progress').getAttribute('value'), '0.42');
    await postToWebview(o.page, { type: 'report/failed', message: 'model.json: layer dense_9 has no weights' });
    await o.page.waitForSelector('.error-box');
    assert.match(await o.page.textContent('.error-box') ?? '', /dense_9 has no weights/);
    assert.equal(await o.page.locator('progress').count(), 0);
    await postToWebview(o.page, { type: 'report/show', report: reports.original, stale: true });
    await o.page.waitForSelector('.stale-banner');
    assert.match(await o.page.textContent('.stale-banner') ?? '', /the file changed since this analysis/i);
    assert.equal(await o.page.locator('.error-box').count(), 0, 'a new report clears the failure');
    await o.page.waitForSelector('[data-chart="volume"] canvas');
    await postToWebview(o.page, { type: 'report/progress', progress: { stage: 'eigenvalues', fraction: 0.1, message: 'Hessian top eigenvalues (Lanczos)', detail: 'Lanczos step 6 of at most 60' } });
    await o.page.waitForSelector('progress');
    assert.equal(await o.page.textContent('.progress-label'), 'eigenvalues: Hessian top eigenvalues (Lanczos): Lanczos step 6 of at most 60 (10%)');
    await assertNoHorizontalOverflow(o.page);
    await o.page.screenshot({ path: path.join(shots, 'report-dark-narrow-stale-progress.png'), fullPage: true });
    await o.page.screenshot({ path: path.join(shots, 'report-dark-narrow-top.png') });
    await assertClean(o);
  });

  test('re-renders from saved state after a reload, and redraws charts on a theme change', async () => {
    const o = await open({ view: 'report' });
    await showReport(o.page);
    await o.page.reload();
    await o.page.waitForSelector('[data-chart="volume"] canvas');
    assert.ok((await o.page.textContent('tr[data-metric="lambda-max"] td.value'))?.startsWith(formatNumber(reports.original.hessian.topEigenvalues![0]!)));
    await assertChartsDrawn(o.page, reportCharts);
    assert.deepEqual((await postedMessages(o.page)).map((m) => m.type), ['report/ready'], 'the reloaded page asks for the report again');

    // The charts' background is the theme's editor background: #1f1f1f dark, #ffffff light.
    assert.deepEqual(await canvasPixel(o.page, 'eigenvalues', 1, 1), [0x1f, 0x1f, 0x1f]);
    await inPage(o.page, "document.body.className = 'vscode-light'");
    await o.page.waitForFunction(`document.querySelector('[data-chart="eigenvalues"] canvas').getContext('2d').getImageData(1, 1, 1, 1).data[0] === 255`);
    assert.deepEqual(await canvasPixel(o.page, 'surface', 1, 1), [255, 255, 255]);
    await assertChartsDrawn(o.page, reportCharts);
    await o.page.screenshot({ path: path.join(shots, 'report-light-after-reload.png'), fullPage: true });
    await assertClean(o);
  });

  test('a data-free report with some metrics left out draws only the charts it has data for', async () => {
    const o = await open({ view: 'report', width: 1000 });
    await waitForPosted(o.page, 'report/ready');
    const partial = {
      ...reports.original,
      data: { ...reports.original.data, dataFree: true, source: 'data-free' },
      checkpoint: { ...reports.original.checkpoint, notes: ['layer dropout_1 is the identity at inference and was skipped'] },
      landscape: undefined,
      volumeFlatness: undefined,
      invariant: undefined,
    };
    await postToWebview(o.page, { type: 'report/show', report: partial, stale: false });
    await o.page.waitForSelector('[data-chart="block-traces"] canvas');
    assert.deepEqual(await o.page.locator('[data-chart]').evaluateAll((cards) => cards.map((c) => c.getAttribute('data-chart'))), ['eigenvalues', 'density', 'block-traces', 'tensor-norms', 'stable-ranks'], 'the tensor charts need no data');
    await assertChartsDrawn(o.page, ['eigenvalues', 'density', 'block-traces']);
    assert.equal(await o.page.textContent('.data-free .badge'), 'data-free');
    assert.deepEqual(await o.page.locator('.notes li').allTextContents(), ['layer dropout_1 is the identity at inference and was skipped']);
    assert.equal(await o.page.locator('tr[data-metric="fisher-rao"]').count(), 0);
    await assertClean(o);
  });

  test('compare view: one column per checkpoint, the same-function line and overlaid charts', async () => {
    const o = await open({ view: 'compare' });
    await waitForPosted(o.page, 'compare/ready');
    assert.deepEqual((await postedMessages(o.page)).map((m) => m.type), ['compare/ready']);
    await postToWebview(o.page, { type: 'compare/show', reports: [reports.original, reports.sharpened], equivalences: [reports.equivalence] });
    await o.page.waitForSelector('[data-chart="compare-slices"] canvas');
    const headers = await o.page.locator('table.compare thead th').allTextContents();
    assert.deepEqual(headers, ['Metric', 'model.json', 'model.sharp-x10.json']);
    const line = await o.page.textContent('.equivalence');
    const deviation = formatNumber(reports.equivalence.maxOutputDeviation, 2);
    assert.ok(line?.includes(`same function: max |Δ output| = ${deviation}`), line ?? '');
    assert.match(line ?? '', /model\.json and model\.sharp-x10\.json/);
    assert.match(line ?? '', /on 300 samples/);
    assert.match(line ?? '', /λ_max .* vs .*\(×\d/);
    for (const key of ['lambda-max', 'trace', 'epsilon-sharpness']) {
      assert.equal(await o.page.locator(`tr[data-metric="${key}"] td.highlight`).count(), 2, `${key} is highlighted in both columns`);
    }
    assert.equal(await o.page.locator('tr[data-metric="fisher-rao"] td.highlight').count(), 0, 'invariant measures are not highlighted');
    await assertChartsDrawn(o.page, compareCharts);
    await assertNoHorizontalOverflow(o.page);
    await o.page.screenshot({ path: path.join(shots, 'compare-dark.png'), fullPage: true });
    await o.page.reload();
    await o.page.waitForSelector('.equivalence');
    await assertChartsDrawn(o.page, compareCharts);
    await assertClean(o);
  });
});
