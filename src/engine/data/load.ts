import * as path from 'node:path';
import { FileProblem } from '../../protocol/errors';
import { formatLimitValue, limits } from '../../protocol/limits';
import { enoughLines, firstLines, gunzipBounded, isGzip } from '../io/boundedGzip';
import { readJobFile } from '../io/jobFiles';
import { csvFormat } from './csv';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../../protocol/requests';
import { idxFormat } from './idx';
import { jsonFormat } from './json';
import { npyFormat } from './npy';
import { npzFormat } from './npz';

/** Formats with a magic number come first, so content beats a misleading name. */
const FORMATS: readonly DataFormat[] = [npyFormat, npzFormat, idxFormat, jsonFormat, csvFormat];

/** Formats read row by row from text: only their first rows are needed when `--samples` is given. */
const ROW_TEXT_FORMATS: readonly DataFormat[] = [csvFormat];

/**
 * Loads a labelled data set from .npy (labels in a sibling file), .npz, .csv/.tsv, .json or IDX
 * (MNIST-style) files, any of them gzipped (detected by magic bytes). The format is chosen by magic
 * bytes first, then by file name, then JSON if the text starts with `{` or `[`. With `rows`, a CSV
 * file is read (and inflated) only up to its first `rows` data rows.
 */
export async function loadDataset(file: string, options: LoadDatasetOptions = {}, rows?: number): Promise<Dataset> {
  let bytes = await readJobFile(file, { role: 'the data file' });
  // One line more than the rows asked for, in case the first line is a header.
  const rowsNeeded = rows === undefined ? undefined : rows + 1;
  const byName = formatByName(file);
  const rowText = byName !== undefined && ROW_TEXT_FORMATS.includes(byName);
  if (isGzip(bytes)) {
    const inflated = await gunzipBounded(file, bytes, { enough: rowText && rowsNeeded !== undefined ? enoughLines(rowsNeeded) : undefined });
    bytes = inflated.complete ? inflated.bytes : firstLines(inflated.bytes, rowsNeeded ?? 0);
  } else if (rowText && rowsNeeded !== undefined) {
    bytes = firstLines(bytes, rowsNeeded);
  }
  const format = dataFormatOf(file, bytes, byName);
  if ((format === csvFormat || format === jsonFormat) && bytes.length > limits.textBytes.value) {
    throw new FileProblem(file, `holds ${bytes.length} bytes of text, more than the ${formatLimitValue(limits.textBytes.value)} limit (${limits.textBytes.what}); use .npy or .npz for large data sets, or --samples`);
  }
  return format.read(file, bytes, options);
}

/** The format of a data file from its (decompressed) first bytes and its name; throws if none fits. */
export function dataFormatOf(file: string, bytes: Uint8Array, byName = formatByName(file)): DataFormat {
  const format =
    FORMATS.find((candidate) => candidate.matchesContent(bytes)) ??
    byName ??
    (startsLikeJson(bytes) ? jsonFormat : undefined);
  if (!format) {
    throw new FileProblem(file, 'unrecognized data format; expected .npy, .npz, .csv, .tsv, .json or an IDX file (optionally gzipped)');
  }
  return format;
}

function formatByName(file: string): DataFormat | undefined {
  const name = path.basename(file).replace(/\.gz$/i, '');
  return FORMATS.find((candidate) => candidate.matchesName(name));
}

function startsLikeJson(bytes: Uint8Array): boolean {
  const first = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart()[0];
  return first === '{' || first === '[';
}
