import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Browser } from 'playwright-core';
import { writeExampleRun } from '../../scripts/exampleRun';
import type { TrajectoryReport } from '../../src/protocol/trajectory';
import { isFromWebviewMessage } from '../../src/protocol/webviewProtocol';
import { findTrainingRun } from '../../src/engine/trajectory/findRun';
import { runTrajectory } from '../../src/engine/trajectory/runTrajectory';
import { formatNumber } from '../../webview/summaryRows';
import {
  canvasInk,
  chromiumPath,
  cspViolations,
  inPage,
  launchChromium,
  openWebview,
  postedMessages,
  postToWebview,
  repoRoot,
  screenshotDir,
  startWebviewServer,
  waitForPosted,
  type OpenedWebview,
  type WebviewServer,
} from './webviewHarness';

// Drives the built webview's training-run page in headless Chromium with the host's CSP.

const runCharts = ['run-lambda', 'run-trace', 'run-sharpness', 'run-loss', 'run-accuracy'] as const;
const missing = !fs.existsSync(chromiumPath) ? `${chromiumPath} is not installed` : !fs.existsSync(path.join(repoRoot, 'dist', 'webview.js')) ? 'dist/webview.js is not built' : false;
if (missing && process.env.CI) throw new Error(`training-run webview tests cannot run in CI: ${missing}`);

describe('training-run webview', { skip: missing, timeout: 180_000 }, () => {
  let trajectory: TrajectoryReport;
  let folder: string;
  let server: WebviewServer;
  let browser: Browser;
  const opened: OpenedWebview[] = [];

  before(async () => {
    folder = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-run-view-')), 'run');
    await writeExampleRun(folder, { steps: 60, checkpointEvery: 20 });
    const { series } = await findTrainingRun([folder]);
    const request = { data: path.join(folder, 'train.csv'), metrics: ['loss', 'eigenvalues', 'trace', 'sharpness', 'invariant'] as const, settings: { eigenvalues: { count: 1 }, trace: { samples: 4 }, sharpness: { iterations: 3, restarts: 1 } }, seed: 0 };
    [trajectory, server, browser] = await Promise.all([runTrajectory({ series, request, testData: path.join(folder, 'test.csv') }), startWebviewServer(), launchChromium()]);
  });

  after(async () => {
    for (const o of opened) await o.close();
    await browser?.close();
    await server?.close();
    if (folder) fs.rmSync(path.dirname(folder), { recursive: true, force: true });
  });

  test('draws every series against step, the 2/η line caption, the τ table, and exports', async () => {
    const o = await openWebview(browser, server, { view: 'trajectory' });
    opened.push(o);
    await waitForPosted(o.page, 'trajectory/ready');
    await postToWebview(o.page, { type: 'trajectory/show', trajectory, running: false });
    await o.page.waitForSelector('[data-chart="run-accuracy"] canvas');
    for (const id of runCharts) {
      const ink = await canvasInk(o.page, id);
      assert.ok(ink && ink.width > 100 && ink.height > 100 && ink.colours >= 3 && ink.inked > 0.01, `chart ${id} looks blank: ${JSON.stringify(ink)}`);
    }
    assert.match((await o.page.textContent('[data-chart="run-lambda"] .caption')) ?? '', new RegExp(`2/η = ${formatNumber(2 / 0.3).replace('.', '\\.')}`));
    for (const c of trajectory.summary.correlations.filter((c) => c.points > 0)) {
      const cells = await o.page.locator(`tr[data-measure="${c.measure}"] td`).allTextContents();
      assert.deepEqual(cells, [c.invariant ? 'yes' : 'no', ...[c.tauStep, c.tauLossGap, c.tauAccuracyGap].map((v) => (v === null ? '—' : v.toFixed(3)))]);
    }
    // Clicking a λ₁ point asks for that checkpoint's report: the last one (step 60), the right-most blue.
    const point = await inPage<{ x: number; y: number } | null>(o.page, `(() => {
      const canvas = document.querySelector('[data-chart="run-lambda"] canvas');
      const { data, width, height } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
      const blue = (x, y) => { const o = 4 * (y * width + x); return Math.abs(data[o] - 55) < 30 && Math.abs(data[o + 1] - 148) < 30 && data[o + 2] > 220; };
      const columns = [];
      for (let x = 0; x < width; x++) for (let y = 0; y < height; y++) if (blue(x, y)) { columns.push(x); break; }
      const x = columns[columns.length - 1] - 3;
      const ys = [];
      for (let y = 0; y < height; y++) if (blue(x, y)) ys.push(y);
      if (ys.length === 0) return null;
      const box = canvas.getBoundingClientRect();
      return { x: box.left + x * box.width / width, y: box.top + (ys.reduce((a, b) => a + b, 0) / ys.length) * box.height / height };
    })()`);
    assert.ok(point, 'no λ₁ point found at step 60 on the chart');
    await o.page.mouse.click(point.x, point.y);
    await o.page.waitForTimeout(300);
    assert.deepEqual((await postedMessages(o.page)).find((m) => m.type === 'trajectory/openPoint'), { type: 'trajectory/openPoint', step: 60 }, `clicked at ${JSON.stringify(point)}`);
    await o.page.getByRole('button', { name: 'Export CSV' }).click();
    await o.page.locator('[data-chart="run-lambda"] button[data-export-chart]').click();
    const posted = await postedMessages(o.page);
    assert.ok(posted.every((m) => isFromWebviewMessage(m)), 'every posted message passes the host validator');
    assert.deepEqual(posted.map((m) => m.type), ['trajectory/ready', 'trajectory/openPoint', 'trajectory/export', 'report/exportChart']);
    await o.page.screenshot({ path: path.join(screenshotDir(), 'training-run-dark.png'), fullPage: true });
    // Survives a reload from saved state, and asks the host again.
    await o.page.reload();
    await o.page.waitForSelector('[data-chart="run-lambda"] canvas');
    assert.deepEqual((await postedMessages(o.page)).map((m) => m.type), ['trajectory/ready']);
    assert.deepEqual(o.errors, []);
    assert.deepEqual(await cspViolations(o.page), []);
  });

  test('while running: pending points, disabled exports, progress with Cancel', async () => {
    const o = await openWebview(browser, server, { view: 'trajectory' });
    opened.push(o);
    await waitForPosted(o.page, 'trajectory/ready');
    const partial: TrajectoryReport = { ...trajectory, points: trajectory.points.map((p, i) => (i === 0 ? p : { step: p.step, checkpoint: p.checkpoint, status: 'pending' })), summary: { ...trajectory.summary, analyzed: 1, pending: trajectory.points.length - 1 } };
    await postToWebview(o.page, { type: 'trajectory/show', trajectory: partial, running: true });
    await postToWebview(o.page, { type: 'report/progress', progress: { stage: 'setup', fraction: 0.4, message: 'step 20 (2/4)' } });
    await o.page.waitForSelector('.progress-box');
    assert.match((await o.page.textContent('.meta')) ?? '', /1 analyzed, 3 to go/);
    assert.equal(await inPage<boolean>(o.page, `[...document.querySelectorAll('button')].find((b) => b.textContent === 'Export JSON').disabled`), true);
    await o.page.getByRole('button', { name: 'Cancel' }).click();
    assert.deepEqual((await postedMessages(o.page)).map((m) => m.type), ['trajectory/ready', 'report/cancel']);
    assert.deepEqual(o.errors, []);
  });
});
