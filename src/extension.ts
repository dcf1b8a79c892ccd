import * as vscode from 'vscode';
import { AnalyzerClient } from './analyzer/analyzerClient';
import { AnalyzeCommand } from './commands/analyzeCommand';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Flatness Lens');
  const settings = vscode.workspace.getConfiguration('flatnessLens');
  const analyzer = new AnalyzerClient({
    script: vscode.Uri.joinPath(context.extensionUri, 'dist', 'analyzer.js').fsPath,
    log: (line) => output.appendLine(line),
    memoryLimitMb: settings.get<number>('analyzerMemoryLimitMb'),
  });
  const analyze = new AnalyzeCommand(context.extensionUri, analyzer, output);
  context.subscriptions.push(
    output,
    { dispose: () => analyzer.dispose() },
    vscode.commands.registerCommand('flatnessLens.analyze', (uri?: vscode.Uri) => analyze.run(uri)),
  );
}

export function deactivate(): void {}
