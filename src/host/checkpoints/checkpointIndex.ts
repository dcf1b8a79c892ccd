import * as path from 'node:path';
import * as vscode from 'vscode';
import { architectureFor, readSettings } from '../settings';
import { checkpointExtensions, type CheckpointDescription, type DescribeRequest } from '../../protocol/checkpointFiles';
import type { AnyReport } from '../../protocol/report';
import { matchesAny } from './globMatch';

export type CheckpointState =
  | { readonly kind: 'new' }
  | { readonly kind: 'queued' }
  | { readonly kind: 'analyzing'; readonly fraction: number; readonly message: string }
  | { readonly kind: 'done'; readonly report: AnyReport }
  | { readonly kind: 'stale'; readonly report: AnyReport }
  | { readonly kind: 'failed'; readonly reason: string }
  | { readonly kind: 'unreadable'; readonly reason: string };

/** One listed checkpoint; the same object for its whole life in the index (updated in place). */
export interface CheckpointEntry {
  readonly uri: vscode.Uri;
  readonly relativePath: string;
  format?: string;
  /** Weights without an architecture of their own (safetensors, .pt, .npz). */
  weightsOnly?: boolean;
  parameters?: number;
  /** Every file of the checkpoint (model.json and its shards). */
  files: readonly string[];
  /** Content hash of `files`, once computed. */
  contentHash?: string;
  /** Content hash of the files the shown report was computed from. */
  analyzedHash?: string;
  state: CheckpointState;
}

/**
 * A weights-only file (safetensors, .pt, .npz) with no architecture beside it or in the settings:
 * it gets tensor statistics only, which need no data.
 */
export function lacksArchitecture(entry: CheckpointEntry): boolean {
  return isWeightsOnly(entry) && entry.files.length === 1 && architectureFor(entry.uri.fsPath, readSettings(entry.uri)) === undefined;
}

function isWeightsOnly(entry: CheckpointEntry): boolean {
  return entry.weightsOnly === true;
}

/** Reads a file's format, size, files and content hash: done by the engine, in the analyzer process. */
export type DescribeCheckpoint = (request: DescribeRequest) => Promise<CheckpointDescription>;

/** Candidate files by name; the format registry decides by content. */
const candidateGlob = `**/*.{${checkpointExtensions.join(',')}}`;
const candidatePattern = new RegExp(`\\.(${checkpointExtensions.join('|')})$`, 'i');

/** Extensions that many files share besides checkpoints: an unrecognized one is skipped without a word. */
function looksLikeAnyFile(file: string): boolean {
  return ['.json', '.npz'].includes(path.extname(file).toLowerCase());
}

/** How long file events must pause before the view is updated: a checkpoint is written as several files. */
const SETTLE_MS = 500;

type FileEvent = 'changed' | 'deleted' | 'created';

/**
 * The workspace's checkpoints, found by name here and recognized by content in the analyzer process
 * (the host never parses a checkpoint), kept current by file watchers whose events are handled
 * together once they settle. `files.exclude` applies (findFiles' default), and so does
 * `flatnessLens.exclude`.
 */

export class CheckpointIndex implements vscode.Disposable {
  private readonly entries = new Map<string, CheckpointEntry>();
  private readonly changed = new vscode.EventEmitter<CheckpointEntry | undefined>();
  private readonly contentChanged = new vscode.EventEmitter<CheckpointEntry>();
  private readonly disposables: vscode.Disposable[] = [this.changed, this.contentChanged];
  readonly onDidChange = this.changed.event;
  /** A checkpoint's files changed on disk (for auto-analysis). */
  readonly onDidChangeContent = this.contentChanged.event;
  private scanned: Promise<void> | undefined;
  /** File events not handled yet, the latest per path. */
  private readonly pending = new Map<string, { readonly uri: vscode.Uri; readonly event: FileEvent }>();
  private settleTimer: NodeJS.Timeout | undefined;
  private settling: Promise<void> = Promise.resolve();

  constructor(
    private readonly describeFile: DescribeCheckpoint,
    private readonly exclude: () => readonly string[],
    private readonly log: (line: string) => void,
    private readonly settleMs = SETTLE_MS,
  ) {
    const files = vscode.workspace.createFileSystemWatcher(`**/*.{${[...checkpointExtensions, 'bin'].join(',')}}`);
    // A folder moved or copied into the workspace can arrive as one event for the folder and none for the files in it.
    const folders = vscode.workspace.createFileSystemWatcher('**/*', false, true, false);
    this.disposables.push(
      files,
      folders,
      files.onDidCreate((uri) => this.queue(uri, 'changed')),
      files.onDidChange((uri) => this.queue(uri, 'changed')),
      files.onDidDelete((uri) => this.queue(uri, 'deleted')),
      folders.onDidCreate((uri) => this.queue(uri, 'created')),
      folders.onDidDelete((uri) => this.queue(uri, 'deleted')),
      { dispose: () => clearTimeout(this.settleTimer) },
    );
  }

