import * as vscode from 'vscode';
import type { CheckpointEntry, CheckpointIndex } from '../checkpoints/checkpointIndex';

/** A command's argument: a tree node, an Explorer URI, or nothing (then the active editor or a pick). */
export async function checkpointTarget(
  index: CheckpointIndex,
  argument: unknown,
  placeHolder: string,
  whyNotOffered: (entry: CheckpointEntry) => string | undefined = () => undefined,
): Promise<CheckpointEntry | undefined> {
  if (typeof argument === 'object' && argument !== null && 'entry' in argument) return (argument as { entry: CheckpointEntry }).entry;
  if (argument instanceof vscode.Uri) return index.entryFor(argument);
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file') {
    const entry = index.get(active);
    if (entry) return entry;
  }
  const all = await index.all();
  const entries = all.filter((entry) => whyNotOffered(entry) === undefined);
  if (entries.length === 0) {
    const reasons = all.slice(0, 3).map((entry) => `${entry.relativePath}: ${whyNotOffered(entry)}`);
    const more = all.length > 3 ? ` (and ${all.length - 3} more)` : '';
    void vscode.window.showInformationMessage(`Flatness Lens: no suitable checkpoints found in this workspace${reasons.length ? ` — ${reasons.join('; ')}${more}` : ''}.`);
    return undefined;
  }
  const picked = await vscode.window.showQuickPick(
    entries.map((entry) => ({ label: entry.relativePath, description: [entry.format, entry.parameters?.toLocaleString('en-US')].filter(Boolean).join(' · '), entry })),
    { placeHolder, matchOnDescription: true },
  );
  return picked?.entry;
}

/**
 * Several checkpoints, in the order the user chose them: the Explorer or tree multi-selection (the
 * right-clicked one first), else a multi-select pick of any number with the right-clicked one ticked.
 */
export async function checkpointTargets(index: CheckpointIndex, argument: unknown, selection: unknown): Promise<CheckpointEntry[]> {
  const chosen = Array.isArray(selection) ? selection : [];
  const first = argument ? await checkpointTarget(index, argument, '') : undefined;
  if (chosen.length >= 2) {
    const entries = (await Promise.all(chosen.map((s) => checkpointTarget(index, s, '')))).filter((e): e is CheckpointEntry => e !== undefined);
    return first && entries.includes(first) ? [first, ...entries.filter((e) => e !== first)] : entries;
  }
  // Only what can be compared: readable files; the right-clicked one first and already ticked.
  const entries = (await index.all()).filter((entry) => entry.state.kind !== 'unreadable').sort((a, b) => Number(b === first) - Number(a === first));
  return pickInOrder(
    entries.map((entry) => ({ label: entry.relativePath, description: entry.format, entry })),
    entries.filter((entry) => entry === first).map((entry) => entry.relativePath),
    'Checkpoints to compare, in the order of the columns (two or more)',
  );
}

/** A multi-select pick that returns the items in the order they were ticked (a plain multi-pick returns list order). */
async function pickInOrder(items: readonly (vscode.QuickPickItem & { entry: CheckpointEntry })[], ticked: readonly string[], placeholder: string): Promise<CheckpointEntry[]> {
  const pick = vscode.window.createQuickPick<(typeof items)[number]>();
  pick.canSelectMany = true;
  pick.placeholder = placeholder;
  pick.items = items;
  let order = items.filter((item) => ticked.includes(item.label));
  pick.selectedItems = order;
  return new Promise((resolve) => {
    let accepted = false;
    pick.onDidChangeSelection((selected) => {
      order = [...order.filter((item) => selected.includes(item)), ...selected.filter((item) => !order.includes(item))];
    });
    pick.onDidAccept(() => {
      accepted = true;
      pick.hide();
    });
    pick.onDidHide(() => {
      pick.dispose();
      resolve(accepted ? order.map((item) => item.entry) : []);
    });
    pick.show();
  });
}
