import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AnalysisRequest } from '../protocol/requests';
import { isTrajectoryReport, type TrajectoryReport } from '../protocol/trajectory';
import { findTrainingRun } from '../engine/trajectory/findRun';
import { runTrajectory } from '../engine/trajectory/runTrajectory';
import { startNewJobLedger } from '../engine/io/readLedger';
import { trajectoryCsv } from '../engine/runs/trajectoryCsv';
import { ProgressBar } from './progressBar';

export const trajectoryUsageLine = '       flatness trajectory <folder | checkpoint files…> [options]';

export const trajectoryHelp = `flatness trajectory analyzes every checkpoint of a training run (files whose names differ by a
step or epoch number, ordered by it) with the analyze options and the same seed, and prints the
series and Kendall's τ of each measure against the generalization gap:
  --test-data FILE       held-out set: test loss and accuracy and the gap at every step
  --every N              analyze every N-th checkpoint first, then those between
  --learning-rate η      draw λ₁ against 2/η (default: the checkpoints' training config)
  --run-pattern P        which files form the run, e.g. 'ckpt-{step}.pt' or 'epoch_{step}/model.json'
  --json OUT             write the trajectory (every report and the summary) to OUT, after each
                         checkpoint; an existing OUT of the same settings is reused where files are unchanged
  --csv OUT              write the series as CSV
  analyze's options (--data, --architecture, --metrics, --seed, ...) apply to every checkpoint`;

const ownValueOptions = ['test-data', 'every', 'learning-rate', 'run-pattern', 'json', 'csv'] as const;
type OwnOption = (typeof ownValueOptions)[number];

interface TrajectoryArgs {
  readonly targets: string[];
  readonly own: Partial<Record<OwnOption, string>>;
  readonly analyzeArgs: string[];
  readonly quiet: boolean;
}

/** Splits the trajectory options from analyze's: every analyze option but --quiet takes a value. */
function splitArgs(args: readonly string[]): TrajectoryArgs {
  const targets: string[] = [];
  const own: Partial<Record<OwnOption, string>> = {};
  const analyzeArgs: string[] = [];
  let quiet = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith('--')) {
      targets.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (name === 'quiet') {
      quiet = true;
      analyzeArgs.push(arg);
    } else if ((ownValueOptions as readonly string[]).includes(name)) {
      own[name as OwnOption] = inline ?? args[++i];
    } else {
      analyzeArgs.push(arg);
      if (inline === undefined && i + 1 < args.length) analyzeArgs.push(args[++i]);
    }
  }
  return { targets, own, analyzeArgs, quiet };
}

function writeAtomically(file: string, text: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, text);
  fs.renameSync(temp, file);
}

function readPrevious(file: string | undefined): TrajectoryReport | undefined {
  if (!file || file === '-' || !fs.existsSync(file)) return undefined;
  try {
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    return isTrajectoryReport(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const fmt = (v: number | null | undefined): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : v.toPrecision(4);
};

/** The series table and the τ table that `flatness trajectory` prints. */
export function formatTrajectory(t: TrajectoryReport): string {
  const lines = [`Training run ${t.series.root}/${t.series.pattern}: ${t.points.length} checkpoints by ${t.series.counts}`];
  if (t.series.aliases.length > 0) lines.push(`  not in the series (no number): ${t.series.aliases.join(', ')}`);
  if (t.learningRate) lines.push(`  η = ${t.learningRate.value} (${t.learningRate.from}): 2/η = ${fmt(t.summary.edgeOfStability)}`);
  const header = [t.series.counts, 'train loss', 'test loss', 'gap', 'λ₁', 'trace', '±', 'ε-sharp', 'min trace'];
  const rows = t.points.map((p) =>
    p.status === 'done'
      ? [String(p.step), fmt(p.train?.loss), fmt(p.test?.loss), fmt(p.gap?.loss), fmt(p.measures?.lambdaMax), fmt(p.measures?.trace), fmt(p.measures?.traceStderr), fmt(p.measures?.sharpness), fmt(p.measures?.minTrace)]
      : [String(p.step), p.status === 'failed' ? `failed: ${p.error ?? ''}` : 'pending'],
  );
  lines.push('', ...table(header, rows));
  if (t.summary.lastLambdaOverEdge !== null) lines.push('', `λ₁ at the last step is ${(t.summary.lastLambdaOverEdge * 100).toFixed(0)}% of 2/η`);
  const tauRows = t.summary.correlations.filter((c) => c.points > 0).map((c) => [c.label, c.invariant ? 'yes' : 'no', fmt(c.tauStep), fmt(c.tauLossGap), fmt(c.tauAccuracyGap)]);
  if (tauRows.length > 0) {
    lines.push('', "Kendall's τ over the run (Jiang et al. 2020); invariant: no equivalent rescaling can change it");
    lines.push(...table(['measure', 'invariant', 'τ vs step', 'τ vs loss gap', 'τ vs accuracy gap'], tauRows));
  }
  return lines.join('\n');
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, j) => Math.max(h.length, ...rows.map((r) => (r.length === 2 && j > 0 ? 0 : (r[j] ?? '').length))));
  const line = (cells: string[]) => '  ' + cells.map((c, j) => (j === 0 ? c.padEnd(widths[j]) : c.padStart(widths[j]))).join('  ');
  return [line(header), ...rows.map((r) => (r.length === 2 ? `  ${r[0].padEnd(widths[0])}  ${r[1]}` : line(r)))];
}

