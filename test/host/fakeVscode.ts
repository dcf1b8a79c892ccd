/**
 * A small stand-in for the `vscode` module: enough of the API for the extension's commands to run
 * in plain Node. Tests script the user's answers and read back what the extension showed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export class Uri {
  private constructor(readonly scheme: string, readonly fsPath: string) {}
  static file(fsPath: string): Uri {
    return new Uri('file', path.resolve(fsPath));
  }
  static joinPath(base: Uri, ...segments: string[]): Uri {
    return new Uri(base.scheme, path.join(base.fsPath, ...segments));
  }
  get path(): string {
    return this.fsPath.split(path.sep).join('/');
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

export interface Disposable {
  dispose(): void;
}

type Listener<T> = (value: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return { dispose: () => (this.listeners = this.listeners.filter((l) => l !== listener)) };
  };
  fire(value: T): void {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose(): void {
    this.listeners = [];
  }
}

export enum ProgressLocation {
  SourceControl = 1,
  Window = 10,
  Notification = 15,
}

export enum ViewColumn {
  Active = -1,
  Beside = -2,
  One = 1,
  Two = 2,
}

export enum FileType {
  Unknown = 0,
  File = 1,
  Directory = 2,
  SymbolicLink = 64,
}

type FileEventKind = 'create' | 'change' | 'delete';

/** A file system watcher: the test fires its events with `host.fileEvent`, as the editor would. */
class FakeFileSystemWatcher {
  private readonly emitters = { create: new EventEmitter<Uri>(), change: new EventEmitter<Uri>(), delete: new EventEmitter<Uri>() };
  readonly onDidCreate = this.emitters.create.event;
  readonly onDidChange = this.emitters.change.event;
  readonly onDidDelete = this.emitters.delete.event;

  constructor(private readonly glob: string, private readonly ignored: Readonly<Record<FileEventKind, boolean>>) {}

  /** The two kinds of glob the extension watches: every path, and files by extension (`*.{a,b}` in any folder). */
  matches(fsPath: string): boolean {
    if (this.glob === '**/*') return true;
    const braces = /^\*\*\/\*\.\{([^}]*)\}$/.exec(this.glob);
    if (!braces) throw new Error(`fake watcher: glob '${this.glob}' is not of the form **/*.{a,b}`);
    return braces[1].split(',').some((extension) => fsPath.toLowerCase().endsWith(`.${extension.toLowerCase()}`));
  }

  fire(kind: FileEventKind, uri: Uri): void {
    if (!this.ignored[kind] && this.matches(uri.fsPath)) this.emitters[kind].fire(uri);
  }

  dispose(): void {
    host.watchers = host.watchers.filter((w) => w !== this);
  }
}

interface PickItem {
  readonly label: string;
}

/** What a test scripts and observes. */
export const host = {
  workspaceRoot: '',
  settings: {} as Record<string, unknown>,
  /** Labels to pick, in order, for each quick pick (several labels, comma-joined, for a multi-pick). */
  picks: [] as string[],
  /** Each quick pick shown: its labels, those ticked when it opened, its placeholder. */
  shownPicks: [] as { readonly labels: readonly string[]; readonly ticked: readonly string[]; readonly placeholder?: string }[],
  inputs: [] as string[],
  messages: [] as { readonly severity: 'info' | 'warning' | 'error'; readonly text: string }[],
  /** Paths the save dialog answers with, in order (none left: the user cancels). */
  saveTargets: [] as string[],
  /** Buttons chosen in warning dialogs, in order (none left: the user dismisses it). */
  warningAnswers: [] as string[],
  panels: [] as FakeWebviewPanel[],
  /** The file system watchers not disposed yet (kept across `reset`). */
  watchers: [] as FakeFileSystemWatcher[],
  /** A file event as the editor's watcher reports it, to every watcher whose glob matches. */
  fileEvent(kind: FileEventKind, fsPath: string): void {
    for (const watcher of [...this.watchers]) watcher.fire(kind, Uri.file(fsPath));
  },
  reset(workspaceRoot: string, settings: Record<string, unknown>): void {
    this.workspaceRoot = workspaceRoot;
    this.settings = settings;
    this.picks = [];
    this.shownPicks = [];
    this.inputs = [];
    this.messages = [];
    this.saveTargets = [];
    this.warningAnswers = [];
    this.panels = [];
  },
};

