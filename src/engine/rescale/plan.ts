import * as fs from 'node:fs';
import * as path from 'node:path';
import { prepareInputs } from '../analysis/analyzeFile';
import type { RescaleRequest } from '../../protocol/requests';
import { hessianTopEigenvalues } from '../analysis/eigenvalues';
import { NonFiniteCurvature } from '../analysis/lanczos';
import { Objective } from '../analysis/objective';
import { SeededRandom } from '../numeric/random';
import { hessianTrace } from '../analysis/trace';
import { disposeVector, type ParameterVector } from '../analysis/vectors';
import { formatById } from '../formats/registry';
import { NetworkFunction } from '../model/network';
import type { Checkpoint, WeightTensor } from '../model/spec';
import { FileProblem, RescaleRefused, throwIfAborted } from '../../protocol/errors';
import { toolVersion } from '../../protocol/version';
import { defaultSettings } from '../../protocol/report';
import { checkOutputs } from '../io/outputGuard';
import { filesReadSoFar } from '../io/readLedger';
import { trackTemporaryPath, untrackTemporaryPath } from '../io/atomicWrite';
import { applyScaling } from './applyScaling';
import { exponentialSum, minimizeExponentialSum, scaleToGrowBy, type TraceTerm } from '../symmetry/exponentialSum';
import { growLambdaMax, minimizeLambdaMax } from './lambdaMax';
import { layerFactors } from '../symmetry/layerFactors';
import type { LayerFactor, CurvatureSummary, PredictedCurvature, RescaleData } from '../../protocol/rescaleResult';
import { analyzeSymmetry, describeStructure, evaluateForm, type ScaleStructure } from '../symmetry/symmetry';
import { layerTraceTerms, unitTraceTerms } from '../analysis/traceTerms';

export interface RescalePlan {
  readonly checkpoint: Checkpoint;
  readonly sourceSha256: string;
  /** Every file read to make the plan (checkpoint, shards, architecture, data and companions): never written over. */
  readonly inputFiles: readonly string[];
  readonly request: RescaleRequest;
  readonly symmetry: string;
  readonly barriers: ScaleStructure['barriers'];
  readonly u: number[];
  readonly factors: LayerFactor[];
  readonly predicted: PredictedCurvature;
  readonly before: CurvatureSummary;
  readonly after: CurvatureSummary;
  readonly maxOutputDeviation: number;
  readonly data: RescaleData;
  readonly weights: WeightTensor[];
  readonly notes: string[];
}

export interface RescaleCallbacks {
  readonly onProgress?: (fraction: number, message: string) => void;
  readonly signal?: AbortSignal;
}

const defaultTolerance = 1e-5;
/** As the trace metric's default: above this many weight tensors, joint probes over every parameter. */
const maxBlocksForBlockProbes = defaultSettings.trace.maxBlocksForBlockProbes;

/**
 * Finds a function-preserving rescaling of a checkpoint for the request, builds the rescaled
 * weights, verifies on the data (or probe inputs) that the outputs did not change, and measures
 * trace and top eigenvalue before and after. Writes nothing: see `writeRescaled`.
 */
