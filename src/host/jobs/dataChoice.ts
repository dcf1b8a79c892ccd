import * as path from 'node:path';
import * as vscode from 'vscode';
import type { CheckpointEntry } from '../checkpoints/checkpointIndex';
import { mappedValue, workspacePath } from '../settings';
import type { DataCandidates } from '../../protocol/analyzerProtocol';

/** Which of the files could feed the checkpoint (the analyzer's quick look at each). */
export type DataCheck = (entry: CheckpointEntry, files: readonly string[]) => Promise<DataCandidates>;

/** How long the picker waits for the check (the analyzer may be busy) before it offers every file unchecked. */
const checkPatienceMs = 4000;

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
  constructor(
    private readonly memory: vscode.Memento,
    private readonly check?: DataCheck,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

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

  /** Asks the user and remembers the answer for this checkpoint. Offers only the files that could feed it. */
  async ask(entry: CheckpointEntry): Promise<DataChoice | undefined> {
    const checkpointFiles = new Set(entry.files);
    const files = (await vscode.workspace.findFiles(dataGlob, '**/node_modules/**', 2000))
      .map((uri) => uri.fsPath)
      .filter((file) => !checkpointFiles.has(file) && !/model\.json$|\.weights\.bin$/.test(file));
    const verdicts = await this.verdicts(entry, files);
    const offered = files.filter((file) => verdicts?.get(file)?.fits !== false);
    const hidden = files.length - offered.length;
    const items: (vscode.QuickPickItem & { choice: DataChoice })[] = [
      { label: dataFreeLabel, description: 'no data: the model’s own predictions on Gaussian inputs', choice: { kind: 'data-free' } },
      ...offered
        .map((file) => ({
          label: path.basename(file),
          description: vscode.workspace.asRelativePath(path.dirname(file)),
          ...(verdicts && verdicts.get(file)?.fits !== true ? { detail: `not checked: ${verdicts.get(file)?.reason ?? 'no answer'}` } : {}),
          choice: { kind: 'file', path: file } as DataChoice,
        }))
        .sort((a, b) => `${a.description}/${a.label}`.localeCompare(`${b.description}/${b.label}`)),
    ];
    const placeHolder = hidden > 0
      ? `The loss and every Hessian are computed on this data (${hidden} file${hidden === 1 ? '' : 's'} that cannot feed this model left out; the Output log says why)`
      : 'The loss and every Hessian are computed on this data';
    const picked = await vscode.window.showQuickPick(items, { title: `Data set for ${entry.relativePath}`, placeHolder, matchOnDescription: true });
    if (!picked) return undefined;
    await this.remember(entry, picked.choice);
    return picked.choice;
  }

  /** The check's verdict on each file, or undefined when there is no check or it failed or took too long. */
  private async verdicts(entry: CheckpointEntry, files: readonly string[]): Promise<Map<string, DataCandidates['candidates'][number]> | undefined> {
    if (!this.check || files.length === 0) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const patience = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), checkPatienceMs)));
    try {
      const result = await Promise.race([this.check(entry, files), patience]);
      if (!result) {
        this.log(`data sets for ${entry.relativePath}: not checked (the analyzer did not answer within ${checkPatienceMs / 1000} s)`);
        return undefined;
      }
      for (const candidate of result.candidates) {
        if (candidate.fits === false) this.log(`data set ${vscode.workspace.asRelativePath(candidate.file, false)} left out for ${entry.relativePath}: ${candidate.reason ?? 'it does not fit'}`);
      }
      return new Map(result.candidates.map((c) => [c.file, c]));
    } catch (error) {
      this.log(`data sets for ${entry.relativePath}: not checked (${error instanceof Error ? error.message : String(error)})`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  async remember(entry: CheckpointEntry, choice: DataChoice): Promise<void> {
    const all = { ...this.memory.get<Record<string, DataChoice>>(memoryKey, {}), [entry.relativePath]: choice };
    await this.memory.update(memoryKey, all);
  }
}
