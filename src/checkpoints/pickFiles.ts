import * as path from 'node:path';
import * as vscode from 'vscode';

/** Candidate checkpoint files by name; the format registry confirms them by content when read. */
export const checkpointGlob = '**/*.json';
export const dataGlob = '**/*.{npz,npy,csv,tsv,gz,idx,json}';

async function pick(glob: string, placeHolder: string, extra: vscode.QuickPickItem[] = []): Promise<vscode.QuickPickItem | undefined> {
  const files = await vscode.workspace.findFiles(glob, '**/node_modules/**', 500);
  const items: (vscode.QuickPickItem & { uri?: vscode.Uri })[] = files
    .map((uri) => ({ label: path.basename(uri.fsPath), description: vscode.workspace.asRelativePath(path.dirname(uri.fsPath)), uri }))
    .sort((a, b) => (a.description + a.label).localeCompare(b.description + b.label));
  return vscode.window.showQuickPick([...extra, ...items], { placeHolder, matchOnDescription: true });
}

export async function pickCheckpoint(): Promise<vscode.Uri | undefined> {
  const choice = (await pick(checkpointGlob, 'Checkpoint to analyze')) as { uri?: vscode.Uri } | undefined;
  return choice?.uri;
}

export const dataFreeChoice = 'Data-free (Gaussian probe inputs)';

/** A data file, or `null` for the data-free mode, or undefined when the user cancels. */
export async function pickDataSet(): Promise<vscode.Uri | null | undefined> {
  const choice = (await pick(dataGlob, 'Data set to evaluate the loss on', [{ label: dataFreeChoice, description: 'no data: the model’s own predictions as targets' }])) as
    | (vscode.QuickPickItem & { uri?: vscode.Uri })
    | undefined;
  if (!choice) return undefined;
  return choice.uri ?? null;
}
