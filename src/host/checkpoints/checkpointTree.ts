import * as path from 'node:path';
import * as vscode from 'vscode';
import { lacksArchitecture, type CheckpointEntry, type CheckpointIndex, type CheckpointState } from './checkpointIndex';
import { isWeightsReport } from '../../protocol/report';
import { whyNotRescalable } from './rescalable';
import { readSettings } from '../settings';
import { relativeToWorkspace } from '../workspacePaths';
import { trainingRunsAmong, type IndexedRun } from './trainingRuns';

/**
 * Context values the menus' `when` clauses match; a checkpoint that cannot be rescaled gets
 * `notRescalableSuffix`, which the rescale commands' `enablement` greys them on.
 */
export const contextValues = {
  checkpoint: 'flatnessLens.checkpoint',
  analyzed: 'flatnessLens.checkpoint.analyzed',
  folder: 'flatnessLens.folder',
  run: 'flatnessLens.run',
} as const;
export const notRescalableSuffix = '.notRescalable';

export type Node =
  | { readonly kind: 'folder'; readonly folder: string; readonly entries: CheckpointEntry[] }
  /** A training run: checkpoints whose names differ by a step number, in step order. */
  | { readonly kind: 'run'; readonly run: IndexedRun }
  /** Files that look like checkpoints but could not be read, each with its reason, so none disappears silently. */
  | { readonly kind: 'notReadable'; readonly entries: CheckpointEntry[] }
  | { readonly kind: 'checkpoint'; readonly entry: CheckpointEntry; readonly labelWithPath?: boolean; readonly step?: string };

const compact = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-2 && v !== 0) ? v.toExponential(2) : v.toPrecision(4));

export function describeState(state: CheckpointState): string {
  switch (state.kind) {
    case 'new':
      return 'not analyzed';
    case 'queued':
      return 'queued';
    case 'analyzing':
      return `analyzing ${Math.round(state.fraction * 100)}%`;
    case 'done':
    case 'stale': {
      if (isWeightsReport(state.report)) return `weights only: ${state.report.tensors.length} tensors${state.kind === 'stale' ? ' · stale' : ''}`;
      const h = state.report.hessian;
      const parts = [h.topEigenvalues ? `λ₁ ${compact(h.topEigenvalues[0])}` : undefined, h.trace ? `Tr ${compact(h.trace.estimate)}` : undefined].filter(Boolean);
      return `${parts.join(' · ') || 'analyzed'}${state.kind === 'stale' ? ' · stale' : ''}`;
    }
    case 'failed':
      return `failed: ${relativeToWorkspace(state.reason)}`;
    case 'unreadable':
      return `unreadable: ${relativeToWorkspace(state.reason)}`;
  }
}

function icon(state: CheckpointState): vscode.ThemeIcon {
  switch (state.kind) {
    case 'new':
      return new vscode.ThemeIcon('circle-large-outline');
    case 'queued':
      return new vscode.ThemeIcon('watch');
    case 'analyzing':
      return new vscode.ThemeIcon('sync~spin');
    case 'done':
      return new vscode.ThemeIcon('pass', new vscode.ThemeColor('testing.iconPassed'));
    case 'stale':
      return new vscode.ThemeIcon('history', new vscode.ThemeColor('list.warningForeground'));
    case 'failed':
    case 'unreadable':
      return new vscode.ThemeIcon('error', new vscode.ThemeColor('list.errorForeground'));
  }
}

