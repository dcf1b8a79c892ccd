import { basename } from 'node:path';
import { fitDatasetToModel, takeFirst } from '../data/fit';
import { loadDataset } from '../data/load';
import type { InputRequest, DeepPartial, AnalysisRequest } from '../../protocol/requests';
import { probeDataset } from '../data/probe';
import { readCheckpoint, readTensorFile } from '../formats/registry';
import { jobFileSha256 } from '../io/jobFiles';
import { chooseEngine } from '../exec/onnxruntime/engineChoice';
import { initBackend } from '../model/backend';
import { lossFromOutputHead, lossFromTrainingConfig } from '../model/loss';
import { withInputShape } from '../model/inputShape';
import { NetworkFunction } from '../model/network';
import { ArchitectureMissing } from '../formats/weights/weightsOnlyFormat';
import { defaultSettings, metricNames, type AnalysisSettings, type AnyReport, type FlatnessReport, type WeightsReport } from '../../protocol/report';
import { toolVersion } from '../../protocol/version';
import { analyze, type AnalysisCallbacks, type PreparedInputs } from './analyze';
import { monotoneProgress, progressSpan, setupShare } from './progress';
import { defaultSpectralNormOptions, describeTensorsInTurn, type DescribeCallbacks } from './tensorStatistics';
import type { GramProductFactory } from '../exec/matrixProducts';
import { onnxGramProducts } from '../exec/onnxruntime/gramProducts';
import { onnxRuntimeAvailable } from '../exec/onnxruntime/runtime';

export const defaultProbeSamples = 256;

export function mergeSettings(overrides: DeepPartial<AnalysisSettings> | undefined): AnalysisSettings {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaultSettings)) {
    const override = (overrides as Record<string, unknown> | undefined)?.[key];
    merged[key] = typeof value === 'object' ? { ...value, ...(override as object | undefined) } : (override ?? value);
  }
  return merged as unknown as AnalysisSettings;
}

/** Reports each step of reading the inputs: its share of the setup done before it, and what it is. */
export type SetupProgress = (fraction: number, message: string) => void;

/** Reads the checkpoint and the data and fits one to the other. The caller disposes `network`. */
export async function prepareInputs(request: InputRequest, onSetup?: SetupProgress): Promise<PreparedInputs> {
  onSetup?.(0, 'starting the tensor backend');
  const choice = request.backend ?? 'auto';
  const backend = await initBackend(choice === 'onnxruntime' ? 'auto' : choice);
  onSetup?.(0.1, `reading the checkpoint ${basename(request.checkpoint)}`);
  const checkpoint = withInputShape(await readCheckpoint(request.checkpoint, { architecture: request.architecture, allowNonFinite: request.allowNonFinite }), request.inputShape);
  const engine = chooseEngine(choice, checkpoint.model, { threads: request.threads, device: request.device });
  const network = new NetworkFunction(checkpoint);
  try {
    const { outputUnits } = network;
    const seed = request.seed ?? 0;
    onSetup?.(0.4, request.data ? `loading the data set ${basename(request.data)}` : 'drawing data-free probe inputs');
    const loaded = request.data ? await loadDataset(request.data, request.dataOptions, request.samples) : undefined;
    if (loaded) onSetup?.(0.8, 'fitting the data to the model');
    const trainingLoss = lossFromTrainingConfig(checkpoint.model.trainingLoss);
    const loss = request.loss ?? trainingLoss ?? lossFromOutputHead(network.outputHead, outputUnits, loaded?.targets);
    const lossFrom = request.loss ? 'option' : trainingLoss ? 'training config' : 'output layer';
    let dataset = loaded
      ? fitDatasetToModel(loaded, network.inputShape, outputUnits, loss)
      : probeDataset(network, loss, request.samples ?? request.probeSamples ?? defaultProbeSamples, seed);
    if (request.samples !== undefined) dataset = takeFirst(dataset, request.samples);
    onSetup?.(0.9, 'hashing the checkpoint');
    const checkpointSha256 = await jobFileSha256(request.checkpoint);
    const engineInfo = engine.executorFactory
      ? { backend: 'onnxruntime', device: engine.device, threads: engine.threads, executorFactory: engine.executorFactory, gramProducts: engine.gramProducts }
      : { backend: backend.name };
    return { checkpoint, checkpointSha256, network, dataset, dataFree: !loaded, loss, lossFrom, seed, ...engineInfo };
  } catch (error) {
    network.dispose();
    throw error;
  }
}

