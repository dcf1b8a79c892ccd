import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeAnyFile } from '../analysis/analyzeFile';
import type { AnalysisRequest, RescaleRequest, DeepPartial } from '../shared/requests';
import { failureKind } from '../shared/errors';
import { metricNames, type AnalysisSettings, type LossKind, type MetricName } from '../shared/report';
import { toolVersion } from '../shared/version';
import { ProgressBar } from './progressBar';
import { planRescale, writeRescaled } from '../rescale/plan';
import { formatRescaleSummary, rescaleReport } from './rescaleReport';
import { formatSummary } from './summary';
import { packageRootFrom, readStandaloneAssets, standaloneReportHtml } from '../reportExport/standaloneHtml';

const usage = `Usage: flatness analyze <checkpoint> [options]
       flatness rescale <checkpoint> (--flatten | --sharpen K | --alpha LIST) [options]

Measures how flat or sharp the minimum a checkpoint sits in is: loss, Hessian eigenvalues,
trace, spectral density, ε-sharpness, volume ε-flatness, loss landscapes and scale-invariant
measures. Prints a summary; --json writes the full report.

Options:
  --data FILE            data set (.npz .npy .csv .csv.gz .json, IDX); without it: data-free mode
  --architecture FILE    for a weights-only file (.safetensors .pt .pth .npz): the network, as an
                         ONNX, Keras or TF.js file with the same tensor names, or a description
                         (.architecture.json, see README); default: <name>.architecture.json or
                         architecture.json next to it. Without one: tensor statistics only
  --label-column N       CSV: column holding the label (default: last)
  --loss ce|bce|mse      loss (default: the file's training config, else the output layer)
  --samples N            use the first N samples (default: all)
  --probe-samples N      data-free mode: number of Gaussian probe inputs (default 256)
  --input-shape H,W,C    per-sample input shape, channels-last, for inputs the file leaves open
                         (e.g. a fully convolutional network's height and width)
  --seed S               seed for every random choice (default 0): same seed, same numbers
  --metrics LIST         comma-separated from ${metricNames.join(',')} (default: all)
  --json OUT             write the full JSON report to OUT ('-' for stdout)
  --html OUT             write the report as one self-contained HTML file (charts included;
                         opens in any browser, offline)
  --top-k K              number of top eigenvalues (default 5)
  --trace-tolerance R    stop the trace's probes at this relative standard error (default 0.01)
  --trace-samples N      at most N trace probes, one Hessian-vector product each (default 200)
  --epsilon E            radius of the ε-sharpness ball (default 0.05)
  --subspace-dim P       dimension of the random subspace for ε-sharpness (default 20)
  --volume-epsilon E     loss increase that bounds the ε-flat region (default 0.1)
  --directions N         random directions for volume ε-flatness (default 10)
  --batch-size N         samples per evaluation batch: memory only, same numbers (default 1024)
  --backend auto|wasm|cpu|tensorflow   tensor backend (default auto: tfjs-node if installed, else wasm)
  --quiet                no progress on stderr
  -h, --help             this help
  --version              print the version

flatness rescale writes an observationally equivalent checkpoint (same outputs, verified) next
to the original, never over it, whose Hessian trace (or top eigenvalue) is as low as the
network's rescaling symmetries allow (--flatten), K times higher (--sharpen K), or given by
per-layer kernel factors (--alpha a1,a2,...; product 1 along a chain):
  --granularity layer|unit   one factor per layer (default) or per unit/channel
  --objective trace|lambda-max   what --flatten/--sharpen act on (default trace)
  --out PATH             where to write (default: <name>.flat.json, <name>.sharp-xK.json, ...)
  --json OUT             write the rescale report (factors, deviation, before/after, predicted)
  --tolerance T          largest accepted relative output deviation (default 1e-5)
  --data, --architecture, --input-shape, --samples, --seed, --loss, --trace-samples, --backend, --quiet as for analyze`;

class UsageError extends Error {}

function positiveInteger(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${text}'`);
  return n;
}

