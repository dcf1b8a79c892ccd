/**
 * torchvision classifiers in the workbench, exported at run time as a PyTorch user would
 * (test/fixtures/torchvision_export.py: ResNet-18, MobileNetV2, MobileNetV3-small at 3×32×32,
 * opset 17) into the workspace's torchvision/ folder with their batch as data.npz, and a GRU
 * classifier whose operator Flatness Lens does not read. Without Debian's torch and torchvision
 * the scenarios say so and check nothing; in CI (CI set) a missing module fails them.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { formatNumber } from '../../webview/summaryRows';
import { missingPythonModules } from '../fixtures/python';
import { writeTorchvisionFolder, type TorchvisionFolder } from '../fixtures/torchvisionFolder';
import { workspaceSettings, writeWorkspaceSettings, type FixtureWorkspace } from './fixtureWorkspace';
import { check, checkpointRow, eigenvalueRow, firstNumber, openCheckpointsView, reportFrame, reportTitle, screenshotReport, startAnalyze, summaryValue, waitForProgress, type Scenario, type ScenarioContext } from './scenarios';
import { poll, sleep, waitVisible } from './workbench';

const SAMPLES = 4;
const models = ['resnet18', 'mobilenet_v2', 'mobilenet_v3_small'] as const;
const relative = (file: string) => `torchvision/${path.basename(file)}`;

let exported: TorchvisionFolder | undefined;

/** The exports, made once per run into the workspace; undefined (with a note) where torch is missing. */
function torchvisionFolder({ workspace, note }: ScenarioContext): TorchvisionFolder | undefined {
  const missing = missingPythonModules(['torch', 'torchvision', 'onnx', 'numpy']);
  if (missing) {
    note(`SKIPPED: ${missing} (CI installs python3-torch and python3-torchvision)`);
    return undefined;
  }
  if (!exported) {
    const dir = path.join(workspace.root, 'torchvision');
    fs.mkdirSync(dir, { recursive: true });
    const started = Date.now();
    exported = writeTorchvisionFolder(dir, models, { samples: SAMPLES, gru: true });
    note(`exported ${models.join(', ')} and gru.onnx in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  return exported;
}

/** Lean settings for the big models: their batch as data, loss, one eigenvalue and a short trace. */
async function withTorchvisionSettings(workspace: FixtureWorkspace, body: () => Promise<void>): Promise<void> {
  writeWorkspaceSettings(workspace.settingsFile, {
    'flatnessLens.dataSets': { ...workspaceSettings['flatnessLens.dataSets'], 'torchvision/': 'torchvision/data.npz' },
    'flatnessLens.metrics': ['loss', 'eigenvalues', 'trace'],
    'flatnessLens.topEigenvalues': 1,
    'flatnessLens.traceSamples': 8,
  });
  try {
    await sleep(1500);
    await body();
  } finally {
    writeWorkspaceSettings(workspace.settingsFile, {});
    await sleep(1500);
  }
}

const sha256 = (file: string) => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');

/** max |Δ output| / max |output| between two ONNX files in ONNX Runtime on the exported batch. */
async function ortDeviation(original: string, rescaled: string, channelsLast: readonly number[]): Promise<number> {
  const nchw = new Float32Array(channelsLast.length);
  for (let n = 0; n < SAMPLES; n++) for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) nchw[((n * 3 + c) * 32 + y) * 32 + x] = channelsLast[((n * 32 + y) * 32 + x) * 3 + c];
  const outputs: Float32Array[] = [];
  for (const file of [original, rescaled]) {
    const session = await ort.InferenceSession.create(file);
    try {
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', nchw, [SAMPLES, 3, 32, 32]) });
      outputs.push(Float32Array.from(result[session.outputNames[0]].data as Float32Array));
    } finally {
      await session.release();
    }
  }
  const scale = outputs[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return outputs[0].reduce((m, v, i) => Math.max(m, Math.abs(outputs[1][i] - v)), 0) / scale;
}

/** Explorer → Rescale to Flatten… → Per layer → Trace on one export; returns the notification once the file is written. */
async function rescaleToFlatten(context: ScenarioContext, file: string): Promise<{ message: string; written: string }> {
  const { workbench, note } = context;
  await workbench.openExplorer();
  await workbench.contextMenu(await workbench.explorerRow(relative(file), 30_000), 'Rescale to Flatten');
  await workbench.pickQuickItem('the granularity item containing "Per layer"', (r) => r.text.includes('Per layer'));
  await workbench.pickQuickItem('the objective item containing "Trace"', (r) => r.text.includes('Trace'));
  const started = Date.now();
  const written = file.replace(/\.onnx$/, '.flat.onnx');
  const message = await workbench.waitForNotification(
    `a notification that ${path.basename(written)} was written, or an error`,
    (m, severity) => m.includes(path.basename(written)) || severity === 'error',
    240_000,
  );
  note(`${relative(file)}: rescaled in ${((Date.now() - started) / 1000).toFixed(1)} s: ${message}`);
  return { message, written };
}

export const torchvisionScenarios: Scenario[] = [
  {
    id: 'tva',
    title: 'torchvision exports in the Checkpoints view with their parameter counts; a GRU export under Not readable, naming the operator and node',
    timeoutMs: 180_000,
    async run(context) {
      const folder = torchvisionFolder(context);
      if (!folder) return;
      const { workbench, note } = context;
      await workbench.runCommand('Flatness Lens: Refresh');
      await openCheckpointsView(workbench);
      for (const name of models) {
        const count = folder.parameters[name].toLocaleString('en-US');
        const row = await checkpointRow(workbench, relative(folder.files[name]), 60_000, { what: `described with 'onnx' and '${count}' (the onnx package's count)`, test: (r) => r.text.includes('onnx') && r.text.includes(count) });
        note(`tree row: ${row.text}`);
      }
      const gru = await checkpointRow(workbench, relative(folder.gru!), 30_000, { what: 'with its reason', test: (r) => /GRU/.test(r.text) });
      note(`tree row: ${gru.text}`);
      const rows = await workbench.sideBarRowInfos();
      const group = rows.findIndex((r) => r.text.startsWith('Not readable'));
      const gruAt = rows.findIndex((r) => r.text.startsWith(relative(folder.gru!)));
      check(group >= 0 && gruAt > group, `gru.onnx is not listed under 'Not readable': ${workbench.describeRows(rows)}`);
      check(gru.text.includes("'/gru/GRU'") && /operator 'GRU' is not supported/.test(gru.text), `the row does not name the node '/gru/GRU' and the operator GRU: '${gru.text}'`);
      check(!gru.text.includes(context.workspace.root) && gru.text.includes('torchvision/gru.onnx'), `the row names the file by its absolute path, not relative to the workspace: '${gru.text}'`);
      note(`screenshot ${await workbench.screenshot('tva-torchvision-tree')}`);
    },
  },
  {
    id: 'tvb',
    title: 'Analyze an exported ResNet-18: the report shows PyTorch’s loss and its charts',
    timeoutMs: 180_000,
    async run(context) {
      const folder = torchvisionFolder(context);
      if (!folder) return;
      const { workbench, workspace, note } = context;
      await withTorchvisionSettings(workspace, async () => {
        const file = relative(folder.files.resnet18);
        const started = Date.now();
        await startAnalyze(workbench, file);
        await waitForProgress(workbench, `analyzing ${file}`, 60_000);
        await workbench.waitForTab(reportTitle(file), 150_000);
        const frame = await reportFrame(workbench, file, 150_000);
        const eigenvalue = await summaryValue(frame, eigenvalueRow, 150_000);
        note(`${file} analyzed in ${((Date.now() - started) / 1000).toFixed(1)} s: '${eigenvalue.metric}' = '${eigenvalue.value}'`);
        const loss = await summaryValue(frame, /^\s*Loss/, 5000);
        const expected = folder.references.resnet18.loss;
        note(`webview: '${loss.metric}' = '${loss.value}'; PyTorch: ${formatNumber(expected, 6)}`);
        check(Math.abs(firstNumber(loss.value) - expected) <= 2e-4 * expected, `the report's loss '${loss.value}' is not PyTorch's ${expected}`);
        for (const chart of ['eigenvalues', 'block-traces']) await waitVisible(frame.locator(`[data-chart="${chart}"] canvas`), `the '${chart}' chart`, 10_000);
        await screenshotReport(context, frame, 'tvb-resnet18-report');
      });
    },
  },
  {
    id: 'tvc',
    title: 'Rescale to Flatten on ResNet-18 writes an equivalent file beside it (ONNX Runtime agrees); the original is unchanged',
    timeoutMs: 360_000,
    async run(context) {
      const folder = torchvisionFolder(context);
      if (!folder) return;
      const { workbench, workspace, note } = context;
      await withTorchvisionSettings(workspace, async () => {
        const original = folder.files.resnet18;
        const before = sha256(original);
        const { message, written } = await rescaleToFlatten(context, original);
        check(message.includes('same function'), `the notification does not say 'same function': '${message}'`);
        check(fs.existsSync(written), `${relative(written)} was not written`);
        await workbench.explorerRow(relative(written), 30_000);
        check(sha256(original) === before, `${relative(original)} changed`);
        const deviation = await ortDeviation(original, written, folder.references.resnet18.inputs);
        note(`ONNX Runtime: max |Δ output| / max |output| = ${deviation.toExponential(2)} between ${relative(original)} and ${relative(written)}`);
        check(deviation <= 1e-5, `ONNX Runtime computes different outputs from ${relative(written)}: ${deviation}`);
        check(sha256(written) !== before, `${relative(written)} is a copy of the original`);
        await sleep(600);
        note(`screenshot ${await workbench.screenshot('tvc-resnet18-rescaled')}`);
      });
    },
  },
  {
    id: 'tvd',
    title: 'Rescale to Flatten on MobileNetV2 names its ReLU6 (Clip) nodes as not positively homogeneous',
    timeoutMs: 300_000,
    async run(context) {
      const folder = torchvisionFolder(context);
      if (!folder) return;
      const { workbench, workspace, note } = context;
      await withTorchvisionSettings(workspace, async () => {
        const { message } = await rescaleToFlatten(context, folder.files.mobilenet_v2);
        check(/ReLU6/.test(message) && /Clip'/.test(message) && /not positively homogeneous/.test(message), `the message does not name the ReLU6 (Clip) nodes as not positively homogeneous: '${message}'`);
        await sleep(600);
        note(`screenshot ${await workbench.screenshot('tvd-mobilenet-v2-relu6')}`);
      });
    },
  },
  {
    id: 'tve',
    title: 'Analyzing the GRU export gives an error naming the operator and the node',
    timeoutMs: 90_000,
    async run(context) {
      const folder = torchvisionFolder(context);
      if (!folder) return;
      const { workbench, workspace, note } = context;
      await withTorchvisionSettings(workspace, async () => {
        await startAnalyze(workbench, relative(folder.gru!));
        const error = await poll(
          'an error notification naming gru.onnx, the node /gru/GRU and the operator GRU',
          60_000,
          async () => (await workbench.toasts()).find((t) => t.severity === 'error' && t.message.includes('gru.onnx') && t.message.includes("'/gru/GRU'") && /operator 'GRU' is not supported/.test(t.message)),
          async () => workbench.describeToasts(),
        );
        note(`error notification: ${error.message}`);
        await sleep(600);
        note(`screenshot ${await workbench.screenshot('tve-gru-unsupported')}`);
      });
    },
  },
];
