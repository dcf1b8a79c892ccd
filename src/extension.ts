import * as vscode from 'vscode';
import { AnalyzerClient } from './host/analyzerClient';
import { CheckpointIndex } from './host/checkpoints/checkpointIndex';
import { CheckpointTree } from './host/checkpoints/checkpointTree';
import { trackRescalability } from './host/checkpoints/rescalable';
import { Commands } from './host/commands/commands';
import { openExample } from './host/commands/openExample';
import { AnalysisService } from './host/jobs/analysisService';
import { DataChoices } from './host/jobs/dataChoice';
import { dataCandidatesRequest } from './host/jobs/requests';
import { ResultCache } from './host/jobs/resultCache';
import { ReportPanel } from './host/report/reportPanel';
import { TrajectoryPanel } from './host/report/trajectoryPanel';
import { TrainingRunCommands } from './host/commands/trainingRunCommands';
import { TrainingRunJobs } from './host/jobs/trainingRunJobs';
import { readSettings } from './host/settings';
import { relativeToWorkspace } from './host/workspacePaths';

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel('Flatness Lens');
  const log = (line: string) => output.appendLine(relativeToWorkspace(line));
  const analyzer = new AnalyzerClient({
    script: vscode.Uri.joinPath(context.extensionUri, 'dist', 'analyzer.js').fsPath,
    log,
    memoryLimitMb: readSettings().analyzerMemoryLimitMb,
  });
  const index = new CheckpointIndex((request) => analyzer.describe(request).done, () => readSettings().exclude, log);
  const tree = new CheckpointTree(index);
  const data = new DataChoices(context.workspaceState, (entry, files) => analyzer.dataCandidates(dataCandidatesRequest(entry.uri.fsPath, readSettings(entry.uri), files)).done, log);
  const service = new AnalysisService(analyzer, index, new ResultCache(context.storageUri?.fsPath), data, output);
  const commands = new Commands(context.extensionUri, index, service, analyzer, data, output);
  const runJobs = new TrainingRunJobs(service, analyzer, {
    // The panel's actions are the run commands, made next (the panel opens only once a run starts).
    show: (trajectory, running) => TrajectoryPanel.show(context.extensionUri, trajectory, running, runCommands, log),
    progress: (key, progress) => TrajectoryPanel.progress(key, progress),
    failed: (key, message) => TrajectoryPanel.failed(key, message),
  }, output);
  const runCommands = new TrainingRunCommands(index, service, runJobs, output);
  const register = (id: string, run: (...args: unknown[]) => unknown) => vscode.commands.registerCommand(id, run);

  context.subscriptions.push(
    output,
    { dispose: () => analyzer.dispose() },
    index,
    tree,
    trackRescalability(index),
    service,
    vscode.window.createTreeView('flatnessLens.checkpoints', { treeDataProvider: tree, canSelectMany: true, showCollapseAll: true }),
    register('flatnessLens.analyze', (target) => commands.analyze(target)),
    register('flatnessLens.rescaleFlatten', (target) => commands.rescaleCommand(target, 'flatten')),
    register('flatnessLens.rescaleSharpen', (target) => commands.rescaleCommand(target, 'sharpen')),
    register('flatnessLens.compare', (target, selection) => commands.compare(target, selection)),
    register('flatnessLens.showReport', (target) => commands.show(target)),
    register('flatnessLens.cancel', () => commands.cancel()),
    register('flatnessLens.selectData', (target) => commands.selectData(target)),
    register('flatnessLens.refresh', () => index.refresh()),
    register('flatnessLens.analyzeRun', (target) => runCommands.analyzeRun(target)),
    runCommands.watchLive((key) => TrajectoryPanel.isOpen(key)),
    vscode.window.registerWebviewPanelSerializer(TrajectoryPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => TrajectoryPanel.revive(panel, context.extensionUri, state, runCommands, log),
    }),
    register('flatnessLens.openExample', () => openExample(context.extensionUri, log).catch((error: unknown) => {
      log(`could not copy the example: ${error instanceof Error ? error.message : String(error)}`);
      void vscode.window.showErrorMessage(`Flatness Lens: could not copy the example (${error instanceof Error ? error.message : String(error)})`);
    })),
    index.onDidChangeContent((entry) => void commands.autoAnalyze(entry)),
    service.onDidProgress(({ entry, progress }) => ReportPanel.progress(entry.uri.fsPath, progress)),
    vscode.window.registerWebviewPanelSerializer(ReportPanel.viewType, {
      deserializeWebviewPanel: async (panel, state) => ReportPanel.revive(panel, context.extensionUri, state, commands, log),
    }),
  );
  void service.restoreStates().catch((error: unknown) => log(`could not restore earlier results: ${String(error)}`));
}

export function deactivate(): void {}