/** A webview panel whose page answers `ready` as soon as it is given HTML. */
export class FakeWebviewPanel {
  readonly posted: unknown[] = [];
  private readonly received = new EventEmitter<unknown>();
  private readonly disposed = new EventEmitter<void>();
  readonly webview = {
    cspSource: 'fake-csp',
    options: {},
    asWebviewUri: (uri: Uri) => uri,
    onDidReceiveMessage: this.received.event,
    postMessage: async (message: unknown) => {
      this.posted.push(message);
      return true;
    },
    get html(): string {
      return panelHtml.get(this) ?? '';
    },
    set html(value: string) {
      panelHtml.set(this, value);
      const panel = webviewOwner.get(this);
      if (panel) queueMicrotask(() => panel.received.fire({ type: panel.viewType === 'flatnessLens.compare' ? 'compare/ready' : 'report/ready' }));
    },
  };
  constructor(readonly viewType: string, readonly title: string) {
    webviewOwner.set(this.webview, this);
  }
  readonly onDidDispose = this.disposed.event;
  reveal(): void {}
  dispose(): void {
    this.disposed.fire();
  }
}
const panelHtml = new WeakMap<object, string>();
const webviewOwner = new WeakMap<object, FakeWebviewPanel>();

function nextPick<T extends PickItem>(items: readonly T[], many: boolean): T | T[] | undefined {
  const answer = host.picks.shift();
  if (answer === undefined) return undefined;
  const labels = many ? answer.split(',') : [answer];
  const chosen = labels.map((label) => {
    const item = items.find((i) => i.label === label);
    if (!item) throw new Error(`fake quick pick: no item '${label}' among ${items.map((i) => `'${i.label}'`).join(', ')}`);
    return item;
  });
  return many ? chosen : chosen[0];
}

/**
 * A multi-select quick pick that plays the next scripted answer as a user would: unticks what is
 * ticked but not in the answer, then ticks the answer's labels one by one in the answer's order; each
 * change reports the selection in list order, as the workbench does. Records what was ticked at show.
 */
class FakeQuickPick<T extends PickItem> {
  items: readonly T[] = [];
  selectedItems: readonly T[] = [];
  canSelectMany = false;
  placeholder = '';
  private readonly selectionChanged = new EventEmitter<readonly T[]>();
  private readonly accepted = new EventEmitter<void>();
  private readonly hidden = new EventEmitter<void>();
  readonly onDidChangeSelection = this.selectionChanged.event;
  readonly onDidAccept = this.accepted.event;
  readonly onDidHide = this.hidden.event;

  show(): void {
    host.shownPicks.push({ labels: this.items.map((i) => i.label), ticked: this.selectedItems.map((i) => i.label), placeholder: this.placeholder });
    const answer = host.picks.shift();
    queueMicrotask(() => {
      if (answer === undefined) return this.hide();
      const labels = answer.split(',');
      const select = (next: readonly T[]) => {
        this.selectedItems = this.items.filter((i) => next.includes(i));
        this.selectionChanged.fire(this.selectedItems);
      };
      select(this.selectedItems.filter((i) => labels.includes(i.label)));
      for (const label of labels) {
        const item = this.items.find((i) => i.label === label);
        if (!item) throw new Error(`fake quick pick: no item '${label}' among ${this.items.map((i) => `'${i.label}'`).join(', ')}`);
        if (!this.selectedItems.includes(item)) select([...this.selectedItems, item]);
      }
      this.accepted.fire();
    });
  }
  hide(): void {
    this.hidden.fire();
  }
  dispose(): void {}
}

