import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeAnyFile } from '../engine/analysis/analyzeFile';
import type { AnalysisRequest, RescaleRequest, DeepPartial } from '../protocol/requests';
import { failureKind, throwIfAborted } from '../protocol/errors';
import { metricNames, type AnalysisSettings, type LossKind, type MetricName } from '../protocol/report';
import { toolVersion } from '../protocol/version';
import { ProgressBar } from './progressBar';
import { planRescale, writeRescaled } from '../engine/rescale/plan';
import { formatRescaleSummary, rescaleReport } from './rescaleReport';
import { formatSummary } from './summary';
import { runTrajectoryCommand, trajectoryHelp, trajectoryUsageLine } from './trajectory';
import { packageRootFrom, readStandaloneAssets, standaloneReportHtml } from '../engine/reportExport/standaloneHtml';
import { formatLimitValue, limitLines, limits, type Limit } from '../protocol/limits';
import { escapeControlCharacters } from '../protocol/safeText';
import { checkOutputs } from '../engine/io/outputGuard';
import { removePendingTempFilesSync, replaceFilesAtomically } from '../engine/io/atomicWrite';
import { startNewJobLedger } from '../engine/io/readLedger';

const usage = `Usage: flatness analyze <checkpoint> [options]
       flatness rescale <checkpoint> (--flatten | --sharpen K | --alpha LIST) [options]
${trajectoryUsageLine}

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
  --backend auto|onnxruntime|wasm|cpu|tensorflow   what runs the Hessian-vector products (default auto:
                         ONNX Runtime when its native binary loads and knows every layer, else tfjs)
  --threads N            ONNX Runtime threads (default: every core)
  --device cpu|cuda      where ONNX Runtime runs (default cpu; cuda needs its CUDA provider, see README)
  --force                replace existing output files (never an input of the job)
  --allow-non-finite     analyze a checkpoint even if some weights are NaN or infinite
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
  --data, --architecture, --input-shape, --samples, --seed, --loss, --trace-samples, --backend, --threads, --device,
  --force, --allow-non-finite, --quiet as for analyze

Outputs never replace a file the job reads (checkpoint, shards, architecture, data and its
companions); an existing output file is replaced only with --force. SIGINT/SIGTERM stop at once.

Limits (README, "Safety and limits"):
${limitLines().join('\n')}

${trajectoryHelp}`;

class UsageError extends Error {}

/**
 * parseArgs reads `--alpha -1,2` as two options; a string option followed by something that reads
 * as a negative number takes it as its value, so the value's own check can say what is wrong.
 */
export function joinNegativeValues(args: readonly string[], stringOptions: ReadonlySet<string>): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const next = args[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && stringOptions.has(arg.slice(2)) && next !== undefined && /^-(\d|\.\d|inf|nan)/i.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else joined.push(arg);
  }
  return joined;
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

function parseOptions<T extends OptionSpec>(args: string[], options: T) {
  const stringOptions = new Set(Object.entries(options).filter(([, o]) => o.type === 'string').map(([name]) => name));
  return parseArgs({ args: joinNegativeValues(args, stringOptions), allowPositionals: true, options });
}

/** A count option: an integer from 1 to its limit. */
function countOption(name: string, text: string | undefined, limit: Limit): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (≥ 1), got '${text}'`);
  if (n > limit.value) throw new UsageError(`--${name} ${text} is over the limit of ${formatLimitValue(limit.value, limit.bytes === true)} (${limit.what})`);
  return n;
}

function inputShapeOption(text: string | undefined): number[] | undefined {
  if (text === undefined) return undefined;
  const dims = text.split(',').map((d) => (d.trim() === '' ? NaN : Number(d.trim())));
  if (dims.length === 0 || dims.some((d) => !Number.isInteger(d) || d < 1)) throw new UsageError(`--input-shape takes positive integers separated by commas (e.g. 32,32,3), got '${text}'`);
  const elements = dims.reduce((a, b) => a * b, 1);
  if (elements > limits.inputElements.value) throw new UsageError(`--input-shape ${text} has ${elements} elements, over the limit of ${limits.inputElements.value} (${limits.inputElements.what})`);
  return dims;
}

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got '${text}'`);
  return n;
}