/** The Checkpoints view: checkpoints grouped by folder, with format, size and last results. */
export class CheckpointTree implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly index: CheckpointIndex) {
    this.subscription = index.onDidChange(() => this.changed.fire(undefined));
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (node?.kind === 'checkpoint') return [];
    if (node?.kind === 'folder') return node.entries.map((entry) => ({ kind: 'checkpoint', entry }));
    if (node?.kind === 'run') return node.run.entries.map((entry, i) => ({ kind: 'checkpoint', entry, step: `${node.run.series.counts} ${node.run.series.checkpoints[i].step}` }));
    if (node?.kind === 'notReadable') return node.entries.map((entry) => ({ kind: 'checkpoint', entry, labelWithPath: true }));
    const byFolder = new Map<string, CheckpointEntry[]>();
    const notReadable: CheckpointEntry[] = [];
    const all = await this.index.all();
    const runs = trainingRunsAmong(all, readSettings().runPatterns);
    const inRuns = new Set(runs.flatMap((run) => run.entries));
    for (const entry of all) {
      if (inRuns.has(entry)) continue;
      if (entry.state.kind === 'unreadable') {
        notReadable.push(entry);
        continue;
      }
      const folder = path.posix.dirname(entry.relativePath.split(path.sep).join('/'));
      byFolder.set(folder, [...(byFolder.get(folder) ?? []), entry]);
    }
    const folders: Node[] = [
      ...runs.map((run): Node => ({ kind: 'run', run })),
      ...[...byFolder].sort(([a], [b]) => a.localeCompare(b)).map(([folder, entries]): Node => ({ kind: 'folder', folder, entries })),
    ];
    return notReadable.length > 0 ? [...folders, { kind: 'notReadable', entries: notReadable.sort((a, b) => a.relativePath.localeCompare(b.relativePath)) }] : folders;
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind === 'folder') {
      const item = new vscode.TreeItem(node.folder === '.' ? '(workspace root)' : node.folder, vscode.TreeItemCollapsibleState.Expanded);
      item.iconPath = vscode.ThemeIcon.Folder;
      item.contextValue = contextValues.folder;
      return item;
    }
    if (node.kind === 'run') {
      const { series, entries } = node.run;
      const item = new vscode.TreeItem(series.pattern, vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `run:${node.run.key}`;
      item.iconPath = new vscode.ThemeIcon('graph-line');
      const analyzed = entries.filter((e) => e.state.kind === 'done' || e.state.kind === 'stale').length;
      item.description = `training run · ${entries.length} checkpoints by ${series.counts}${analyzed > 0 ? ` · ${analyzed} analyzed` : ''}`;
      const aliases = series.aliases.length > 0 ? `\n\nNot in the series (no number): ${series.aliases.join(', ')}` : '';
      item.tooltip = new vscode.MarkdownString(`**Training run** \`${series.pattern}\`\n\n${series.counts} ${series.checkpoints[0].step} … ${series.checkpoints[series.checkpoints.length - 1].step}${aliases}\n\nRight-click: Analyze Training Run`);
      item.contextValue = contextValues.run;
      return item;
    }
    if (node.kind === 'notReadable') {
      const item = new vscode.TreeItem('Not readable', vscode.TreeItemCollapsibleState.Expanded);
      item.iconPath = new vscode.ThemeIcon('warning');
      item.description = `${node.entries.length} file${node.entries.length === 1 ? '' : 's'}`;
      item.tooltip = 'Files that look like checkpoints but could not be read; each says why. The README’s "Checkpoints" section lists what is read.';
      item.contextValue = contextValues.folder;
      return item;
    }
    const { entry } = node;
    const name = node.step ?? (node.labelWithPath ? entry.relativePath.split(path.sep).join('/') : path.basename(entry.uri.fsPath));
    const item = new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None);
    item.resourceUri = entry.uri;
    item.id = entry.uri.toString();
    const size = entry.parameters !== undefined ? `${entry.parameters.toLocaleString('en-US')} params` : undefined;
    const format = entry.format && lacksArchitecture(entry) ? `${entry.format} (weights only)` : entry.format;
    item.description = [format, size, describeState(entry.state)].filter(Boolean).join(' · ');
    item.iconPath = icon(entry.state);
    const notRescalable = whyNotRescalable(entry);
    item.contextValue = (entry.state.kind === 'done' || entry.state.kind === 'stale' ? contextValues.analyzed : contextValues.checkpoint) + (notRescalable ? notRescalableSuffix : '');
    const architecture = format !== entry.format ? '\n\nNo architecture: tensor statistics only. Add `<name>.architecture.json` beside it, or set `flatnessLens.architectures`.' : '';
    const rescale = notRescalable && entry.state.kind !== 'unreadable' ? `\n\nRescale is not available: ${notRescalable}.` : '';
    const tooltip = new vscode.MarkdownString();
    tooltip.appendMarkdown(`**${entry.relativePath}**\n\n${format ?? 'unknown format'}${size ? `, ${size}` : ''}\n\n`);
    tooltip.appendText(describeState(entry.state));
    tooltip.appendMarkdown(architecture);
    tooltip.appendText(rescale);
    item.tooltip = tooltip;
    item.command = entry.state.kind === 'done' || entry.state.kind === 'stale'
      ? { command: 'flatnessLens.showReport', title: 'Show Report', arguments: [entry.uri] }
      : { command: 'vscode.open', title: 'Open', arguments: [entry.uri] };
    return item;
  }

  /** The tree node of a checkpoint (for reveal). */
  nodeFor(entry: CheckpointEntry): Node {
    return { kind: 'checkpoint', entry };
  }

  getParent(): undefined {
    return undefined;
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }
}
