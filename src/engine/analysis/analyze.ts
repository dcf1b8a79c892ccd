import type { Dataset } from '../data/dataset';
import { lossDescriptions, type LossKind } from '../model/loss';
import type { NetworkFunction } from '../model/network';
import type { Checkpoint } from '../model/spec';
import { sourceOfKind } from '../formats/checkpointFormat';
import { layerSummary, rescaleProvenance } from '../formats/provenance';
import type { WeightsOnlySource } from '../formats/weights/weightsOnlyFormat';
import { exponentialSum, minimizeExponentialSum } from '../symmetry/exponentialSum';
import { layerFactors } from '../symmetry/layerFactors';
import { analyzeSymmetry, evaluateForm } from '../symmetry/symmetry';
import { layerTraceTerms } from './traceTerms';
import { LimitExceeded, throwIfAborted } from '../../protocol/errors';
import type { AnalysisProgress, AnalysisSettings, FlatnessReport, MetricName, RescaleProvenance } from '../../protocol/report';
import { spectralDensity, type ReusableRun } from './density';
import { disposeKrylov, hessianTopEigenvalues } from './eigenvalues';
import { fisherRaoNorm } from './fisherRao';
import { filterNormalizedDirection, lossSlice, lossSurface } from './landscape';
import type { ExecutorFactory } from '../exec/objectiveExecutor';
import type { GramProductFactory } from '../exec/matrixProducts';
import { Objective } from './objective';
import { SeededRandom } from '../numeric/random';
import { adaptiveSharpness, epsilonSharpness, subspaceSharpness } from './sharpness';
import { countDetail, monotoneProgress, type StageProgress } from './progress';
import { defaultSpectralNormOptions, describeTensorsInTurn } from './tensorStatistics';
import { peakResidentMemoryBytes } from './peakMemory';
import { deflatedTrace } from './deflatedTrace';
import { blockTopEigenvalues } from './blockEigenvalues';
import type { LanczosRun } from './lanczos';
import { disposeVector, norm, type ParameterVector } from './vectors';
import { volumeFlatness } from './volume';

/** What every job needs before any metric: the checkpoint, its function, the fitted data and the loss. */
export interface PreparedInputs {
  readonly checkpoint: Checkpoint;
  readonly checkpointSha256: string;
  readonly network: NetworkFunction;
  readonly dataset: Dataset;
  readonly dataFree: boolean;
  readonly loss: LossKind;
  readonly lossFrom: FlatnessReport['data']['lossFrom'];
  readonly backend: string;
  /** ONNX Runtime's device and threads, when it runs the Hessian-vector products. */
  readonly device?: string;
  readonly threads?: number;
  readonly executorFactory?: ExecutorFactory;
  /** Runs the Gram products of large kernels' spectral norms (ONNX Runtime); else JavaScript does. */
  readonly gramProducts?: GramProductFactory;
  readonly seed: number;
}

/** The prepared checkpoint and data (analyzeFile.ts prepareInputs), and what to compute. */
export interface AnalysisInput extends PreparedInputs {
  readonly metrics: readonly MetricName[];
  readonly settings: AnalysisSettings;
  readonly version: string;
}

export interface AnalysisCallbacks {
  readonly onProgress?: (progress: AnalysisProgress) => void;
  readonly signal?: AbortSignal;
}

/**
 * The deflated trace never stops on fewer probes. Stopping as soon as the sample standard error
 * dips below the tolerance favours runs whose error bar came out too small; from 10 probes it is
 * noisy enough that such runs ended 3 to 5 error bars off the exact trace, from 30 it is not.
 */
export const minimumTraceProbes = 30;

/** Per-tensor top eigenvalues are a coarse per-layer view: 1% residuals suffice and keep them cheap. */
const blockEigenvalueTolerance = 1e-2;

/** Per-tensor spectra cost a Lanczos run per tensor: beyond this many tensors they would dominate the analysis. */
const maxTensorsForBlockEigenvalues = 40;

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Runs the requested metrics on one checkpoint and data set and returns the report. All metrics are
 * of L(θ) = mean loss over the data set, at the checkpoint's weights θ₀. Seeded: the same input
 * and seed give the same numbers.
 */