export async function planRescale(request: RescaleRequest, callbacks: RescaleCallbacks = {}): Promise<RescalePlan> {
  const progress = (fraction: number, message: string) => callbacks.onProgress?.(fraction, message);
  const inputs = await prepareInputs(request, (fraction, message) => progress(0.05 * fraction, message));
  const { checkpoint, network } = inputs;
  const granularity = request.granularity ?? 'layer';
  const objectiveKind = request.objective ?? 'trace';
  const samples = request.traceSamples ?? (granularity === 'unit' ? 200 : 30);
  const random = new SeededRandom(inputs.seed);
  const notes: string[] = [];
  let objective: Objective | undefined;
  try {
    const structure = analyzeSymmetry(checkpoint, granularity);
    const refuse = (reason: string): never => {
      throw new RescaleRefused(checkpoint.path, reason);
    };
    if (structure.freedom === 0) {
      const why = structure.barriers.map((b) => `'${b.layer}': ${b.reason}`).join('; ');
      refuse(`no rescaling keeps this network's function${why ? ` (${why})` : ' (it has no rescalable layers)'}`);
    }
    objective = new Objective(network, inputs.dataset, inputs.loss, undefined, inputs.executorFactory);
    const hvp = (v: ParameterVector) => objective!.hessianVectorProduct(v);
    const parameters = objective.parameters;
    // Piecewise-linear networks on ONNX Runtime: the block traces are exact, so the prediction is exact too.
    const exactBlockTraces = granularity === 'layer' && objectiveKind === 'trace' && objective.exactTraceUnavailable() === undefined ? await objective.exactBlockTraces(undefined, callbacks.signal) : undefined;
    if (exactBlockTraces) notes.push('the Hessian block traces are exact (a piecewise-linear network: its Hessian diagonal is the Gauss–Newton one)');

    let u: number[];
    const predicted: { trace?: number; topEigenvalue?: number } = {};
    // With the joint method the diagonal sums' probes are the trace's own: the original's trace is their sum.
    let jointTrace: { estimate: number; stderr: number } | undefined;
    if (request.mode === 'alpha') {
      u = layerScalesFromAlphas(structure, request.alphas ?? [], refuse);
    } else if (objectiveKind === 'lambda-max') {
      progress(0.1, 'searching the scaling (λ_max)');
      const options = { random: random.fork('lambda-max'), signal: callbacks.signal, maxSteps: 40 };
      if (request.mode === 'flatten') {
        const result = await minimizeLambdaMax(hvp, structure, parameters, { ...options, iterations: 12, onProgress: (f) => progress(0.1 + 0.5 * f, 'searching the scaling (λ_max)') });
        u = result.u;
        predicted.topEigenvalue = result.value;
      } else {
        const result = await growLambdaMax(hvp, structure, parameters, request.factor ?? 10, options);
        if (!result) refuse(`no scaling within e^±64 grows λ_max ${request.factor}-fold`);
        u = result!.u;
        predicted.topEigenvalue = result!.value;
      }
    } else {
      progress(0.05, 'Hessian diagonal sums');
      let terms: TraceTerm[];
      const termOptions = { samples, random: random.fork('trace'), signal: callbacks.signal, onProgress: (f: number) => progress(0.05 + 0.45 * f, 'Hessian diagonal sums') };
      if (granularity === 'unit') {
        const unit = await unitTraceTerms(hvp, parameters, structure, termOptions);
        terms = unit.terms;
        if (unit.clippedNegative > 0) notes.push(`${unit.clippedNegative} groups had a negative estimated Hessian diagonal sum and were treated as 0`);
        notes.push(`unit-granularity predictions use a Hutchinson estimate of the Hessian diagonal (${Math.min(samples, network.parameterCount)} products)`);
      } else {
        const layer = await layerTraceTerms(hvp, parameters, structure, { ...termOptions, maxBlocksForBlockProbes, exactBlockTraces });
        terms = layer.terms;
        if (layer.method === 'joint') {
          jointTrace = layer.trace;
          notes.push(`${parameters.length} weight tensors: the diagonal sums come from ${samples} joint probes over every parameter (--trace-samples)${layer.clippedNegative > 0 ? `; ${layer.clippedNegative} estimated negative, taken as their standard error` : ''}`);
        }
        const negative = terms.find((t) => t.h < 0 && t.form.length > 0);
        if (negative && request.mode === 'flatten') refuse('a Hessian block that the scaling moves has a negative trace, so the trace has no minimum over the rescalings (the point is not a minimum)');
      }
      throwIfAborted(callbacks.signal);
      if (request.mode === 'flatten') {
        const ridge = granularity === 'unit' || jointTrace ? 1e-3 * exponentialSum(terms, new Array<number>(structure.variables.length).fill(0)) : 0;
        const result = minimizeExponentialSum(terms, structure.basis, structure.variables.length, ridge);
        u = result.u;
        predicted.trace = result.value;
      } else {
        const result = scaleToGrowBy(terms, structure.basis, structure.variables.length, request.factor ?? 10);
        if (!result) refuse(`no scaling within e^±200 grows the trace ${request.factor}-fold`);
        u = result!.u;
        predicted.trace = result!.value;
      }
    }
    if (request.mode === 'alpha' && objectiveKind === 'trace') {
      const terms = (await layerTraceTerms(hvp, parameters, structure, { samples, random: random.fork('trace'), signal: callbacks.signal, maxBlocksForBlockProbes, exactBlockTraces })).terms;
      predicted.trace = exponentialSum(terms, u);
    }

    progress(0.6, 'building and verifying the rescaled network');
    const scaled = applyScaling(checkpoint.weights, structure, u);
    if (scaled.problem) refuse(scaled.problem);
    const rescaledCheckpoint: Checkpoint = { ...checkpoint, weights: scaled.weights };
    const rescaledNetwork = new NetworkFunction(rescaledCheckpoint);
    const rescaled = new Objective(rescaledNetwork, inputs.dataset, inputs.loss, undefined, inputs.executorFactory);
    try {
      const maxOutputDeviation = outputDeviation(objective, rescaled);
      const tolerance = request.tolerance ?? defaultTolerance;
      if (!(maxOutputDeviation <= tolerance)) {
        refuse(`the rescaled network's outputs differ by ${maxOutputDeviation.toExponential(2)} (relative to the largest output), above the ${tolerance} allowed: the factors are too extreme for float32`);
      }
      progress(0.65, 'measuring the original');
      const traceProbes = granularity === 'layer' ? samples : 30;
      const knownTrace = exactBlockTraces ? { estimate: exactBlockTraces.reduce((a, b) => a + b, 0), stderr: 0 } : granularity === 'layer' ? jointTrace : undefined;
      const before = await curvature(objective, traceProbes, random, callbacks.signal, (f) => progress(0.65 + 0.17 * f, 'measuring the original'), knownTrace);
      progress(0.82, 'measuring the rescaled network');
      const after = await curvature(rescaled, traceProbes, random, callbacks.signal, (f) => progress(0.82 + 0.17 * f, 'measuring the rescaled network')).catch((error: unknown) => {
        if (error instanceof NonFiniteCurvature) refuse('the rescaled network computes the same outputs, but its Hessian overflows float32: the factors are too extreme to be useful');
        throw error;
      });
      if (request.mode === 'flatten' && jointTrace && after.trace - before.trace > 2 * Math.hypot(after.traceStderr, before.traceStderr)) {
        notes.push(`the measured trace rose: ${samples} joint probes estimate the diagonal sums too roughly for this network; more --trace-samples give a better scaling`);
      }
      progress(1, 'done');
      return {
        checkpoint,
        sourceSha256: inputs.checkpointSha256,
        inputFiles: filesReadSoFar(),
        request,
        symmetry: describeStructure(structure),
        barriers: structure.barriers,
        u,
        factors: layerFactors(structure, u),
        predicted,
        before,
        after,
        maxOutputDeviation,
        data: { source: inputs.dataset.source, samples: inputs.dataset.count, dataFree: inputs.dataFree },
        weights: scaled.weights,
        notes,
      };
    } finally {
      rescaled.dispose();
      rescaledNetwork.dispose();
    }
  } finally {
    objective?.dispose();
    network.dispose();
  }
}

