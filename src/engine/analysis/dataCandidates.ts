import { peekDataset } from '../data/peek';
import { formatShape } from '../data/numericArray';
import { readCheckpoint } from '../formats/registry';
import { withInputShape } from '../model/inputShape';
import { sizeOf } from '../model/spec';
import type { DataCandidate, DataCandidates, DataCandidatesRequest } from '../../protocol/analyzerProtocol';
import { FileProblem, throwIfAborted } from '../../protocol/errors';

/**
 * Which files could feed the model, by a quick look at each (data/peek.ts): a file fits when a data
 * loader reads it and one sample has as many values as the model's input, as `fitDatasetToModel`
 * will demand. Reads the checkpoint but no file in full beyond the peek.
 */
export async function checkDataCandidates(request: DataCandidatesRequest, signal?: AbortSignal): Promise<DataCandidates> {
  const { checkpoint: file, architecture, inputShape } = request.model;
  const checkpoint = withInputShape(await readCheckpoint(file, { architecture }), inputShape);
  const inputs = checkpoint.model.inputs;
  const modelShape = inputs.length === 1 && inputs[0].shape.every((d) => d > 0) ? inputs[0].shape : undefined;
  const candidates: DataCandidate[] = [];
  for (const candidate of request.files) {
    throwIfAborted(signal);
    candidates.push(await checkOne(candidate, modelShape));
  }
  return { inputShape: modelShape ? [...modelShape] : null, candidates };
}

async function checkOne(file: string, modelShape: readonly number[] | undefined): Promise<DataCandidate> {
  try {
    const { sampleShape } = await peekDataset(file);
    if (sampleShape === undefined) return { file, fits: null, reason: 'its sample shape is only known once it is loaded' };
    if (modelShape === undefined) return { file, fits: null, reason: 'the model leaves its input shape open' };
    if (sizeOf(sampleShape) !== sizeOf(modelShape)) {
      return { file, fits: false, reason: `each sample has ${sizeOf(sampleShape)} values (shape ${formatShape(sampleShape)}) but the model's input takes ${sizeOf(modelShape)} (shape ${formatShape(modelShape)})` };
    }
    return { file, fits: true };
  } catch (error) {
    if (error instanceof FileProblem) return { file, fits: false, reason: error.problem };
    throw error;
  }
}
