import * as vscode from 'vscode';
import type { CheckpointIndex } from '../checkpoints/checkpointIndex';
import type { Node } from '../checkpoints/checkpointTree';
import { largestRunUnder, trainingRunsAmong, type IndexedRun } from '../checkpoints/trainingRuns';
import type { AnalysisService } from '../jobs/analysisService';
import type { TrainingRunJobs } from '../jobs/trainingRunJobs';
import { readSettings } from '../settings';
import type { TrajectoryActions } from '../report/trajectoryPanel';

/** "Analyze Training Run" on a folder or a run in the Checkpoints view, the panel's actions, and live mode. */
export class TrainingRunCommands implements TrajectoryActions {
  constructor(
    private readonly index: CheckpointIndex,
    private readonly service: AnalysisService,
    private readonly jobs: TrainingRunJobs,
    private readonly output: vscode.OutputChannel,
  ) {}

  private async runs(): Promise<IndexedRun[]> {
    return trainingRunsAmong(await this.index.all(), readSettings().runPatterns);
  }

  /** The run a command was invoked on: a run item, a folder (its largest run), or one picked from a list. */
  private async target(argument: unknown): Promise<IndexedRun | undefined> {
    const runs = await this.runs();
    if (typeof argument === 'object' && argument !== null && (argument as Node).kind === 'run') {
      const key = (argument as Extract<Node, { kind: 'run' }>).run.key;
      return runs.find((r) => r.key === key) ?? (argument as Extract<Node, { kind: 'run' }>).run;
    }
    if (argument instanceof vscode.Uri) {
      const run = largestRunUnder(runs, argument.fsPath) ?? runs.find((r) => r.entries.some((e) => e.uri.fsPath === argument.fsPath));
      if (!run) {
        const folder = vscode.workspace.asRelativePath(argument, false);
        void vscode.window.showWarningMessage(`Flatness Lens: no training run in ${folder}: no two checkpoints there whose names differ by a step or epoch number. Set flatnessLens.runPatterns (e.g. "ckpt-{step}.pt") if the names are unusual.`);
      }
      return run;
    }
    if (runs.length === 0) {
      void vscode.window.showWarningMessage('Flatness Lens: no training run in this workspace (checkpoints whose names differ by a step or epoch number).');
      return undefined;
    }
    if (runs.length === 1) return runs[0];
    const picked = await vscode.window.showQuickPick(
      runs.map((run) => ({ label: run.series.pattern, description: `${run.entries.length} checkpoints by ${run.series.counts}`, detail: run.series.root, run })),
      { title: 'Training run to analyze' },
    );
    return picked?.run;
  }

  async analyzeRun(argument?: unknown): Promise<void> {
    const run = await this.target(argument);
    if (!run) return;
    const data = await this.service.dataFor(run.entries[0]);
    if (!data) return;
    this.output.appendLine(`analyzing training run ${run.series.pattern} (${run.entries.length} checkpoints)`);
    await this.jobs.analyze(run, data);
  }

  openPoint(_runKey: string, checkpoint: string): void {
    void vscode.commands.executeCommand('flatnessLens.showReport', vscode.Uri.file(checkpoint));
  }

  cancelRun(runKey: string): void {
    this.jobs.cancel(runKey);
  }

  /**
   * Live mode: when the index changes (a checkpoint appeared), the runs this window analyzed whose
   * panels are open get their new checkpoints analyzed in the background. Only in trusted
   * workspaces, and only with flatnessLens.liveTrainingRuns on.
   */
  watchLive(isOpen: (runKey: string) => boolean, pollMs = 5000): vscode.Disposable {
    let timer: NodeJS.Timeout | undefined;
    const live = () => vscode.workspace.isTrusted && readSettings().liveTrainingRuns;
    const check = async () => {
      if (!live()) return;
      for (const run of await this.runs()) {
        if (this.jobs.knows(run.key)) this.jobs.runChanged(run, isOpen(run.key));
      }
    };
    // File watchers miss events where the system runs out of them (or on network drives): the
    // folders of open live runs are also searched every few seconds for files of their pattern.
    const search = async () => {
      if (!live()) return;
      let added = false;
      for (const run of await this.runs()) {
        if (!this.jobs.knows(run.key) || !isOpen(run.key)) continue;
        const glob = run.series.pattern.replace('{step}', '*');
        for (const uri of await vscode.workspace.findFiles(new vscode.RelativePattern(run.series.root, glob), undefined, 10_000)) {
          if (this.index.get(uri)) continue;
          // A file still being written is left for the next search.
          const { mtime } = await vscode.workspace.fs.stat(uri);
          if (Date.now() - mtime < 2000) continue;
          const entry = await this.index.entryFor(uri);
          if (entry.state.kind === 'unreadable') continue;
          this.index.update(entry, entry.state);
          added = true;
        }
      }
      if (added) await check();
    };
    const poller = setInterval(() => void search().catch((error: unknown) => this.output.appendLine(`live training run search failed: ${String(error)}`)), pollMs);
    const subscription = this.index.onDidChange((entry) => {
      // A state change of a listed checkpoint is no new file; a new entry fires with `undefined` or an entry in state 'new'.
      if (entry && entry.state.kind !== 'new') return;
      clearTimeout(timer);
      timer = setTimeout(() => void check().catch((error: unknown) => this.output.appendLine(`live training run update failed: ${String(error)}`)), 1000);
    });
    return {
      dispose: () => {
        clearTimeout(timer);
        clearInterval(poller);
        subscription.dispose();
      },
    };
  }
}
