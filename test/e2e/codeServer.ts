import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/** The code-server release test/e2e/setup.sh installs: VS Code 1.100.3, the last one for Node 20. */
export const codeServerVersion = '4.100.3';

/** Every folder a run writes to, all inside one throw-away run folder but the extensions folder. */
export interface RunFolders {
  readonly root: string;
  readonly userData: string;
  /**
   * Outside the repository, in the system's temporary folder: from inside it, Node's upward module
   * search would find the repository's node_modules/onnxruntime-node, and the installed extension
   * would run on ONNX Runtime whether or not its .vsix carries it. Removed by removeExtensionsFolder.
   */
  readonly extensions: string;
  readonly config: string;
  readonly home: string;
  readonly xdgConfig: string;
  readonly xdgData: string;
  readonly xdgCache: string;
  readonly chromiumProfile: string;
  readonly serverLog: string;
}

export function makeRunFolders(root: string): RunFolders {
  const folders: RunFolders = {
    root,
    userData: path.join(root, 'user-data'),
    extensions: fs.mkdtempSync(path.join(os.tmpdir(), 'flatness-lens-e2e-extensions-')),
    config: path.join(root, 'code-server.yaml'),
    home: path.join(root, 'home'),
    xdgConfig: path.join(root, 'xdg', 'config'),
    xdgData: path.join(root, 'xdg', 'data'),
    xdgCache: path.join(root, 'xdg', 'cache'),
    chromiumProfile: path.join(root, 'chromium-profile'),
    serverLog: path.join(root, 'code-server.log'),
  };
  for (const dir of [folders.userData, folders.extensions, folders.home, folders.xdgConfig, folders.xdgData, folders.xdgCache, folders.chromiumProfile]) {
    fs.mkdirSync(dir, { recursive: true });
  }
  // Auth and certificates are given on the command line; this file keeps code-server from writing ~/.config.
  fs.writeFileSync(folders.config, 'auth: none\ncert: false\n');
  fs.mkdirSync(path.join(folders.userData, 'User'), { recursive: true });
  fs.writeFileSync(path.join(folders.userData, 'User', 'settings.json'), JSON.stringify(userSettings, null, 2));
  return folders;
}

export function removeExtensionsFolder(folders: RunFolders): void {
  fs.rmSync(folders.extensions, { recursive: true, force: true });
}

/** User settings that keep the workbench quiet and deterministic; workspace trust off, or the extension never activates. */
const userSettings = {
  'security.workspace.trust.enabled': false,
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  // The run folder sits inside the project's own git repository: keep git out of the picture.
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  // One row per folder in the Explorer, so rows can be found by name.
  'explorer.compactFolders': false,
  'chat.commandCenter.enabled': false,
  'window.commandCenter': false,
  'editor.minimap.enabled': false,
};

/** Where setup.sh put code-server's entry point; a clear error when it has not run. */
export function codeServerEntry(repo: string): string {
  const root = path.join(repo, '.run', 'code-server');
  const entry = path.join(root, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
  const manifest = path.join(root, 'node_modules', 'code-server', 'package.json');
  if (!fs.existsSync(entry) || !fs.existsSync(manifest)) {
    throw new Error(`code-server is not installed in ${root}: run 'bash test/e2e/setup.sh' first`);
  }
  const version = (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version?: unknown }).version;
  if (version !== codeServerVersion) throw new Error(`${manifest}: expected code-server ${codeServerVersion}, found ${String(version)}; re-run 'bash test/e2e/setup.sh'`);
  return entry;
}

/** The environment of code-server and of chromium: HOME and XDG_* inside the run folder, no extension gallery. */
export function isolatedEnv(folders: RunFolders): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Variables of an outer VS Code (its terminal, its extension host) would redirect the CLI to it.
    if (key.startsWith('VSCODE_') || key === 'ELECTRON_RUN_AS_NODE' || key.startsWith('npm_')) continue;
    env[key] = value;
  }
  return {
    ...env,
    HOME: folders.home,
    XDG_CONFIG_HOME: folders.xdgConfig,
    XDG_DATA_HOME: folders.xdgData,
    XDG_CACHE_HOME: folders.xdgCache,
    EXTENSIONS_GALLERY: '{}',
  };
}

function folderArgs(folders: RunFolders): string[] {
  return ['--user-data-dir', folders.userData, '--extensions-dir', folders.extensions, '--config', folders.config];
}

/** Installs a .vsix into the run's extensions folder with code-server's own CLI. */
export function installExtension(entry: string, folders: RunFolders, vsix: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [entry, ...folderArgs(folders), '--install-extension', vsix, '--force'],
      { env: isolatedEnv(folders), encoding: 'utf8', timeout: 120_000 },
      (error, stdout, stderr) => {
        const output = `${stdout}${stderr}`.trim();
        if (error) reject(new Error(`installing ${path.basename(vsix)} into code-server failed: ${error.message}\n${output}`));
        else if (!/successfully installed/i.test(output)) reject(new Error(`installing ${path.basename(vsix)} into code-server printed no success:\n${output}`));
        else resolve();
      },
    );
  });
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A port the kernel considers free right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** A running code-server, leader of its own process group (session): stop() ends the whole group. */
export class CodeServer {
  private exited = false;
  private exitCode: number | null = null;

  private constructor(
    readonly pid: number,
    readonly port: number,
    private readonly log: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /**
   * Starts code-server on the workspace. `detached` makes the child call setsid(), so it leads a new
   * session and process group; its file watcher and extension host (and the analyzer that host forks)
   * are in that group and die with it, and no old server keeps the port.
   */
  static async start(entry: string, folders: RunFolders, workspace: string, port: number): Promise<CodeServer> {
    if (await portAnswers(port)) throw new Error(`port ${port} already answers: another server (an old run?) is listening there; refusing to start`);
    const logFd = fs.openSync(folders.serverLog, 'a');
    const args = [
      entry,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      ...folderArgs(folders),
      workspace,
    ];
    const child = spawn(process.execPath, args, { detached: true, env: isolatedEnv(folders), stdio: ['ignore', logFd, logFd] });
    fs.closeSync(logFd);
    if (child.pid === undefined) throw new Error('code-server did not start (no pid)');
    const server = new CodeServer(child.pid, port, folders.serverLog);
    child.once('exit', (code) => {
      server.exited = true;
      server.exitCode = code;
    });
    child.unref();
    return server;
  }

  /** Waits until /healthz answers 200; fails early with the log's tail when code-server exits. */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`code-server exited (code ${this.exitCode}) before /healthz answered:\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.url}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = error instanceof Error ? error.message : String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(`code-server's ${this.url}/healthz did not answer within ${timeoutMs / 1000} s (last: ${last}):\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    try {
      return fs.readFileSync(this.log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private groupAlive(): boolean {
    try {
      process.kill(-this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** SIGTERM to the process group, SIGKILL after a grace period. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.signal('SIGTERM')) return;
    const deadline = Date.now() + graceMs;
    while (Date.now() < deadline && this.groupAlive()) await new Promise((resolve) => setTimeout(resolve, 100));
    if (this.groupAlive()) this.signal('SIGKILL');
  }

  /** For process exit handlers, where nothing asynchronous runs. */
  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(signal: NodeJS.Signals): boolean {
    try {
      process.kill(-this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }
}
