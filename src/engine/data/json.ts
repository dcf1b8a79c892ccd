import { FileProblem } from '../../protocol/errors';
import { parseBoundedJson } from '../io/boundedJson';
import { chooseArrayKeys } from './arrayKeys';
import { datasetFromArrays } from './assemble';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { classIndicesFromNames } from './labels';
import type { NumericArray } from './numericArray';

/** Names one element: `pathOf(3, [1, 0])` → `x[3][1][0]` or `[3].x[1][0]`. */
type PathOf = (sample: number, inner: readonly number[]) => string;

/**
 * Reads `{ "x": [...], "y": [...] }` (or another standard key pair), or an array of `{ "x", "y" }`
 * records. Inputs may be nested to any depth; the nesting gives the sample shape. Labels may be
 * numbers, arrays of numbers, or strings (class names, numbered in sorted order).
 */
export function parseJsonDataset(file: string, text: string, options: LoadDatasetOptions): Dataset {
  const document = parseBoundedJson(file, text);
  if (Array.isArray(document)) return fromRecords(file, document, options);
  if (isObject(document)) {
    const choice = chooseArrayKeys(Object.keys(document), options, 'key');
    if (!choice.found) throw new FileProblem(file, choice.problem);
    const { inputKey, labelKey } = choice;
    const xs = document[inputKey];
    const ys = document[labelKey];
    if (!Array.isArray(xs)) throw new FileProblem(file, `'${inputKey}' is ${describe(xs)}; expected an array with one entry per sample`);
    if (!Array.isArray(ys)) throw new FileProblem(file, `'${labelKey}' is ${describe(ys)}; expected an array with one entry per sample`);
    const elementPath = (key: string): PathOf => (sample, inner) => `${key}[${sample}]${inner.map((i) => `[${i}]`).join('')}`;
    return datasetFromArrays(file, numericTensor(file, xs, elementPath(inputKey)), labelTensor(file, ys, elementPath(labelKey)));
  }
  throw new FileProblem(file, `the document is ${describe(document)}; expected an object with inputs and labels arrays, or an array of {x, y} records`);
}

function fromRecords(file: string, records: readonly unknown[], options: LoadDatasetOptions): Dataset {
  if (records.length === 0) throw new FileProblem(file, 'the data set is empty (an empty array)');
  const first = records[0];
  if (!isObject(first)) throw new FileProblem(file, `[0] is ${describe(first)}; expected a record like {"x": [...], "y": 0}`);
  const choice = chooseArrayKeys(Object.keys(first), options, 'key');
  if (!choice.found) throw new FileProblem(file, `[0]: ${choice.problem}`);
  const { inputKey, labelKey } = choice;
  const xs: unknown[] = [];
  const ys: unknown[] = [];
  records.forEach((record, index) => {
    if (!isObject(record) || !(inputKey in record) || !(labelKey in record)) {
      throw new FileProblem(file, `[${index}] is ${describe(record)}; expected a record with keys '${inputKey}' and '${labelKey}'`);
    }
    xs.push(record[inputKey]);
    ys.push(record[labelKey]);
  });
  const elementPath = (key: string): PathOf => (sample, inner) => `[${sample}].${key}${inner.map((i) => `[${i}]`).join('')}`;
  return datasetFromArrays(file, numericTensor(file, xs, elementPath(inputKey)), labelTensor(file, ys, elementPath(labelKey)));
}

function labelTensor(file: string, labels: readonly unknown[], pathOf: PathOf): NumericArray {
  if (labels.length > 0 && labels.every((label) => typeof label === 'string')) {
    return { shape: [labels.length], values: classIndicesFromNames(labels as string[]) };
  }
  return numericTensor(file, labels, pathOf);
}

/** Flattens nested arrays of numbers, requiring every sample to nest like the first. */
function numericTensor(file: string, samples: readonly unknown[], pathOf: PathOf): NumericArray {
  const sampleShape: number[] = [];
  for (let probe = samples[0]; Array.isArray(probe); probe = probe[0]) sampleShape.push(probe.length);
  const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(samples.length * sampleSize);
  let next = 0;
  const visit = (value: unknown, sample: number, inner: number[]): void => {
    const depth = inner.length;
    if (depth < sampleShape.length) {
      const expected = sampleShape[depth];
      if (!Array.isArray(value)) {
        throw new FileProblem(file, `${pathOf(sample, inner)} is ${describe(value)} but ${pathOf(0, inner.map(() => 0))} is an array of ${expected}`);
      }
      if (value.length !== expected) {
        throw new FileProblem(file, `${pathOf(sample, inner)} has ${value.length} elements but ${pathOf(0, inner.map(() => 0))} has ${expected} (ragged nesting)`);
      }
      value.forEach((element, index) => visit(element, sample, [...inner, index]));
    } else if (typeof value === 'number') {
      values[next++] = value;
    } else if (typeof value === 'boolean') {
      values[next++] = value ? 1 : 0;
    } else {
      const shapeNote = Array.isArray(value) ? ` but ${pathOf(0, inner.map(() => 0))} is a number (ragged nesting)` : '; expected a number';
      throw new FileProblem(file, `${pathOf(sample, inner)} is ${describe(value)}${shapeNote}`);
    }
  };
  samples.forEach((sample, index) => visit(sample, index, []));
  return { shape: [samples.length, ...sampleShape], values };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 20 ? `${value.slice(0, 20)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  if (value === undefined) return 'missing';
  return `the ${typeof value} ${String(value)}`;
}

export const jsonFormat: DataFormat = {
  id: 'json',
  matchesContent: () => false,
  matchesName: (name) => /\.json$/i.test(name),
  read: async (file, bytes, options) => parseJsonDataset(file, new TextDecoder('utf-8').decode(bytes), options),
};