function inputShapeOption(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const dims = text.split(',').map((d) => Number(d.trim()));
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new UsageError(`--input-shape takes positive integers separated by commas (e.g. 32,32,3), got '${text}'`);
  return dims;
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got '${text}'`);
  return n;
}

function parseAnalyze(args: string[]): { request: AnalysisRequest; json?: string; html?: string; quiet: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      data: { type: 'string' }, 'label-column': { type: 'string' }, 'input-shape': { type: 'string' }, loss: { type: 'string' }, samples: { type: 'string' },
      architecture: { type: 'string' }, 'probe-samples': { type: 'string' }, seed: { type: 'string' }, metrics: { type: 'string' }, json: { type: 'string' }, html: { type: 'string' },
      'top-k': { type: 'string' }, 'trace-samples': { type: 'string' }, 'trace-tolerance': { type: 'string' }, epsilon: { type: 'string' }, 'subspace-dim': { type: 'string' },
      'volume-epsilon': { type: 'string' }, directions: { type: 'string' }, 'batch-size': { type: 'string' }, backend: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a checkpoint to analyze' : `one checkpoint at a time, got ${positionals.length}`);
  const checkpoint = path.resolve(positionals[0]);
  const metrics = values.metrics?.split(',').map((m) => m.trim()).filter(Boolean);
  const unknown = metrics?.filter((m) => !(metricNames as readonly string[]).includes(m));
  if (unknown?.length) throw new UsageError(`unknown metric${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (choose from ${metricNames.join(', ')})`);
  const settings: DeepPartial<AnalysisSettings> = {
    eigenvalues: { count: positiveInteger('top-k', values['top-k']) },
    trace: { samples: positiveInteger('trace-samples', values['trace-samples']), tolerance: positiveNumber('trace-tolerance', values['trace-tolerance']) },
    sharpness: { epsilon: positiveNumber('epsilon', values.epsilon), subspaceDim: positiveInteger('subspace-dim', values['subspace-dim']) },
    volume: { epsilon: positiveNumber('volume-epsilon', values['volume-epsilon']), directions: positiveInteger('directions', values.directions) },
    batchSize: positiveInteger('batch-size', values['batch-size']),
  };
  const request: AnalysisRequest = {
    ...parseCommon(values),
    checkpoint,
    metrics: metrics as MetricName[] | undefined,
    settings: withoutUndefined(settings),
  };
  const json = values.json;
  if (json && json !== '-') {
    const target = path.resolve(json);
    if (target === request.checkpoint || target === request.data) throw new UsageError(`--json ${json} would overwrite an input file; choose another name`);
  }
  const html = values.html;
  if (html !== undefined) {
    if (html === '' || html === '-') throw new UsageError('--html needs a file name');
    const target = path.resolve(html);
    if (target === request.checkpoint || target === request.data) throw new UsageError(`--html ${html} would overwrite an input file; choose another name`);
  }
  return { request, json, html, quiet: values.quiet === true };
}

/** Options shared by analyze and rescale: data, loss, samples, seed, backend. */
function parseCommon(values: Record<string, string | boolean | undefined>): Omit<AnalysisRequest, 'checkpoint'> {
  const text = (name: string) => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };
  const loss = text('loss');
  if (loss !== undefined && !['ce', 'bce', 'mse'].includes(loss)) throw new UsageError(`--loss must be ce, bce or mse, got '${loss}'`);
  const seedText = text('seed');
  const seed = seedText === undefined ? 0 : Number(seedText);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UsageError(`--seed must be an integer from 0 to 4294967295, got '${seedText}'`);
  const backend = text('backend') ?? 'auto';
  if (!['auto', 'wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`--backend must be auto, wasm, cpu or tensorflow, got '${backend}'`);
  const labelColumn = text('label-column');
  const labelIndex = labelColumn === undefined || labelColumn === 'first' || labelColumn === 'last' ? labelColumn : Number(labelColumn);
  if (typeof labelIndex === 'number' && !Number.isInteger(labelIndex)) throw new UsageError(`--label-column must be an integer, 'first' or 'last', got '${labelColumn}'`);
  const data = text('data');
  const architecture = text('architecture');
  return {
    architecture: architecture ? path.resolve(architecture) : undefined,
    data: data ? path.resolve(data) : undefined,
    dataOptions: labelIndex === undefined ? undefined : { labelColumn: labelIndex as number | 'first' | 'last' },
    loss: loss as LossKind | undefined,
    samples: positiveInteger('samples', text('samples')),
    probeSamples: positiveInteger('probe-samples', text('probe-samples')),
    inputShape: inputShapeOption(text('input-shape')),
    seed,
    backend: backend as AnalysisRequest['backend'],
  };
}

function withoutUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function runAnalyze(args: string[]): Promise<number> {
  const { request, json, html, quiet } = parseAnalyze(args);
  // Read before the analysis, so a missing build fails at once rather than after minutes of work.
  const htmlAssets = html === undefined ? undefined : readStandaloneAssets(packageRootFrom(__dirname));
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = new ProgressBar(process.stderr, !quiet);
  try {
    const report = await analyzeAnyFile(request, { signal: controller.signal, onProgress: (p) => bar.update(p) });
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
    if (html !== undefined && htmlAssets) {
      fs.writeFileSync(path.resolve(html), standaloneReportHtml(report, htmlAssets.script, htmlAssets.stylesheet));
      (json === '-' ? process.stderr : process.stdout).write(`HTML report written to ${html}\n`);
    }
    return 0;
  } finally {
    bar.finish();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function parseRescale(args: string[]): { request: RescaleRequest; json?: string; out?: string; quiet: boolean } {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      flatten: { type: 'boolean' }, sharpen: { type: 'string' }, alpha: { type: 'string' }, granularity: { type: 'string' },
      objective: { type: 'string' }, out: { type: 'string' }, json: { type: 'string' }, tolerance: { type: 'string' },
      data: { type: 'string' }, 'label-column': { type: 'string' }, 'input-shape': { type: 'string' }, loss: { type: 'string' }, samples: { type: 'string' },
      architecture: { type: 'string' }, 'probe-samples': { type: 'string' }, seed: { type: 'string' }, 'trace-samples': { type: 'string' }, backend: { type: 'string' },
      quiet: { type: 'boolean' },
    },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a checkpoint to rescale' : `one checkpoint at a time, got ${positionals.length}`);
  const modes = [values.flatten ? 'flatten' : undefined, values.sharpen !== undefined ? 'sharpen' : undefined, values.alpha !== undefined ? 'alpha' : undefined].filter(Boolean);
  if (modes.length !== 1) throw new UsageError('choose exactly one of --flatten, --sharpen K, --alpha LIST');
  const mode = modes[0] as RescaleRequest['mode'];
  const factor = mode === 'sharpen' ? positiveNumber('sharpen', values.sharpen) : undefined;
  if (factor !== undefined && factor <= 1) throw new UsageError(`--sharpen K needs K > 1, got ${values.sharpen}`);
  const alphas = values.alpha?.split(',').map((a) => Number(a.trim()));
  if (alphas && alphas.some((a) => !(a > 0) || !Number.isFinite(a))) throw new UsageError(`--alpha takes positive numbers separated by commas, got '${values.alpha}'`);
  const granularity = values.granularity ?? 'layer';
  if (granularity !== 'layer' && granularity !== 'unit') throw new UsageError(`--granularity must be layer or unit, got '${granularity}'`);
  const objective = values.objective ?? 'trace';
  if (objective !== 'trace' && objective !== 'lambda-max') throw new UsageError(`--objective must be trace or lambda-max, got '${objective}'`);
  const common = parseCommon(values);
  const checkpoint = path.resolve(positionals[0]);
  const tolerance = positiveNumber('tolerance', values.tolerance);
  const request: RescaleRequest = {
    ...common,
    checkpoint,
    mode,
    factor,
    alphas,
    granularity,
    objective,
    traceSamples: positiveInteger('trace-samples', values['trace-samples']),
    tolerance,
  };
  return { request, json: values.json, out: values.out, quiet: values.quiet === true };
}

async function runRescale(args: string[]): Promise<number> {
  const { request, json, out, quiet } = parseRescale(args);
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  const bar = new ProgressBar(process.stderr, !quiet);
  try {
    const plan = await planRescale(request, { signal: controller.signal, onProgress: (fraction, message) => bar.update({ stage: 'setup', fraction, message }) });
    bar.finish();
    const files = await writeRescaled(plan, out);
    const report = rescaleReport(plan, files);
    process.stdout.write(formatRescaleSummary(report) + '\n');
    if (json === '-') process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (json) fs.writeFileSync(path.resolve(json), JSON.stringify(report, null, 2) + '\n');
    return 0;
  } finally {
    bar.finish();
    process.off('SIGINT', onSignal);
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
    if (command === 'rescale') return await runRescale(rest);
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
  const kind = failureKind(error);
  if (kind === 'cancelled') {
    process.stderr.write('flatness: cancelled\n');
    return 130;
  }
  if (kind !== 'internal') {
    process.stderr.write(`flatness: ${(error as Error).message}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`flatness: unexpected error: ${message}\n`);
  if (process.env.FLATNESS_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  return 1;
}
