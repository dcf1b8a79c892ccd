import type { Dataset } from './dataset';

export interface LoadDatasetOptions {
  /** CSV: which column holds the label: 0-based index (negative counts from the end), 'first' or 'last' (default). */
  readonly labelColumn?: number | 'first' | 'last';
  /** CSV: whether the first row is a header. Detected when not given. */
  readonly header?: boolean;
  /** npz/JSON: name of the inputs array; for a .npy file, not used. */
  readonly inputKey?: string;
  /** npz/JSON: name of the labels array; for a .npy file, the labels file is `<labelKey>.npy` beside it. */
  readonly labelKey?: string;
  /** IDX: divide uint8 images by 255, as MNIST-style training code does (default true). */
  readonly scale?: boolean;
}

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