/**
 * `flatness trajectory`. `parseAnalysis` is analyze's parser (the analysis options of every point);
 * `usageError` makes the error main prints with the usage hint.
 */
export async function runTrajectoryCommand(
  args: string[],
  parseAnalysis: (args: string[]) => AnalysisRequest,
  usageError: (message: string) => Error,
): Promise<number> {
  startNewJobLedger();
  const { targets, own, analyzeArgs, quiet } = splitArgs(args);
  if (targets.length === 0) throw usageError('name a folder of checkpoints, or the checkpoint files of a run');
  for (const name of ownValueOptions) if (name in own && (own[name] === undefined || own[name] === '')) throw usageError(`--${name} needs a value`);
  const every = own.every === undefined ? 1 : Number(own.every);
  if (!Number.isInteger(every) || every < 1) throw usageError(`--every must be a positive integer, got '${own.every}'`);
  const learningRate = own['learning-rate'] === undefined ? undefined : Number(own['learning-rate']);
  if (learningRate !== undefined && !(learningRate > 0 && Number.isFinite(learningRate))) throw usageError(`--learning-rate must be a positive number, got '${own['learning-rate']}'`);
  // analyze's parser wants one checkpoint: the run's files are set per point.
  const { checkpoint: _placeholder, ...request } = parseAnalysis([...analyzeArgs, targets[0]]);
  const testData = own['test-data'] === undefined ? undefined : path.resolve(own['test-data']);
  if (testData && !fs.existsSync(testData)) throw usageError(`--test-data ${own['test-data']}: no such file`);
  const { series, others } = await findTrainingRun(targets, own['run-pattern']);
  const inputs = new Set([...series.checkpoints.map((c) => path.resolve(series.root, c.path)), request.data, testData].filter(Boolean));
  for (const name of ['json', 'csv'] as const) {
    const out = own[name];
    if (out && out !== '-' && inputs.has(path.resolve(out))) throw usageError(`--${name} ${out} would overwrite an input file; choose another name`);
  }
  const json = own.json && own.json !== '-' ? path.resolve(own.json) : undefined;
  const log = own.json === '-' ? process.stderr : process.stdout;
  if (others.length > 0) log.write(`Other runs in ${series.root} (pick one with --run-pattern): ${others.join(', ')}\n`);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = new ProgressBar(process.stderr, !quiet);
  try {
    const trajectory = await runTrajectory({
      series, request, testData, every, learningRate,
      previous: readPrevious(json),
      signal: controller.signal,
      onProgress: (p) => bar.update(p),
      onPoint: (partial) => json && writeAtomically(json, JSON.stringify(partial, null, 2) + '\n'),
    });
    bar.finish();
    const text = JSON.stringify(trajectory, null, 2) + '\n';
    if (own.json === '-') process.stdout.write(text);
    else log.write(formatTrajectory(trajectory) + '\n');
    if (json) {
      writeAtomically(json, text);
      log.write(`Trajectory written to ${own.json}\n`);
    }
    if (own.csv) {
      if (own.csv === '-') process.stdout.write(trajectoryCsv(trajectory));
      else fs.writeFileSync(path.resolve(own.csv), trajectoryCsv(trajectory));
    }
    return trajectory.summary.analyzed === 0 ? 1 : 0;
  } finally {
    bar.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
