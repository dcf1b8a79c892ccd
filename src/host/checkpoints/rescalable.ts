import * as vscode from 'vscode';
import { lacksArchitecture, type CheckpointEntry, type CheckpointIndex } from './checkpointIndex';
import { isWeightsReport } from '../../protocol/report';

/** Context key: the paths of listed checkpoints that cannot be rescaled (Explorer menus grey Rescale on them). */
export const notRescalableContextKey = 'flatnessLens.notRescalable';

/** Why a checkpoint cannot be rescaled, or undefined when it can (as far as is known before rescaling). */
export function whyNotRescalable(entry: CheckpointEntry): string | undefined {
  if (entry.state.kind === 'unreadable') return `it is not readable (${entry.state.reason})`;
  if (lacksArchitecture(entry)) return 'it holds weights only: add its architecture (<name>.architecture.json beside it, or the flatnessLens.architectures setting)';
  const report = entry.state.kind === 'done' || entry.state.kind === 'stale' ? entry.state.report : undefined;
  if (report && !isWeightsReport(report) && report.invariant?.minTraceOverLayerScaling?.degreesOfFreedom === 0) return 'its network has no function-preserving layer scalings (no ReLU-like layer pairs)';
  return undefined;
}

/** Keeps `flatnessLens.notRescalable` equal to the listed checkpoints that cannot be rescaled. */
export function trackRescalability(index: CheckpointIndex): vscode.Disposable {
  let last = '';
  const update = async () => {
    const paths = (await index.all()).filter((entry) => whyNotRescalable(entry) !== undefined).map((entry) => entry.uri.fsPath).sort();
    const key = JSON.stringify(paths);
    if (key === last) return;
    last = key;
    await vscode.commands.executeCommand('setContext', notRescalableContextKey, paths);
  };
  void update();
  return index.onDidChange(() => void update());
}
