import type { Dataset } from './dataset';
import type { LoadDatasetOptions } from '../../protocol/requests';
import type { Shape } from '../model/spec';

/** One data file format: cheap tests on content and name, and a reader that does the work. */
export interface DataFormat {
  readonly id: string;
  /** True when the bytes carry this format's magic number (strong evidence). */
  matchesContent(bytes: Uint8Array): boolean;
  /** True when the file name (without a `.gz` suffix) has this format's extension. */
  matchesName(name: string): boolean;
  /** `file` is the path as given, for messages and for finding companion files. */
  read(file: string, bytes: Uint8Array, options: LoadDatasetOptions): Promise<Dataset>;
  /**
   * The shape of one input sample from the file's first bytes alone (`head`, decompressed), for a
   * quick check before loading; undefined when the head cannot tell. Throws a FileProblem when the
   * head already shows the file is not a data set of this format.
   */
  peekSampleShape?(file: string, head: Uint8Array, options: LoadDatasetOptions): Shape | undefined;
}