/**
 * `analyzeFile`, except that a weights-only file without an architecture gets the data-free tensor
 * statistics instead of an error. What the CLI and the analyzer process run.
 */
export async function analyzeAnyFile(request: AnalysisRequest, callbacks: AnalysisCallbacks = {}): Promise<AnyReport> {
  try {
    return await analyzeFile(request, callbacks);
  } catch (error) {
    if (error instanceof ArchitectureMissing) {
      const message = `no architecture: describing the tensors of ${basename(request.checkpoint)} (no data used)`;
      callbacks.onProgress?.({ stage: 'setup', fraction: setupShare, message });
      const onOnnxRuntime = (request.backend ?? 'auto') === 'auto' || request.backend === 'onnxruntime' ? onnxRuntimeAvailable() : false;
      const report = await analyzeWeightsOnly(
        request.checkpoint,
        error.problem,
        {
          signal: callbacks.signal,
          onProgress: (fraction, detail) => callbacks.onProgress?.({ stage: 'setup', fraction: setupShare + (1 - setupShare) * fraction, message, ...(detail ? { detail } : {}) }),
        },
        onOnnxRuntime ? onnxGramProducts({ threads: request.threads }) : undefined,
      );
      callbacks.onProgress?.({ stage: 'setup', fraction: 1, message: 'done' });
      return report;
    }
    throw error;
  }
}

/** Reads the checkpoint and the data, fits one to the other, and runs `analyze`. Never writes a file. */
export async function analyzeFile(request: AnalysisRequest, callbacks: AnalysisCallbacks = {}): Promise<FlatnessReport> {
  const onProgress = monotoneProgress(callbacks.onProgress);
  const setup = progressSpan(onProgress, 0, setupShare);
  const inputs = await prepareInputs(request, (fraction, message) => setup?.({ stage: 'setup', fraction, message }));
  try {
    return await analyze(
      {
        ...inputs,
        metrics: request.metrics ?? metricNames,
        settings: mergeSettings(request.settings),
        version: toolVersion,
      },
      { ...callbacks, onProgress: progressSpan(onProgress, setupShare, 1) },
    );
  } finally {
    inputs.network.dispose();
  }
}

/** Data-free statistics of a weights-only file's tensors, and what is missing for the rest. */
export async function analyzeWeightsOnly(path: string, architectureMissing: string, callbacks: DescribeCallbacks = {}, products?: GramProductFactory): Promise<WeightsReport> {
  const started = performance.now();
  const tensorFile = await readTensorFile(path);
  if (tensorFile === undefined) throw new Error(`${path} is not a weights-only file`);
  const floats = tensorFile.tensors.flatMap((t) => (t.values ? [{ name: t.name, shape: t.shape, values: t.values, dtype: t.dtype }] : []));
  const tensors = await describeTensorsInTurn(floats, 'first', callbacks, { ...defaultSpectralNormOptions, products });
  const skipped = tensorFile.tensors.filter((t) => !t.values);
  const notes = [...tensorFile.notes];
  if (skipped.length > 0) notes.push(`${skipped.length} non-float tensor${skipped.length === 1 ? '' : 's'} not described: ${skipped.map((t) => `${t.name} (${t.dtype})`).slice(0, 6).join(', ')}`);
  return {
    schemaVersion: 1,
    kind: 'weights',
    tool: { name: 'flatness-lens', version: toolVersion, backend: 'none' },
    checkpoint: {
      path: tensorFile.path,
      format: tensorFile.format,
      parameters: floats.reduce((sum, t) => sum + t.values.length, 0),
      sha256: await jobFileSha256(path),
      notes,
    },
    tensors,
    architectureMissing,
    timings: { total: (performance.now() - started) / 1000 },
  };
}
