import { FileProblem } from '../../protocol/errors';
import type { Dataset } from './dataset';
import { targetsFromLabels } from './labels';
import { formatShape, looksLikeFloat32Bits, toFloat32 } from './numericArray';
import type { NumericArray } from './numericArray';

export interface AssembleOptions {
  /** Factor applied to every input value (1/255 for IDX uint8 images). */
  readonly inputScale?: number;
  /** File to name in errors about labels, when they came from a different file than the inputs. */
  readonly labelsFile?: string;
}

/** Checks that inputs and labels agree, converts inputs to float32 and interprets the labels. */
export function datasetFromArrays(
  file: string,
  inputs: NumericArray,
  labels: NumericArray,
  options: AssembleOptions = {},
): Dataset {
  if (inputs.shape.length === 0) throw new FileProblem(file, 'inputs are a single scalar; expected one row per sample');
  const count = inputs.shape[0];
  const labelCount = labels.shape[0] ?? 1;
  if (labels.shape.length === 0 || labelCount !== count) {
    throw new FileProblem(file, `there are ${count} input samples but ${labelCount} labels; the counts must match`);
  }
  if (count === 0) throw new FileProblem(file, 'the data set is empty (0 samples)');
  const sampleShape = inputs.shape.length === 1 ? [1] : inputs.shape.slice(1);
  const sampleSize = inputs.values.length / count;
  if (sampleSize === 0) throw new FileProblem(file, `each sample is empty (input shape ${formatShape(inputs.shape)})`);
  for (const [what, array, source] of [['inputs', inputs, file], ['labels', labels, options.labelsFile ?? file]] as const) {
    if (looksLikeFloat32Bits(array.values)) {
      const sample = new Float32Array(array.values.buffer, array.values.byteOffset, Math.min(3, array.values.length));
      throw new FileProblem(source, `${what} are stored as 32-bit integers (${array.values[0]}, ...) whose bytes read as float32 give ${[...sample].join(', ')}, ...; the file's dtype says int32 but the data looks like float32`);
    }
  }
  const values = toFloat32(inputs.values, options.inputScale ?? 1);
  const firstBad = values.findIndex((value) => !Number.isFinite(value));
  if (firstBad >= 0) {
    throw new FileProblem(
      file,
      `sample ${Math.floor(firstBad / sampleSize)} has a non-finite input value (${values[firstBad]}); inputs must be finite numbers`,
    );
  }
  return {
    source: file,
    count,
    sampleShape,
    inputs: values,
    targets: targetsFromLabels(options.labelsFile ?? file, labels),
  };
}
