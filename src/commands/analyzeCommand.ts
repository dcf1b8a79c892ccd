import * as vscode from 'vscode';
import { AnalysisFailed, type AnalyzerClient } from '../analyzer/analyzerClient';
import { pickCheckpoint, pickDataSet } from '../checkpoints/pickFiles';
import { ReportPanel } from '../report/reportPanel';

/** "Analyze Flatness": checkpoint from the context menu, the active editor or a quick pick; progress is cancellable. */
export class AnalyzeCommand {
  private readonly dataChoice = new Map<string, string | null>();

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly analyzer: AnalyzerClient,
    private readonly output: vscode.OutputChannel,
  ) {}

  async run(target?: vscode.Uri): Promise<void> {
    const uri = target instanceof vscode.Uri ? target : vscode.window.activeTextEditor?.document.uri ?? (await pickCheckpoint());
    if (!uri) return;
    const checkpoint = uri.fsPath;
    let data = this.dataChoice.get(checkpoint);
    if (data === undefined) {
      const picked = await pickDataSet();
      if (picked === undefined) return;
      data = picked?.fsPath ?? null;
      this.dataChoice.set(checkpoint, data);
    }
    await this.analyze(checkpoint, data);
  }

  private async analyze(checkpoint: string, data: string | null): Promise<void> {
    const seed = vscode.workspace.getConfiguration('flatnessLens').get<number>('seed', 0);
    this.output.appendLine(`analyzing ${checkpoint} with ${data ?? 'data-free probes'} (seed ${seed})`);
    try {
      const report = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: 'Flatness Lens', cancellable: true },
        (progress, token) => {
          let reported = 0;
          const job = this.analyzer.analyze({ checkpoint, data: data ?? undefined, seed }, (p) => {
            const percent = Math.round(p.fraction * 100);
            progress.report({ message: `${p.message} (${percent}%)`, increment: percent - reported });
            reported = percent;
          });
          token.onCancellationRequested(() => this.analyzer.cancel(job.id));
          return job.done;
        },
      );
      this.output.appendLine(`done in ${report.timings.total.toFixed(1)} s: top eigenvalue ${report.hessian.topEigenvalues?.[0]}, trace ${report.hessian.trace?.estimate}`);
      ReportPanel.show(this.extensionUri, report, (path) => void this.analyze(path, this.dataChoice.get(path) ?? null));
    } catch (error) {
      if (error instanceof AnalysisFailed && error.kind === 'cancelled') {
        this.output.appendLine('analysis cancelled');
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      this.output.appendLine(`analysis failed: ${message}`);
      void vscode.window.showErrorMessage(`Flatness Lens: ${message}`);
    }
  }
}