/** Output files of one run: refused when one is an input (always) or exists (unless --force). */
function checkCliOutputs(outputs: readonly (string | undefined)[], request: AnalysisRequest, force: boolean): void {
  const files = outputs.filter((o): o is string => o !== undefined && o !== '-').map((o) => path.resolve(o));
  const inputs = [request.checkpoint, request.data, request.architecture].filter((f): f is string => f !== undefined);
  try {
    checkOutputs(files, { inputs, force, howToForce: 'pass --force' });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function parseAnalyze(args: string[]): { request: AnalysisRequest; json?: string; html?: string; quiet: boolean; force: boolean } {
  const { values, positionals } = parseOptions(args, {
      data: { type: 'string' }, 'label-column': { type: 'string' }, 'input-shape': { type: 'string' }, loss: { type: 'string' }, samples: { type: 'string' },
      architecture: { type: 'string' }, 'probe-samples': { type: 'string' }, seed: { type: 'string' }, metrics: { type: 'string' }, json: { type: 'string' }, html: { type: 'string' },
      'top-k': { type: 'string' }, 'trace-samples': { type: 'string' }, 'trace-tolerance': { type: 'string' }, epsilon: { type: 'string' }, 'subspace-dim': { type: 'string' },
      'volume-epsilon': { type: 'string' }, directions: { type: 'string' }, 'batch-size': { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' },
      quiet: { type: 'boolean' }, force: { type: 'boolean' }, 'allow-non-finite': { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a checkpoint to analyze' : `one checkpoint at a time, got ${positionals.length}`);
  const checkpoint = path.resolve(positionals[0]);
  const metrics = values.metrics?.split(',').map((m) => m.trim()).filter(Boolean);
  const unknown = metrics?.filter((m) => !(metricNames as readonly string[]).includes(m));
  if (unknown?.length) throw new UsageError(`unknown metric${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (choose from ${metricNames.join(', ')})`);
  const settings: DeepPartial<AnalysisSettings> = {
    eigenvalues: { count: countOption('top-k', values['top-k'], limits.topK) },
    trace: { samples: countOption('trace-samples', values['trace-samples'], limits.traceSamples), tolerance: positiveNumber('trace-tolerance', values['trace-tolerance']) },
    sharpness: { epsilon: positiveNumber('epsilon', values.epsilon), subspaceDim: countOption('subspace-dim', values['subspace-dim'], limits.subspaceDim) },
    volume: { epsilon: positiveNumber('volume-epsilon', values['volume-epsilon']), directions: countOption('directions', values.directions, limits.directions) },
    batchSize: countOption('batch-size', values['batch-size'], limits.batchSize),
  };
  const request: AnalysisRequest = {
    ...parseCommon(values),
    checkpoint,
    metrics: metrics as MetricName[] | undefined,
    settings: withoutUndefined(settings),
  };
  const json = values.json;
  if (json === '') throw new UsageError("--json needs a file name (or '-' for stdout)");
  const html = values.html;
  if (html !== undefined && (html === '' || html === '-')) throw new UsageError('--html needs a file name');
  const force = values.force === true;
  checkCliOutputs([json, html], request, force);
  return { request, json, html, quiet: values.quiet === true, force };
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
  if (!['auto', 'onnxruntime', 'wasm', 'cpu', 'tensorflow'].includes(backend)) throw new UsageError(`--backend must be auto, onnxruntime, wasm, cpu or tensorflow, got '${backend}'`);
  const device = text('device');
  if (device !== undefined && device !== 'cpu' && device !== 'cuda') throw new UsageError(`--device must be cpu or cuda, got '${device}'`);
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
    samples: countOption('samples', text('samples'), limits.samples),
    probeSamples: countOption('probe-samples', text('probe-samples'), limits.probeSamples),
    inputShape: inputShapeOption(text('input-shape')),
    seed,
    backend: backend as AnalysisRequest['backend'],
    allowNonFinite: values['allow-non-finite'] === true ? true : undefined,
    threads: countOption('threads', text('threads'), limits.threads),
    device,
  };
}

function withoutUndefined<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * SIGINT and SIGTERM abort the job; whatever the job is doing, the process removes its temporary
 * files and exits within a second (status 130).
 */
function onStopSignals(controller: AbortController): () => void {
  const stop = () => {
    controller.abort();
    setTimeout(() => {
      removePendingTempFilesSync();
      process.stderr.write('flatness: cancelled\n');
      process.exit(130);
    }, 500).unref();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
}

async function runAnalyze(args: string[], io: CliOutput): Promise<number> {
  startNewJobLedger();
  const { request, json, html, quiet, force } = parseAnalyze(args);
  // Read before the analysis, so a missing build fails at once rather than after minutes of work.
  const htmlAssets = html === undefined ? undefined : readStandaloneAssets(packageRootFrom(__dirname));
  const controller = new AbortController();
  const stopListening = onStopSignals(controller);
  const bar = new ProgressBar(io.stderr, !quiet);
  try {
    const report = await analyzeAnyFile(request, { signal: controller.signal, onProgress: (p) => bar.update(p) });
    bar.finish();
    const text = JSON.stringify(report, null, 2) + '\n';
    // Again now that every file the job read (shards, companions) is known.
    checkCliOutputs([json, html], request, force);
    if (json === '-') {
      io.stdout.write(text);
    } else {
      io.stdout.write(escapeControlCharacters(formatSummary(report)) + '\n');
      if (json) {
        await replaceFilesAtomically([{ path: path.resolve(json), data: text }]);
        io.stdout.write(`Report written to ${escapeControlCharacters(json, false)}\n`);
      }
    }
    if (html !== undefined && htmlAssets) {
      await replaceFilesAtomically([{ path: path.resolve(html), data: standaloneReportHtml(report, htmlAssets.script, htmlAssets.stylesheet) }]);
      (json === '-' ? io.stderr : io.stdout).write(`HTML report written to ${escapeControlCharacters(html, false)}\n`);
    }
    return 0;
  } finally {
    bar.finish();
    stopListening();
  }
}

function parseRescale(args: string[]): { request: RescaleRequest; json?: string; out?: string; quiet: boolean; force: boolean } {
  const { values, positionals } = parseOptions(args, {
      flatten: { type: 'boolean' }, sharpen: { type: 'string' }, alpha: { type: 'string' }, granularity: { type: 'string' },
      objective: { type: 'string' }, out: { type: 'string' }, json: { type: 'string' }, tolerance: { type: 'string' },
      data: { type: 'string' }, 'label-column': { type: 'string' }, 'input-shape': { type: 'string' }, loss: { type: 'string' }, samples: { type: 'string' },
      architecture: { type: 'string' }, 'probe-samples': { type: 'string' }, seed: { type: 'string' }, 'trace-samples': { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' },
      quiet: { type: 'boolean' }, force: { type: 'boolean' }, 'allow-non-finite': { type: 'boolean' },
  });
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'name a checkpoint to rescale' : `one checkpoint at a time, got ${positionals.length}`);
  const modes = [values.flatten ? 'flatten' : undefined, values.sharpen !== undefined ? 'sharpen' : undefined, values.alpha !== undefined ? 'alpha' : undefined].filter(Boolean);
  if (modes.length !== 1) throw new UsageError('choose exactly one of --flatten, --sharpen K, --alpha LIST');
  const mode = modes[0] as RescaleRequest['mode'];
  const factor = mode === 'sharpen' ? positiveNumber('sharpen', values.sharpen) : undefined;
  if (factor !== undefined && factor <= 1) throw new UsageError(`--sharpen K needs K > 1, got ${values.sharpen}`);
  const alphas = values.alpha?.split(',').map((a) => (a.trim() === '' ? NaN : Number(a.trim())));
  if (alphas && alphas.some((a) => !(a > 0) || !Number.isFinite(a))) throw new UsageError(`--alpha takes positive numbers separated by commas, got '${values.alpha}'`);
  if (alphas && alphas.length > limits.alphaFactors.value) throw new UsageError(`--alpha lists ${alphas.length} factors, over the limit of ${limits.alphaFactors.value} (${limits.alphaFactors.what})`);
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
    traceSamples: countOption('trace-samples', values['trace-samples'], limits.traceSamples),
    tolerance,
  };
  const force = values.force === true;
  if (values.json === '') throw new UsageError("--json needs a file name (or '-' for stdout)");
  if (values.out === '') throw new UsageError('--out needs a file name');
  checkCliOutputs([values.json, values.out], request, force);
  return { request, json: values.json, out: values.out, quiet: values.quiet === true, force };
}

async function runRescale(args: string[], io: CliOutput): Promise<number> {
  startNewJobLedger();
  const { request, json, out, quiet, force } = parseRescale(args);
  const controller = new AbortController();
  const stopListening = onStopSignals(controller);
  const bar = new ProgressBar(io.stderr, !quiet);
  try {
    const plan = await planRescale(request, { signal: controller.signal, onProgress: (fraction, message) => bar.update({ stage: 'setup', fraction, message }) });
    bar.finish();
    checkCliOutputs([json], request, force);
    throwIfAborted(controller.signal);
    const files = await writeRescaled(plan, out, { force, howToForce: 'pass --force' });
    const report = rescaleReport(plan, files);
    io.stdout.write(escapeControlCharacters(formatRescaleSummary(report)) + '\n');
    if (json === '-') io.stdout.write(JSON.stringify(report, null, 2) + '\n');
    else if (json) {
      checkOutputs([path.resolve(json)], { inputs: [...plan.inputFiles, ...files], force: true });
      await replaceFilesAtomically([{ path: path.resolve(json), data: JSON.stringify(report, null, 2) + '\n' }]);
    }
    return 0;
  } finally {
    bar.finish();
    stopListening();
  }
}

/** Where the CLI writes: the process's streams, or a test's collectors. */
export interface CliOutput {
  readonly stdout: Pick<NodeJS.WriteStream, 'write'>;
  readonly stderr: Pick<NodeJS.WriteStream, 'write' | 'isTTY' | 'columns'>;
}

export async function main(argv: string[], io: CliOutput = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === '--version' || command === '-v') {
      io.stdout.write(`${toolVersion}\n`);
      return 0;
    }
    if (!command || command === '-h' || command === '--help' || command === 'help' || rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(usage + '\n');
      return command ? 0 : 2;
    }
    if (command === 'analyze') return await runAnalyze(rest, io);
    if (command === 'rescale') return await runRescale(rest, io);
    if (command === 'trajectory') return await runTrajectoryCommand(rest, (args) => parseAnalyze(args).request, (message) => new UsageError(message));
    throw new UsageError(`unknown command '${escapeControlCharacters(command, false)}'`);
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliOutput): number {
  if (error instanceof UsageError || (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))) {
    io.stderr.write(`flatness: ${escapeControlCharacters(error.message)}\nRun 'flatness --help' for usage.\n`);
    return 2;
  }
  const kind = failureKind(error);
  if (kind === 'cancelled') {
    io.stderr.write('flatness: cancelled\n');
    return 130;
  }
  if (kind !== 'internal') {
    io.stderr.write(`flatness: ${escapeControlCharacters((error as Error).message)}\n`);
    return 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  io.stderr.write(`flatness: unexpected error: ${escapeControlCharacters(message)}\n`);
  if (process.env.FLATNESS_DEBUG && error instanceof Error) io.stderr.write(`${error.stack}\n`);
  return 1;
}
