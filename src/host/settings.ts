import * as path from 'node:path';
import * as vscode from 'vscode';
import type { BackendChoice } from '../protocol/requests';
import { metricNames, type LossKind, type MetricName } from '../protocol/report';

/** The extension's settings (package.json "contributes.configuration"), read with types and defaults. */
export interface ExtensionSettings {
  readonly dataSets: Readonly<Record<string, string>>;
  readonly architectures: Readonly<Record<string, string>>;
  readonly inputShapes: Readonly<Record<string, string>>;
  readonly loss: LossKind | 'auto';
  readonly samples: number;
  readonly probeSamples: number;
  readonly seed: number;
  readonly metrics: readonly MetricName[];
  readonly topK: number;
  readonly traceSamples: number;
  readonly traceTolerance: number;
  readonly sharpnessEpsilon: number;
  readonly volumeEpsilon: number;
  readonly backend: BackendChoice;
  readonly analyzerMemoryLimitMb: number;
  readonly autoAnalyze: boolean;
  readonly exclude: readonly string[];
  /** Patterns naming training runs (`ckpt-{step}.pt`), for when the guess by name is wrong. */
  readonly runPatterns: readonly string[];
  /** Held-out data set for each run's folder: loss, accuracy and the generalization gap along the run. */
  readonly testDataSets: Readonly<Record<string, string>>;
  /** Analyze checkpoints that appear in an open training run (trusted workspaces only). */
  readonly liveTrainingRuns: boolean;
}

export function readSettings(scope?: vscode.Uri): ExtensionSettings {
  const c = vscode.workspace.getConfiguration('flatnessLens', scope);
  const metrics = c.get<string[]>('metrics', [...metricNames]).filter((m): m is MetricName => (metricNames as readonly string[]).includes(m));
  return {
    dataSets: c.get<Record<string, string>>('dataSets', {}),
    architectures: c.get<Record<string, string>>('architectures', {}),
    inputShapes: c.get<Record<string, string>>('inputShapes', {}),
    loss: c.get<LossKind | 'auto'>('loss', 'auto'),
    samples: c.get<number>('samples', 0),
    probeSamples: c.get<number>('probeSamples', 256),
    seed: c.get<number>('seed', 0),
    metrics: metrics.length > 0 ? metrics : [...metricNames],
    topK: c.get<number>('topEigenvalues', 5),
    traceSamples: c.get<number>('traceSamples', 200),
    traceTolerance: c.get<number>('traceTolerance', 0.01),
    sharpnessEpsilon: c.get<number>('sharpnessEpsilon', 0.05),
    volumeEpsilon: c.get<number>('volumeEpsilon', 0.1),
    backend: c.get<BackendChoice>('backend', 'auto'),
    analyzerMemoryLimitMb: c.get<number>('analyzerMemoryLimitMb', 4096),
    autoAnalyze: c.get<boolean>('autoAnalyzeOnChange', false),
    runPatterns: c.get<string[]>('runPatterns', []).filter((p) => typeof p === 'string' && p.split('{step}').length === 2),
    testDataSets: c.get<Record<string, string>>('testDataSets', {}),
    liveTrainingRuns: c.get<boolean>('liveTrainingRuns', false),
    exclude: Object.entries(c.get<Record<string, boolean>>('exclude', {})).filter(([, on]) => on).map(([glob]) => glob),
  };
}

/**
 * The value a `{"path/file": value, "folder/": value}` setting gives a workspace-relative path
 * (forward slashes): the entry for the file itself, else for its deepest listed folder.
 */
export function mappedValue(relativePath: string, mapping: Readonly<Record<string, string>>): string | undefined {
  let best: string | undefined;
  for (const candidate of Object.keys(mapping)) {
    const normalized = candidate.replace(/\/+$/, '');
    const applies = relativePath === normalized || relativePath.startsWith(`${normalized}/`);
    if (applies && (best === undefined || normalized.length > best.replace(/\/+$/, '').length)) best = candidate;
  }
  return best === undefined ? undefined : mapping[best];
}

/** A setting's path value, absolute: relative ones are relative to the checkpoint's workspace folder. */
export function workspacePath(value: string, checkpoint: string): string {
  const folder = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(checkpoint))?.uri.fsPath ?? path.dirname(checkpoint);
  return path.isAbsolute(value) ? value : path.join(folder, value);
}

/** A checkpoint's entry in a by-file-or-folder setting. */
function settingFor(checkpoint: string, mapping: Readonly<Record<string, string>>): string | undefined {
  if (checkpoint === '') return undefined;
  return mappedValue(vscode.workspace.asRelativePath(checkpoint, false).split(path.sep).join('/'), mapping);
}

/** The architecture file set for a weights-only checkpoint in flatnessLens.architectures, if any. */
export function architectureFor(checkpoint: string, settings: ExtensionSettings): string | undefined {
  const value = settingFor(checkpoint, settings.architectures);
  return value === undefined ? undefined : workspacePath(value, checkpoint);
}

/**
 * The per-sample input shape set for a checkpoint in flatnessLens.inputShapes ("32,32,3"), for models
 * whose files leave input dimensions open. Text that is not a shape is passed on as NaN, so the
 * analysis reports it against the checkpoint.
 */
export function inputShapeFor(checkpoint: string, settings: ExtensionSettings): number[] | undefined {
  const value = settingFor(checkpoint, settings.inputShapes);
  return value === undefined ? undefined : value.split(/[,x×\s]+/).filter(Boolean).map(Number);
}
