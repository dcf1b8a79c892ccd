import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatNumber } from '../../webview/summaryRows';
import type { FlatnessReport } from '../../src/protocol/report';
import * as os from 'node:os';
import { writeExampleRun } from '../../scripts/exampleRun';
import { workspaceSettings, writeWorkspaceSettings, type FixtureWorkspace } from './fixtureWorkspace';
import type { FrameLocator } from 'playwright-core';
import { normalize, poll, sleep, waitHidden, waitVisible, type RowInfo, type Workbench } from './workbench';

/** What every scenario can use. */
export interface ScenarioContext {
  readonly workbench: Workbench;
  readonly workspace: FixtureWorkspace;
  /** The CLI's report on the example with the workspace's data, samples and seed (the reference numbers). */
  readonly cliReport: () => Promise<FlatnessReport>;
  /** Lines for the final report: screenshots taken, timings, observations. */
  readonly note: (line: string) => void;
  /** The installed .vsix is a platform's, carrying ONNX Runtime's native binary: analyses run there, not on tfjs. */
  readonly vsixHasOnnxRuntime: boolean;
}

export interface Scenario {
  readonly id: string;
  readonly title: string;
  readonly timeoutMs: number;
  readonly run: (context: ScenarioContext) => Promise<void>;
}

const exampleRelative = 'examples/digits-mlp/model.json';
const brokenRelative = 'broken/model.json';
const analyzeTitle = 'Flatness Lens: Analyze Flatness';
const cancelTitle = 'Flatness Lens: Cancel Analysis';
export const reportTitle = (relativePath: string) => `Flatness: ${relativePath.split('/').slice(-2).join('/')}`;

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// ------------------------------------------------------------------------- shared steps

export async function openCheckpointsView(workbench: Workbench): Promise<void> {
  await workbench.openViewContainer('Flatness Lens');
  await workbench.expandView('Checkpoints');
}

/** The checkpoint row under its folder row in the Checkpoints tree (folder rows are labelled with the folder's relative path). */
export async function checkpointRow(workbench: Workbench, relativePath: string, timeoutMs: number, expected?: { what: string; test: (row: RowInfo) => boolean }): Promise<RowInfo> {
  const folder = path.posix.dirname(relativePath);
  const file = path.posix.basename(relativePath);
  const also = expected?.test ?? (() => true);
  return poll(
    `'${file}' under the folder row '${folder}' in the Checkpoints view${expected ? ` ${expected.what}` : ''}`,
    timeoutMs,
    async () => {
      await workbench.expandAllSideBarRows(3000);
      const rows = await workbench.sideBarRowInfos();
      // Unreadable files are listed under 'Not readable' by their relative path.
      const notReadable = rows.find((r) => (r.text === relativePath || r.text.startsWith(relativePath + ' ')) && also(r));
      if (notReadable) return notReadable;
      const f = rows.findIndex((r) => r.text === folder || r.text.startsWith(folder + ' ') || r.ariaLabel.startsWith(folder));
      if (f < 0) return undefined;
      for (let i = f + 1; i < rows.length && rows[i].level > rows[f].level; i++) {
        if ((rows[i].text === file || rows[i].text.startsWith(file + ' ')) && also(rows[i])) return rows[i];
      }
      return undefined;
    },
    async () => workbench.describeRows(await workbench.sideBarRowInfos()),
  );
}

/** Palette → Analyze Flatness → pick the checkpoint by its relative path. */
export async function startAnalyze(workbench: Workbench, relativePath: string): Promise<void> {
  await workbench.runCommand(analyzeTitle);
  await workbench.pickQuickItem(`the checkpoint '${relativePath}'`, (item) => item.text.includes(relativePath) || item.ariaLabel.includes(relativePath));
}

/** Waits for the analysis' progress toast; fails early, naming it, when a further quick pick asks something instead. */
export async function waitForProgress(workbench: Workbench, step: string, timeoutMs = 20_000): Promise<void> {
  await poll(
    `a progress notification (${step})`,
    timeoutMs,
    async () => ((await workbench.progressToast().count()) > 0 ? true : undefined),
    async () => {
      const prompt = await workbench.quickPickPrompt();
      const open = prompt === undefined ? '' : `; a quick pick is open instead: '${prompt}' with items ${workbench.describeRows(await workbench.quickPickItems())}`;
      return `${await workbench.describeToasts()}${open}`;
    },
  );
}

/** The report webview of a checkpoint, found by its heading (the last two path segments, as in the tab title). */
export function reportFrame(workbench: Workbench, relativePath: string, timeoutMs: number): Promise<FrameLocator> {
  return workbench.webviewWithHeading(relativePath.split('/').slice(-2).join('/'), timeoutMs);
}

/**
 * The first summary-table row whose metric cell matches: its metric and value texts. The contract
 * names the eigenvalue row 'Top eigenvalues λ'; /^Top .*eigenvalue/ also finds 'Top eigenvalue λ_max'.
 */
export async function summaryValue(frame: FrameLocator, metric: string | RegExp, timeoutMs: number): Promise<{ metric: string; value: string }> {
  // The metric cell may be a row header (th scope=row) or a td.
  const row = frame.locator('tr').filter({ has: frame.locator(':is(th, td):first-child', { hasText: metric }) });
  try {
    await waitVisible(row, `the row ${String(metric)} in the report's summary table`, timeoutMs);
  } catch (error) {
    const metrics = (await frame.locator('tr > :is(th, td):first-child').allInnerTexts().catch(() => [])).map(normalize);
    throw new Error(`${error instanceof Error ? error.message : String(error)}; the table's metrics: ${metrics.join(' | ') || '(no table)'}`);
  }
  const cells = row.first().locator(':scope > :is(th, td)');
  return { metric: normalize(await cells.nth(0).innerText()), value: normalize(await cells.nth(1).innerText()) };
}

