import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { formatFor } from '../formats/registry';
import { checkpointExtensions } from '../../protocol/checkpointFiles';
import { detectTrainingRuns, trainingRunFromPattern } from '../runs/seriesDetection';
import { FileProblem } from '../../protocol/errors';
import type { TrainingRunSeries } from '../../protocol/trajectory';

const candidate = new RegExp(`\\.(${checkpointExtensions.join('|')})$`, 'i');
/** Folders never searched: hidden ones, dependencies, and caches. */
const skippedFolders = /^(\.|node_modules$|__pycache__$)/;
const maxFiles = 20_000;

async function listCandidates(root: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (folder: string): Promise<void> => {
    const entries = await fs.readdir(folder, { withFileTypes: true });
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) {
        if (!skippedFolders.test(entry.name)) await walk(full);
      } else if (entry.isFile() && candidate.test(entry.name) && !/(^|\.)architecture\.json$/i.test(entry.name)) {
        if (found.length >= maxFiles) throw new FileProblem(root, `more than ${maxFiles} candidate files; point at the run's own folder`);
        found.push(full);
      }
    }
  };
  await walk(root);
  return found;
}

/** The files among `files` that a checkpoint format recognizes (a .json that is no model.json is not one). */
async function checkpointsAmong(files: readonly string[]): Promise<string[]> {
  const kept: string[] = [];
  for (const file of files) if (await formatFor(file).catch(() => undefined)) kept.push(file);
  return kept;
}

const toRelative = (root: string, file: string) => path.relative(root, file).split(path.sep).join('/');

export interface FoundRun {
  readonly series: TrainingRunSeries;
  /** The other runs found in the folder, by pattern: not analyzed, named so the user can pick with a pattern. */
  readonly others: readonly string[];
}

/**
 * The training run in a folder (the one with most checkpoints when there are several; `pattern`
 * picks one), or the run the listed files form. Paths in the series are relative to its root.
 */
export async function findTrainingRun(targets: readonly string[], pattern?: string): Promise<FoundRun> {
  if (targets.length === 0) throw new Error('name a folder or checkpoint files');
  const resolved = targets.map((t) => path.resolve(t));
  const stats = await Promise.all(resolved.map((t) => fs.stat(t).catch(() => undefined)));
  const missing = resolved.find((_, i) => stats[i] === undefined);
  if (missing) throw new FileProblem(missing, 'no such file or folder');
  let root: string;
  let files: string[];
  if (resolved.length === 1 && stats[0]!.isDirectory()) {
    root = resolved[0];
    files = await checkpointsAmong(await listCandidates(root));
  } else {
    const folder = resolved.find((_, i) => stats[i]!.isDirectory());
    if (folder) throw new FileProblem(folder, 'is a folder: give one folder, or checkpoint files');
    root = commonFolder(resolved);
    files = resolved;
  }
  const relative = files.map((f) => toRelative(root, f));
  if (pattern !== undefined) {
    const series = trainingRunFromPattern(root, relative, pattern);
    if (!series) throw new FileProblem(root, `fewer than two checkpoints match the run pattern '${pattern}' (found ${relative.length} checkpoint file${relative.length === 1 ? '' : 's'})`);
    return { series, others: [] };
  }
  const runs = detectTrainingRuns(root, relative);
  if (runs.length === 0) {
    if (resolved.length > 1) {
      // Listed files with no number in common: the order given is the order of the run.
      return { series: { root, pattern: '(listed files)', counts: 'number', checkpoints: relative.map((p, i) => ({ step: i, path: p })), aliases: [] }, others: [] };
    }
    throw new FileProblem(root, `no training run found: ${relative.length} checkpoint file${relative.length === 1 ? '' : 's'}, but no two whose names differ by a step or epoch number; give the pattern with --run-pattern (e.g. 'ckpt-{step}.pt')`);
  }
  const [series, ...rest] = [...runs].sort((a, b) => b.checkpoints.length - a.checkpoints.length);
  return { series, others: rest.map((r) => r.pattern) };
}

function commonFolder(files: readonly string[]): string {
  let common = path.dirname(files[0]);
  for (const file of files.slice(1)) {
    while (!(path.dirname(file) + path.sep).startsWith(common.endsWith(path.sep) ? common : common + path.sep)) {
      const parent = path.dirname(common);
      if (parent === common) break;
      common = parent;
    }
  }
  return common;
}
