import type { AnalysisRequest, DeepPartial, InputRequest, RescaleRequest } from '../../protocol/requests';
import { architectureFor, inputShapeFor, type ExtensionSettings } from '../settings';
import type { DataCandidatesRequest, FunctionComparisonRequest } from '../../protocol/analyzerProtocol';
import type { AnalysisSettings } from '../../protocol/report';
import type { DataChoice } from './dataChoice';

/**
 * The one place the extension turns its settings into requests for the analyzer. Analyze, Rescale
 * and Compare all start from `inputRequest`, so a checkpoint is read, fed and scored the same way
 * (same data, samples, loss, backend) whichever command asks.
 */
export function inputRequest(checkpoint: string, data: DataChoice, settings: ExtensionSettings): InputRequest {
  return {
    checkpoint,
    architecture: architectureFor(checkpoint, settings),
    inputShape: inputShapeFor(checkpoint, settings),
    data: data.kind === 'file' ? data.path : undefined,
    loss: settings.loss === 'auto' ? undefined : settings.loss,
    samples: settings.samples > 0 ? settings.samples : undefined,
    probeSamples: settings.probeSamples,
    seed: settings.seed,
    backend: settings.backend,
  };
}

export function analysisRequest(checkpoint: string, data: DataChoice, settings: ExtensionSettings): AnalysisRequest {
  const metricSettings: DeepPartial<AnalysisSettings> = {
    eigenvalues: { count: settings.topK },
    trace: { samples: settings.traceSamples, tolerance: settings.traceTolerance },
    sharpness: { epsilon: settings.sharpnessEpsilon },
    volume: { epsilon: settings.volumeEpsilon },
  };
  return { ...inputRequest(checkpoint, data, settings), metrics: settings.metrics, settings: metricSettings };
}

/** What the user chose in the Rescale command's prompts. */
export type RescaleChoices = Pick<RescaleRequest, 'mode' | 'factor' | 'granularity' | 'objective'>;

/**
 * `traceSamples` caps the report's deflated trace estimator; the rescaler probes each weight tensor
 * (or every unit) on its own, so its own defaults apply.
 */
export function rescaleRequest(checkpoint: string, data: DataChoice, settings: ExtensionSettings, choices: RescaleChoices): RescaleRequest {
  return { ...inputRequest(checkpoint, data, settings), ...choices, traceSamples: undefined };
}

/** Compare the second checkpoint's outputs with the first's, on the first's inputs. */
export function comparisonRequest(first: string, second: string, data: DataChoice, settings: ExtensionSettings): FunctionComparisonRequest {
  return { first: inputRequest(first, data, settings), second };
}

/** Which of the files could feed this checkpoint (read with its architecture and input shape setting). */
export function dataCandidatesRequest(checkpoint: string, settings: ExtensionSettings, files: readonly string[]): DataCandidatesRequest {
  const { architecture, inputShape } = inputRequest(checkpoint, { kind: 'data-free' }, settings);
  return { model: { checkpoint, architecture, inputShape }, files };
}