export async function analyze(input: AnalysisInput, callbacks: AnalysisCallbacks = {}): Promise<FlatnessReport> {
  const { settings, metrics, network } = input;
  const random = new SeededRandom(input.seed);
  const wants = (m: MetricName) => metrics.includes(m);
  if (wants('eigenvalues') && settings.eigenvalues.count > network.parameterCount) {
    throw new LimitExceeded('top-k', `${settings.eigenvalues.count} eigenvalues asked for, but the network has ${network.parameterCount} parameters (the Hessian's dimension); choose at most ${network.parameterCount}`);
  }
  const objective = new Objective(network, input.dataset, input.loss, settings.batchSize, input.executorFactory);
  const hvp = (v: ParameterVector) => objective.hessianVectorProduct(v);
  const hessianOperator = objective.hessianOperator();
  const timings: Record<string, number> = {};
  const started = performance.now();
  // The trace and the α-orbit's block traces: exact where the network allows it.
  const wantsBlockTraces = wants('trace') || wants('invariant');
  const exactTraceUnavailable = wantsBlockTraces ? objective.exactTraceUnavailable() : undefined;
  const exactTrace = wantsBlockTraces && exactTraceUnavailable === undefined;
  let exactBlockTraces: number[] | undefined;
  const plan = costPlan(input, objective, { exactTrace, restrictedProducts: hessianOperator.restrictedProducts !== undefined });
  const onProgress = monotoneProgress(callbacks.onProgress);
  let completed = 0;
  const progress = (stage: AnalysisProgress['stage'], within: number, message: string, detail?: string) => {
    const total = plan.total || 1;
    const fraction = Math.min(1, (completed + Math.min(1, within) * (plan.cost[stage] ?? 0)) / total);
    onProgress?.({ stage, fraction, message, ...(detail ? { detail } : {}) });
  };
  const timed = async <T>(stage: MetricName, label: string, work: (report: StageProgress) => Promise<T>): Promise<T> => {
    throwIfAborted(callbacks.signal);
    progress(stage, 0, label);
    const t0 = performance.now();
    const result = await work((fraction, detail) => progress(stage, fraction, label, detail));
    timings[stage] = (performance.now() - t0) / 1000;
    completed += plan.cost[stage] ?? 0;
    return result;
  };

  let topVector: ParameterVector | undefined;
  let krylov: LanczosRun | undefined;
  let eigenRun: ReusableRun | undefined;
  try {
    const report: Mutable<Partial<FlatnessReport>> = {};
    const hessian: Mutable<FlatnessReport['hessian']> = { hvps: 0 };
    progress('setup', 0, 'weight statistics (norms, spectral norms)');
    const tensors = await describeTensorsInTurn(
      input.checkpoint.weights,
      'last',
      { signal: callbacks.signal, onProgress: (fraction, detail) => progress('setup', fraction, 'weight statistics (norms, spectral norms)', detail) },
      { ...defaultSpectralNormOptions, products: input.gramProducts },
    );
    completed += plan.cost.setup ?? 0;
    const { loss, accuracy, gradientNorm } = await timed('loss', 'loss and accuracy', async (report) => {
      const { gradient, ...evaluation } = await objective.evaluateWithGradient((done, total) => report(done / total, countDetail('batch', done, total)), callbacks.signal);
      const result = { ...evaluation, gradientNorm: norm(gradient) };
      disposeVector(gradient);
      return result;
    });

    // One Lanczos run serves the eigenvalues, the landscape's top direction and the trace's deflation.
    if (wants('eigenvalues') || wants('landscape') || wants('trace')) {
      const perTensor = wants('eigenvalues') && settings.eigenvalues.blockMaxSteps > 0 && objective.parameters.length <= maxTensorsForBlockEigenvalues;
      await timed('eigenvalues', 'Hessian top eigenvalues (Lanczos)', async (report) => {
        const eigen = await hessianTopEigenvalues(hessianOperator, objective.parameters, {
          ...settings.eigenvalues, count: wants('eigenvalues') || wants('trace') ? settings.eigenvalues.count : 1, keepKrylov: wants('trace') && !exactTrace,
          random: random.fork('eigenvalues'), signal: callbacks.signal, onProgress: (f) => report(perTensor ? 0.6 * f : f),
        });
        topVector = eigen.topVector;
        krylov = eigen.krylov;
        eigenRun = eigen.tridiagonal;
        if (wants('eigenvalues') || wants('landscape')) {
          hessian.topEigenvalues = eigen.values;
          hessian.eigenvalueResiduals = eigen.relativeResiduals;
          hessian.lanczosSteps = eigen.lanczosSteps;
        }
        if (perTensor) {
          hessian.blockEigenvalues = await blockTopEigenvalues(hessianOperator, objective.parameters, {
            maxSteps: Math.min(settings.eigenvalues.blockMaxSteps, settings.eigenvalues.maxSteps), tolerance: blockEigenvalueTolerance, random: random.fork('block-eigenvalues'), signal: callbacks.signal, onProgress: (f) => report(0.6 + 0.4 * f),
          });
        }
      });
    }
    if (exactTrace && wants('trace')) {
      const blocks = await timed('trace', 'Hessian trace (exact)', (report) =>
        objective.exactBlockTraces((done, total) => report(done / total, countDetail('batch', done, total)), callbacks.signal));
      exactBlockTraces = blocks;
      hessian.trace = { estimate: blocks.reduce((a, b) => a + b, 0), stderr: 0, samples: 0, method: 'exact', products: 0 };
      hessian.blockTraces = objective.parameters.map((p, k) => ({ layer: p.layer, weight: p.role, name: p.name, size: p.size, trace: blocks[k], stderr: 0, exact: true }));
    } else if (wants('trace')) {
      const before = objective.hvpCount;
      const trace = await timed('trace', 'Hessian trace (deflated Hutchinson)', (report) =>
        deflatedTrace(hessianOperator, objective.parameters, krylov, { tolerance: settings.trace.tolerance, maxProbes: settings.trace.samples, minProbes: minimumTraceProbes, random: random.fork('trace'), signal: callbacks.signal, onProgress: report }))
        .finally(() => {
          disposeKrylov(krylov);
          krylov = undefined;
        });
      hessian.trace = {
        estimate: trace.estimate, stderr: trace.stderr, samples: trace.probes, method: 'deflated', products: objective.hvpCount - before,
        tolerance: settings.trace.tolerance, reachedTolerance: trace.reachedTolerance,
        deflation: { dimensions: trace.deflatedDimensions, trace: trace.deflatedTrace },
        ...(exactTraceUnavailable ? { exactUnavailable: exactTraceUnavailable } : {}),
      };
      hessian.blockTraces = trace.blocks;
    }
    if (wants('density')) {
      hessian.density = await timed('density', 'spectral density (stochastic Lanczos quadrature)', (report) =>
        spectralDensity(hessianOperator, objective.parameters, { ...settings.density, reuse: eigenRun ? [eigenRun] : [], random: random.fork('density'), signal: callbacks.signal, onProgress: report }));
    }
    if (wants('sharpness')) {
      const s = settings.sharpness;
      report.sharpness = await timed('sharpness', 'ε-sharpness (projected gradient ascent)', async (report) => {
        const ascent = { radius: s.epsilon, iterations: s.iterations, restarts: s.restarts, signal: callbacks.signal };
        const full = await epsilonSharpness(objective, { ...ascent, random: random.fork('sharpness'), onProgress: (f, detail) => report(f / 2, `full space: ${detail}`) });
        const sub = await subspaceSharpness(objective, Math.min(s.subspaceDim, network.parameterCount), { ...ascent, random: random.fork('subspace'), onProgress: (f, detail) => report(0.5 + f / 2, `subspace: ${detail}`) });
        return {
          epsilon: s.epsilon, fullSpace: full.value, fullSpaceRestarts: full.restartValues,
          subspace: { dim: Math.min(s.subspaceDim, network.parameterCount), value: sub.value, restartValues: sub.restartValues },
          iterations: s.iterations, restarts: s.restarts,
        };
      });
    }
    if (wants('volume')) {
      const v = await timed('volume', 'volume ε-flatness (random directions)', (report) =>
        volumeFlatness(objective, { ...settings.volume, random: random.fork('volume'), signal: callbacks.signal, onProgress: report }));
      const { lossEvaluations: _evaluations, ...rest } = v;
      report.volumeFlatness = rest;
    }
    if (wants('landscape')) {
      report.landscape = await timed('landscape', 'loss landscape slices', async (progressOf) => {
        const l = settings.landscape;
        const first = filterNormalizedDirection(objective, random.fork('landscape:1'));
        const second = filterNormalizedDirection(objective, random.fork('landscape:2'));
        try {
          // Shares of the stage's loss evaluations: two slices of `points`, then the surface's grid.
          const sliceShare = l.points / (2 * l.points + l.surfacePoints ** 2);
          const randomSlice = await lossSlice(objective, first, 'filter-normalized random direction', l.radius, l.points, callbacks.signal, (f) => progressOf(sliceShare * f, 'random direction'));
          let topEigenvector;
          const lambda = hessian.topEigenvalues?.[0];
          if (topVector && lambda !== undefined && lambda > 0) {
            const reach = 2 * Math.sqrt((2 * (1 + loss)) / lambda);
            const slice = await lossSlice(objective, topVector, 'top Hessian eigenvector (unit length)', reach, l.points, callbacks.signal, (f) => progressOf(sliceShare * (1 + f), 'top eigenvector'));
            topEigenvector = { ...slice, quadratic: slice.steps.map((t) => loss + 0.5 * lambda * t * t) };
          }
          const surface = await lossSurface(objective, first, second, l.radius, l.surfacePoints, callbacks.signal, (f) => progressOf(2 * sliceShare + (1 - 2 * sliceShare) * f, `surface row ${Math.round(f * l.surfacePoints)} of ${l.surfacePoints}`));
          return { random: randomSlice, topEigenvector, surface };
        } finally {
          disposeVector(first);
          disposeVector(second);
        }
      });
    }
    if (wants('invariant')) {
      report.invariant = await timed('invariant', 'scale-invariant measures', async (progressOf) => {
        const structure = analyzeSymmetry(input.checkpoint, 'layer');
        const traceShare = plan.invariantTraceShare;
        if (exactTrace && !exactBlockTraces) exactBlockTraces = await objective.exactBlockTraces((done, total) => progressOf((traceShare * done) / total, `Hessian diagonal sums (exact): ${countDetail('batch', done, total)}`), callbacks.signal);
        const { terms } = await layerTraceTerms(hvp, objective.parameters, structure, {
          samples: settings.trace.blockSamples, random: random.fork('trace'), signal: callbacks.signal, maxBlocksForBlockProbes: settings.trace.maxBlocksForBlockProbes, exactBlockTraces,
          onProgress: (f, detail) => progressOf(traceShare * f, `Hessian diagonal sums: ${detail}`),
        });
        const unbounded = structure.freedom > 0 && terms.some((t) => t.h < 0 && t.form.length > 0);
        const orbit = unbounded ? undefined : minimizeExponentialSum(terms, structure.basis, structure.variables.length);
        const factors = layerFactors(structure, orbit?.u ?? new Array<number>(structure.variables.length).fill(0)).map((f) => ({ layer: f.layer, alpha: f.alpha ?? 1 }));
        const i = settings.invariant;
        const asam = await adaptiveSharpness(objective, i.asamEta, {
          radius: i.asamRho, iterations: settings.sharpness.iterations, restarts: settings.sharpness.restarts,
          random: random.fork('asam'), signal: callbacks.signal, onProgress: (f, detail) => progressOf(traceShare + (0.97 - traceShare) * f, `adaptive sharpness: ${detail}`),
        });
        return {
          minTraceOverLayerScaling: {
            value: orbit ? orbit.value : null,
            current: exponentialSum(terms, new Array<number>(structure.variables.length).fill(0)),
            factors,
            degreesOfFreedom: structure.freedom,
            unbounded,
            barriers: structure.barriers,
            path: terms.map((t) => ({ weight: t.label ?? '', trace: t.h, logFactor: orbit ? evaluateForm(t.form, orbit.u) : 0 })),
          },
          adaptiveSharpness: { rho: i.asamRho, eta: i.asamEta, value: asam.value },
          fisherRaoNorm: fisherRaoNorm(objective),
        };
      });
    }
    timings.total = (performance.now() - started) / 1000;
    onProgress?.({ stage: metrics[metrics.length - 1] ?? 'loss', fraction: 1, message: 'done' });
    hessian.hvps = objective.hvpCount;
    return {
      schemaVersion: 1,
      tool: { name: 'flatness-lens', version: input.version, backend: input.backend, ...(input.device ? { device: input.device, threads: input.threads } : {}), peakMemoryBytes: peakResidentMemoryBytes() },
      checkpoint: {
        path: input.checkpoint.path,
        format: input.checkpoint.format,
        parameters: network.parameterCount,
        layers: input.checkpoint.model.layers.length,
        sha256: input.checkpointSha256,
        notes: input.checkpoint.notes,
        ...architectureField(input.checkpoint),
        layerSummary: layerSummary(input.checkpoint),
        ...(input.checkpoint.model.trainingLearningRate !== undefined ? { trainingLearningRate: input.checkpoint.model.trainingLearningRate } : {}),
        ...provenanceField(input.checkpoint),
      },
      data: {
        source: input.dataset.source,
        samples: input.dataset.count,
        loss: input.loss,
        lossDefinition: lossDescriptions[input.loss],
        lossFrom: input.lossFrom,
        dataFree: input.dataFree,
      },
      seed: input.seed,
      metrics: [...metrics],
      settings,
      loss,
      accuracy: accuracy ?? null,
      gradientNorm,
      hessian,
      sharpness: report.sharpness,
      volumeFlatness: report.volumeFlatness,
      landscape: report.landscape,
      invariant: report.invariant,
      tensors,
      timings,
    };
  } finally {
    disposeVector(topVector);
    disposeKrylov(krylov);
    objective.dispose();
  }
}

