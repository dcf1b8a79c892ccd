import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { fitDatasetToModel, takeFirst } from '../data/fit';
import { loadDataset, type LoadDatasetOptions } from '../data/load';
import { probeDataset } from '../data/probe';
import { readCheckpoint } from '../formats/registry';
import { initBackend, type BackendChoice } from '../model/backend';
import { lossFromOutputHead, lossFromTrainingConfig, type LossKind } from '../model/loss';
import { NetworkFunction } from '../model/network';
import { defaultSettings, metricNames, type AnalysisSettings, type FlatnessReport, type MetricName } from '../shared/report';
import { toolVersion } from '../shared/version';
import { analyze, type AnalysisCallbacks, type PreparedInputs } from './analyze';

/** Everything needed to analyze one checkpoint file: what the CLI parses and the extension sends. */
export interface AnalysisRequest {
  readonly checkpoint: string;
  /** Data set file; without one the data-free mode is used. */
  readonly data?: string;
  readonly dataOptions?: LoadDatasetOptions;
  readonly loss?: LossKind;
  /** Use the first N samples (all when absent). */
  readonly samples?: number;
  /** Probe inputs in the data-free mode. */
  readonly probeSamples?: number;
  readonly seed?: number;
  readonly metrics?: readonly MetricName[];
  readonly settings?: DeepPartial<AnalysisSettings>;
  readonly backend?: BackendChoice;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

export const defaultProbeSamples = 256;

export function mergeSettings(overrides: DeepPartial<AnalysisSettings> | undefined): AnalysisSettings {
  const merged: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(defaultSettings)) {
    const override = (overrides as Record<string, unknown> | undefined)?.[key];
    merged[key] = typeof value === 'object' ? { ...value, ...(override as object | undefined) } : (override ?? value);
  }
  return merged as unknown as AnalysisSettings;
}

export async function fileSha256(path: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export type InputRequest = Pick<AnalysisRequest, 'checkpoint' | 'data' | 'dataOptions' | 'loss' | 'samples' | 'probeSamples' | 'seed' | 'backend'>;

/** Reads the checkpoint and the data and fits one to the other. The caller disposes `network`. */
export async function prepareInputs(request: InputRequest): Promise<PreparedInputs> {
  const backend = await initBackend(request.backend);
  const checkpoint = await readCheckpoint(request.checkpoint);
  const network = new NetworkFunction(checkpoint);
  try {
    const { outputUnits } = network;
    const seed = request.seed ?? 0;
    const loaded = request.data ? await loadDataset(request.data, request.dataOptions) : undefined;
    const trainingLoss = lossFromTrainingConfig(checkpoint.model.trainingLoss);
    const loss = request.loss ?? trainingLoss ?? lossFromOutputHead(network.outputHead, outputUnits, loaded?.targets);
    const lossFrom = request.loss ? 'option' : trainingLoss ? 'training config' : 'output layer';
    let dataset = loaded
      ? fitDatasetToModel(loaded, network.inputShape, outputUnits, loss)
      : probeDataset(network, loss, request.samples ?? request.probeSamples ?? defaultProbeSamples, seed);
    if (request.samples !== undefined) dataset = takeFirst(dataset, request.samples);
    const checkpointSha256 = await fileSha256(request.checkpoint);
    return { checkpoint, checkpointSha256, network, dataset, dataFree: !loaded, loss, lossFrom, backend: backend.name, seed };
  } catch (error) {
    network.dispose();
    throw error;
  }
}

/** Reads the checkpoint and the data, fits one to the other, and runs `analyze`. Never writes a file. */
export async function analyzeFile(request: AnalysisRequest, callbacks: AnalysisCallbacks = {}): Promise<FlatnessReport> {
  callbacks.onProgress?.({ stage: 'setup', fraction: 0, message: 'reading checkpoint' });
  const inputs = await prepareInputs(request);
  try {
    return await analyze(
      {
        ...inputs,
        metrics: request.metrics ?? metricNames,
        settings: mergeSettings(request.settings),
        version: toolVersion,
      },
      callbacks,
    );
  } finally {
    inputs.network.dispose();
  }
}