export const eigenvalueRow = /^\s*Top .*eigenvalue/;

/** The first number of a value cell as shown ('37.59' of '37.59, 21.14, …', '169.5' of '169.5 ± 14'). */
function leadingNumberText(cell: string): string {
  return cell.split(/,\s|±/)[0].trim();
}

/** The first number of a value cell ('37.59, 21.14, …' or '169.5 ± 13.57'). */
export function firstNumber(cell: string): number {
  const match = /[-+]?\d[\d.]*(?:e[-+]?\d+)?/i.exec(cell.replace(/,(?=\d{3}\b)/g, ''));
  if (!match) throw new Error(`no number in '${cell}'`);
  return Number(match[0]);
}

/** Two screenshots of a report: its top (summary table), then scrolled to its first chart. */
export async function screenshotReport(context: ScenarioContext, frame: FrameLocator, name: string): Promise<void> {
  context.note(`screenshot ${await context.workbench.screenshot(`${name}-summary`)}`);
  const chart = frame.locator('canvas, svg');
  if ((await chart.count()) === 0) {
    context.note(`${name}: the report has no charts (no canvas or svg in the webview)`);
    return;
  }
  await chart.first().scrollIntoViewIfNeeded({ timeout: 5000 });
  await sleep(600);
  context.note(`screenshot ${await context.workbench.screenshot(`${name}-charts`)}`);
}

/** The items of the context menu `target` opens, with whether each is greyed out; closes the menu. */
async function menuItemStates(workbench: Workbench, target: import('playwright-core').Locator, screenshot?: string): Promise<{ label: string; disabled: boolean }[]> {
  await target.click({ button: 'right' });
  await sleep(400);
  const items = workbench.page.locator('.monaco-menu .action-item');
  await poll('a context menu', 10_000, async () => ((await items.count()) > 0 ? true : undefined));
  const states = await items.evaluateAll((nodes) => nodes.map((n) => ({ label: (n.textContent ?? '').trim(), disabled: n.classList.contains('disabled') })));
  if (screenshot) await workbench.screenshot(screenshot);
  await workbench.page.keyboard.press('Escape');
  return states.filter((s) => s.label !== '');
}

// ------------------------------------------------------------------------- scenarios

/**
 * Settings that make the example's analysis long enough to cancel: a trace estimated with 100000
 * probes. On ONNX Runtime this ReLU network's trace is exact and takes a moment, so the tfjs engine
 * (which estimates it) runs these.
 */
const longTraceEstimate = { 'flatnessLens.backend': 'wasm', 'flatnessLens.traceSamples': 100000, 'flatnessLens.traceTolerance': 1e-9 };

