import * as path from 'node:path';
import * as vscode from 'vscode';

/** A message with every absolute path inside an open workspace folder shown relative to it. */
export function relativeToWorkspace(message: string): string {
  let result = message;
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const root = folder.uri.fsPath.endsWith(path.sep) ? folder.uri.fsPath : folder.uri.fsPath + path.sep;
    result = result.split(root).join('');
  }
  return result;
}
