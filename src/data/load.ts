import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { FileProblem } from '../shared/errors';
import { csvFormat } from './csv';
import type { Dataset } from './dataset';
import type { DataFormat } from './format';
import type { LoadDatasetOptions } from '../shared/requests';
import { gunzipFile, isGzip } from './gzip';
import { idxFormat } from './idx';
import { jsonFormat } from './json';
import { npyFormat } from './npy';
import { npzFormat } from './npz';

/** Formats with a magic number come first, so content beats a misleading name. */
const FORMATS: readonly DataFormat[] = [npyFormat, npzFormat, idxFormat, jsonFormat, csvFormat];

/**
 * Loads a labelled data set from .npy (labels in a sibling file), .npz, .csv/.tsv, .json or IDX
 * (MNIST-style) files, any of them gzipped (detected by magic bytes). The format is chosen by magic
 * bytes first, then by file name, then JSON if the text starts with `{` or `[`.
 */
export async function loadDataset(file: string, options: LoadDatasetOptions = {}): Promise<Dataset> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FileProblem(file, code === 'ENOENT' ? 'file not found' : `cannot read the file: ${(error as Error).message}`);
  }
  if (isGzip(bytes)) bytes = await gunzipFile(file, bytes);
  return dataFormatOf(file, bytes).read(file, bytes, options);
}

/** The format of a data file from its (decompressed) first bytes and its name; throws if none fits. */
export function dataFormatOf(file: string, bytes: Uint8Array): DataFormat {
  const name = path.basename(file).replace(/\.gz$/i, '');
  const format =
    FORMATS.find((candidate) => candidate.matchesContent(bytes)) ??
    FORMATS.find((candidate) => candidate.matchesName(name)) ??
    (startsLikeJson(bytes) ? jsonFormat : undefined);
  if (!format) {
    throw new FileProblem(file, 'unrecognized data format; expected .npy, .npz, .csv, .tsv, .json or an IDX file (optionally gzipped)');
  }
  return format;
}

function startsLikeJson(bytes: Uint8Array): boolean {
  const first = new TextDecoder().decode(bytes.subarray(0, 64)).trimStart()[0];
  return first === '{' || first === '[';
}