  /** Resolves once the file events seen so far are handled. */
  async settled(): Promise<void> {
    while (this.pending.size > 0 || this.settleTimer !== undefined) {
      await new Promise((done) => setTimeout(done, this.settleMs));
      await this.settling;
    }
    await this.settling;
  }

  /** All entries, after the first scan. */
  async all(): Promise<CheckpointEntry[]> {
    this.scanned ??= this.scan();
    await this.scanned;
    return [...this.entries.values()].sort((a, b) => a.relativePath.localeCompare(b.relativePath));
  }

  get(uri: vscode.Uri): CheckpointEntry | undefined {
    return this.entries.get(uri.fsPath);
  }

  /** The entry for a file, adding it if it is a checkpoint the scan did not list. */
  async entryFor(uri: vscode.Uri): Promise<CheckpointEntry> {
    await this.all();
    const entry = this.entries.get(uri.fsPath) ?? (await this.describe(uri));
    if (entry) return entry;
    // Not listed: a file that is not a checkpoint stays out of the view.
    return { uri, relativePath: vscode.workspace.asRelativePath(uri, false), files: [uri.fsPath], state: { kind: 'unreadable', reason: 'not a checkpoint format Flatness Lens reads' } };
  }

  refresh(): void {
    this.entries.clear();
    this.scanned = this.scan();
    void this.scanned.then(() => this.changed.fire(undefined));
  }

  update(entry: CheckpointEntry, state: CheckpointState): void {
    entry.state = state;
    this.changed.fire(entry);
  }

  async hashOf(entry: CheckpointEntry): Promise<string> {
    if (entry.contentHash !== undefined) return entry.contentHash;
    const description = await this.describeFile({ checkpoint: entry.uri.fsPath, contentHash: true });
    if (description.kind !== 'checkpoint' || description.contentHash === undefined) throw new Error(`${entry.relativePath}: ${description.kind === 'checkpoint' ? 'no content hash' : description.reason}`);
    entry.files = description.files;
    entry.contentHash = description.contentHash;
    return entry.contentHash;
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }

  private async scan(): Promise<void> {
    const uris = await vscode.workspace.findFiles(candidateGlob, undefined, 5000);
    const queue = uris.filter((uri) => !this.excluded(uri));
    const workers = Array.from({ length: 8 }, async () => {
      for (let uri = queue.shift(); uri; uri = queue.shift()) await this.describe(uri);
    });
    await Promise.all(workers);
    this.log(`found ${this.entries.size} checkpoint${this.entries.size === 1 ? '' : 's'}`);
  }

  /** flatnessLens.exclude, and files.exclude for watcher events (findFiles applies it by itself). */
  private excluded(uri: vscode.Uri): boolean {
    const filesExclude = Object.entries(vscode.workspace.getConfiguration('files', uri).get<Record<string, boolean>>('exclude', {}))
      .filter(([, on]) => on === true)
      .map(([glob]) => glob);
    return matchesAny(vscode.workspace.asRelativePath(uri, false).split(path.sep).join('/'), [...this.exclude(), ...filesExclude]);
  }

  /** Adds or refreshes the entry for a file; undefined when it is not a checkpoint. */
  private async describe(uri: vscode.Uri): Promise<CheckpointEntry | undefined> {
    const previous = this.entries.get(uri.fsPath);
    try {
      // A new file is hashed when a job needs it; a known one now, to tell whether its report is stale.
      const description = await this.describeFile({ checkpoint: uri.fsPath, contentHash: previous !== undefined });
      if (description.kind === 'not-a-checkpoint') {
        // A .json or .npz that is no checkpoint is any other file; a .onnx, .h5, .pt … that is none is a checkpoint we cannot read.
        if (looksLikeAnyFile(uri.fsPath)) {
          if (previous) this.entries.delete(uri.fsPath);
          return undefined;
        }
        return this.unreadable(uri, description.reason);
      }
      const facts = { format: description.format, weightsOnly: description.weightsOnly, parameters: description.parameters, files: description.files, contentHash: description.contentHash };
      if (previous) {
        Object.assign(previous, facts);
        const unchanged = previous.contentHash !== undefined && previous.contentHash === previous.analyzedHash;
        if (!unchanged) previous.state = staleVersionOf(previous.state);
        return previous;
      }
      const entry: CheckpointEntry = { uri, relativePath: vscode.workspace.asRelativePath(uri, false), ...facts, state: { kind: 'new' } };
      this.entries.set(uri.fsPath, entry);
      return entry;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // The engine's file problems begin with the file's path, which the view shows already.
      return this.unreadable(uri, message.startsWith(`${uri.fsPath}: `) ? message.slice(uri.fsPath.length + 2) : message);
    }
  }

  private unreadable(uri: vscode.Uri, reason: string): CheckpointEntry {
    const previous = this.entries.get(uri.fsPath);
    if (previous) {
      previous.state = { kind: 'unreadable', reason };
      return previous;
    }
    const entry: CheckpointEntry = { uri, relativePath: vscode.workspace.asRelativePath(uri, false), files: [uri.fsPath], state: { kind: 'unreadable', reason } };
    this.entries.set(uri.fsPath, entry);
    return entry;
  }

