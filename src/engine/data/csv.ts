import { FileProblem } from '../../protocol/errors';
import { datasetFromArrays } from './assemble';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { classIndicesFromNames } from './labels';
import type { NumericArray } from './numericArray';

/** `' '` stands for runs of spaces, as `np.savetxt` writes by default. */
type Delimiter = ',' | ';' | '\t' | ' ';

interface Row {
  /** 1-based line number in the file, for messages. */
  readonly line: number;
  readonly fields: readonly string[];
}

const DELIMITER_NAMES: Readonly<Record<Delimiter, string>> = { ',': 'comma', ';': 'semicolon', '\t': 'tab', ' ': 'space' };

/**
 * Reads delimited text: one sample per row, one label column (last by default), every other column
 * a feature. Numeric labels that are all integers become classes, other numbers regression values;
 * a label column with any non-numeric entry is read as class names, numbered in sorted order.
 */
export function parseCsvDataset(file: string, text: string, options: LoadDatasetOptions): Dataset {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
  const delimiter = detectDelimiter(lines, file);
  const decimalComma = delimiter === ';';
  let rows: Row[] = [];
  lines.forEach((line, index) => {
    if (line.trim().length > 0) rows.push({ line: index + 1, fields: splitFields(line, delimiter) });
  });
  if (rows.length === 0) throw new FileProblem(file, 'the data set is empty (no rows)');

  const referenceRow = rows.length > 1 ? rows[1] : rows[0];
  const columnCount = referenceRow.fields.length;
  const labelColumn = resolveLabelColumn(file, options.labelColumn, columnCount);
  if (hasHeader(rows, labelColumn, options.header, decimalComma)) rows = rows.slice(1);
  if (rows.length === 0) throw new FileProblem(file, 'the data set is empty (only a header row)');
  if (columnCount < 2) throw new FileProblem(file, `rows have ${columnCount} column; need at least one feature column and a label column`);

  const featureCount = columnCount - 1;
  const inputs = new Float32Array(rows.length * featureCount);
  const labelFields: string[] = [];
  rows.forEach((row, sample) => {
    if (row.fields.length !== columnCount) {
      throw new FileProblem(
        file,
        `line ${row.line} has ${row.fields.length} fields but line ${referenceRow.line} has ${columnCount} (${DELIMITER_NAMES[delimiter]}-separated)`,
      );
    }
    let feature = 0;
    row.fields.forEach((field, column) => {
      if (column === labelColumn) {
        if (field.trim() === '') throw new FileProblem(file, `line ${row.line}: the label (column ${column + 1}) is empty`);
        labelFields.push(field.trim());
        return;
      }
      const value = parseNumber(field, decimalComma);
      if (value === undefined) {
        throw new FileProblem(file, `line ${row.line}, column ${column + 1}: '${field}' is not a number`);
      }
      inputs[sample * featureCount + feature++] = value;
    });
  });
  return datasetFromArrays(file, { shape: [rows.length, featureCount], values: inputs }, labelArray(labelFields, decimalComma));
}

function labelArray(fields: readonly string[], decimalComma: boolean): NumericArray {
  const numbers = fields.map((field) => parseNumber(field, decimalComma));
  if (numbers.every((value) => value !== undefined)) {
    return { shape: [fields.length], values: Float64Array.from(numbers as number[]) };
  }
  return { shape: [fields.length], values: classIndicesFromNames(fields) };
}

/**
 * Tab if every data line has one, else semicolon (such files often use decimal commas), else comma,
 * else spaces when there is no comma at all.
 */
function detectDelimiter(lines: readonly string[], file: string): Delimiter {
  if (/\.tsv$/i.test(file.replace(/\.gz$/i, ''))) return '\t';
  const sample: string[] = [];
  for (const line of lines) {
    if (line.trim().length > 0) sample.push(line);
    if (sample.length === 6) break;
  }
  const dataLines = sample.length > 1 ? sample.slice(1) : sample;
  for (const candidate of ['\t', ';'] as const) {
    if (dataLines.every((line) => line.includes(candidate))) return candidate;
  }
  const spaced = dataLines.every((line) => !line.includes(',') && /\S\s+\S/.test(line));
  return spaced ? ' ' : ',';
}

/** Splits one line; double-quoted fields may contain the delimiter, and `""` is a literal quote. */
function splitFields(line: string, delimiter: Delimiter): string[] {
  if (delimiter === ' ') return line.trim().split(/\s+/);
  if (!line.includes('"')) return line.split(delimiter);
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted && char === '"' && line[i + 1] === '"') {
      field += '"';
      i++;
    } else if (char === '"') {
      quoted = !quoted;
    } else if (char === delimiter && !quoted) {
      fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  fields.push(field);
  return fields;
}

/** A number, or undefined when the field is not one. `nan` and `inf` count (they are rejected later, by sample). */
function parseNumber(field: string, decimalComma: boolean): number | undefined {
  let text = field.trim();
  if (text === '') return undefined;
  if (decimalComma) text = text.replace(',', '.');
  const special = /^([+-]?)(nan|inf|infinity)$/i.exec(text);
  if (special) return special[2].toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const value = Number(text);
  return Number.isNaN(value) ? undefined : value;
}

function resolveLabelColumn(file: string, option: LoadDatasetOptions['labelColumn'], columnCount: number): number {
  if (option === undefined || option === 'last') return columnCount - 1;
  if (option === 'first') return 0;
  const index = option < 0 ? columnCount + option : option;
  if (!Number.isInteger(option) || index < 0 || index >= columnCount) {
    throw new FileProblem(file, `labelColumn ${option} is out of range: rows have ${columnCount} columns`);
  }
  return index;
}

/**
 * A first row is a header when forced, when its field count differs from the next row's
 * (sklearn's `569,30,malignant,benign`), or when it has a non-numeric feature (`150,4,setosa,...`)
 * or a non-numeric label above a numeric one.
 */
function hasHeader(rows: readonly Row[], labelColumn: number, forced: boolean | undefined, decimalComma: boolean): boolean {
  if (forced !== undefined) return forced;
  const [first, second] = rows;
  if (second && first.fields.length !== second.fields.length) return true;
  const isNumber = (field: string | undefined) => field !== undefined && parseNumber(field, decimalComma) !== undefined;
  if (first.fields.some((field, column) => column !== labelColumn && !isNumber(field))) return true;
  return second !== undefined && !isNumber(first.fields[labelColumn]) && isNumber(second.fields[labelColumn]);
}

export const csvFormat: DataFormat = {
  id: 'csv',
  matchesContent: () => false,
  matchesName: (name) => /\.(csv|tsv|txt)$/i.test(name),
  read: async (file, bytes, options) => parseCsvDataset(file, new TextDecoder('utf-8').decode(bytes), options),
  // The complete lines of the head are a small data set of the same columns.
  peekSampleShape: (file, head, options) => {
    const text = new TextDecoder('utf-8').decode(head);
    const lastNewline = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'));
    return lastNewline < 0 ? undefined : parseCsvDataset(file, text.slice(0, lastNewline), options).sampleShape;
  },
};
