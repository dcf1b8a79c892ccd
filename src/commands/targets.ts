import * as vscode from 'vscode';
import { lacksArchitecture, type CheckpointEntry, type CheckpointIndex } from '../checkpoints/checkpointIndex';
import { isWeightsReport } from '../shared/report';

/** Why a checkpoint cannot be rescaled, or undefined when it can (as far as is known before rescaling). */
export function whyNotRescalable(entry: CheckpointEntry): string | undefined {
  if (entry.state.kind === 'unreadable') return `it is not readable (${entry.state.reason})`;
  if (lacksArchitecture(entry)) return 'it holds weights only: add its architecture (<name>.architecture.json beside it, or the flatnessLens.architectures setting)';
  const report = entry.state.kind === 'done' || entry.state.kind === 'stale' ? entry.state.report : undefined;
  if (report && !isWeightsReport(report) && report.invariant?.minTraceOverLayerScaling?.degreesOfFreedom === 0) return 'its network has no function-preserving layer scalings (no ReLU-like layer pairs)';
  return undefined;
}

/** A command's argument: a tree node, an Explorer URI, or nothing (then the active editor or a pick). */
export async function checkpointTarget(index: CheckpointIndex, argument: unknown, placeHolder: string, offered: (entry: CheckpointEntry) => boolean = () => true): Promise<CheckpointEntry | undefined> {
  if (typeof argument === 'object' && argument !== null && 'entry' in argument) return (argument as { entry: CheckpointEntry }).entry;
  if (argument instanceof vscode.Uri) return index.entryFor(argument);
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file') {
    const entry = index.get(active);
    if (entry) return entry;
  }
  const entries = (await index.all()).filter(offered);
  if (entries.length === 0) {
    void vscode.window.showInformationMessage('Flatness Lens: no suitable checkpoints found in this workspace.');
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    entries.map((entry) => ({ label: entry.relativePath, description: [entry.format, entry.parameters?.toLocaleString('en-US')].filter(Boolean).join(' · '), entry })),
    { placeHolder, matchOnDescription: true },
  );
  return picked?.entry;
}

/** Several checkpoints: the Explorer or tree multi-selection, else a multi-select pick. */
export async function checkpointTargets(index: CheckpointIndex, argument: unknown, selection: unknown): Promise<CheckpointEntry[]> {
  const chosen = Array.isArray(selection) ? selection : [];
  if (chosen.length >= 2) {
    const entries = await Promise.all(chosen.map((s) => checkpointTarget(index, s, '')));
    return entries.filter((e): e is CheckpointEntry => e !== undefined);
  }
  const first = argument ? await checkpointTarget(index, argument, '') : undefined;
  // Only what can be compared: readable files; the right-clicked one first and already ticked.
  const entries = (await index.all()).filter((entry) => entry.state.kind !== 'unreadable').sort((a, b) => Number(b === first) - Number(a === first));
  const picked = await vscode.window.showQuickPick(
    entries.map((entry) => ({ label: entry.relativePath, description: entry.format, picked: entry === first, entry })),
    { canPickMany: true, placeHolder: 'Checkpoints to compare (two or more)' },
  );
  return picked?.map((p) => p.entry) ?? [];
}