  /**
   * A weights-only file's architecture (`<name>.architecture.json`, `architecture.json`) is one of its
   * files once it exists: the entries in that folder are described again when one comes or goes.
   */
  private async architectureChanged(uri: vscode.Uri): Promise<CheckpointEntry[]> {
    if (!/(^|\.)architecture\.json$/i.test(path.basename(uri.fsPath))) return [];
    const folder = path.dirname(uri.fsPath);
    const entries = [...this.entries.values()].filter((e) => e.uri.fsPath !== uri.fsPath && path.dirname(e.uri.fsPath) === folder && isWeightsOnly(e));
    for (const entry of entries) await this.describe(entry.uri);
    return entries;
  }

  private queue(uri: vscode.Uri, event: FileEvent): void {
    const earlier = this.pending.get(uri.fsPath)?.event;
    // The file watcher's 'changed' says more than the folder watcher's 'created' for the same path.
    if (!(event === 'created' && earlier === 'changed')) this.pending.set(uri.fsPath, { uri, event });
    clearTimeout(this.settleTimer);
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.settling = this.settling.then(() => this.settle()).catch((error: unknown) => this.log(`updating the checkpoints after file changes failed: ${String(error)}`));
    }, this.settleMs);
  }

  /** Handles the events that came in while files were being written, each path once. */
  private async settle(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending.clear();
    let folderCreated = false;
    for (const { uri, event } of batch) {
      if (event === 'deleted') this.fileDeleted(uri);
      else if (event === 'created' && (await isFolder(uri))) folderCreated = true;
    }
    await this.filesChanged(batch.filter((e) => e.event === 'changed').map((e) => e.uri));
    if (folderCreated) await this.addUnlisted();
  }

  /** Describes the checkpoints the workspace holds but the view does not list yet (after the first scan). */
  private async addUnlisted(): Promise<void> {
    if (this.scanned === undefined) return;
    await this.scanned;
    const uris = await vscode.workspace.findFiles(candidateGlob, undefined, 5000);
    let added = 0;
    for (const uri of uris) {
      if (this.entries.has(uri.fsPath) || this.excluded(uri)) continue;
      if (await this.describe(uri)) added++;
    }
    if (added > 0) {
      this.log(`found ${added} new checkpoint${added === 1 ? '' : 's'}`);
      this.changed.fire(undefined);
    }
  }

  /** Describes each checkpoint the changed files touch once, however many of its files changed. */
  private async filesChanged(uris: readonly vscode.Uri[]): Promise<void> {
    const affected = new Set<CheckpointEntry>();
    const toDescribe = new Map<string, vscode.Uri>();
    for (const uri of uris) {
      if (this.excluded(uri)) continue;
      for (const entry of await this.architectureChanged(uri)) affected.add(entry);
      if (candidatePattern.test(uri.fsPath)) toDescribe.set(uri.fsPath, uri);
      for (const entry of this.entries.values()) {
        if (entry.uri.fsPath === uri.fsPath) continue;
        if (entry.files.includes(uri.fsPath)) {
          entry.contentHash = undefined;
          toDescribe.set(entry.uri.fsPath, entry.uri);
        }
        // A checkpoint found before all its files were written (model.json before its shards) is read again when one arrives.
        if (entry.state.kind === 'unreadable' && path.dirname(entry.uri.fsPath) === path.dirname(uri.fsPath)) toDescribe.set(entry.uri.fsPath, entry.uri);
      }
    }
    let unlisted = false;
    for (const uri of toDescribe.values()) {
      const entry = await this.describe(uri);
      if (entry) affected.add(entry);
      else unlisted = true;
    }
    if (unlisted) this.changed.fire(undefined);
    for (const entry of affected) {
      this.changed.fire(entry);
      if (entry.contentHash !== entry.analyzedHash) this.contentChanged.fire(entry);
    }
  }

  private fileDeleted(uri: vscode.Uri): void {
    const inside = uri.fsPath + path.sep;
    const removed = [...this.entries.keys()].filter((file) => file === uri.fsPath || file.startsWith(inside));
    for (const file of removed) this.entries.delete(file);
    if (removed.length > 0) this.changed.fire(undefined);
    void this.architectureChanged(uri).then((entries) => entries.forEach((entry) => this.changed.fire(entry)));
    for (const entry of this.entries.values()) {
      if (entry.files.includes(uri.fsPath) && !isWeightsOnly(entry)) {
        this.update(entry, { kind: 'unreadable', reason: `${path.basename(uri.fsPath)} was deleted` });
      }
    }
  }
}

function staleVersionOf(state: CheckpointState): CheckpointState {
  return state.kind === 'done' || state.kind === 'stale' ? { kind: 'stale', report: state.report } : state.kind === 'analyzing' || state.kind === 'queued' ? state : { kind: 'new' };
}

async function isFolder(uri: vscode.Uri): Promise<boolean> {
  try {
    return ((await vscode.workspace.fs.stat(uri)).type & vscode.FileType.Directory) !== 0;
  } catch {
    return false;
  }
}