/** max |f'(x) − f(x)| / max |f(x)| over every sample and output (on the logits for ce/bce). */
function outputDeviation(original: Objective, rescaled: Objective): number {
  const a = original.outputs(original.theta, true);
  const b = rescaled.outputs(rescaled.theta, true);
  let scale = 0;
  let deviation = 0;
  for (let i = 0; i < a.length; i++) {
    scale = Math.max(scale, Math.abs(a[i]));
    const d = Math.abs(a[i] - b[i]);
    deviation = Number.isNaN(d) ? Infinity : Math.max(deviation, d);
  }
  return deviation / Math.max(scale, 1e-30);
}

/** Trace and top eigenvalue; `knownTrace`, when given, is the trace this call would estimate (same probes), already computed. */
async function curvature(objective: Objective, samples: number, random: SeededRandom, signal: AbortSignal | undefined, onProgress: (f: number) => void, knownTrace?: { estimate: number; stderr: number }): Promise<CurvatureSummary> {
  const hvp = (v: ParameterVector) => objective.hessianVectorProduct(v);
  const exact = knownTrace ?? (objective.exactTraceUnavailable() === undefined ? { estimate: (await objective.exactBlockTraces(undefined, signal)).reduce((a, b) => a + b, 0), stderr: 0 } : undefined);
  const trace = exact ?? (await hessianTrace(hvp, objective.parameters, { samples, maxBlocksForBlockProbes, random: random.fork('trace'), signal, onProgress: (f) => onProgress(0.6 * f) }));
  const top = await hessianTopEigenvalues(objective.hessianOperator(), objective.parameters, { count: 1, maxSteps: 60, tolerance: 1e-4, random: random.fork('eigenvalues'), signal, onProgress: (f) => onProgress(0.6 + 0.4 * f) });
  disposeVector(top.topVector);
  return { trace: trace.estimate, traceStderr: trace.stderr, topEigenvalue: top.values[0] };
}

/**
 * Per-layer α (Dinh et al.): layer k's kernel is multiplied by α_k, so its output scale is its
 * input scale times α_k. Only for layer granularity; the scales must keep the function.
 */
