import { FileProblem } from '../../protocol/errors';
import type { Targets } from '../model/loss';
import { hasIntegerElements, numberAt } from './numericArray';
import type { NumericArray } from './numericArray';

/**
 * Decides what a label array means. One label per sample (shape [n] or [n, 1]): integers are class
 * indices, anything else is a regression value. More than one per sample: rows that are exactly
 * one-hot are classes, other rows are value vectors (soft or multi-label targets, regression).
 * Negative integers stored with an integer dtype are an error; in float or text data they can only
 * be regression targets, so they are read as values.
 */
export function targetsFromLabels(file: string, labels: NumericArray): Targets {
  const { shape, values } = labels;
  if (shape.length === 0) throw new FileProblem(file, 'labels are a single scalar; expected one label per sample');
  const count = shape[0];
  const width = count === 0 ? 1 : values.length / count;
  const numbers = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const value = numberAt(values, i);
    if (!Number.isFinite(value)) {
      throw new FileProblem(file, `label of sample ${Math.floor(i / width)} is ${value}; labels must be finite numbers`);
    }
    numbers[i] = value;
  }
  if (width === 1) return singleLabelTargets(file, numbers, hasIntegerElements(values));
  const oneHotClasses = classesIfOneHot(numbers, count, width);
  if (oneHotClasses) return { kind: 'classes', classes: oneHotClasses };
  return { kind: 'values', width, values: Float32Array.from(numbers) };
}

function singleLabelTargets(file: string, numbers: Float64Array, integerDtype: boolean): Targets {
  const allIntegers = numbers.every((value) => Number.isInteger(value));
  const firstNegative = numbers.findIndex((value) => value < 0);
  if (integerDtype && firstNegative >= 0) {
    throw new FileProblem(
      file,
      `sample ${firstNegative} has class label ${numbers[firstNegative]}; class labels must be 0 or greater`,
    );
  }
  if (allIntegers && firstNegative < 0) {
    if (numbers.some((value) => value > 2 ** 31 - 1)) {
      return { kind: 'values', width: 1, values: Float32Array.from(numbers) };
    }
    return { kind: 'classes', classes: Int32Array.from(numbers) };
  }
  return { kind: 'values', width: 1, values: Float32Array.from(numbers) };
}

function classesIfOneHot(numbers: Float64Array, count: number, width: number): Int32Array | undefined {
  const classes = new Int32Array(count);
  for (let row = 0; row < count; row++) {
    let hot = -1;
    for (let column = 0; column < width; column++) {
      const value = numbers[row * width + column];
      if (value === 0) continue;
      if (value !== 1 || hot >= 0) return undefined;
      hot = column;
    }
    if (hot < 0) return undefined;
    classes[row] = hot;
  }
  return classes;
}

/** Class names (e.g. `setosa`) to indices: the distinct names sorted by code point, numbered from 0. */
export function classIndicesFromNames(names: readonly string[]): Int32Array {
  const sorted = [...new Set(names)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const indexOf = new Map(sorted.map((name, index) => [name, index]));
  return Int32Array.from(names, (name) => indexOf.get(name) ?? -1);
}