export const scenarios: Scenario[] = [
  {
    id: 'a',
    title: 'Checkpoints view lists both checkpoints with format and parameter count',
    timeoutMs: 60_000,
    async run({ workbench, note }) {
      await openCheckpointsView(workbench);
      const example = await checkpointRow(workbench, exampleRelative, 20_000, { what: "described with 'tfjs-layers' and '2,778'", test: (r) => r.text.includes('tfjs-layers') && r.text.includes('2,778') });
      note(`tree row: ${example.text}`);
      const broken = await checkpointRow(workbench, brokenRelative, 10_000);
      note(`tree row: ${broken.text}`);
      const rows = await workbench.sideBarRowInfos();
      const group = rows.findIndex((r) => r.text.startsWith('Not readable'));
      const brokenAt = rows.findIndex((r) => r.text.startsWith(brokenRelative));
      check(group >= 0 && brokenAt > group && rows[brokenAt].level > rows[group].level, `${brokenRelative} is not listed under 'Not readable': ${workbench.describeRows(rows)}`);
      check(/truncated|bytes/.test(broken.text), `the unreadable row does not give the reason: '${broken.text}'`);
      note(`screenshot ${await workbench.screenshot('a-checkpoints-tree')}`);
    },
  },
  {
    id: 'b',
    title: 'Analyze Flatness from the palette opens a report with the CLI’s numbers',
    timeoutMs: 120_000,
    async run(context) {
      const { workbench, cliReport, note } = context;
      await startAnalyze(workbench, exampleRelative);
      await waitForProgress(workbench, `analyzing ${exampleRelative}`);
      const title = reportTitle(exampleRelative);
      await workbench.waitForTab(title, 90_000);
      const frame = await reportFrame(workbench, exampleRelative, 30_000);
      const eigenvalues = await summaryValue(frame, eigenvalueRow, 30_000);
      const trace = await summaryValue(frame, 'Trace Tr H', 5000);
      const cli = await cliReport();
      const expectedLambda = formatNumber(cli.hessian.topEigenvalues?.[0]);
      const expectedTrace = formatNumber(cli.hessian.trace?.estimate);
      const shownLambda = leadingNumberText(eigenvalues.value);
      const shownTrace = leadingNumberText(trace.value);
      note(`webview: '${eigenvalues.metric}' = '${eigenvalues.value}', '${trace.metric}' = '${trace.value}'; CLI: λ₁ ${expectedLambda}, trace ${expectedTrace}`);
      if (eigenvalues.metric !== 'Top eigenvalues λ') note(`the eigenvalue row is labelled '${eigenvalues.metric}', not 'Top eigenvalues λ' as the contract says`);
      const meta = normalize(await frame.locator('p.meta').first().innerText({ timeout: 5000 }));
      note(`report's backend line: '${meta}' (the CLI's report: ${cli.tool.backend}${cli.tool.device ? `, ${cli.tool.device}, ${cli.tool.threads} threads` : ''})`);
      await screenshotReport(context, frame, 'b-report');
      const backend = / · ([a-z]+)(?: \(([a-z]+), (\d+) threads\))? backend/.exec(meta);
      check(backend, `the report does not name its backend: '${meta}'`);
      if (context.vsixHasOnnxRuntime) {
        const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
        check(backend[1] === 'onnxruntime' && backend[2] === 'cpu' && Number(backend[3]) === cores, `the platform's .vsix carries ONNX Runtime, so the analysis should run there on the CPU with ${cores} threads (every core); the report says '${backend[0].slice(3)}'`);
      } else {
        check(backend[1] === 'wasm', `the universal .vsix has no ONNX Runtime, so the analysis should fall back to tfjs-wasm; the report says '${backend[0].slice(3)}'`);
      }
      check(shownLambda === expectedLambda, `report's top eigenvalue is '${shownLambda}', the CLI's (same data, samples, seed) is '${expectedLambda}'`);
      check(shownTrace === expectedTrace, `report's trace is '${shownTrace}', the CLI's is '${expectedTrace}'`);
      await openCheckpointsView(workbench);
      const row = await checkpointRow(workbench, exampleRelative, 15_000, { what: "described with the results ('λ₁')", test: (r) => r.text.includes('λ₁') });
      note(`tree row after analysis: ${row.text}`);
    },
  },
  {
    id: 'c',
    title: 'Rescale to Flatten… writes model.flat.json with the same function and a lower trace',
    timeoutMs: 150_000,
    async run({ workbench, workspace, cliReport, note }) {
      await workbench.openExplorer();
      const row = await workbench.explorerRow(exampleRelative);
      await workbench.contextMenu(row, 'Rescale to Flatten');
      const granularity = await workbench.pickQuickItem('the granularity item containing "Per layer"', (r) => r.text.includes('Per layer'));
      note(`picked granularity: ${granularity.text}`);
      const objective = await workbench.pickQuickItem('the objective item containing "Trace"', (r) => r.text.includes('Trace'));
      note(`picked objective: ${objective.text}`);
      await workbench.explorerRow('examples/digits-mlp/model.flat.json', 90_000);
      const message = await workbench.waitForNotification('a notification saying the rescaled checkpoint computes the "same function"', (m) => m.includes('same function'), 30_000);
      note(`notification: ${message}`);
      const title = reportTitle('examples/digits-mlp/model.flat.json');
      await workbench.waitForTab(title, 90_000);
      const traceText = (await summaryValue(await reportFrame(workbench, 'examples/digits-mlp/model.flat.json', 30_000), 'Trace Tr H', 30_000)).value;
      const original = (await cliReport()).hessian.trace?.estimate;
      check(original !== undefined, 'the CLI report has no trace');
      const flat = firstNumber(traceText);
      note(`trace: original ${formatNumber(original)} (CLI), rescaled '${traceText}' (webview)`);
      check(flat < original, `the rescaled checkpoint's trace ${flat} is not lower than the original's ${formatNumber(original)}`);
      const rescaledFrame = await reportFrame(workbench, 'examples/digits-mlp/model.flat.json', 10_000);
      const provenance = rescaledFrame.locator('section.provenance');
      await waitVisible(provenance, "the rescaled report's provenance section", 10_000);
      const provenanceText = normalize(await provenance.innerText());
      note(`provenance section: ${provenanceText}`);
      check(provenanceText.includes('Equivalent to model.json'), `the provenance section does not say 'Equivalent to model.json': '${provenanceText}'`);
      check(/max \|Δ output\| = \d\.\de-\d+ .* on \d+ samples/.test(provenanceText), `the provenance section has no 'max |Δ output| = … on N samples': '${provenanceText}'`);
      await provenance.scrollIntoViewIfNeeded({ timeout: 5000 });
      note(`screenshot ${await workbench.screenshot('c-provenance')}`);
      const stored = JSON.parse(fs.readFileSync(path.join(path.dirname(workspace.example), 'model.flat.json'), 'utf8')) as { flatnessLens?: { data?: { source?: string } } };
      check(stored.flatnessLens?.data?.source === 'digits.csv.gz', `model.flat.json stores the data set as '${stored.flatnessLens?.data?.source}', not relative to itself ('digits.csv.gz')`);
      // Not in the contract, but a user sees it: the original's report, opened beside the new one, should fill in too.
      try {
        await reportFrame(workbench, exampleRelative, 10_000);
      } catch (error) {
        note(`WARNING: the original's report panel did not show its report: ${error instanceof Error ? error.message : String(error)}`);
      }
      note(`screenshot ${await workbench.screenshot('c-rescale-result')}`);
      await openCheckpointsView(workbench);
      await checkpointRow(workbench, 'examples/digits-mlp/model.flat.json', 15_000);
    },
  },
  {
    id: 'd',
    title: 'Cancel Analysis stops a long analysis within about 2 s',
    timeoutMs: 90_000,
    async run({ workbench, workspace, note }) {
      writeWorkspaceSettings(workspace.settingsFile, longTraceEstimate);
      try {
        // The configuration service reloads the file from its watcher; there is no event to wait on.
        await sleep(1500);
        await startAnalyze(workbench, exampleRelative);
        await waitForProgress(workbench, `analyzing ${exampleRelative} with 100000 trace samples`);
        await sleep(1000);
        check((await workbench.progressToast().count()) > 0, 'the analysis with flatnessLens.traceSamples = 100000 finished within 1 s of starting: the setting seems to be ignored, nothing left to cancel');
        // Timed from opening the palette: an upper bound that includes choosing the command (~0.5 s).
        const started = Date.now();
        await workbench.runCommand(cancelTitle);
        const chosen = Date.now();
        await waitHidden(workbench.progressToast(), 'the progress notification to disappear after Cancel Analysis', 10_000);
        const seconds = (Date.now() - started) / 1000;
        note(`progress notification gone ${seconds.toFixed(1)} s after opening the palette for Cancel Analysis (${((Date.now() - chosen) / 1000).toFixed(1)} s after choosing it)`);
        check(seconds <= 3, `the progress notification took ${seconds.toFixed(1)} s to disappear after Cancel Analysis (expected about 2 s)`);
        const toast = (await workbench.toasts()).find((t) => /cancel/i.test(t.message));
        if (toast) note(`notification: ${toast.message}`);
        let output = '';
        try {
          output = await workbench.outputChannelText('Flatness Lens');
        } catch (error) {
          if (!toast) throw error;
          note(`could not read the output channel: ${error instanceof Error ? error.message : String(error)}`);
        }
        const line = output.split('\n').reverse().find((l) => /cancel/i.test(l));
        if (line) note(`output channel: ${normalize(line)}`);
        check(toast || line, `neither a notification nor the 'Flatness Lens' output channel says the analysis was cancelled; output ends: ${output.split('\n').slice(-5).join(' / ')}`);
      } finally {
        writeWorkspaceSettings(workspace.settingsFile, {});
        await sleep(1500);
      }
    },
  },
  {
    id: 'e',
    title: 'A corrupt checkpoint gives an error naming the file and the shard; the extension keeps working',
    timeoutMs: 150_000,
    async run({ workbench, note }) {
      await startAnalyze(workbench, brokenRelative);
      const error = await poll(
        `an error notification naming model.json and its shard problem (after analyzing ${brokenRelative})`,
        60_000,
        async () => {
          // No data set is configured for broken/: if the extension asks, analyze without data.
          const items = await workbench.quickPickItems();
          const dataFree = items.findIndex((r) => /data-free/i.test(r.text));
          if (dataFree >= 0) {
            note(`the extension asked for a data set for ${brokenRelative} ('${await workbench.quickPickPrompt()}'); chose '${items[dataFree].text}'`);
            await workbench.pickQuickItem('the data-free item', (r) => /data-free/i.test(r.text));
          }
          return (await workbench.toasts()).find((t) => t.severity === 'error' && t.message.includes('model.json') && /shard|weights\.bin|truncat|bytes/i.test(t.message));
        },
        async () => `${await workbench.describeToasts()}${(await workbench.quickPickPrompt()) ? `; quick pick open: '${await workbench.quickPickPrompt()}'` : ''}`,
      );
      note(`error notification: ${error.message}`);
      await sleep(600);
      note(`screenshot ${await workbench.screenshot('e-corrupt-checkpoint-error')}`);
      await workbench.reset();
      await startAnalyze(workbench, exampleRelative);
      await workbench.waitForTab(reportTitle(exampleRelative), 90_000);
      const eigenvalues = await summaryValue(await reportFrame(workbench, exampleRelative, 30_000), eigenvalueRow, 30_000);
      note(`after the error, the example's report shows '${eigenvalues.metric}' = '${eigenvalues.value}'`);
    },
  },
  {
    id: 'f',
    title: 'A PyTorch state dict is listed; alone it gets tensor statistics, with its architecture beside it the full report',
    timeoutMs: 150_000,
    async run(context) {
      const { workbench, workspace, note } = context;
      const relative = 'weights/state.pt';
      await openCheckpointsView(workbench);
      const row = await checkpointRow(workbench, relative, 20_000, { what: "described with 'pytorch' and '2,410'", test: (r) => r.text.includes('pytorch') && r.text.includes('2,410') });
      note(`tree row: ${row.text}`);
      await startAnalyze(workbench, relative);
      await workbench.waitForTab(reportTitle(relative), 60_000);
      let frame = await reportFrame(workbench, relative, 30_000);
      const missing = frame.locator('.architecture-missing');
      await waitVisible(missing, 'the "weights only" note saying what is missing', 30_000);
      const text = normalize(await missing.innerText());
      note(`webview: ${text.slice(0, 160)}…`);
      check(/state\.architecture\.json/.test(text), `the note does not name state.architecture.json: '${text}'`);
      const rows = await frame.locator('table.tensors tbody tr').count();
      check(rows === 4, `the tensor table has ${rows} rows, expected 4 (0.weight, 0.bias, 2.weight, 2.bias)`);
      await screenshotReport(context, frame, 'f-weights-only');

      fs.copyFileSync(workspace.stateDictArchitecture, path.join(path.dirname(workspace.stateDict), 'state.architecture.json'));
      await openCheckpointsView(workbench);
      await checkpointRow(workbench, relative, 20_000, { what: 'marked stale once its architecture appears', test: (r) => r.text.includes('stale') || r.text.includes('not analyzed') });
      await workbench.reset();
      await startAnalyze(workbench, relative);
      frame = await reportFrame(workbench, relative, 30_000);
      const eigenvalues = await summaryValue(frame, eigenvalueRow, 90_000);
      note(`with the architecture: '${eigenvalues.metric}' = '${eigenvalues.value}'`);
      check(firstNumber(eigenvalues.value) > 0, `the top eigenvalue shown is '${eigenvalues.value}'`);
    },
  },
  {
    id: 'g',
    title: 'The walkthrough opens, and its first step copies the example into the workspace',
    timeoutMs: 90_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      await workbench.runCommand('Welcome: Open Walkthrough...');
      await workbench.pickQuickItem("the walkthrough 'Get started with Flatness Lens'", (r) => r.text.includes('Get started with Flatness Lens'));
      const page = workbench.page;
      const steps = page.locator('.gettingStartedContainer .getting-started-step');
      await poll('the walkthrough with its five steps', 20_000, async () => ((await steps.count()) >= 5 ? true : undefined), async () => `${await steps.count()} steps shown`);
      const titles = (await steps.locator('.step-title').allInnerTexts()).map(normalize);
      note(`walkthrough steps: ${titles.join(' | ')}`);
      check(titles.join('|') === 'Open the example|Analyze a checkpoint|Read the report|Rescale to flatten or sharpen|Compare checkpoints', `unexpected steps: ${titles.join(' | ')}`);
      await sleep(800);
      note(`screenshot ${await workbench.screenshot('g-walkthrough')}`);
      const stepButton = page.locator('.gettingStartedContainer .getting-started-step.expanded').getByText('Open the Example', { exact: true });
      note(`step buttons: ${(await stepButton.evaluateAll((nodes) => nodes.map((n) => n.outerHTML.slice(0, 200)))).join(' || ')}`);
      await stepButton.first().click({ timeout: 10_000 });
      const copied = path.join(workspace.root, 'flatness-example', 'model.json');
      await poll(`${copied} written by Open the Example`, 20_000, async () => (fs.existsSync(copied) ? true : undefined));
      await workbench.explorerRow('flatness-example/model.json', 20_000);
      note(`screenshot ${await workbench.screenshot('g-walkthrough-example-copied')}`);
      for (const file of ['model.json', 'model.weights.bin', 'digits.csv.gz']) {
        check(fs.readFileSync(path.join(workspace.root, 'flatness-example', file)).equals(fs.readFileSync(path.join(path.dirname(workspace.example), file))), `flatness-example/${file} differs from the example's`);
      }
    },
  },
  {
    id: 'h',
    title: 'Cancel in the report panel stops a running analysis',
    timeoutMs: 150_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      await startAnalyze(workbench, exampleRelative);
      let frame = await reportFrame(workbench, exampleRelative, 90_000);
      await summaryValue(frame, eigenvalueRow, 90_000);
      writeWorkspaceSettings(workspace.settingsFile, longTraceEstimate);
      try {
        await sleep(1500);
        frame = await reportFrame(workbench, exampleRelative, 10_000);
        await frame.getByRole('button', { name: 'Re-run' }).click({ timeout: 10_000 });
        const cancel = frame.getByRole('button', { name: 'Cancel' });
        await waitVisible(cancel, "the report's Cancel button while the analysis runs", 30_000);
        await sleep(1500);
        const label = normalize(await frame.locator('.progress-label').innerText({ timeout: 5000 }));
        note(`report progress before cancelling: '${label}'`);
        note(`screenshot ${await workbench.screenshot('h-report-running')}`);
        const started = Date.now();
        await cancel.click({ timeout: 5000 });
        await waitVisible(frame.locator('.status .cancelled'), "the report saying 'Analysis cancelled'", 10_000);
        const seconds = (Date.now() - started) / 1000;
        note(`report said cancelled ${seconds.toFixed(1)} s after Cancel`);
        await waitHidden(workbench.progressToast(), 'the progress notification to disappear after Cancel in the report', 10_000);
        check(seconds <= 3, `the report took ${seconds.toFixed(1)} s to say the analysis was cancelled`);
        const shown = await summaryValue(frame, eigenvalueRow, 5000);
        note(`the previous report stays: '${shown.metric}' = '${shown.value}'`);
        note(`screenshot ${await workbench.screenshot('h-report-cancelled')}`);
      } finally {
        writeWorkspaceSettings(workspace.settingsFile, {});
        await sleep(1500);
      }
    },
  },
  {
    id: 'i',
    title: 'Export HTML from the report writes one file that shows the report offline',
    timeoutMs: 120_000,
    async run({ workbench, workspace, cliReport, note }) {
      await workbench.reset();
      await startAnalyze(workbench, exampleRelative);
      const frame = await reportFrame(workbench, exampleRelative, 90_000);
      await summaryValue(frame, eigenvalueRow, 90_000);
      const target = path.join(path.dirname(workspace.example), 'model.flatness.html');
      fs.rmSync(target, { force: true });
      await frame.getByRole('button', { name: 'Export HTML' }).click({ timeout: 10_000 });
      // code-server's save dialog is a quick input holding the proposed path; Enter accepts it.
      await waitVisible(workbench.page.locator('.quick-input-widget .quick-input-box input'), 'the save dialog', 10_000);
      note(`save dialog proposes '${await workbench.page.locator('.quick-input-widget .quick-input-box input').inputValue()}'`);
      await workbench.page.keyboard.press('Enter');
      await poll(`${target} written`, 20_000, async () => (fs.existsSync(target) && fs.statSync(target).size > 100_000 ? true : undefined));
      note(`exported ${path.basename(target)}: ${(fs.statSync(target).size / 1024).toFixed(0)} KiB`);
      const page = await workbench.page.context().newPage();
      try {
        const requests: string[] = [];
        await page.route('**', (route) => {
          requests.push(route.request().url());
          return route.request().url().startsWith('file:') ? route.continue() : route.abort();
        });
        await page.setViewportSize({ width: 1200, height: 900 });
        await page.goto(`file://${target}`);
        const rows = page.locator('tr[data-metric]');
        await waitVisible(rows.first(), 'the exported report’s summary table', 20_000);
        const text = (await rows.allInnerTexts()).map(normalize).join(' | ');
        const expected = formatNumber((await cliReport()).hessian.topEigenvalues?.[0]);
        check(text.includes(expected), `the exported report does not show λ₁ = ${expected}: ${text.slice(0, 300)}`);
        check((await page.locator('canvas').count()) >= 5, 'the exported report has fewer than 5 charts');
        const outside = requests.filter((u) => !u.startsWith('file:'));
        check(outside.length === 0, `the exported report asked the network for ${outside.join(', ')}`);
        await sleep(800);
        const shot = path.join(path.dirname(await workbench.screenshot('i-export-html-saved')), 'i-export-html-in-browser.png');
        await page.screenshot({ path: shot });
        note(`screenshot ${shot}`);
      } finally {
        await page.close();
      }
    },
  },
  {
    id: 'j',
    title: 'Screenshots for the README and the walkthrough: the report and the α-orbit chart',
    timeoutMs: 120_000,
    async run({ workbench, note }) {
      await workbench.reset();
      await startAnalyze(workbench, exampleRelative);
      const frame = await reportFrame(workbench, exampleRelative, 90_000);
      await summaryValue(frame, eigenvalueRow, 90_000);
      await workbench.runCommand('View: Close Primary Side Bar').catch(() => undefined);
      await sleep(1000);
      note(`screenshot ${await workbench.screenshot('docs-report')}`);
      const orbit = frame.locator('[data-chart="alpha-orbit"]');
      await orbit.scrollIntoViewIfNeeded({ timeout: 10_000 });
      await sleep(1000);
      const file = path.join(path.dirname(await workbench.screenshot('docs-report-scrolled')), 'docs-alpha-orbit.png');
      await orbit.screenshot({ path: file, timeout: 15_000 });
      note(`screenshot ${file}`);
      await workbench.runCommand('View: Toggle Primary Side Bar Visibility').catch(() => undefined);
    },
  },
  {
    id: 'pr',
    title: 'Progress moves from stage to stage, with a count, in the report panel',
    timeoutMs: 180_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      await startAnalyze(workbench, exampleRelative);
      let frame = await reportFrame(workbench, exampleRelative, 90_000);
      await summaryValue(frame, eigenvalueRow, 90_000);
      // A trace estimated with many probes takes some seconds, long enough to watch, and the density after it
      // another second or two. On ONNX Runtime this ReLU network's trace is exact and instant, so the re-run uses
      // the tfjs engine, which estimates it.
      writeWorkspaceSettings(workspace.settingsFile, { 'flatnessLens.backend': 'wasm', 'flatnessLens.metrics': ['loss', 'eigenvalues', 'trace', 'density'], 'flatnessLens.traceSamples': 3000, 'flatnessLens.traceTolerance': 1e-9 });
      try {
        await sleep(1500);
        frame = await reportFrame(workbench, exampleRelative, 10_000);
        await frame.getByRole('button', { name: 'Re-run' }).click({ timeout: 10_000 });
        const label = frame.locator('.progress-label');
        await waitVisible(label, "the report's progress line", 30_000);
        const seen: { label: string; value: number }[] = [];
        const deadline = Date.now() + 120_000;
        while (Date.now() < deadline) {
          // Done when the progress line is gone (a slow read of it is no reason to stop watching).
          if ((await label.count()) === 0) break;
          const text = await label.innerText({ timeout: 2000 }).catch(() => undefined);
          if (text === undefined) continue;
          const value = Number(await frame.locator('progress').getAttribute('value', { timeout: 1000 }).catch(() => 'NaN'));
          if (Number.isFinite(value) && seen.at(-1)?.label !== normalize(text)) seen.push({ label: normalize(text), value });
          if (seen.length === 12) note(`screenshot ${await workbench.screenshot('pr-report-progress')}`);
          await sleep(120);
        }
        const stages = [...new Set(seen.map((s) => s.label.split(':')[0]))];
        note(`${seen.length} progress lines seen, stages in order: ${stages.join(' → ')}`);
        note(`progress lines: ${seen.filter((_, i) => i % Math.max(1, Math.floor(seen.length / 12)) === 0).map((s) => `${s.label}`).join(' | ')}`);
        for (let i = 1; i < seen.length; i++) check(seen[i].value >= seen[i - 1].value, `the bar went back from ${seen[i - 1].value} ('${seen[i - 1].label}') to ${seen[i].value} ('${seen[i].label}')`);
        // With ONNX Runtime most stages take a fraction of a second, too short to sample from the page; the unit test
        // test/analysis/progress.test.ts checks every stage. Here: the panel shows the stages as they pass and the long
        // one (the trace with 3000 probes) moving with its count; the others may pass between two samples of the page.
        check(stages.length >= 2 && stages.includes('trace'), `only ${stages.length} stages were seen moving: ${stages.join(', ')}`);
        for (const stage of ['trace']) {
          const values = new Set(seen.filter((s) => s.label.startsWith(`${stage}:`)).map((s) => s.value));
          check(values.size >= 3, `the bar moved ${Math.max(0, values.size - 1)} times during '${stage}'`);
        }
        check(seen.some((s) => /probe \d+ of \d+/.test(s.label)), `no progress line says which probe: ${seen.map((s) => s.label).slice(0, 8).join(' | ')}`);
        await summaryValue(frame, eigenvalueRow, 30_000);
      } finally {
        writeWorkspaceSettings(workspace.settingsFile, {});
        await sleep(1500);
      }
    },
  },
  {
    id: 'gr',
    title: 'Rescale is greyed out on a checkpoint it cannot take, in the Checkpoints view and the Explorer',
    timeoutMs: 90_000,
    async run({ workbench, note }) {
      await workbench.reset();
      await openCheckpointsView(workbench);
      const brokenRow = await checkpointRow(workbench, brokenRelative, 20_000);
      note(`tree row: ${brokenRow.text}`);
      const rows = workbench.sideBarRows();
      const brokenIndex = (await workbench.sideBarRowInfos()).findIndex((r) => r.text.startsWith(`${brokenRelative} `));
      check(brokenIndex >= 0, `no row for ${brokenRelative}`);
      const broken = await menuItemStates(workbench, rows.nth(brokenIndex), 'gr-menu-not-rescalable');
      note(`menu on ${brokenRelative}: ${broken.map((i) => `${i.label}${i.disabled ? ' (greyed)' : ''}`).join(', ')}`);
      check(broken.some((i) => i.label.startsWith('Rescale to Flatten') && i.disabled), `'Rescale to Flatten…' is not greyed on ${brokenRelative}`);
      check(broken.some((i) => i.label.startsWith('Analyze Flatness') && !i.disabled), `'Analyze Flatness' is greyed on ${brokenRelative} as well`);
      await checkpointRow(workbench, exampleRelative, 10_000);
      const infos = await workbench.sideBarRowInfos();
      const folder = infos.findIndex((r) => r.text.startsWith('examples/digits-mlp'));
      const example = await menuItemStates(workbench, rows.nth(infos.findIndex((r, i) => i > folder && r.text.startsWith('model.json '))));
      check(example.some((i) => i.label.startsWith('Rescale to Flatten') && !i.disabled), `'Rescale to Flatten…' is greyed on the example: ${example.map((i) => `${i.label}${i.disabled ? ' (greyed)' : ''}`).join(', ')}`);
      await workbench.openExplorer();
      const explorer = await menuItemStates(workbench, await workbench.explorerRow(brokenRelative), 'gr-explorer-menu-not-rescalable');
      note(`Explorer menu on ${brokenRelative}: ${explorer.filter((i) => /Rescale|Analyze/.test(i.label)).map((i) => `${i.label}${i.disabled ? ' (greyed)' : ''}`).join(', ')}`);
      check(explorer.some((i) => i.label.startsWith('Rescale to Sharpen') && i.disabled), `'Rescale to Sharpen…' is not greyed on ${brokenRelative} in the Explorer`);
    },
  },
  {
    id: 'dp',
    title: 'The data-set picker offers only files that fit the model, and the log says why the others do not',
    timeoutMs: 90_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      const dataDir = path.join(workspace.root, 'more-data');
      fs.mkdirSync(dataDir, { recursive: true });
      const rows = (features: number) => Array.from({ length: 40 }, (_, r) => [...Array.from({ length: features }, (_, f) => (r + f) % 7), r % 10].join(',')).join('\n') + '\n';
      fs.writeFileSync(path.join(dataDir, 'iris.csv'), rows(4));
      fs.writeFileSync(path.join(dataDir, 'digits-64.csv'), rows(64));
      await sleep(1000);
      await workbench.runCommand('Flatness Lens: Select Data Set for Checkpoint');
      await workbench.pickQuickItem(`the checkpoint '${exampleRelative}'`, (item) => item.text.includes(exampleRelative) || item.ariaLabel.includes(exampleRelative));
      await poll('the data-set picker', 30_000, async () => ((await workbench.quickPickItems()).some((i) => i.text.startsWith('digits.csv.gz')) ? true : undefined));
      const items = (await workbench.quickPickItems()).map((i) => i.text);
      const prompt = await workbench.quickPickPrompt();
      note(`data-set picker '${prompt}': ${items.join(' | ')}`);
      note(`screenshot ${await workbench.screenshot('dp-data-picker')}`);
      await workbench.page.keyboard.press('Escape');
      check(items.some((t) => t.startsWith('digits-64.csv')), `digits-64.csv (64 features, as the model takes) is not offered`);
      for (const hidden of ['iris.csv', 'settings.json', 'state.architecture.json']) check(!items.some((t) => t.startsWith(hidden)), `${hidden} is offered, though it cannot feed the model`);
      check(/left out/.test(prompt ?? ''), `the picker does not say that files were left out: '${prompt}'`);
      const output = await workbench.outputChannelText('Flatness Lens');
      const line = output.split('\n').map(normalize).find((l) => l.includes('iris.csv left out'));
      note(`output channel: ${line ? normalize(line) : '(no line about iris.csv)'}`);
      check(line && /4 values/.test(line) && !line.includes(workspace.root), `the Output channel does not say, with a relative path, why iris.csv was left out: ${output.split('\n').slice(-6).join(' / ')}`);
    },
  },
  {
    id: 'co',
    title: 'Compare from a right-click ticks that checkpoint, takes any number, and keeps the columns in the order ticked',
    timeoutMs: 240_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      for (const copy of ['compare-a', 'compare-b']) {
        fs.mkdirSync(path.join(workspace.root, copy), { recursive: true });
        for (const file of ['model.json', 'model.weights.bin']) fs.copyFileSync(path.join(path.dirname(workspace.example), file), path.join(workspace.root, copy, file));
      }
      await openCheckpointsView(workbench);
      await workbench.runCommand('Flatness Lens: Refresh');
      await checkpointRow(workbench, 'compare-b/model.json', 20_000);
      await checkpointRow(workbench, exampleRelative, 10_000);
      const infos = await workbench.sideBarRowInfos();
      const folder = infos.findIndex((r) => r.text.startsWith('examples/digits-mlp'));
      const exampleIndex = infos.findIndex((r, i) => i > folder && r.text.startsWith('model.json'));
      await workbench.contextMenu(workbench.sideBarRows().nth(exampleIndex), 'Compare Checkpoints');
      const rows = workbench.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
      await poll('the compare picker', 20_000, async () => ((await workbench.quickPickItems()).length >= 3 ? true : undefined));
      const listed = await workbench.quickPickItems();
      const checked = async (i: number) => (await rows.nth(i).getAttribute('aria-checked')) === 'true' || (await rows.nth(i).locator('input[type=checkbox]:checked, .monaco-custom-toggle.checked, [aria-checked="true"]').count()) > 0;
      note(`compare picker: ${listed.map((r) => r.text).join(' | ')}`);
      check(listed[0].text.startsWith(exampleRelative), `the right-clicked checkpoint is not first: '${listed[0].text}'`);
      check(await checked(0), `the right-clicked checkpoint ${exampleRelative} is not ticked`);
      for (const copy of ['compare-b/model.json', 'compare-a/model.json']) {
        const i = (await workbench.quickPickItems()).findIndex((r) => r.text.startsWith(copy));
        check(i >= 0, `${copy} is not offered`);
        await rows.nth(i).locator('.quick-input-list-checkbox, .monaco-checkbox, input[type=checkbox]').first().click({ timeout: 5000 }).catch(() => rows.nth(i).click());
        await poll(`${copy} ticked`, 5000, async () => ((await checked(i)) ? true : undefined));
      }
      note(`screenshot ${await workbench.screenshot('co-compare-picker')}`);
      await workbench.page.keyboard.press('Enter');
      const frame = await workbench.webviewWithHeading('Comparing 3 checkpoints', 200_000);
      const meta = normalize(await frame.locator('p.meta').innerText({ timeout: 10_000 }));
      note(`compare page: ${meta}`);
      const order = ['digits-mlp', 'compare-b', 'compare-a'].map((name) => meta.indexOf(name));
      check(order.every((at) => at >= 0) && order[0] < order[1] && order[1] < order[2], `the columns are not in the order ticked (example, compare-b, compare-a): '${meta}'`);
      note(`screenshot ${await workbench.screenshot('co-compare-three')}`);
    },
  },
  {
    id: 'k',
    title: 'Training run panel: a folder of checkpoints → Analyze Training Run → the curves fill in; a new checkpoint is added live',
    timeoutMs: 240_000,
    async run({ workbench, workspace, note }) {
      await workbench.reset();
      const runFolder = path.join(workspace.root, 'runs', 'digits');
      await writeExampleRun(runFolder, { steps: 60, checkpointEvery: 20 });
      writeWorkspaceSettings(workspace.settingsFile, {
        'flatnessLens.dataSets': { ...workspaceSettings['flatnessLens.dataSets'], 'runs/': 'runs/digits/train.csv' },
        'flatnessLens.testDataSets': { 'runs/': 'runs/digits/test.csv' },
        'flatnessLens.metrics': ['loss', 'eigenvalues', 'trace', 'sharpness', 'invariant'],
        'flatnessLens.topEigenvalues': 1,
        'flatnessLens.traceSamples': 8,
        'flatnessLens.liveTrainingRuns': true,
      });
      try {
        await workbench.runCommand('Flatness Lens: Refresh');
        await openCheckpointsView(workbench);
        const pattern = 'runs/digits/step_{step}/model.json';
        const runRow = await poll(`the training run '${pattern}' in the Checkpoints view`, 30_000, async () => {
          await workbench.expandAllSideBarRows(3000);
          return (await workbench.sideBarRowInfos()).find((r) => r.text.startsWith(pattern) && r.text.includes('training run · 4 checkpoints by step'));
        }, async () => workbench.describeRows(await workbench.sideBarRowInfos()));
        note(`tree row: ${runRow.text}`);
        note(`screenshot ${await workbench.screenshot('k-training-run-tree')}`);

        await workbench.openExplorer();
        await workbench.contextMenu(await workbench.explorerRow('runs/digits'), 'Analyze Training Run');
        const frame = await workbench.webviewWithHeading(`Training run ${pattern}`, 60_000);
        const meta = frame.locator('.meta');
        const metaSays = (text: string, timeoutMs: number) => poll(`the training-run panel to say '${text}'`, timeoutMs, async () => {
          const shown = normalize(await meta.innerText({ timeout: 2000 }).catch(() => ''));
          return shown.includes(text) ? shown : undefined;
        }, async () => `panel: '${normalize(await meta.innerText({ timeout: 2000 }).catch(() => '(none)'))}'; ${await workbench.describeToasts()}`);
        note(`panel: ${await metaSays('4 checkpoints by step (4 analyzed)', 150_000)}`);
        const caption = normalize(await frame.locator('[data-chart="run-lambda"] .caption').innerText());
        check(caption.includes('2/η = 6.667'), `the λ₁ chart does not draw 2/η for η = 0.3 from the checkpoints' training config: '${caption}'`);
        const tauRows = await frame.locator('tr[data-measure]').count();
        check(tauRows >= 5, `the τ table has ${tauRows} rows, expected one per computed measure`);
        check(normalize(await frame.locator('tr[data-measure="minTrace"] td').first().innerText()) === 'yes', 'min trace is not marked invariant');

        // Live: a checkpoint written later into the run (shards first, then model.json, as a trainer would).
        const later = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-e2e-run-')), 'run');
        await writeExampleRun(later, { steps: 80, checkpointEvery: 20 });
        const newFolder = path.join(runFolder, 'step_0080');
        fs.mkdirSync(newFolder);
        const files = fs.readdirSync(path.join(later, 'step_0080')).sort((a, b) => Number(a === 'model.json') - Number(b === 'model.json'));
        for (const file of files) fs.copyFileSync(path.join(later, 'step_0080', file), path.join(newFolder, file));
        note(`panel after a new checkpoint: ${await metaSays('5 checkpoints by step (5 analyzed)', 90_000)}`);
        await workbench.runCommand('View: Close Primary Side Bar').catch(() => undefined);
        await sleep(1000);
        note(`screenshot ${await workbench.screenshot('docs-training-run')}`);
        await workbench.runCommand('View: Toggle Primary Side Bar Visibility').catch(() => undefined);
      } finally {
        writeWorkspaceSettings(workspace.settingsFile, {});
      }
    },
  },
];

/** Reads the CLI's JSON report (kept separate so run.ts can start it early, in parallel with code-server). */
export function parseReport(json: string, source: string): FlatnessReport {
  try {
    return JSON.parse(json) as FlatnessReport;
  } catch (error) {
    throw new Error(`${source}: not a JSON report (${error instanceof Error ? error.message : String(error)}): ${json.slice(0, 200)}`);
  }
}