export const window = {
  createQuickPick<T extends PickItem>(): FakeQuickPick<T> {
    return new FakeQuickPick<T>();
  },
  async showQuickPick<T extends PickItem>(items: readonly T[] | Promise<readonly T[]>, options?: { canPickMany?: boolean; placeHolder?: string }): Promise<T | T[] | undefined> {
    const shown = await items;
    host.shownPicks.push({ labels: shown.map((i) => i.label), ticked: [], placeholder: options?.placeHolder });
    return nextPick(shown, options?.canPickMany === true);
  },
  async showInputBox(options?: { validateInput?: (value: string) => string | undefined }): Promise<string | undefined> {
    const answer = host.inputs.shift();
    if (answer !== undefined && options?.validateInput?.(answer)) throw new Error(`fake input box: '${answer}' does not validate`);
    return answer;
  },
  async showInformationMessage(text: string): Promise<undefined> {
    host.messages.push({ severity: 'info', text });
    return undefined;
  },
  async showSaveDialog(): Promise<Uri | undefined> {
    const target = host.saveTargets.shift();
    return target === undefined ? undefined : Uri.file(target);
  },
  async showWarningMessage(text: string): Promise<string | undefined> {
    host.messages.push({ severity: 'warning', text });
    return host.warningAnswers.shift();
  },
  async showErrorMessage(text: string): Promise<undefined> {
    host.messages.push({ severity: 'error', text });
    return undefined;
  },
  async withProgress<T>(_options: unknown, task: (progress: { report(value: unknown): void }, token: { onCancellationRequested: (l: () => void) => Disposable }) => Promise<T>): Promise<T> {
    return task({ report: () => undefined }, { onCancellationRequested: () => ({ dispose: () => undefined }) });
  },
  createWebviewPanel(viewType: string, title: string): FakeWebviewPanel {
    const panel = new FakeWebviewPanel(viewType, title);
    host.panels.push(panel);
    return panel;
  },
  createOutputChannel(): { appendLine(line: string): void; show(): void; dispose(): void } {
    return { appendLine: () => undefined, show: () => undefined, dispose: () => undefined };
  },
  activeTextEditor: undefined,
};

export const workspace = {
  isTrusted: true,
  get workspaceFolders(): { uri: Uri }[] {
    return [{ uri: Uri.file(host.workspaceRoot) }];
  },
  getWorkspaceFolder(uri: Uri): { uri: Uri } | undefined {
    const relative = path.relative(host.workspaceRoot, uri.fsPath);
    return relative.startsWith('..') || path.isAbsolute(relative) ? undefined : { uri: Uri.file(host.workspaceRoot) };
  },
  asRelativePath(target: string | Uri): string {
    return path.relative(host.workspaceRoot, typeof target === 'string' ? target : target.fsPath);
  },
  getConfiguration(section: string) {
    return {
      get: <T>(key: string, fallback: T): T => (`${section}.${key}` in host.settings ? (host.settings[`${section}.${key}`] as T) : fallback),
    };
  },
  /** The workspace's files with an extension that the include glob lists (the index's and the data picker's globs), outside node_modules. */
  async findFiles(include: string): Promise<Uri[]> {
    const braces = /^\*\*\/\*\.(?:\{([^}]*)\}|(\w+))$/.exec(include);
    if (!braces) throw new Error(`fake findFiles: glob '${include}' is not of the form **/*.{a,b}`);
    const extensions = (braces[1] ?? braces[2]).split(',').map((e) => `.${e.toLowerCase()}`);
    if (!host.workspaceRoot || !fs.existsSync(host.workspaceRoot)) return [];
    return (fs.readdirSync(host.workspaceRoot, { recursive: true }) as string[])
      .filter((file) => !file.split(path.sep).includes('node_modules') && extensions.includes(path.extname(file).toLowerCase()))
      .filter((file) => fs.statSync(path.join(host.workspaceRoot, file)).isFile())
      .sort()
      .map((file) => Uri.file(path.join(host.workspaceRoot, file)));
  },
  createFileSystemWatcher(glob: string, ignoreCreate = false, ignoreChange = false, ignoreDelete = false): FakeFileSystemWatcher {
    const watcher = new FakeFileSystemWatcher(glob, { create: ignoreCreate, change: ignoreChange, delete: ignoreDelete });
    host.watchers.push(watcher);
    return watcher;
  },
  fs: {
    async stat(uri: Uri): Promise<{ type: FileType; mtime: number; size: number }> {
      const info = await fs.promises.stat(uri.fsPath);
      return { type: info.isDirectory() ? FileType.Directory : FileType.File, mtime: info.mtimeMs, size: info.size };
    },
  },
};
