import { FileProblem } from '../../protocol/errors';
import type { Checkpoint, Shape } from './spec';

/**
 * A model input's per-sample dimension that the file leaves open (Keras `null`, e.g. the height and
 * width of a fully convolutional network). The engine needs every dimension: the user gives them.
 */
export const openDimension = -1;

function describeShape(shape: Shape): string {
  return `[${shape.map((d) => (d === openDimension ? 'None' : String(d))).join(', ')}]`;
}

/** The checkpoint with its input's shape set to `inputShape` (per sample, channels-last), checked against the file's. */
export function withInputShape(checkpoint: Checkpoint, inputShape: Shape | undefined): Checkpoint {
  if (inputShape === undefined) return checkpoint;
  const { inputs } = checkpoint.model;
  if (inputs.length !== 1) throw new FileProblem(checkpoint.path, `an input shape was given, but the model has ${inputs.length} inputs`);
  const stored = inputs[0].shape;
  const given = `the input shape ${inputShape.join(',')}`;
  if (!inputShape.every((d) => Number.isSafeInteger(d) && d > 0)) throw new FileProblem(checkpoint.path, `${given} must be positive integers`);
  if (inputShape.length !== stored.length) {
    throw new FileProblem(checkpoint.path, `${given} has ${inputShape.length} dimensions; input '${inputs[0].name}' has ${stored.length} per sample: ${describeShape(stored)}`);
  }
  stored.forEach((d, i) => {
    if (d !== openDimension && d !== inputShape[i]) {
      throw new FileProblem(checkpoint.path, `${given} does not fit input '${inputs[0].name}' of shape ${describeShape(stored)}: the file fixes dimension ${i + 1} to ${d}`);
    }
  });
  return { ...checkpoint, model: { ...checkpoint.model, inputs: [{ name: inputs[0].name, shape: [...inputShape] }] } };
}

/** Throws, naming the file and the way out, when an input dimension is still open. */
export function requireKnownInputShape(checkpoint: Checkpoint): void {
  for (const input of checkpoint.model.inputs) {
    if (!input.shape.includes(openDimension)) continue;
    const example = input.shape.map((d) => (d === openDimension ? 32 : d)).join(',');
    throw new FileProblem(
      checkpoint.path,
      `input '${input.name}' has shape ${describeShape(input.shape)} per sample: the file leaves ${input.shape.filter((d) => d === openDimension).length === 1 ? 'a dimension' : 'dimensions'} open. ` +
        `Give the per-sample shape to analyze it at (CLI: --input-shape ${example}; in the editor: the flatnessLens.inputShapes setting)`,
    );
  }
}
