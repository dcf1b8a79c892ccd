import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

const exampleFiles = ['model.json', 'model.weights.bin', 'digits.csv.gz'];

/** The first of `flatness-example`, `flatness-example-2`, … that does not exist in `parent`. */
function freeFolder(parent: string): string {
  for (let n = 1; ; n++) {
    const candidate = path.join(parent, n === 1 ? 'flatness-example' : `flatness-example-${n}`);
    if (!fs.existsSync(candidate)) return candidate;
  }
}

/**
 * Copies the bundled digits example (a 2,778-parameter MLP and 1,797 labelled 8×8 digits) into a
 * new folder of the open workspace, or of a folder the user picks, and selects it in the Explorer.
 * Never writes over an existing file.
 */
export async function openExample(extensionUri: vscode.Uri, log: (line: string) => void): Promise<vscode.Uri | undefined> {
  const source = path.join(extensionUri.fsPath, 'examples', 'digits-mlp');
  let parent = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  if (!parent) {
    const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Copy the example here', title: 'Flatness Lens: where to put the example' });
    if (!picked?.[0]) return undefined;
    parent = picked[0].fsPath;
  }
  const target = freeFolder(parent);
  fs.mkdirSync(target);
  for (const file of exampleFiles) fs.copyFileSync(path.join(source, file), path.join(target, file), fs.constants.COPYFILE_EXCL);
  log(`copied the example into ${target}`);
  const model = vscode.Uri.file(path.join(target, 'model.json'));
  if (vscode.workspace.workspaceFolders?.some((f) => target.startsWith(f.uri.fsPath + path.sep))) {
    await vscode.commands.executeCommand('revealInExplorer', model);
    void vscode.window.showInformationMessage(`Flatness Lens: the example is in ${path.basename(target)}/ — analyze model.json next.`, 'Analyze').then((choice) => {
      if (choice) void vscode.commands.executeCommand('flatnessLens.analyze', model);
    });
  } else {
    await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(target), { forceNewWindow: false });
  }
  return model;
}
