import type { AnalysisRequest, DeepPartial, InputRequest, RescaleRequest } from '../shared/requests';
import { architectureFor, inputShapeFor, type ExtensionSettings } from '../settings';
import type { DataCandidatesRequest, FunctionComparisonRequest } from '../shared/analyzerProtocol';
import type { AnalysisSettings } from '../shared/report';
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
    trace: { samples: settings.traceSamples },
    sharpness: { epsilon: settings.sharpnessEpsilon },
    volume: { epsilon: settings.volumeEpsilon },
  };
  return { ...inputRequest(checkpoint, data, settings), metrics: settings.metrics, settings: metricSettings };
}

/** What the user chose in the Rescale command's prompts. */
export type RescaleChoices = Pick<RescaleRequest, 'mode' | 'factor' | 'granularity' | 'objective'>;

/**
 * Per layer, the trace terms are Hutchinson estimates per weight tensor, as `traceSamples` counts them
 * for the report. Per unit, the rescaler's probes are shared by all units; its own default (more
 * probes in all) applies.
 */
export function rescaleRequest(checkpoint: string, data: DataChoice, settings: ExtensionSettings, choices: RescaleChoices): RescaleRequest {
  const traceSamples = choices.granularity === 'unit' ? undefined : settings.traceSamples;
  return { ...inputRequest(checkpoint, data, settings), ...choices, traceSamples };
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
