import * as path from 'node:path';
import * as vscode from 'vscode';
import { detectTrainingRuns, trainingRunFromPattern } from '../../engine/runs/seriesDetection';
import type { TrainingRunSeries } from '../../protocol/trajectory';
import type { CheckpointEntry } from './checkpointIndex';

/** A training run among the listed checkpoints: its series and the entries, in step order. */
export interface IndexedRun {
  /** Identifies the run across refreshes: its folder and pattern. */
  readonly key: string;
  readonly series: TrainingRunSeries;
  readonly entries: readonly CheckpointEntry[];
}

const toPosix = (p: string) => p.split(path.sep).join('/');

/**
 * The training runs among the index's readable checkpoints, per workspace folder: the files that
 * match a `flatnessLens.runPatterns` pattern first (one run per pattern), then runs found by name.
 */
export function trainingRunsAmong(entries: readonly CheckpointEntry[], patterns: readonly string[]): IndexedRun[] {
  const byRoot = new Map<string, CheckpointEntry[]>();
  for (const entry of entries) {
    if (entry.state.kind === 'unreadable') continue;
    const root = vscode.workspace.getWorkspaceFolder(entry.uri)?.uri.fsPath ?? path.dirname(entry.uri.fsPath);
    byRoot.set(root, [...(byRoot.get(root) ?? []), entry]);
  }
  const runs: IndexedRun[] = [];
  for (const [root, rootEntries] of byRoot) {
    const byPath = new Map(rootEntries.map((e) => [toPosix(path.relative(root, e.uri.fsPath)), e] as const));
    const remaining = new Set(byPath.keys());
    const found: TrainingRunSeries[] = [];
    for (const pattern of patterns) {
      const series = trainingRunFromPattern(root, [...remaining], pattern);
      if (!series) continue;
      found.push(series);
      for (const c of series.checkpoints) remaining.delete(c.path);
    }
    found.push(...detectTrainingRuns(root, [...remaining]));
    for (const series of found) {
      runs.push({ key: `${root}\n${series.pattern}`, series, entries: series.checkpoints.map((c) => byPath.get(c.path)!) });
    }
  }
  return runs;
}

/** The run with most checkpoints under a folder, or undefined. */
export function largestRunUnder(runs: readonly IndexedRun[], folder: string): IndexedRun | undefined {
  const prefix = folder.endsWith(path.sep) ? folder : folder + path.sep;
  return runs
    .filter((run) => run.entries.every((e) => e.uri.fsPath.startsWith(prefix)))
    .sort((a, b) => b.entries.length - a.entries.length)[0];
}
