import type { Dataset } from './dataset';
import type { LoadDatasetOptions } from '../shared/requests';

/** One data file format: cheap tests on content and name, and a reader that does the work. */
export interface DataFormat {
  readonly id: string;
  /** True when the bytes carry this format's magic number (strong evidence). */
  matchesContent(bytes: Uint8Array): boolean;
  /** True when the file name (without a `.gz` suffix) has this format's extension. */
  matchesName(name: string): boolean;
  /** `file` is the path as given, for messages and for finding companion files. */
  read(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset>;
}
