// End-to-end tests in a real VS Code workbench: code-server (installed by test/e2e/setup.sh) with
// the packaged extension, driven by Debian's chromium through playwright-core.
//
//   bash test/e2e/setup.sh && npm run package:platforms -- --this-platform && node --import tsx test/e2e/run.ts
//
// Builds nothing: expects this machine's flatness-lens-<platform>-<version>.vsix (with ONNX Runtime's
// binary inside) in the repository root and dist/cli.js.
// Environment: E2E_ONLY=a,c (run some scenarios), E2E_KEEP=1 (keep the run folder),
// E2E_VSIX=path, E2E_PORT=n, E2E_DEADLINE_S=n (whole-run limit, default 1200).
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { buildFixtureWorkspace, workspaceSettings } from './fixtureWorkspace';
import { CodeServer, codeServerEntry, freePort, installExtension, isolatedEnv, makeRunFolders, removeExtensionsFolder, type RunFolders } from './codeServer';
import { parseReport, scenarios, type ScenarioContext } from './scenarios';
import { torchvisionScenarios } from './torchvisionScenarios';
import { StepTimeout, Workbench } from './workbench';
import type { FlatnessReport } from '../../src/protocol/report';

const repo = path.resolve(__dirname, '..', '..');
const artifacts = path.join(repo, '.run', 'e2e-artifacts');
const started = Date.now();

function elapsed(since = started): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

function log(line: string): void {
  console.log(`e2e: ${line}`);
}

/** What must be stopped however the run ends. */
const counts = { passed: 0, failed: 0 };
/** Set when the whole-run deadline or a signal stops the run: its handler reports, nothing else does. */
let aborted = false;
const running: { server?: CodeServer; browser?: BrowserContext; folders?: RunFolders } = {};

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
}

function vsixPath(): string {
  if (process.env.E2E_VSIX) return path.resolve(process.env.E2E_VSIX);
  const { version } = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  return path.join(repo, `flatness-lens-${process.platform}-${process.arch}-${version}.vsix`);
}

/** The CLI's report on the fixture's example, with the data, samples and seed of the workspace settings. */
function runCli(workspace: { example: string; exampleData: string }): Promise<FlatnessReport> {
  const cli = path.join(repo, 'dist', 'cli.js');
  const args = [cli, 'analyze', workspace.example, '--data', workspace.exampleData, '--samples', String(workspaceSettings['flatnessLens.samples']), '--seed', String(workspaceSettings['flatnessLens.seed']), '--json', '-', '--quiet'];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 256 << 20, timeout: 180_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`node dist/cli.js ${args.slice(1).join(' ')} failed: ${error.message}\n${stderr}`));
      else {
        try {
          resolve(parseReport(stdout, 'dist/cli.js analyze --json -'));
        } catch (parseError) {
          reject(parseError);
        }
      }
    });
  });
}

/** Copies the extension's output channel and the extension host's log into the artifacts (they explain most failures). */
function collectLogs(folders: RunFolders): string[] {
  const copied: string[] = [];
  const walk = (dir: string): string[] => {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  };
  for (const file of walk(path.join(folders.userData, 'logs'))) {
    const name = path.basename(file);
    if (/Flatness Lens\.log$/.test(name) || name === 'exthost.log' || name === 'remoteexthost.log') {
      const target = path.join(artifacts, name.replace(/^\d+-/, '').replace(/\s+/g, '-'));
      fs.copyFileSync(file, target);
      copied.push(target);
    }
  }
  if (fs.existsSync(folders.serverLog)) {
    const target = path.join(artifacts, 'code-server.log');
    fs.copyFileSync(folders.serverLog, target);
    copied.push(target);
  }
  return copied;
}

