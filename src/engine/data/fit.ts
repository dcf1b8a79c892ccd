import { sizeOf } from '../model/spec';
import type { Shape } from '../model/spec';
import { FileProblem } from '../../protocol/errors';
import type { LossKind } from '../../protocol/report';
import type { Dataset } from './dataset';
import type { Targets } from '../model/loss';
import { formatShape } from './numericArray';


/**
 * Checks a data set against a model and returns it in the model's terms: inputs take the model's
 * input shape (same element count required), and targets are checked against the loss and output
 * width — class labels in range for `ce`, 0/1 or [0, 1] values for `bce`, and for `mse` classes
 * become one-hot rows (or plain values when the model has one output).
 */
export function fitDatasetToModel(dataset: Dataset, modelInputShape: Shape, outputUnits: number, loss: LossKind): Dataset {
  const sampleValues = sizeOf(dataset.sampleShape);
  const modelValues = sizeOf(modelInputShape);
  if (sampleValues !== modelValues) {
    throw new FileProblem(
      dataset.source,
      `each sample has ${sampleValues} values (shape ${formatShape(dataset.sampleShape)}) ` +
        `but the model's input takes ${modelValues} values (shape ${formatShape(modelInputShape)})`,
    );
  }
  const [h, w, c] = modelInputShape;
  const stored = dataset.sampleShape;
  if (modelInputShape.length === 3 && stored.length === 3 && stored[0] === c && stored[1] === h && stored[2] === w && c !== 1 && !(c === h && h === w)) {
    // With one channel both layouts are the same bytes; with C = H = W the stored shape cannot tell them apart.
    throw new FileProblem(
      dataset.source,
      `each sample is stored (C, H, W) = ${formatShape(stored)}, channels-first as PyTorch keeps images, but Flatness Lens takes ` +
        `images channels-last, (H, W, C) = ${formatShape(modelInputShape)}, whatever the model's format; reading them as they are would scramble ` +
        `every image, so save the inputs transposed (numpy: x.transpose(0, 2, 3, 1))`,
    );
  }
  return { ...dataset, sampleShape: [...modelInputShape], targets: fitTargets(dataset.source, dataset.targets, outputUnits, loss) };
}

function fitTargets(file: string, targets: Targets, outputUnits: number, loss: LossKind): Targets {
  const fail = (problem: string): never => {
    throw new FileProblem(file, problem);
  };
  if (loss === 'ce' && targets.kind === 'values' && targets.width === 1 && outputUnits > 1) {
    const bad = targets.values.findIndex((value) => !Number.isInteger(value) || value < 0 || value >= outputUnits);
    if (bad >= 0) {
      fail(`sample ${bad} has label ${targets.values[bad]}, but cross-entropy over the model's ${outputUnits} outputs needs class indices: integers in [0, ${outputUnits})`);
    }
  }
  if (targets.kind === 'values' && targets.width !== outputUnits) {
    fail(`labels have ${targets.width} values per sample but the model has ${outputUnits} outputs`);
  }
  switch (loss) {
    case 'ce':
      if (targets.kind === 'classes') checkClassRange(targets.classes, outputUnits, fail);
      return targets;
    case 'bce':
      if (targets.kind === 'classes') {
        if (outputUnits !== 1) {
          fail(`class labels with binary cross-entropy need a model with 1 output, but it has ${outputUnits}; use 0/1 rows of width ${outputUnits} for multi-label data`);
        }
        const bad = targets.classes.findIndex((label) => label !== 0 && label !== 1);
        if (bad >= 0) fail(`sample ${bad} has class label ${targets.classes[bad]}, but binary cross-entropy needs labels 0 or 1`);
      } else {
        const bad = targets.values.findIndex((value) => !(value >= 0 && value <= 1));
        if (bad >= 0) {
          fail(`sample ${Math.floor(bad / targets.width)} has label value ${targets.values[bad]}, but binary cross-entropy needs values in [0, 1]`);
        }
      }
      return targets;
    case 'mse':
      if (targets.kind === 'values') return targets;
      if (outputUnits === 1) return { kind: 'values', width: 1, values: Float32Array.from(targets.classes) };
      checkClassRange(targets.classes, outputUnits, fail);
      return { kind: 'values', width: outputUnits, values: oneHot(targets.classes, outputUnits) };
  }
}

function checkClassRange(classes: Int32Array, outputUnits: number, fail: (problem: string) => never): void {
  const bad = classes.findIndex((label) => label < 0 || label >= outputUnits);
  if (bad >= 0) {
    fail(`sample ${bad} has class label ${classes[bad]}, but the model has ${outputUnits} outputs, so labels must be in [0, ${outputUnits})`);
  }
}

function oneHot(classes: Int32Array, width: number): Float32Array {
  const rows = new Float32Array(classes.length * width);
  classes.forEach((label, sample) => (rows[sample * width + label] = 1));
  return rows;
}

/** The first `n` samples (all of them when `n` exceeds the count), sharing memory with `dataset`. */
export function takeFirst(dataset: Dataset, n: number): Dataset {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`takeFirst needs a whole number of samples of at least 1, got ${n}`);
  if (n >= dataset.count) return dataset;
  const sampleSize = sizeOf(dataset.sampleShape);
  const { targets } = dataset;
  return {
    ...dataset,
    count: n,
    inputs: dataset.inputs.subarray(0, n * sampleSize),
    targets:
      targets.kind === 'classes'
        ? { kind: 'classes', classes: targets.classes.subarray(0, n) }
        : { kind: 'values', width: targets.width, values: targets.values.subarray(0, n * targets.width) },
  };
}
