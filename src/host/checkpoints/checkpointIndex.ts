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

/**
 * The workspace's checkpoints, found by name here and recognized by content in the analyzer process
 * (the host never parses a checkpoint), kept current by file watchers. `files.exclude` applies
 * (findFiles' default), and so does `flatnessLens.exclude`.
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

  constructor(private readonly describeFile: DescribeCheckpoint, private readonly exclude: () => readonly string[], private readonly log: (line: string) => void) {
    const watcher = vscode.workspace.createFileSystemWatcher(`**/*.{${[...checkpointExtensions, 'bin'].join(',')}}`);
    this.disposables.push(
      watcher,
      watcher.onDidCreate((uri) => void this.fileChanged(uri)),
      watcher.onDidChange((uri) => void this.fileChanged(uri)),
      watcher.onDidDelete((uri) => this.fileDeleted(uri)),
    );
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

  private async fileChanged(uri: vscode.Uri): Promise<void> {
    if (this.excluded(uri)) return;
    const affected = new Set<CheckpointEntry>(await this.architectureChanged(uri));
    if (candidatePattern.test(uri.fsPath)) {
      const entry = await this.describe(uri);
      if (entry) affected.add(entry);
      else this.changed.fire(undefined);
    }
    for (const entry of this.entries.values()) {
      if (entry.uri.fsPath !== uri.fsPath && entry.files.includes(uri.fsPath)) {
        entry.contentHash = undefined;
        await this.describe(entry.uri);
        affected.add(entry);
      }
    }
    for (const entry of affected) {
      this.changed.fire(entry);
      if (entry.contentHash !== entry.analyzedHash) this.contentChanged.fire(entry);
    }
  }

  private fileDeleted(uri: vscode.Uri): void {
    if (this.entries.delete(uri.fsPath)) this.changed.fire(undefined);
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
