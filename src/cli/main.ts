import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeFile, type AnalysisRequest } from '../analysis/analyzeFile';
import { Cancelled, FileProblem, ModelProblem } from '../shared/errors';
import { metricNames, type AnalysisSettings, type LossKind, type MetricName } from '../shared/report';
import { toolVersion } from '../shared/version';
import { ProgressBar } from './progressBar';
import { formatSummary } from './summary';
import type { DeepPartial } from '../analysis/analyzeFile';

const usage = `Usage: flatness analyze <checkpoint> [options]

Measures how flat or sharp the minimum a checkpoint sits in is: loss, Hessian eigenvalues,
trace, spectral density, ε-sharpness, volume ε-flatness, loss landscapes and scale-invariant
measures. Prints a summary; --json writes the full report.

Options:
  --data FILE            data set (.npz .npy .csv .csv.gz .json, IDX); without it: data-free mode
  --label-column N       CSV: column holding the label (default: last)
  --loss ce|bce|mse      loss (default: the file's training config, else the output layer)
  --samples N            use the first N samples (default: all)
  --probe-samples N      data-free mode: number of Gaussian probe inputs (default 256)
  --seed S               seed for every random choice (default 0): same seed, same numbers
  --metrics LIST         comma-separated from ${metricNames.join(',')} (default: all)
  --json OUT             write the full JSON report to OUT ('-' for stdout)
  --top-k K              number of top eigenvalues (default 5)
  --trace-samples N      Hutchinson probes per weight tensor (default 30)
  --epsilon E            radius of the ε-sharpness ball (default 0.05)
  --subspace-dim P       dimension of the random subspace for ε-sharpness (default 20)
  --volume-epsilon E     loss increase that bounds the ε-flat region (default 0.1)
  --directions N         random directions for volume ε-flatness (default 10)
  --batch-size N         samples per evaluation batch: memory only, same numbers (default 1024)
  --backend auto|wasm|cpu|tensorflow   tensor backend (default auto: tfjs-node if installed, else wasm)
  --quiet                no progress on stderr
  -h, --help             this help
  --version              print the version`;

class UsageError extends Error {}

function positiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got '${text}'`);
  return n;
}

function parseAnalyze(args: string[]): { request: AnalysisRequest; json?: string; quiet: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' }, 'label-column': { type: 'string' }, loss: { type: 'string' }, samples: { type: 'string' },
      'probe-samples': { type: 'string' }, seed: { type: 'string' }, metrics: { type: 'string' }, json: { type: 'string' },
      'top-k': { type: 'string' }, 'trace-samples': { type: 'string' }, epsilon: { type: 'string' }, 'subspace-dim': { type: 'string' },
      'volume-epsilon': { type: 'string' }, directions: { type: 'string' }, 'batch-size': { type: 'string' }, backend: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a checkpoint to analyze' : `one checkpoint at a time, got ${positionals.length}`);
  const checkpoint = path.resolve(positionals[0]);
  const loss = values.loss;
  if (loss !== undefined && !['ce', 'bce', 'mse'].includes(loss)) throw new UsageError(`--loss must be ce, bce or mse, got '${loss}'`);
  const metrics = values.metrics?.split(',').map((m) => m.trim()).filter(Boolean);
  const unknown = metrics?.filter((m) => !(metricNames as readonly string[]).includes(m));
  if (unknown?.length) throw new UsageError(`unknown metric${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (choose from ${metricNames.join(', ')})`);
  const seedText = values.seed;
  const seed = seedText === undefined ? 0 : Number(seedText);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, got '${seedText}'`);
  const backend = values.backend ?? 'auto';
  if (!['auto', 'wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, cpu or tensorflow, got '${backend}'`);
  const labelColumn = values['label-column'];
  const labelIndex = labelColumn === undefined || labelColumn === 'first' || labelColumn === 'last' ? labelColumn : Number(labelColumn);
  if (typeof labelIndex === 'number' && !Number.isInteger(labelIndex)) throw new UsageError(`--label-column must be an integer, 'first' or 'last', got '${labelColumn}'`);
  const settings: DeepPartial<AnalysisSettings> = {
    eigenvalues: { count: positiveInteger('top-k', values['top-k']) },
    trace: { samples: positiveInteger('trace-samples', values['trace-samples']) },
    sharpness: { epsilon: positiveNumber('epsilon', values.epsilon), subspaceDim: positiveInteger('subspace-dim', values['subspace-dim']) },
    volume: { epsilon: positiveNumber('volume-epsilon', values['volume-epsilon']), directions: positiveInteger('directions', values.directions) },
    batchSize: positiveInteger('batch-size', values['batch-size']),
  };
  const request: AnalysisRequest = {
    checkpoint,
    data: values.data ? path.resolve(values.data) : undefined,
    dataOptions: labelIndex === undefined ? undefined : { labelColumn: labelIndex as number | 'first' | 'last' },
    loss: loss as LossKind | undefined,
    samples: positiveInteger('samples', values.samples),
    probeSamples: positiveInteger('probe-samples', values['probe-samples']),
    seed,
    metrics: metrics as MetricName[] | undefined,
    settings: withoutUndefined(settings),
    backend: backend as AnalysisRequest['backend'],
  };
  const json = values.json;
  if (json && json !== '-') {
    const target = path.resolve(json);
    if (target === checkpoint || target === request.data) throw new UsageError(`--json ${json} would overwrite an input file; choose another name`);
  }
  return { request, json, quiet: values.quiet === true };
}

function withoutUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function runAnalyze(args: string[]): Promise<number> {
  const { request, json, quiet } = parseAnalyze(args);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = new ProgressBar(process.stderr, !quiet);
  try {
    const report = await analyzeFile(request, { signal: controller.signal, onProgress: (p) => bar.update(p) });
    bar.finish();
    const text = JSON.stringify(report, null, 2) + '\n';
    if (json === '-') {
      process.stdout.write(text);
    } else {
      process.stdout.write(formatSummary(report) + '\n');
      if (json) {
        fs.writeFileSync(path.resolve(json), text);
        process.stdout.write(`Report written to ${json}\n`);
      }
    }
    return 0;
  } finally {
    bar.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--version' || command === '-v') {
      process.stdout.write(`${toolVersion}\n`);
      return 0;
    }
    if (!command || command === '-h' || command === '--help' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
      process.stdout.write(usage + '\n');
      return command ? 0 : 2;
    }
    if (command === 'analyze') return await runAnalyze(rest);
    throw new UsageError(`unknown command '${command}'`);
  } catch (error) {
    return reportError(error);
  }
}

function reportError(error: unknown): number {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    process.stderr.write(`flatness: ${error.message}\nRun 'flatness --help' for usage.\n`);
    return 2;
  }
  if (error instanceof Cancelled) {
    process.stderr.write('flatness: cancelled\n');
    return 130;
  }
  if (error instanceof FileProblem || error instanceof ModelProblem) {
    process.stderr.write(`flatness: ${error.message}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`flatness: unexpected error: ${message}\n`);
  if (process.env.FLATNESS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
