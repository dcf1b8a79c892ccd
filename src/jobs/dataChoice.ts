import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckpointEntry } from '../checkpoints/checkpointIndex';
import { mappedValue, workspacePath } from '../settings';

/** The data set for a checkpoint: a file, or the data-free mode. */
export type DataChoice = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'data-free' };

const dataFreeLabel = 'Data-free (Gaussian probe inputs)';
const dataGlob = '**/*.{npz,npy,csv,tsv,gz,idx,json,txt}';
const memoryKey = 'flatnessLens.dataChoices';

/**
 * Resolves which data set a checkpoint is analyzed with: the user's earlier choice for it (kept in
 * workspace state), else the `flatnessLens.dataSets` setting (by checkpoint or folder, relative to
 * the workspace), else a quick pick of the workspace's data files and the data-free mode.
 */
export class DataChoices {
  constructor(private readonly memory: vscode.Memento) {}

  remembered(entry: CheckpointEntry): DataChoice | undefined {
    return this.memory.get<Record<string, DataChoice>>(memoryKey, {})[entry.relativePath];
  }

  fromSettings(entry: CheckpointEntry, mapping: Readonly<Record<string, string>>): DataChoice | undefined {
    const value = mappedValue(entry.relativePath.split(path.sep).join('/'), mapping);
    if (value === undefined) return undefined;
    if (value === 'data-free') return { kind: 'data-free' };
    return { kind: 'file', path: workspacePath(value, entry.uri.fsPath) };
  }

  async resolve(entry: CheckpointEntry, mapping: Readonly<Record<string, string>>): Promise<DataChoice | undefined> {
    return this.remembered(entry) ?? this.fromSettings(entry, mapping) ?? (await this.ask(entry));
  }

  /** Asks the user and remembers the answer for this checkpoint. */
  async ask(entry: CheckpointEntry): Promise<DataChoice | undefined> {
    const files = await vscode.workspace.findFiles(dataGlob, '**/node_modules/**', 2000);
    const checkpointFiles = new Set(entry.files);
    const items: (vscode.QuickPickItem & { choice: DataChoice })[] = [
      { label: dataFreeLabel, description: 'no data: the model’s own predictions on Gaussian inputs', choice: { kind: 'data-free' } },
      ...files
        .filter((uri) => !checkpointFiles.has(uri.fsPath) && !/model\.json$|\.weights\.bin$/.test(uri.fsPath))
        .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), choice: { kind: 'file', path: uri.fsPath } as DataChoice }))
        .sort((a, b) => `${a.description}/${a.label}`.localeCompare(`${b.description}/${b.label}`)),
    ];
    const picked = await vscode.window.showQuickPick(items, { title: `Data set for ${entry.relativePath}`, placeHolder: 'The loss and every Hessian are computed on this data', matchOnDescription: true });
    if (!picked) return undefined;
    await this.remember(entry, picked.choice);
    return picked.choice;
  }

  async remember(entry: CheckpointEntry, choice: DataChoice): Promise<void> {
    const all = { ...this.memory.get<Record<string, DataChoice>>(memoryKey, {}), [entry.relativePath]: choice };
    await this.memory.update(memoryKey, all);
  }
}