/**
 * Rough cost of each stage in Hessian-vector-product units, so the progress bar moves evenly. The
 * unit prices (a loss evaluation, a gradient, a Lanczos step with its reorthogonalization) are
 * timings of the example network relative to its Hessian-vector product.
 */
function costPlan(input: AnalysisInput, objective: Objective, engine: { exactTrace: boolean; restrictedProducts: boolean }): { cost: Partial<Record<AnalysisProgress['stage'], number>>; total: number; invariantTraceShare: number } {
  const s = input.settings;
  const wants = (m: MetricName) => input.metrics.includes(m);
  const lossEval = 0.15;
  const gradient = 0.8;
  const lanczosStep = 1.5;
  // A product restricted to one tensor skips the R-pass before it: about half a full one on average.
  const restrictedShare = engine.restrictedProducts ? 0.5 : 1;
  // The exact trace: a forward pass and one backward pass per output unit.
  const exactTraceCost = 1 + 0.3 * objective.network.outputUnits;
  const ascent = ((s.sharpness.iterations + 1) * gradient + lossEval) * s.sharpness.restarts;
  const traceProbes = engine.exactTrace ? exactTraceCost : objective.parameters.reduce((n, p) => n + Math.min(p.size, s.trace.blockSamples), 0);
  const eigenvalueCount = wants('eigenvalues') ? s.eigenvalues.count : 1;
  // A spectral norm is about a hundred passes over a kernel in plain JavaScript; a product, a few
  // passes over every weight per sample in native code.
  const matrixValues = input.checkpoint.weights.reduce((n, w) => n + (w.shape.length >= 2 ? w.values.length : 0), 0);
  const cost: Partial<Record<AnalysisProgress['stage'], number>> = {
    setup: (25 * matrixValues) / Math.max(1, objective.parameters.reduce((n, p) => n + p.size, 0) * input.dataset.count),
    loss: lossEval + gradient,
    eigenvalues: ((wants('eigenvalues') || wants('landscape') || wants('trace') ? Math.max(s.eigenvalues.maxSteps / 4, eigenvalueCount + 2) + eigenvalueCount : 0) + (wants('eigenvalues') && objective.parameters.length <= maxTensorsForBlockEigenvalues ? restrictedShare * objective.parameters.reduce((n, p) => n + Math.min(p.size, s.eigenvalues.blockMaxSteps, s.eigenvalues.maxSteps) / 2, 0) : 0)) * lanczosStep,
    trace: wants('trace') ? (engine.exactTrace ? exactTraceCost : s.trace.samples / 2) : 0,
    // The eigenvalues' Lanczos run, where there is one, is one of the density's runs at no cost.
    density: wants('density') ? Math.max(0, s.density.runs - (wants('eigenvalues') || wants('landscape') || wants('trace') ? 1 : 0)) * s.density.steps * lanczosStep : 0,
    sharpness: wants('sharpness') ? 2 * ascent : 0,
    volume: wants('volume') ? s.volume.directions * (12 + s.volume.bisections) * lossEval : 0,
    landscape: wants('landscape') ? (2 * s.landscape.points + s.landscape.surfacePoints ** 2) * lossEval : 0,
    invariant: wants('invariant') ? traceProbes + ascent + 2 : 0,
  };
  return { cost, total: Object.values(cost).reduce((a, b) => a + (b ?? 0), 0), invariantTraceShare: traceProbes / (traceProbes + ascent + 2) };
}


function provenanceField(checkpoint: Checkpoint): { provenance?: RescaleProvenance } {
  const provenance = rescaleProvenance(checkpoint);
  return provenance ? { provenance } : {};
}

/** The architecture file a weights-only checkpoint was bound to, for the report. */
function architectureField(checkpoint: Checkpoint): { architecture?: string } {
  const architecture = sourceOfKind<WeightsOnlySource>(checkpoint, 'weights-only')?.architecture;
  return architecture === undefined ? {} : { architecture };
}