async function shutdown(): Promise<void> {
  const { browser, server } = running;
  running.browser = undefined;
  running.server = undefined;
  if (browser) await Promise.race([browser.close().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);
  if (server) await server.stop();
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StepTimeout(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main(): Promise<number> {
  const only = process.env.E2E_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
  const selected = [...scenarios, ...torchvisionScenarios].filter((s) => !only || only.includes(s.id));
  const vsix = vsixPath();
  if (!fs.existsSync(vsix)) throw new Error(`${path.relative(repo, vsix)} not found: run 'npm run package:platforms -- --this-platform' first (or set E2E_VSIX)`);
  if (!fs.existsSync(path.join(repo, 'dist', 'cli.js'))) throw new Error(`dist/cli.js not found: run 'npm run build' (or 'npm run package') first`);
  const entry = codeServerEntry(repo);
  // A platform's package (flatness-lens-linux-x64-0.1.0.vsix) carries ONNX Runtime; the universal one does not.
  const vsixHasOnnxRuntime = /^flatness-lens-[a-z0-9]+-[a-z0-9]+-\d/.test(path.basename(vsix));
  // The reference numbers come from dist/cli.js, the webview's from the analyzer inside the .vsix: one build in CI.
  if (fs.statSync(vsix).mtimeMs + 60_000 < fs.statSync(path.join(repo, 'dist', 'cli.js')).mtimeMs) {
    log(`WARNING: ${path.basename(vsix)} is older than dist/cli.js: the report's numbers may differ from the CLI's; run 'npm run package:platforms -- --this-platform'`);
  }

  fs.mkdirSync(artifacts, { recursive: true });
  for (const old of fs.readdirSync(artifacts)) fs.rmSync(path.join(artifacts, old), { recursive: true, force: true });
  const folders = makeRunFolders(path.join(repo, '.run', `e2e-${timestamp()}`));
  running.folders = folders;
  const workspace = buildFixtureWorkspace(repo, path.join(folders.root, 'workspace'));
  log(`run folder ${folders.root}`);

  // The reference numbers, computed while code-server starts.
  const cliReport = runCli(workspace);
  cliReport.catch(() => undefined);

  let phase = Date.now();
  await installExtension(entry, folders, vsix);
  log(`installed ${path.basename(vsix)} (${elapsed(phase)})`);

  phase = Date.now();
  const port = process.env.E2E_PORT ? Number(process.env.E2E_PORT) : await freePort();
  running.server = await CodeServer.start(entry, folders, workspace.root, port);
  await running.server.waitHealthy(60_000);
  log(`code-server up on ${running.server.url}, pid ${running.server.pid} (${elapsed(phase)})`);

  phase = Date.now();
  running.browser = await chromium.launchPersistentContext(folders.chromiumProfile, {
    executablePath: process.env.E2E_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1600, height: 1000 },
    env: isolatedEnv(folders),
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = running.browser.pages()[0] ?? (await running.browser.newPage());
  page.setDefaultTimeout(20_000);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // The workbench's and the webviews' console (warnings and errors), for diagnosing failures.
  const consoleLog = path.join(artifacts, 'browser-console.log');
  page.on('console', (message) => {
    if (message.type() !== 'error' && message.type() !== 'warning') return;
    const frame = message.location().url?.includes('/webview/') ? 'webview' : 'workbench';
    fs.appendFileSync(consoleLog, `${new Date().toISOString()} [${frame} ${message.type()}] ${message.text().slice(0, 2000)}\n`);
  });
  page.on('requestfailed', (request) => {
    fs.appendFileSync(consoleLog, `${new Date().toISOString()} [request failed] ${request.url().slice(0, 300)}: ${request.failure()?.errorText ?? '?'}\n`);
  });
  log(`chromium started (${elapsed(phase)})`);
  phase = Date.now();
  await page.goto(`${running.server.url}/?folder=${encodeURIComponent(workspace.root)}`, { timeout: 60_000 });
  const workbench = new Workbench(page, artifacts);
  const readiness = await workbench.waitReady(60_000);
  log(`workbench ready (${elapsed(phase)}: ${readiness})`);

  for (const scenario of selected) {
    if (aborted) return 1;
    const scenarioStarted = Date.now();
    const notes: string[] = [];
    const context: ScenarioContext = { workbench, workspace, cliReport: () => cliReport, note: (line) => notes.push(line), vsixHasOnnxRuntime };
    try {
      await withTimeout(
        (async () => {
          await workbench.reset();
          await scenario.run(context);
        })(),
        scenario.timeoutMs,
        `scenario ${scenario.id}`,
      );
      counts.passed++;
      console.log(`✔ ${scenario.id}. ${scenario.title} (${elapsed(scenarioStarted)})`);
      for (const line of notes) console.log(`    ${line}`);
    } catch (error) {
      if (aborted) return 1;
      counts.failed++;
      console.log(`✖ ${scenario.id}. ${scenario.title} (${elapsed(scenarioStarted)})`);
      for (const line of notes) console.log(`    ${line}`);
      // Playwright's own errors carry a long call log: its first lines say enough.
      const message = error instanceof Error ? error.message : String(error);
      console.log(`    FAILED: ${message.split('\n').slice(0, 6).join('\n    ')}`);
      try {
        await new Promise((r) => setTimeout(r, 600));
        console.log(`    screenshot ${await workbench.screenshot(`${scenario.id}-failure`)}`);
      } catch (shotError) {
        console.log(`    (no failure screenshot: ${shotError instanceof Error ? shotError.message : String(shotError)})`);
      }
    }
  }
  if (pageErrors.length) log(`errors in the workbench page: ${[...new Set(pageErrors)].slice(0, 5).join(' | ')}`);
  await shutdown();
  for (const file of collectLogs(folders)) log(`log ${file}`);
  if (fs.existsSync(consoleLog)) log(`log ${consoleLog}`);
  const { passed, failed } = counts;
  const keep = failed > 0 || process.env.E2E_KEEP === '1';
  if (!keep) fs.rmSync(folders.root, { recursive: true, force: true });
  else log(`kept the run folder ${folders.root}`);
  log(`total ${elapsed()}`);
  console.log(`${passed} passed, ${failed} failed`);
  return failed > 0 ? 1 : 0;
}

// Whatever happens, the server's process group goes, and the installed extension with it.
process.on('exit', () => {
  running.server?.killNow();
  if (running.folders) removeExtensionsFolder(running.folders);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    aborted = true;
    log(`${signal}: stopping code-server and chromium`);
    void shutdown().finally(() => process.exit(130));
  });
}
const deadlineSeconds = Number(process.env.E2E_DEADLINE_S ?? 1200);
const deadline = setTimeout(() => {
  aborted = true;
  log(`the whole run exceeded ${deadlineSeconds} s; stopping (the scenario under way counts as failed)`);
  console.log(`${counts.passed} passed, ${counts.failed + 1} failed`);
  void shutdown().finally(() => process.exit(1));
}, deadlineSeconds * 1000);
deadline.unref();

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (error: unknown) => {
    if (aborted) return;
    console.error(`e2e: ${error instanceof Error ? error.message : String(error)}`);
    if (running.folders) {
      try {
        const page = running.browser?.pages()[0];
        if (page) console.error(`e2e: screenshot ${await new Workbench(page, artifacts).screenshot('setup-failure')}`);
      } catch {
        // the browser may be the thing that failed
      }
    }
    await shutdown();
    if (running.folders) for (const file of collectLogs(running.folders)) log(`log ${file}`);
    console.log(`${counts.passed} passed, ${counts.failed + 1} failed`);
    process.exitCode = 1;
  },
);