function layerScalesFromAlphas(structure: ScaleStructure, alphas: readonly number[], refuse: (reason: string) => never): number[] {
  if (structure.granularity !== 'layer') refuse('--alpha takes one factor per layer: use layer granularity');
  const layers = structure.variables.map((v) => v.layer);
  if (alphas.length !== layers.length) refuse(`--alpha needs ${layers.length} factors, one per layer (${layers.join(', ')}), got ${alphas.length}`);
  if (alphas.some((a) => !(a > 0) || !Number.isFinite(a))) refuse('every α must be a positive finite number');
  const u = new Array<number>(layers.length).fill(0);
  for (const [k, layer] of layers.entries()) {
    const kernel = structure.weights.find((w) => w.layer === layer && (w.kind === 'kernel' || w.kind === 'depthwise' || w.role === 'gamma'));
    const rows = kernel?.rows ?? [];
    const inputScale = rows.length ? evaluateForm(rows[0], u) : 0;
    if (rows.some((r) => Math.abs(evaluateForm(r, u) - inputScale) > 1e-12)) refuse(`layer '${layer}' reads inputs of different scales; --alpha needs a chain`);
    u[k] = inputScale + Math.log(alphas[k]);
  }
  const broken = [...new Set(structure.constraints.flatMap((c, i) => (Math.abs(evaluateForm(c, u)) > 1e-9 ? [structure.constraintBarriers[i]] : [])))];
  if (broken.length > 0) {
    const where = broken.slice(0, 3).map((b) => `'${structure.barriers[b].layer}' (${structure.barriers[b].reason})`);
    const more = broken.length > 3 ? ` and ${broken.length - 3} more` : '';
    refuse(`these factors change the function: the scale must return to 1 at ${where.join('; ')}${more}; the product of the α along each chain up to such a layer must be 1`);
  }
  return u;
}

/** `<name>.flat.json`, `<name>.sharp-x100.json`, `<name>.alpha.json`; `-2`, `-3`, … when taken. */
export function rescaledFileName(plan: RescalePlan, taken: (file: string) => boolean): string {
  const format = formatById(plan.checkpoint.format);
  if (!format) throw new FileProblem(plan.checkpoint.path, `no writer for format ${plan.checkpoint.format}`);
  const extension = path.extname(plan.checkpoint.path);
  const base = plan.checkpoint.path.slice(0, plan.checkpoint.path.length - extension.length);
  const tag = plan.request.mode === 'flatten' ? 'flat' : plan.request.mode === 'sharpen' ? `sharp-x${plan.request.factor ?? 10}` : 'alpha';
  for (let n = 1; n < 10000; n++) {
    const candidate = `${base}.${tag}${n === 1 ? '' : `-${n}`}${extension}`;
    if (!format.filesWritten(candidate).some(taken)) return candidate;
  }
  throw new FileProblem(plan.checkpoint.path, 'no free name for the rescaled file');
}

/** `file` as seen from `folder`, in forward slashes, so a moved folder keeps its links. */
function relativeTo(folder: string, file: string): string {
  return path.isAbsolute(file) ? path.relative(folder, file).split(path.sep).join('/') : file;
}

/** Writes the verified plan next to the original (or to `outPath`), never over an existing file. */
export interface WriteRescaledOptions {
  /** Replace existing files at `outPath` that the job did not read (the CLI's --force, or the editor's confirmation). */
  readonly force?: boolean;
  readonly howToForce?: string;
}

export async function writeRescaled(plan: RescalePlan, outPath?: string, options: WriteRescaledOptions = {}): Promise<string[]> {
  const format = formatById(plan.checkpoint.format)!;
  const target = outPath ? path.resolve(outPath) : rescaledFileName(plan, (f) => fs.existsSync(f));
  if (path.resolve(target) === path.resolve(plan.checkpoint.path)) throw new FileProblem(target, 'is the original checkpoint; Flatness Lens never overwrites it');
  const outputs = format.filesWritten(target);
  checkOutputs(outputs, { inputs: [plan.checkpoint.path, ...plan.inputFiles], force: options.force, howToForce: options.howToForce });
  const metadata = {
    rescaledBy: `flatness-lens ${toolVersion}`,
    source: { file: path.basename(plan.checkpoint.path), sha256: plan.sourceSha256 },
    mode: plan.request.mode,
    objective: plan.request.objective ?? 'trace',
    granularity: plan.request.granularity ?? 'layer',
    sharpenFactor: plan.request.factor,
    symmetry: plan.symmetry,
    factors: plan.factors,
    predicted: plan.predicted,
    before: plan.before,
    after: plan.after,
    maxOutputDeviation: plan.maxOutputDeviation,
    data: { ...plan.data, source: plan.data.dataFree ? plan.data.source : relativeTo(path.dirname(target), plan.data.source) },
  };
  const write = { weights: plan.weights, metadata };
  if (!outputs.some((file) => fs.existsSync(file))) return format.write(plan.checkpoint, target, write);
  // Replacing: the writers never overwrite, so write into a private folder beside the target and
  // rename each file over its old version.
  const staging = await fs.promises.mkdtemp(path.join(path.dirname(target), '.flatness-'));
  trackTemporaryPath(staging);
  try {
    const staged = await format.write(plan.checkpoint, path.join(staging, path.basename(target)), write);
    const placed: string[] = [];
    for (const file of staged) {
      const final = path.join(path.dirname(target), path.relative(staging, file));
      await fs.promises.rename(file, final);
      placed.push(final);
    }
    return placed;
  } finally {
    await fs.promises.rm(staging, { recursive: true, force: true });
    untrackTemporaryPath(staging);
  }
}

