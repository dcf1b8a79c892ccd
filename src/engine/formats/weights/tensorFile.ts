/**
 * Weights-only checkpoints (safetensors, PyTorch `.pt`/`.pth`, NumPy `.npz`): named tensors without
 * an architecture. Each such format supplies these parts; `weightsOnlyFormat.ts` turns them into a
 * registry format by binding the tensors to an architecture source when one is given.
 */

/** One named tensor as stored in a weights-only file. */
export interface StoredTensor {
  /** Key in the file, e.g. `fc1.weight` or `dense/kernel`. */
  readonly name: string;
  /** Element type as the file names it, e.g. `F32`, `BF16`, `float16`, `int64`. */
  readonly dtype: string;
  readonly shape: readonly number[];
  /** Values converted to float32, row-major in the stored layout; absent for integer or bool tensors. */
  readonly values?: Float32Array;
}

export interface TensorFile {
  /** Absolute path. */
  readonly path: string;
  /** Registry id of its format. */
  readonly format: string;
  /** In the file's order. */
  readonly tensors: readonly StoredTensor[];
  /** What the user should know about the reading (e.g. "bfloat16 tensors were converted to float32"). */
  readonly notes: readonly string[];
}

/** What one weights-only format provides. */
export interface TensorFileFormat {
  readonly id: string;
  readonly displayName: string;
  /** Cheap test on the file name and its first bytes (up to 16 KiB). */
  match(fileName: string, head: Uint8Array): boolean;
  /** Reads and checks every tensor; throws FileProblem naming the file and the problem. */
  readTensors(path: string): Promise<TensorFile>;
  /** Number of float values stored, without decoding them (for listing). */
  countParameters(path: string): Promise<number>;
  /**
   * Writes a copy of `originalPath` to `outPath` (which must not exist; never overwrites) in which
   * each named tensor's values are replaced (same shape, float32 values in the stored layout) and
   * everything else is kept. Tensors not named keep their bytes. `metadata` is provenance to store
   * where the format has room for it. Returns the paths written.
   */
  writeTensors(
    originalPath: string,
    replacements: ReadonlyMap<string, Float32Array>,
    outPath: string,
    metadata?: Readonly<Record<string, unknown>>,
  ): Promise<string[]>;
}
